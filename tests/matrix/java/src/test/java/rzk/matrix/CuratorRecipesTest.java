package rzk.matrix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.utils.CloseableUtils;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/** Apache Curator recipes, each against the ensemble in -Dzk.connect, with several clients. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CuratorRecipesTest {
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private CuratorFramework admin;
    private String root;

    @BeforeEach
    void setUp(TestInfo info) throws Exception {
        admin = Matrix.curator();
        root = Matrix.uniqueRoot(info.getTestMethod().get().getName());
    }

    @AfterEach
    void tearDown() throws Exception {
        Collections.reverse(closeables);
        for (AutoCloseable c : closeables) {
            try {
                c.close();
            } catch (Exception e) {
                // best effort
            }
        }
        try {
            if (admin.checkExists().forPath(root) != null) {
                admin.delete().deletingChildrenIfNeeded().forPath(root);
            }
        } catch (Exception e) {
            // best effort
        }
        CloseableUtils.closeQuietly(admin);
    }

    private <T extends AutoCloseable> T track(T c) {
        closeables.add(c);
        return c;
    }

    private CuratorFramework client() throws Exception {
        return track(Matrix.curator());
    }

    @Test
    void interProcessMutex() throws Exception {
        String path = root + "/lock";
        InterProcessMutex a = new InterProcessMutex(client(), path);
        InterProcessMutex b = new InterProcessMutex(client(), path);
        a.acquire();
        assertTrue(a.acquire(1, TimeUnit.SECONDS), "reentrant acquire");
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> blocked = ex.submit(() -> b.acquire(500, TimeUnit.MILLISECONDS));
            assertFalse(blocked.get(Matrix.WAIT_S, TimeUnit.SECONDS), "second client must not get a held lock");
            a.release();
            a.release();
            Future<Boolean> got = ex.submit(() -> {
                boolean ok = b.acquire(Matrix.WAIT_S, TimeUnit.SECONDS);
                if (ok) {
                    b.release();
                }
                return ok;
            });
            assertTrue(got.get(Matrix.WAIT_S + 5, TimeUnit.SECONDS), "second client gets the released lock");
        } finally {
            ex.shutdownNow();
        }

        // mutual exclusion under contention: 4 clients x 5 rounds, never two holders at once
        int clients = 4;
        int rounds = 5;
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxHolders = new AtomicInteger();
        AtomicInteger total = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                InterProcessMutex m = new InterProcessMutex(client(), path);
                fs.add(pool.submit(() -> {
                    for (int r = 0; r < rounds; r++) {
                        if (!m.acquire(Matrix.WAIT_S, TimeUnit.SECONDS)) {
                            throw new AssertionError("acquire timed out");
                        }
                        try {
                            int h = holders.incrementAndGet();
                            maxHolders.accumulateAndGet(h, Math::max);
                            Thread.sleep(5);
                            total.incrementAndGet();
                            holders.decrementAndGet();
                        } finally {
                            m.release();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(90, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, maxHolders.get(), "at most one holder at a time");
        assertEquals(clients * rounds, total.get());
        Matrix.sync(admin, path);
        assertTrue(admin.getChildren().forPath(path).isEmpty(), "no lock nodes left behind");
    }

    @Test
    void leaderLatch() throws Exception {
        String path = root + "/latch";
        List<LeaderLatch> latches = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            LeaderLatch l = new LeaderLatch(client(), path, "p" + i);
            latches.add(l);
            l.start();
        }
        Matrix.eventually("one leader", () -> latches.stream().filter(LeaderLatch::hasLeadership).count() == 1);
        LeaderLatch leader = latches.stream().filter(LeaderLatch::hasLeadership).findFirst().get();
        assertEquals(leader.getId(), latches.get(0).getLeader().getId(), "all agree on the leader");
        Matrix.eventually("all three participants visible", () -> {
            try {
                return latches.get(1).getParticipants().size() == 3;
            } catch (Exception e) {
                return false;
            }
        });
        leader.close();
        latches.remove(leader);
        Matrix.eventually("a new leader after close",
                () -> latches.stream().filter(LeaderLatch::hasLeadership).count() == 1);
        LeaderLatch second = latches.stream().filter(LeaderLatch::hasLeadership).findFirst().get();
        assertTrue(second.await(1, TimeUnit.SECONDS));
        for (LeaderLatch l : latches) {
            l.close();
        }
    }

    @Test
    void leaderSelector() throws Exception {
        String path = root + "/selector";
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger maxConcurrent = new AtomicInteger();
        Map<String, AtomicInteger> terms = new ConcurrentHashMap<>();
        List<LeaderSelector> selectors = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String id = "s" + i;
            terms.put(id, new AtomicInteger());
            LeaderSelector s = new LeaderSelector(client(), path, new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework c) throws Exception {
                    int n = concurrent.incrementAndGet();
                    maxConcurrent.accumulateAndGet(n, Math::max);
                    terms.get(id).incrementAndGet();
                    Thread.sleep(100);
                    concurrent.decrementAndGet();
                }
            });
            s.setId(id);
            s.autoRequeue();
            selectors.add(s);
        }
        selectors.forEach(LeaderSelector::start);
        Matrix.eventually("every selector led twice",
                () -> terms.values().stream().allMatch(t -> t.get() >= 2));
        selectors.forEach(LeaderSelector::close);
        assertEquals(1, maxConcurrent.get(), "never two leaders at once");
    }

    @Test
    void distributedBarrier() throws Exception {
        String path = root + "/barrier";
        DistributedBarrier setter = new DistributedBarrier(client(), path);
        CuratorFramework waiterClient = client();
        DistributedBarrier waiter = new DistributedBarrier(waiterClient, path);
        setter.setBarrier();
        Matrix.sync(waiterClient, path);
        assertFalse(waiter.waitOnBarrier(300, TimeUnit.MILLISECONDS), "barrier holds");
        ExecutorService ex = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> passed = ex.submit(() -> waiter.waitOnBarrier(Matrix.WAIT_S, TimeUnit.SECONDS));
            Thread.sleep(200);
            setter.removeBarrier();
            assertTrue(passed.get(Matrix.WAIT_S + 5, TimeUnit.SECONDS), "waiter released by removeBarrier");
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void distributedDoubleBarrier() throws Exception {
        String path = root + "/double";
        int members = 3;
        ExecutorService pool = Executors.newFixedThreadPool(members);
        AtomicLong lastStarted = new AtomicLong(Long.MAX_VALUE);
        List<Long> enteredAt = new CopyOnWriteArrayList<>();
        try {
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int i = 0; i < members; i++) {
                DistributedDoubleBarrier b = new DistributedDoubleBarrier(client(), path, members);
                boolean last = i == members - 1;
                int delay = i * 300;
                fs.add(pool.submit(() -> {
                    Thread.sleep(delay);
                    if (last) {
                        lastStarted.set(System.nanoTime());
                    }
                    if (!b.enter(Matrix.WAIT_S, TimeUnit.SECONDS)) {
                        return false;
                    }
                    enteredAt.add(System.nanoTime());
                    return b.leave(Matrix.WAIT_S, TimeUnit.SECONDS);
                }));
            }
            for (Future<Boolean> f : fs) {
                assertTrue(f.get(90, TimeUnit.SECONDS), "enter and leave within the timeout");
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(members, enteredAt.size());
        for (long t : enteredAt) {
            assertTrue(t >= lastStarted.get(), "nobody passes enter() before the last member arrives");
        }
        Matrix.sync(admin, path);
        assertTrue(admin.getChildren().forPath(path).isEmpty(), "all members left");
    }

    @Test
    void curatorCache() throws Exception {
        String path = root + "/cache";
        admin.create().creatingParentsIfNeeded().forPath(path, "top".getBytes(StandardCharsets.UTF_8));
        admin.create().forPath(path + "/pre", "p".getBytes(StandardCharsets.UTF_8));
        List<String> events = new CopyOnWriteArrayList<>();
        CountDownLatch initialized = new CountDownLatch(1);
        CuratorFramework cacheClient = client();
        Matrix.sync(cacheClient, path);
        CuratorCache cache = track(CuratorCache.build(cacheClient, path));
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> events.add("create " + n.getPath()))
                .forChanges((o, n) -> events.add("change " + n.getPath() + " " + new String(n.getData(), StandardCharsets.UTF_8)))
                .forDeletes(o -> events.add("delete " + o.getPath()))
                .forInitialized(initialized::countDown)
                .build());
        cache.start();
        assertTrue(initialized.await(Matrix.WAIT_S, TimeUnit.SECONDS), "cache initialized");
        assertEquals(2, cache.size());
        assertArrayEquals("p".getBytes(StandardCharsets.UTF_8), cache.get(path + "/pre").get().getData());

        admin.create().forPath(path + "/a", "1".getBytes(StandardCharsets.UTF_8));
        admin.create().forPath(path + "/a/b", "2".getBytes(StandardCharsets.UTF_8));
        admin.setData().forPath(path + "/a", "3".getBytes(StandardCharsets.UTF_8));
        admin.delete().forPath(path + "/pre");
        Matrix.eventually("cache sees the tree", () -> {
            var a = cache.get(path + "/a");
            return a.isPresent() && "3".equals(new String(a.get().getData(), StandardCharsets.UTF_8))
                    && cache.get(path + "/a/b").isPresent() && cache.get(path + "/pre").isEmpty();
        });
        Matrix.eventually("listener events", () -> events.contains("create " + path + "/a")
                && events.contains("create " + path + "/a/b")
                && events.contains("change " + path + "/a 3")
                && events.contains("delete " + path + "/pre"));
        admin.delete().deletingChildrenIfNeeded().forPath(path + "/a");
        Matrix.eventually("cache sees deletes", () -> cache.size() == 1);
        ChildData top = cache.get(path).get();
        assertEquals("top", new String(top.getData(), StandardCharsets.UTF_8));
        assertNotNull(top.getStat());
    }

    @Test
    void sharedCount() throws Exception {
        String path = root + "/count";
        SharedCount c1 = track(new SharedCount(client(), path, 7));
        SharedCount c2 = track(new SharedCount(client(), path, 99));
        List<Integer> seen = new CopyOnWriteArrayList<>();
        c2.addListener(new SharedCountListener() {
            @Override
            public void countHasChanged(SharedCountReader r, int newCount) {
                seen.add(newCount);
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState newState) {}
        });
        c1.start();
        c2.start();
        assertEquals(7, c1.getCount());
        assertEquals(7, c2.getCount(), "second seed ignored: node already exists");
        c1.setCount(42);
        Matrix.eventually("listener sees 42", () -> seen.contains(42));
        assertEquals(42, c2.getCount());
        VersionedValue<Integer> stale = c2.getVersionedValue();
        assertTrue(c1.trySetCount(c1.getVersionedValue(), 43));
        Matrix.eventually("c2 sees 43", () -> c2.getCount() == 43);
        assertFalse(c2.trySetCount(stale, 1000), "stale version must be rejected");
        assertTrue(c2.trySetCount(c2.getVersionedValue(), 44));
        Matrix.eventually("c1 sees 44", () -> c1.getCount() == 44);
    }

    @Test
    void distributedQueue() throws Exception {
        String path = root + "/queue";
        List<String> consumed = new CopyOnWriteArrayList<>();
        QueueSerializer<String> ser = new QueueSerializer<>() {
            @Override
            public byte[] serialize(String item) {
                return item.getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public String deserialize(byte[] bytes) {
                return new String(bytes, StandardCharsets.UTF_8);
            }
        };
        QueueConsumer<String> consumer = new QueueConsumer<>() {
            @Override
            public void consumeMessage(String message) {
                consumed.add(message);
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState newState) {}
        };
        DistributedQueue<String> producer = track(QueueBuilder.builder(client(), null, ser, path).buildQueue());
        producer.start();
        for (int i = 0; i < 10; i++) {
            producer.put("item-" + i);
        }
        DistributedQueue<String> consumerQueue = track(QueueBuilder.builder(client(), consumer, ser, path).buildQueue());
        consumerQueue.start();
        Matrix.eventually("10 items consumed", () -> consumed.size() >= 10);
        List<String> want = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            want.add("item-" + i);
        }
        assertEquals(want, consumed, "FIFO order, each once");
        Matrix.eventually("queue drained", () -> {
            try {
                return admin.getChildren().forPath(path).isEmpty();
            } catch (Exception e) {
                return false;
            }
        });
    }

    @Test
    void persistentNode() throws Exception {
        String path = root + "/pnode";
        admin.create().creatingParentsIfNeeded().forPath(root);
        PersistentNode node = track(new PersistentNode(client(), CreateMode.EPHEMERAL, false, path,
                "v1".getBytes(StandardCharsets.UTF_8)));
        node.start();
        assertTrue(node.waitForInitialCreate(Matrix.WAIT_S, TimeUnit.SECONDS));
        Matrix.sync(admin, path);
        Stat st = admin.checkExists().forPath(path);
        assertNotNull(st);
        assertTrue(st.getEphemeralOwner() != 0, "ephemeral");
        // somebody deletes it: the recipe puts it back
        admin.delete().forPath(path);
        Matrix.eventually("recreated", () -> {
            try {
                return admin.checkExists().forPath(path) != null;
            } catch (Exception e) {
                return false;
            }
        });
        node.setData("v2".getBytes(StandardCharsets.UTF_8));
        Matrix.eventually("data v2", () -> {
            try {
                return "v2".equals(new String(admin.getData().forPath(path), StandardCharsets.UTF_8));
            } catch (Exception e) {
                return false;
            }
        });
        node.close();
        Matrix.sync(admin, path);
        assertNull(admin.checkExists().forPath(path), "deleted on close");
    }

    @Test
    void persistentTtlNode() throws Exception {
        String path = root + "/ttl";
        long ttlMs = 1000;
        PersistentTtlNode node = new PersistentTtlNode(client(), path, ttlMs, "d".getBytes(StandardCharsets.UTF_8));
        node.start();
        assertTrue(node.waitForInitialCreate(Matrix.WAIT_S, TimeUnit.SECONDS));
        Matrix.eventually("container and ttl child exist", () -> {
            try {
                return admin.checkExists().forPath(path) != null
                        && !admin.getChildren().forPath(path).isEmpty();
            } catch (Exception e) {
                return false;
            }
        });
        // while it runs, the TTL child is touched and the node survives several TTLs
        Thread.sleep(3 * ttlMs + 1000);
        assertNotNull(admin.checkExists().forPath(path), "kept alive while the recipe runs");
        node.close();
        // after close: the TTL child expires, then the container is reaped
        Matrix.eventually("ttl child expires and container is reaped", () -> {
            try {
                return admin.checkExists().forPath(path) == null;
            } catch (Exception e) {
                return false;
            }
        });

        // plain TTL create through Curator's builder
        String plain = root + "/plain-ttl";
        admin.create().withTtl(ttlMs).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(plain);
        assertNotNull(admin.checkExists().forPath(plain));
        Matrix.eventually("plain ttl node expires", () -> {
            try {
                return admin.checkExists().forPath(plain) == null;
            } catch (Exception e) {
                return false;
            }
        });
    }
}
