"""craft.FileStorage: a cluster on disk, restarts from the directory,
and its errors."""

from __future__ import annotations

import logging
import os

import pytest

import craft

from conftest import KV, wait_for

FAST = "none-unsafe-for-tests"   # the tests do not simulate power loss


def file_storage(tmp_path):
    return lambda i: craft.FileStorage(tmp_path / ("n%d" % i), sync=FAST,
                                       node_id=i)


def test_cluster_on_files_and_restart_from_the_directory(cluster, tmp_path):
    c = cluster(3, storage=file_storage(tmp_path), snapshot_entries=300,
                snapshot_trailing=20, wait_leader=1)
    leader = c.leader()
    for i in range(1000):
        leader.propose(b"k%d=%d" % (i % 100, i))
    follower = c.followers()[0]
    fid = follower.id
    expected = leader.read(lambda kv: dict(kv.data))
    # The follower has applied everything and has a snapshot on disk
    # (automatic ones depend on timing; take one to be sure).
    assert follower.read(lambda kv: dict(kv.data), timeout=10) == expected
    follower.take_snapshot(timeout=10)

    # Stop the follower and reopen its directory from scratch: a process
    # restart. The snapshot is restored through Python, the log replayed.
    follower.close()
    c.storage[fid].close()
    assert sorted(os.listdir(tmp_path / ("n%d" % fid)))
    c.storage[fid] = craft.FileStorage(tmp_path / ("n%d" % fid), sync=FAST,
                                       node_id=fid)
    node = c.restart(fid)
    assert node.fsm.restored == 1        # a snapshot was on disk
    assert node.read(lambda kv: dict(kv.data), timeout=10) == expected
    leader.propose(b"after=1")
    assert node.read(lambda kv: kv.data[b"after"], timeout=10) == b"1"


def test_whole_cluster_restarts_from_disk(tmp_path):
    ids = [1, 2, 3]
    hub = craft.Hub()

    def start(first):
        stores = {i: craft.FileStorage(tmp_path / str(i), sync=FAST) for i in ids}
        nodes = {i: craft.Node(i, storage=stores[i], transport=hub, fsm=KV(),
                               tick_ms=5, wait_leader=1) for i in ids}
        if first:
            for n in nodes.values():
                n.bootstrap(ids)
        for n in nodes.values():
            n.start()
        return stores, nodes

    def stop(stores, nodes):
        for n in nodes.values():
            n.close()
        for s in stores.values():
            s.close()

    stores, nodes = start(True)
    try:
        nodes[1].propose(b"x=1", timeout=10)     # waits for a leader
    except craft.NotLeader as e:
        nodes[e.leader].propose(b"x=1")
    stop(stores, nodes)
    stores, nodes = start(False)
    try:
        assert nodes[2].read(lambda kv: kv.data[b"x"], timeout=10) == b"1"
    finally:
        stop(stores, nodes)


def test_open_errors(tmp_path):
    d = tmp_path / "n1"
    s = craft.FileStorage(d, sync=FAST, node_id=1, cluster_id=7)
    with pytest.raises(craft.Busy):
        craft.FileStorage(d, sync=FAST)          # locked
    s.close()
    with pytest.raises(craft.StateError) as info:
        craft.FileStorage(d, sync=FAST, node_id=2)
    assert info.value.detail                     # the storage's message
    with pytest.raises(craft.StateError):
        craft.FileStorage(d, sync=FAST, cluster_id=8)
    with pytest.raises(ValueError):
        craft.FileStorage(d, sync="sometimes")
    with pytest.raises(craft.InvalidArgument):
        craft.FileStorage(d, sync=FAST, segment_bytes=1)
    # Damage that is not a torn tail refuses to open, naming the file.
    meta = [p for p in d.iterdir() if p.name.startswith("meta")][0]
    raw = bytearray(meta.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    meta.write_bytes(bytes(raw))
    with pytest.raises(craft.DataError) as info:
        craft.FileStorage(d, sync=FAST)
    assert meta.name in info.value.detail


def test_one_node_at_a_time(tmp_path):
    s = craft.FileStorage(tmp_path / "n1", sync=FAST)
    hub = craft.Hub()
    with craft.Node(1, storage=s, transport=hub, fsm=KV(), tick_ms=5):
        with pytest.raises(craft.Busy):
            craft.Node(2, storage=s, transport=hub, fsm=KV(), tick_ms=5)
        with pytest.raises(craft.StateError):
            s.close()
    s.close()
    assert s.closed
    s.close()


def test_storage_trace(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="craft"):
        s = craft.FileStorage(tmp_path / "n1", sync=FAST, node_id=1,
                              trace=logging.DEBUG)
        with craft.Node(1, storage=s, transport=craft.Hub(), fsm=KV(),
                        tick_ms=5) as n:
            n.bootstrap([1])
            n.start()
            wait_for(lambda: n.is_leader, what="a leader")
            n.propose(b"a=1")
        s.close()
    events = {r.craft_event: r for r in caplog.records if hasattr(r, "craft_event")}
    assert "storage.opened" in events
    assert events["storage.opened"].name == "craft.storage"
    assert events["storage.opened"].node_id == 1


def test_mem_storage_crash_loses_unsynced_writes_only(cluster):
    c = cluster(3, wait_leader=1)
    leader = c.leader()
    leader.propose(b"durable=1")
    f = c.followers()[0]
    c.storage[f.id].crash()
    leader.propose(b"more=1")            # the crashed follower fails its write
    wait_for(lambda: f.last_error, what="the crashed node to stop")
    f.close()
    c.storage[f.id].fail(0)
    back = c.restart(f.id)
    assert back.read(lambda kv: kv.data[b"durable"], timeout=10) == b"1"
    assert back.read(lambda kv: kv.data[b"more"], timeout=10) == b"1"
