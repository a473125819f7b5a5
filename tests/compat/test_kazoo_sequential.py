"""Sequential znodes: 10-digit zero-padded suffix taken from the parent's cversion."""

import re

from kazoo.exceptions import NoChildrenForEphemeralsError, NoNodeError
import pytest


def test_ten_digit_zero_padded(zk, root):
    p = zk.create(root + "/job-", sequence=True)
    assert p == root + "/job-0000000000"
    p = zk.create(root + "/job-", sequence=True)
    assert p == root + "/job-0000000001"
    assert re.fullmatch(r"job-\d{10}", p.rsplit("/", 1)[1])


def test_counter_counts_child_creations_not_deletions(zk, root):
    """The suffix is the number of children ever created under the parent (ZooKeeper's internal
    cversion). The client-visible Stat.cversion also counts deletions: there it is
    2 * creations - numChildren (= creations + deletions)."""
    zk.create(root + "/plain")          # creations 1
    zk.create(root + "/plain2")         # creations 2
    zk.delete(root + "/plain2")         # deletions 1
    st = zk.exists(root)
    assert st.cversion == 3 and st.numChildren == 1
    p = zk.create(root + "/s-", sequence=True)
    assert p == root + "/s-0000000002"
    st = zk.exists(root)
    assert st.cversion == 4  # 2 * 3 - 2
    zk.delete(root + "/plain")
    zk.delete(p)
    assert zk.exists(root).cversion == 6
    assert zk.create(root + "/s-", sequence=True) == root + "/s-0000000003"


def test_counter_shared_between_persistent_and_ephemeral(zk, root):
    a = zk.create(root + "/x-", sequence=True)
    b = zk.create(root + "/x-", sequence=True, ephemeral=True)
    c = zk.create(root + "/y-", sequence=True)  # different prefix, same parent -> same counter
    d = zk.create(root + "/x-", sequence=True, ephemeral=True)
    assert [q.rsplit("-", 1)[1] for q in (a, b, c, d)] == [
        "0000000000", "0000000001", "0000000002", "0000000003"]
    assert zk.exists(b).ephemeralOwner == zk.client_id[0]
    assert zk.exists(a).ephemeralOwner == 0


def test_counter_is_per_parent(zk, root):
    zk.create(root + "/p1")
    zk.create(root + "/p2")
    zk.create(root + "/p1/a")
    assert zk.create(root + "/p1/n-", sequence=True) == root + "/p1/n-0000000001"
    assert zk.create(root + "/p2/n-", sequence=True) == root + "/p2/n-0000000000"


def test_counter_not_reused_after_delete(zk, root):
    p0 = zk.create(root + "/q-", sequence=True)
    assert p0 == root + "/q-0000000000"
    zk.delete(p0)
    p1 = zk.create(root + "/q-", sequence=True)
    assert p1 == root + "/q-0000000001"
    zk.delete(p1)
    assert zk.create(root + "/q-", sequence=True) == root + "/q-0000000002"


def test_sequential_with_empty_name_under_parent(zk, root):
    # "parent/" + sequence: the node name is just the counter
    p = zk.create(root + "/", sequence=True)
    assert p == root + "/0000000000"
    assert zk.get_children(root) == ["0000000000"]


def test_sequential_data_and_errors(zk, root):
    p = zk.create(root + "/d-", b"payload", sequence=True)
    assert zk.get(p)[0] == b"payload"
    with pytest.raises(NoNodeError):
        zk.create(root + "/missing/s-", sequence=True)
    e = zk.create(root + "/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(e + "/s-", sequence=True)
