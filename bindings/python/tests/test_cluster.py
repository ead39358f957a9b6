"""A 3-node cluster in one process with a Python state machine."""

from __future__ import annotations

import asyncio

import pytest

import craft

from conftest import KV, SLOW, wait_for


def test_elect_propose_read(kv_cluster):
    leader = kv_cluster.leader()
    r = leader.propose(b"a=1")
    assert isinstance(r, craft.Result)
    assert r.index > 0 and r.term > 0 and r.leader == leader.id
    assert r.data is None            # no previous value
    r2 = leader.propose(b"a=2")
    assert r2.index == r.index + 1 and r2.data == b"1"
    # A linearizable read on every node, followers included, sees it.
    for node in kv_cluster.nodes.values():
        assert node.read(lambda kv: kv.data.get(b"a")) == b"2"
    assert leader.read() is None     # a barrier only


def test_propose_10k_then_kill_leader_and_reelect(kv_cluster):
    leader = kv_cluster.leader()

    async def load():
        futs = [leader.propose_async(b"k%d=%d" % (i % 1000, i))
                for i in range(10000)]
        return await asyncio.gather(*futs)
    results = asyncio.run(load())
    assert len(results) == 10000
    idx = [r.index for r in results]
    assert idx == sorted(idx) and len(set(idx)) == 10000
    assert leader.read(lambda kv: len(kv.data)) == 1000
    last = results[-1].index

    # Kill the leader: the other two elect a new one and keep going.
    old = leader.id
    leader.close()
    survivors = [i for i in kv_cluster.ids if i != old]
    new = kv_cluster.leader(among=survivors)
    assert new.id != old
    r = new.propose(b"after=1")
    assert r.index > last and r.term > results[-1].term
    for i in survivors:
        assert kv_cluster.nodes[i].read(lambda kv: kv.data[b"k999"]) == b"9999"

    # The dead node restarts from its storage and catches up.
    back = kv_cluster.restart(old)
    wait_for(lambda: back.leader, what="the restarted node to know the leader")
    assert back.read(lambda kv: kv.data.get(b"after"), timeout=10) == b"1"
    assert back.read(lambda kv: dict(kv.data)) == new.read(lambda kv: dict(kv.data))


def test_snapshot_and_restore_through_python(cluster):
    c = cluster(3, snapshot_entries=200, snapshot_trailing=10)
    leader = c.leader()
    for i in range(1000):
        leader.propose(b"key%d=%d" % (i % 50, i))
    # Automatic snapshots were taken and the logs compacted.
    wait_for(lambda: all(c.storage[i].snapshot_index > 0 for i in c.ids),
             what="snapshots on every node")
    r = leader.take_snapshot()
    assert r.index >= 1000 and r.term == leader.term

    # A restart restores the snapshot through StateMachine.restore.
    follower = c.followers()[0]
    fid = follower.id
    restarted = c.restart(fid)
    assert restarted.fsm.restored == 1
    wait_for(lambda: restarted.leader, what="the restarted node to know the leader")
    assert restarted.read(lambda kv: dict(kv.data)) == leader.read(lambda kv: dict(kv.data))

    # A new server far behind a compacted log gets the snapshot sent by
    # the leader, restored through Python as well.
    c.storage[4] = craft.MemStorage()
    newbie = c.make(4)
    newbie.start()
    leader.add_peer(4, timeout=20)
    wait_for(lambda: newbie.leader, what="the new node to know the leader")
    assert newbie.read(lambda kv: kv.data[b"key49"], timeout=20) == b"999"
    assert newbie.fsm.restored >= 1
    st = leader.status()
    assert {m.id for m in st.members} == {1, 2, 3, 4}
    assert all(m.role == craft.MemberRole.VOTER for m in st.members)


def test_membership_and_transfer(cluster):
    c = cluster(3)
    leader = c.leader()
    other = c.followers()[0]
    r = leader.transfer_leadership(other.id, timeout=10)
    assert r.leader == other.id
    new = c.leader()
    assert new.id == other.id
    removed = [i for i in c.ids if i != new.id][0]
    new.remove_peer(removed, timeout=10)
    assert {m.id for m in new.status().members} == set(c.ids) - {removed}
    new.propose(b"x=1")


def test_status_and_metrics(kv_cluster):
    leader = kv_cluster.leader()
    leader.propose(b"m=1")
    st = leader.status()
    assert st.id == leader.id and st.role == craft.Role.LEADER
    assert st.leader == leader.id and st.commit_index >= st.applied_index > 0
    assert len(st.members) == 3
    me = [m for m in st.members if m.id == leader.id][0]
    assert me.match_index == st.last_index
    fol = kv_cluster.followers()[0].status()
    assert fol.role == craft.Role.FOLLOWER and fol.leader == leader.id
    m = leader.metrics()
    assert m["craft_elections_total"] >= 0
    assert m["craft_proposals_total"] >= 1
    text = leader.metrics_text()
    assert 'node="%d"' % leader.id in text
    assert "# TYPE craft_elections_total counter" in text
    assert repr(leader).startswith("<craft.Node %d LEADER" % leader.id)


def test_context_manager_closes():
    hub = craft.Hub()
    with craft.Node(1, storage=craft.MemStorage(), transport=hub, fsm=KV(),
                    tick_ms=5) as n:
        n.bootstrap([1])
        n.start()
        wait_for(lambda: n.is_leader, what="single-node leader")
        assert n.propose(b"solo=1").index >= 1
    assert n.closed
    with pytest.raises(craft.Shutdown):
        n.propose(b"late=1")
    with pytest.raises(craft.Shutdown):
        n.status()
    n.close()  # idempotent


def test_addresses_in_the_membership(cluster):
    hub = craft.Hub()
    nodes = {i: craft.Node(i, storage=craft.MemStorage(), transport=hub, fsm=KV(),
                           tick_ms=5, election_ticks=40 * SLOW, wait_leader=1)
             for i in (1, 2, 3)}
    try:
        addrs = {1: "127.0.0.1:7001", 2: b"127.0.0.1:7002", 3: "[::1]:7003"}
        for n in nodes.values():
            n.bootstrap(addrs)
        for n in nodes.values():
            n.start()
        version, members = nodes[1].membership()
        assert version > 0 and nodes[1].membership_version == version
        assert {m.id: m.address for m in members} == {
            1: b"127.0.0.1:7001", 2: b"127.0.0.1:7002", 3: b"[::1]:7003"}
        leader = wait_for(lambda: next((n for n in nodes.values() if n.is_leader), None),
                          what="a leader")
        nodes[4] = craft.Node(4, storage=craft.MemStorage(), transport=hub, fsm=KV(),
                              tick_ms=5, election_ticks=40 * SLOW)
        nodes[4].start()
        leader.add_peer(4, "127.0.0.1:7004", timeout=10)
        st = leader.status()
        assert {m.id: m.address for m in st.members}[4] == b"127.0.0.1:7004"
        wait_for(lambda: nodes[2].membership()[0] > version, what="the new membership")
        with pytest.raises(craft.TooBig):
            leader.add_learner(5, "x" * (craft.lowlevel.CRAFT_MAX_ADDR_BYTES + 1))
    finally:
        for n in nodes.values():
            n.close()
