"""craft.TcpTransport: a cluster over loopback TCP."""

from __future__ import annotations

import logging

import pytest

import craft

from conftest import KV, SLOW, wait_for


def test_cluster_over_tcp(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="craft.transport")
    ids = (1, 2, 3)
    ts = {i: craft.TcpTransport("127.0.0.1:0", cluster_id=7, node_id=i, trace=logging.INFO,
                                backoff_max_ms=200) for i in ids}
    addrs = {i: ts[i].address for i in ids}
    assert all(t.port > 0 for t in ts.values())
    stores = {i: craft.FileStorage(tmp_path / str(i), sync="none-unsafe-for-tests")
              for i in ids}
    nodes = {i: craft.Node(i, storage=stores[i], transport=ts[i], fsm=KV(),
                           tick_ms=5, election_ticks=40 * SLOW, wait_leader=1) for i in ids}
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
        others = sorted(i for i in ids if i != leader.id)
        assert sorted(ts[leader.id].peers()) == others
        for p in others:
            assert ts[leader.id].metrics(p)["craft_tcp_connected"] == 1
        events = [r for r in caplog.records if r.name == "craft.transport"]
        assert any(r.craft_event == "transport.connected" for r in events)
        assert all(r.node_id in ids for r in events)
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
    assert ts[1].metrics() == {} and ts[1].peers() == [] and ts[1].port == 0


def test_leader_loss_and_restart_on_the_same_address(tmp_path):
    ids = (1, 2, 3)
    ts = {i: craft.TcpTransport(cluster_id=7, node_id=i, backoff_max_ms=200) for i in ids}
    addrs = {i: ts[i].address for i in ids}

    def start(i, restart=False):
        st = craft.FileStorage(tmp_path / str(i), sync="none-unsafe-for-tests")
        n = craft.Node(i, storage=st, transport=ts[i], fsm=KV(), tick_ms=5,
                       election_ticks=40 * SLOW, wait_leader=1)
        if not restart:  # a restart finds the membership, addresses and all
            n.bootstrap(addrs)
        n.start()
        return n, st

    nodes = {i: start(i) for i in ids}
    try:
        leader = wait_for(lambda: next((n for n, _ in nodes.values() if n.is_leader), None),
                          timeout=20, what="a leader over TCP")
        leader.propose(b"a=1")
        old = leader.id
        n, st = nodes.pop(old)
        n.close()
        st.close()
        ts[old].close()
        new = wait_for(lambda: next((n for n, _ in nodes.values() if n.is_leader), None),
                       timeout=20, what="a new leader")
        new.propose(b"b=2")
        ts[old] = craft.TcpTransport(addrs[old], cluster_id=7, node_id=old)
        nodes[old] = start(old, restart=True)
        assert nodes[old][0].read(lambda kv: kv.data.get(b"b"), timeout=20) == b"2"
    finally:
        for n, st in nodes.values():
            n.close()
            st.close()
        for t in ts.values():
            t.close()


def test_bind_failure_is_an_io_error():
    with craft.TcpTransport("127.0.0.1:0", node_id=1) as t:
        with pytest.raises(craft.IOError, match=t.address):
            craft.TcpTransport(t.address, node_id=2, trace=True)


def test_argument_errors():
    with pytest.raises(craft.InvalidArgument):
        craft.TcpTransport("no port", node_id=1)
    with pytest.raises(TypeError):
        craft.TcpTransport(node_id=1, no_such_option=1)
    with craft.TcpTransport(node_id=1) as t:
        with pytest.raises(craft.InvalidArgument):
            t.set_peer(1, "127.0.0.1:9")  # its own id
        t.set_peer(2, "127.0.0.1:9")
        assert 2 in t.peers()
        t.set_peer(2, None)
        with pytest.raises(craft.InvalidArgument):
            craft.Node(2, storage=craft.MemStorage(), transport=t, fsm=KV())
