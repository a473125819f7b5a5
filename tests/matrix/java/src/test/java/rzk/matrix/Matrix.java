package rzk.matrix;

import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;

/** Shared settings: the ensemble's connect string comes from -Dzk.connect. */
final class Matrix {
    static final String CONNECT = System.getProperty("zk.connect", "127.0.0.1:2181");
    static final int SESSION_MS = 15000;
    static final int CONNECT_MS = 15000;
    /** generous: two shared cores, several JVMs */
    static final long WAIT_S = 30;

    private Matrix() {}

    static String uniqueRoot(String what) {
        return "/matrix-java-" + what + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static CuratorFramework curator() throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(CONNECT)
                .sessionTimeoutMs(SESSION_MS)
                .connectionTimeoutMs(CONNECT_MS)
                .retryPolicy(new ExponentialBackoffRetry(200, 5))
                .build();
        c.start();
        if (!c.blockUntilConnected((int) WAIT_S, TimeUnit.SECONDS)) {
            c.close();
            throw new IllegalStateException("curator: no connection to " + CONNECT);
        }
        return c;
    }

    /**
     * ZooKeeper guarantees one client's view only: a client that must see another client's write
     * (ordered by the test, out of band) calls sync() first, as the ZooKeeper guide prescribes.
     */
    static void sync(ZooKeeper zk, String path) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        int[] rc = {-1};
        zk.sync(path, (code, p, ctx) -> {
            rc[0] = code;
            done.countDown();
        }, null);
        if (!done.await(WAIT_S, TimeUnit.SECONDS)) {
            throw new AssertionError("sync timed out");
        }
        if (rc[0] != 0) {
            throw KeeperException.create(KeeperException.Code.get(rc[0]), path);
        }
    }

    static void sync(CuratorFramework c, String path) throws Exception {
        sync(c.getZookeeperClient().getZooKeeper(), path);
    }

    static void eventually(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (System.nanoTime() < deadline) {
            if (cond.getAsBoolean()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for: " + what);
    }
}
