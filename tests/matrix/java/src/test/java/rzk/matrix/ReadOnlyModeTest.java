package rzk.matrix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Read-only mode with the official Java client (canBeReadOnly). Run by the matrix's readonly job
 * only: -Dzk.connect names the one member left of a 3-member ensemble whose other two were
 * stopped (readonlymode.enabled=true), after kazoo's readonly_check.py wrote the node.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReadOnlyModeTest {
    private static final String PATH = "/matrix-readonly";

    @Test
    void canBeReadOnlyClientReadsAndGetsNotReadOnlyOnWrites() throws Exception {
        CountDownLatch ro = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(Matrix.CONNECT, Matrix.SESSION_MS, e -> {
            if (e.getState() == Watcher.Event.KeeperState.ConnectedReadOnly) {
                ro.countDown();
            }
        }, true);
        try {
            assertTrue(ro.await(45, TimeUnit.SECONDS), "no read-only session within 45 s (state " + zk.getState() + ")");
            assertArrayEquals("before quorum loss".getBytes(StandardCharsets.UTF_8), zk.getData(PATH, false, null));
            assertTrue(zk.exists(PATH, false) != null);
            assertThrows(KeeperException.NotReadOnlyException.class,
                    () -> zk.create(PATH + "/java", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            assertThrows(KeeperException.NotReadOnlyException.class, () -> zk.setData(PATH, new byte[0], -1));
        } finally {
            zk.close();
        }
    }

    @Test
    void clientThatDoesNotAllowReadOnlyGetsNoSession() throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(Matrix.CONNECT, Matrix.SESSION_MS, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected
                    || e.getState() == Watcher.Event.KeeperState.ConnectedReadOnly) {
                connected.countDown();
            }
        }, false);
        try {
            assertFalse(connected.await(8, TimeUnit.SECONDS), "a read-write client got a session without a quorum");
        } finally {
            zk.close();
        }
    }
}
