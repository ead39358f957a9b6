"""craft.TcpTransport: a cluster over loopback TCP."""

from __future__ import annotations

import pytest

import craft

from conftest import KV, wait_for

pytestmark = pytest.mark.skipif(not hasattr(craft.lowlevel, "craft_tcp_create"),
                                reason="this libcraft has no TCP transport yet")


def test_cluster_over_tcp(tmp_path):
    ids = (1, 2, 3)
    ts = {i: craft.TcpTransport("127.0.0.1:0", cluster_id=7, node_id=i) for i in ids}
    addrs = {i: ts[i].address for i in ids}
    assert all(t.port > 0 for t in ts.values())
    stores = {i: craft.FileStorage(tmp_path / str(i), sync="none-unsafe-for-tests")
              for i in ids}
    nodes = {i: craft.Node(i, storage=stores[i], transport=ts[i], fsm=KV(),
                           tick_ms=5, election_ticks=40, wait_leader=1) for i in ids}
    try:
        for n in nodes.values():
            n.bootstrap(addrs)
        for n in nodes.values():
            n.start()
        leader = wait_for(lambda: next((n for n in nodes.values() if n.is_leader), None),
                          timeout=20, what="a leader over TCP")
        for k in range(100):
            leader.propose(b"k%d=%d" % (k, k))
        for n in nodes.values():
            assert n.read(lambda kv: kv.data[b"k99"], timeout=10) == b"99"
        m = ts[leader.id].metrics()
        assert m["craft_tcp_frames_out_total"] > 0
        with pytest.raises(craft.Busy):
            craft.Node(9, storage=craft.MemStorage(), transport=ts[1], fsm=KV())
        with pytest.raises(craft.StateError):
            ts[1].close()
    finally:
        for n in nodes.values():
            n.close()
        for t in ts.values():
            t.close()
        for s in stores.values():
            s.close()


def test_bind_failure_is_an_io_error():
    with craft.TcpTransport("127.0.0.1:0", node_id=1) as t:
        with pytest.raises(craft.IOError):
            craft.TcpTransport(t.address, node_id=2)
