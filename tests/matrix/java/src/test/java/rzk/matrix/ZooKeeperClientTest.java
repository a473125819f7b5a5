package rzk.matrix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/** The official Java client (org.apache.zookeeper.ZooKeeper) against the ensemble in -Dzk.connect. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ZooKeeperClientTest {
    private static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;
    private final List<ZooKeeper> clients = new ArrayList<>();
    private ZooKeeper zk;
    private String root;

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private ZooKeeper connect() throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper z = new ZooKeeper(Matrix.CONNECT, Matrix.SESSION_MS, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        clients.add(z);
        assertTrue(connected.await(Matrix.WAIT_S, TimeUnit.SECONDS), "connected to " + Matrix.CONNECT);
        return z;
    }

    @BeforeEach
    void setUp(TestInfo info) throws Exception {
        zk = connect();
        root = Matrix.uniqueRoot(info.getTestMethod().get().getName());
        zk.create(root, new byte[0], OPEN, CreateMode.PERSISTENT);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            ZooKeeper su = connect();
            su.addAuthInfo("digest", b("super:test"));
            deleteRecursive(su, root);
        } catch (Exception e) {
            // best effort
        }
        for (ZooKeeper z : clients) {
            z.close();
        }
    }

    private static void deleteRecursive(ZooKeeper z, String path) throws Exception {
        try {
            for (String c : z.getChildren(path, false)) {
                deleteRecursive(z, path + "/" + c);
            }
            z.delete(path, -1);
        } catch (KeeperException.NoNodeException e) {
            // gone
        }
    }

    private static WatchedEvent poll(BlockingQueue<WatchedEvent> q) throws InterruptedException {
        WatchedEvent e = q.poll(Matrix.WAIT_S, TimeUnit.SECONDS);
        assertNotNull(e, "expected a watch event");
        return e;
    }

    @Test
    void crud() throws Exception {
        String p = root + "/node";
        assertEquals(p, zk.create(p, b("v0"), OPEN, CreateMode.PERSISTENT));
        assertThrows(KeeperException.NodeExistsException.class, () -> zk.create(p, b("x"), OPEN, CreateMode.PERSISTENT));
        assertThrows(KeeperException.NoNodeException.class,
                () -> zk.create(root + "/missing/child", b("x"), OPEN, CreateMode.PERSISTENT));
        Stat st = new Stat();
        assertArrayEquals(b("v0"), zk.getData(p, false, st));
        assertEquals(0, st.getVersion());
        assertEquals(2, st.getDataLength());
        Stat st2 = zk.setData(p, b("v1"), 0);
        assertEquals(1, st2.getVersion());
        assertThrows(KeeperException.BadVersionException.class, () -> zk.setData(p, b("v2"), 0));
        assertEquals(st.getCzxid(), st2.getCzxid());
        assertTrue(st2.getMzxid() > st.getMzxid());
        zk.create(p + "/c1", null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/c2", b(""), OPEN, CreateMode.PERSISTENT);
        List<String> kids = zk.getChildren(p, false);
        Collections.sort(kids);
        assertEquals(Arrays.asList("c1", "c2"), kids);
        Stat pst = zk.exists(p, false);
        assertEquals(2, pst.getNumChildren());
        assertEquals(2, pst.getCversion());
        assertEquals(3, zk.getAllChildrenNumber(root));
        assertThrows(KeeperException.NotEmptyException.class, () -> zk.delete(p, -1));
        assertThrows(KeeperException.BadVersionException.class, () -> zk.delete(p + "/c1", 5));
        zk.delete(p + "/c1", 0);
        zk.delete(p + "/c2", -1);
        zk.delete(p, 1);
        assertNull(zk.exists(p, false));
        assertThrows(KeeperException.NoNodeException.class, () -> zk.getData(p, false, null));
        zk.sync(root, (rc, path, ctx) -> {}, null);
    }

    @Test
    void sequentialAndEphemeral() throws Exception {
        String s1 = zk.create(root + "/seq-", b("a"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        String s2 = zk.create(root + "/seq-", b("b"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        assertEquals(root + "/seq-0000000000", s1);
        assertEquals(root + "/seq-0000000001", s2);
        ZooKeeper other = connect();
        String e = root + "/eph";
        other.create(e, b("x"), OPEN, CreateMode.EPHEMERAL);
        Matrix.sync(zk, e);
        assertEquals(other.getSessionId(), zk.exists(e, false).getEphemeralOwner());
        assertTrue(other.getEphemerals(root).contains(e));
        assertThrows(KeeperException.NoChildrenForEphemeralsException.class,
                () -> zk.create(e + "/child", b(""), OPEN, CreateMode.PERSISTENT));
        other.close();
        Matrix.sync(zk, e);
        assertNull(zk.exists(e, false), "ephemeral removed when its session closes");
    }

    @Test
    void oneShotWatches() throws Exception {
        BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
        Watcher w = q::add;
        String p = root + "/w";
        assertNull(zk.exists(p, w));
        ZooKeeper writer = connect();
        writer.create(p, b("1"), OPEN, CreateMode.PERSISTENT);
        WatchedEvent ev = poll(q);
        assertEquals(EventType.NodeCreated, ev.getType());
        assertEquals(p, ev.getPath());

        zk.getData(p, w, null);
        writer.setData(p, b("2"), -1);
        assertEquals(EventType.NodeDataChanged, poll(q).getType());
        writer.setData(p, b("3"), -1); // one-shot: no second event
        zk.getChildren(p, w);
        writer.create(p + "/kid", b(""), OPEN, CreateMode.PERSISTENT);
        ev = poll(q);
        assertEquals(EventType.NodeChildrenChanged, ev.getType());
        assertEquals(p, ev.getPath());

        zk.getData(p + "/kid", w, null);
        zk.getChildren(p, w);
        writer.delete(p + "/kid", -1);
        List<EventType> types = new ArrayList<>();
        types.add(poll(q).getType());
        types.add(poll(q).getType());
        assertTrue(types.contains(EventType.NodeDeleted) && types.contains(EventType.NodeChildrenChanged), types.toString());
        assertNull(q.poll(300, TimeUnit.MILLISECONDS), "no stray events");
    }

    @Test
    void persistentRecursiveWatch() throws Exception {
        BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
        Watcher w0 = q::add;
        String base = root + "/tree";
        zk.create(base, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(base, w0, AddWatchMode.PERSISTENT_RECURSIVE);
        ZooKeeper writer = connect();
        writer.create(base + "/a", b(""), OPEN, CreateMode.PERSISTENT);
        writer.create(base + "/a/b", b(""), OPEN, CreateMode.PERSISTENT);
        writer.setData(base + "/a/b", b("x"), -1);
        writer.setData(base + "/a/b", b("y"), -1);
        writer.delete(base + "/a/b", -1);
        String[][] want = {
            {"NodeCreated", base + "/a"},
            {"NodeCreated", base + "/a/b"},
            {"NodeDataChanged", base + "/a/b"},
            {"NodeDataChanged", base + "/a/b"},
            {"NodeDeleted", base + "/a/b"},
        };
        for (String[] w : want) {
            WatchedEvent e = poll(q);
            assertEquals(w[0] + " " + w[1], e.getType() + " " + e.getPath());
        }
        // recursive watches never send NodeChildrenChanged
        assertNull(q.poll(300, TimeUnit.MILLISECONDS), "no extra events");
        zk.removeWatches(base, w0, Watcher.WatcherType.Any, false);
        assertEquals(EventType.PersistentWatchRemoved, poll(q).getType());
        writer.create(base + "/after", b(""), OPEN, CreateMode.PERSISTENT);
        assertNull(q.poll(300, TimeUnit.MILLISECONDS), "no events after removeWatches");
    }

    @Test
    void persistentWatchAndRemove() throws Exception {
        BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
        Watcher w = q::add;
        String p = root + "/pw";
        zk.create(p, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(p, w, AddWatchMode.PERSISTENT);
        ZooKeeper writer = connect();
        writer.setData(p, b("1"), -1);
        writer.setData(p, b("2"), -1);
        writer.create(p + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        writer.setData(p + "/c", b("no event: not recursive"), -1);
        assertEquals(EventType.NodeDataChanged, poll(q).getType());
        assertEquals(EventType.NodeDataChanged, poll(q).getType());
        assertEquals(EventType.NodeChildrenChanged, poll(q).getType());
        assertNull(q.poll(300, TimeUnit.MILLISECONDS));
        zk.removeWatches(p, w, Watcher.WatcherType.Any, false);
        WatchedEvent removed = poll(q);
        assertEquals(EventType.PersistentWatchRemoved, removed.getType());
        writer.setData(p, b("3"), -1);
        assertNull(q.poll(500, TimeUnit.MILLISECONDS), "no events after removeWatches");
        assertThrows(KeeperException.NoWatcherException.class,
                () -> zk.removeWatches(p, w, Watcher.WatcherType.Any, false));
    }

    @Test
    void multi() throws Exception {
        String a = root + "/a";
        String b = root + "/b";
        List<OpResult> res = zk.multi(Arrays.asList(
                Op.create(a, b("1"), OPEN, CreateMode.PERSISTENT),
                Op.create(b, b("2"), OPEN, CreateMode.PERSISTENT),
                Op.setData(a, b("3"), 0),
                Op.check(b, 0)));
        assertEquals(4, res.size());
        assertInstanceOf(OpResult.CreateResult.class, res.get(0));
        assertEquals(a, ((OpResult.CreateResult) res.get(0)).getPath());
        assertEquals(1, ((OpResult.SetDataResult) res.get(2)).getStat().getVersion());
        assertInstanceOf(OpResult.CheckResult.class, res.get(3));

        // failed transaction: nothing applied, per-op error codes reported
        KeeperException ke = assertThrows(KeeperException.class, () -> zk.multi(Arrays.asList(
                Op.create(root + "/c", b(""), OPEN, CreateMode.PERSISTENT),
                Op.check(a, 99),
                Op.delete(b, -1))));
        assertEquals(KeeperException.Code.BADVERSION, ke.code());
        List<OpResult> results = ke.getResults();
        assertEquals(3, results.size());
        assertEquals(KeeperException.Code.OK.intValue(), ((OpResult.ErrorResult) results.get(0)).getErr());
        assertEquals(KeeperException.Code.BADVERSION.intValue(), ((OpResult.ErrorResult) results.get(1)).getErr());
        assertEquals(KeeperException.Code.RUNTIMEINCONSISTENCY.intValue(), ((OpResult.ErrorResult) results.get(2)).getErr());
        assertNull(zk.exists(root + "/c", false), "rolled back");
        assertNotNull(zk.exists(b, false));

        // transaction builder + read-only multi (3.6+)
        zk.transaction().delete(b, 0).setData(a, b("4"), 1).commit();
        List<OpResult> reads = zk.multi(Arrays.asList(Op.getData(a), Op.getChildren(root)));
        assertArrayEquals(b("4"), ((OpResult.GetDataResult) reads.get(0)).getData());
        assertEquals(Collections.singletonList("a"), ((OpResult.GetChildrenResult) reads.get(1)).getChildren());
    }

    @Test
    void acl() throws Exception {
        String p = root + "/secret";
        String digest = DigestAuthenticationProvider.generateDigest("alice:pw");
        List<ACL> acl = Arrays.asList(
                new ACL(ZooDefs.Perms.ALL, new Id("digest", digest)),
                new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")));
        zk.create(p, b("s"), acl, CreateMode.PERSISTENT);
        Stat st = new Stat();
        // ZooKeeper 3.8+: without ADMIN permission the digest is masked as "x"
        List<ACL> got = zk.getACL(p, st);
        assertEquals(new HashSetOf(Arrays.asList(
                new ACL(ZooDefs.Perms.ALL, new Id("digest", "alice:x")),
                new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")))).set, new HashSetOf(got).set);

        ZooKeeper anon = connect();
        Matrix.sync(anon, p);
        assertArrayEquals(b("s"), anon.getData(p, false, null), "world:anyone may read");
        assertThrows(KeeperException.NoAuthException.class, () -> anon.setData(p, b("x"), -1));
        // create needs CREATE on the parent (delete needs DELETE on the parent, which is open here)
        assertThrows(KeeperException.NoAuthException.class,
                () -> anon.create(p + "/x", b(""), OPEN, CreateMode.PERSISTENT));

        ZooKeeper alice = connect();
        alice.addAuthInfo("digest", b("alice:pw"));
        alice.setData(p, b("by alice"), -1);
        assertEquals(new HashSetOf(acl).set, new HashSetOf(alice.getACL(p, null)).set, "ADMIN sees the digest");
        alice.create(p + "/kid", b(""), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        List<ACL> creator = alice.getACL(p + "/kid", null);
        assertEquals(1, creator.size());
        assertEquals(new Id("digest", digest), creator.get(0).getId());
        Matrix.sync(anon, p + "/kid");
        assertThrows(KeeperException.NoAuthException.class, () -> anon.getData(p + "/kid", false, null));

        // setACL with version check
        assertThrows(KeeperException.BadVersionException.class, () -> alice.setACL(p, OPEN, 5));
        Stat after = alice.setACL(p, OPEN, st.getAversion());
        assertEquals(1, after.getAversion());
        anon.setData(p, b("open now"), -1);

        // CREATOR_ALL_ACL without authentication is invalid
        assertThrows(KeeperException.InvalidACLException.class,
                () -> anon.create(root + "/noauth", b(""), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
        // wrong credentials: still no access to the creator-only child
        ZooKeeper mallory = connect();
        mallory.addAuthInfo("digest", b("alice:wrong"));
        Matrix.sync(mallory, p + "/kid");
        assertThrows(KeeperException.NoAuthException.class, () -> mallory.getData(p + "/kid", false, null));
        // super digest (configured on both servers: super:test)
        ZooKeeper su = connect();
        su.addAuthInfo("digest", b("super:test"));
        Matrix.sync(su, p + "/kid");
        assertArrayEquals(b(""), su.getData(p + "/kid", false, null));
    }

    @Test
    void ttlAndContainer() throws Exception {
        String ttl = root + "/ttl";
        zk.create(ttl, b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, null, 500);
        assertNotNull(zk.exists(ttl, false));
        String c = root + "/container";
        zk.create(c, b(""), OPEN, CreateMode.CONTAINER);
        zk.create(c + "/kid", b(""), OPEN, CreateMode.PERSISTENT);
        zk.delete(c + "/kid", -1);
        Matrix.eventually("ttl node and emptied container reaped", () -> {
            try {
                return zk.exists(ttl, false) == null && zk.exists(c, false) == null;
            } catch (Exception e) {
                return false;
            }
        });
    }

    @Test
    void sessionAndConfig() throws Exception {
        ZooKeeper owner = connect();
        long id = owner.getSessionId();
        assertTrue(id != 0);
        String e = root + "/eph";
        owner.create(e, b(""), OPEN, CreateMode.EPHEMERAL);
        // attach a second connection to the same session with id + password
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper again = new ZooKeeper(Matrix.CONNECT, Matrix.SESSION_MS, ev -> {
            if (ev.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, id, owner.getSessionPasswd());
        clients.add(again);
        assertTrue(connected.await(Matrix.WAIT_S, TimeUnit.SECONDS));
        assertEquals(id, again.getSessionId());
        Matrix.sync(again, e);
        assertEquals(id, again.exists(e, false).getEphemeralOwner());
        again.close(); // closes the session: its ephemeral goes
        Matrix.eventually("ephemeral of the closed session removed", () -> {
            try {
                return zk.exists(e, false) == null;
            } catch (Exception ex) {
                return false;
            }
        });
        // a wrong password is refused with an Expired session (a throwaway session: ZooKeeper drops
        // the live connection of a session when another connection claims its id)
        ZooKeeper victim = connect();
        byte[] bad = new byte[16];
        CountDownLatch expired = new CountDownLatch(1);
        ZooKeeper wrong = new ZooKeeper(Matrix.CONNECT, Matrix.SESSION_MS, ev -> {
            if (ev.getState() == Watcher.Event.KeeperState.Expired) {
                expired.countDown();
            }
        }, victim.getSessionId(), bad);
        clients.add(wrong);
        assertTrue(expired.await(Matrix.WAIT_S, TimeUnit.SECONDS), "wrong session password -> Expired");
        // /zookeeper/config lists the ensemble members
        byte[] cfg = zk.getConfig(false, null);
        String text = new String(cfg, StandardCharsets.UTF_8);
        assertTrue(text.contains("server.1=") && text.contains("server.3="), text);
    }

    /** ACL lists compared as sets. */
    private static final class HashSetOf {
        final java.util.Set<String> set = new java.util.HashSet<>();

        HashSetOf(List<ACL> acls) {
            for (ACL a : acls) {
                set.add(a.getPerms() + " " + a.getId().getScheme() + ":" + a.getId().getId());
            }
        }
    }
}
