// Loads a snapshot directory with Apache ZooKeeper's own FileSnap and prints the zxid, the tree
// digest ZooKeeper computes for what it loaded, and the node count (java SnapshotDigest.java DIR).
import java.io.File;
import java.util.HashMap;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.persistence.FileSnap;

public class SnapshotDigest {
    public static void main(String[] args) throws Exception {
        DataTree dt = new DataTree();
        HashMap<Long, Integer> sessions = new HashMap<>();
        long zxid = new FileSnap(new File(args[0])).deserialize(dt, sessions);
        System.out.println("zxid=0x" + Long.toHexString(zxid) + " digest=0x" + Long.toHexString(dt.getTreeDigest())
            + " nodes=" + dt.getNodeCount() + " sessions=" + sessions.size());
    }
}
