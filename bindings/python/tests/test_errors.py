"""libcraft's error codes come out as the right exceptions."""

from __future__ import annotations

import asyncio

import pytest

import craft
from craft import lowlevel as ll

from conftest import KV, wait_for

CODES = {
    ll.CRAFT_EINVAL: craft.InvalidArgument,
    ll.CRAFT_ENOMEM: craft.NoMemory,
    ll.CRAFT_ESTRUCT: craft.StructSize,
    ll.CRAFT_EMALFORMED: craft.Malformed,
    ll.CRAFT_ECHECKSUM: craft.ChecksumError,
    ll.CRAFT_EVERSION: craft.FormatVersion,
    ll.CRAFT_ETOOBIG: craft.TooBig,
    ll.CRAFT_ENOTLEADER: craft.NotLeader,
    ll.CRAFT_EUNKNOWNPEER: craft.UnknownPeer,
    ll.CRAFT_ESHUTDOWN: craft.Shutdown,
    ll.CRAFT_EBUSY: craft.Busy,
    ll.CRAFT_ETIMEDOUT: craft.Timeout,
    ll.CRAFT_ELOST: craft.Lost,
    ll.CRAFT_ESTEPPEDDOWN: craft.SteppedDown,
    ll.CRAFT_ENOTREADY: craft.NotReady,
    ll.CRAFT_ECALLBACK: craft.CallbackError,
    ll.CRAFT_ESTATE: craft.StateError,
    ll.CRAFT_EIO: craft.IOError,
    ll.CRAFT_ECORRUPT: craft.Corrupt,
    ll.CRAFT_EEXIST: craft.Exists,
    ll.CRAFT_ENOENT: craft.NotFound,
    ll.CRAFT_ECANCELED: craft.Canceled,
}


def test_every_code_has_its_class():
    # Every code libcraft names has a class (probe past the last one).
    code = -1
    while not ll.craft_strerror(code).startswith("unknown"):
        assert code in CODES, "no exception class for %s" % ll.craft_strerror(code)
        code -= 1
    for code, cls in CODES.items():
        e = craft.error_from_code(code)
        assert type(e) is cls
        assert isinstance(e, craft.Error)
        assert e.code == code
        assert e.name == ll.craft_strerror(code).split(":")[0]
        assert str(e) == ll.craft_strerror(code)
    assert isinstance(craft.error_from_code(ll.CRAFT_ETIMEDOUT), TimeoutError)
    assert isinstance(craft.error_from_code(ll.CRAFT_EINVAL), ValueError)
    assert isinstance(craft.error_from_code(ll.CRAFT_ETOOBIG), craft.InvalidArgument)
    assert isinstance(craft.error_from_code(ll.CRAFT_ENOMEM), MemoryError)
    assert isinstance(craft.error_from_code(ll.CRAFT_ECHECKSUM), craft.DataError)
    assert craft.Timeout.outcome_unknown and craft.SteppedDown.outcome_unknown
    assert not craft.NotLeader.outcome_unknown
    e = craft.error_from_code(-999)
    assert type(e) is craft.Error and e.code == -999


def test_not_leader_carries_the_hint(kv_cluster):
    leader = kv_cluster.leader()
    follower = kv_cluster.followers()[0]
    with pytest.raises(craft.NotLeader) as info:
        follower.propose(b"x=1")
    assert info.value.leader == leader.id
    assert "leader is %d" % leader.id in str(info.value)
    with pytest.raises(craft.NotLeader):
        follower.add_peer(9)

    async def go():
        with pytest.raises(craft.NotLeader) as i2:
            await follower.propose_async(b"y=1")
        return i2.value.leader
    assert asyncio.run(go()) == leader.id


def test_timeout_when_cut_off(kv_cluster):
    leader = kv_cluster.leader()
    for f in kv_cluster.followers():
        kv_cluster.hub.isolate(f.id)
    with pytest.raises((craft.Timeout, craft.SteppedDown)) as info:
        leader.propose(b"lonely=1", timeout=0.3)
    assert info.value.outcome_unknown
    with pytest.raises((craft.Timeout, craft.SteppedDown, craft.NotLeader)):
        leader.read(timeout=0.3)


def test_invalid_arguments(kv_cluster):
    leader = kv_cluster.leader()
    with pytest.raises(craft.TooBig):
        leader.propose(b"x" * (ll.CRAFT_MAX_ENTRY_BYTES + 1))
    with pytest.raises(craft.InvalidArgument):
        leader.propose(b"x", timeout=0)
    with pytest.raises(craft.InvalidArgument):
        leader.propose(b"x", timeout=-1)
    with pytest.raises(craft.InvalidArgument):
        leader.propose(12345)        # not bytes-like
    with pytest.raises(craft.InvalidArgument):
        leader.add_peer(0)
    with pytest.raises(craft.InvalidArgument):
        craft.Node(0, storage=craft.MemStorage(), transport=craft.Hub(), fsm=KV())
    with pytest.raises(TypeError):
        craft.Node(5, storage=craft.MemStorage(), transport=craft.Hub(), fsm=KV(),
                   no_such_option=1)
    with pytest.raises(TypeError):
        craft.Node(5, storage=object(), transport=craft.Hub(), fsm=KV())
    with pytest.raises(TypeError):
        craft.Node(5, storage=craft.MemStorage(), transport=craft.Hub(), fsm=object())
    # A zero tick is refused by craft_node_create itself.
    with pytest.raises(craft.InvalidArgument):
        craft.Node(5, storage=craft.MemStorage(), transport=craft.Hub(), fsm=KV(),
                   tick_ms=0)


def test_membership_errors(kv_cluster):
    leader = kv_cluster.leader()
    with pytest.raises(craft.Exists):
        leader.add_peer(kv_cluster.followers()[0].id, timeout=5)
    with pytest.raises(craft.UnknownPeer):
        leader.transfer_leadership(42, timeout=5)
    with pytest.raises(craft.UnknownPeer):
        leader.remove_peer(42, timeout=5)


def test_busy_when_max_pending_reached(cluster):
    c = cluster(3, max_pending=4)
    leader = c.leader()
    for f in c.followers():
        c.hub.isolate(f.id)      # nothing commits: proposals pile up

    async def go():
        futs = []
        with pytest.raises(craft.Busy):
            for _ in range(10):
                futs.append(leader.propose_async(b"p", timeout=0.5))
        assert len(futs) == 4
        outcomes = await asyncio.gather(*futs, return_exceptions=True)
        assert all(isinstance(o, (craft.Timeout, craft.SteppedDown)) for o in outcomes)
    asyncio.run(go())


def test_bootstrap_twice_and_start_twice(kv_cluster):
    node = kv_cluster.nodes[1]
    with pytest.raises(craft.StateError):
        node.bootstrap([1, 2, 3])
    with pytest.raises(craft.StateError):
        node.start()


def test_io_error_after_storage_failure(cluster):
    c = cluster(3)
    leader = c.leader()
    leader.propose(b"ok=1")
    c.storage[leader.id].fail(craft.IOError)
    with pytest.raises((craft.IOError, craft.Timeout, craft.Shutdown)) as info:
        leader.propose(b"doomed=1", timeout=2)
    wait_for(lambda: isinstance(_try(leader), craft.IOError),
             what="the failed node to answer IOError")
    err = _try(leader)
    assert "storage" in err.detail or err.detail == ""
    c.storage[leader.id].fail(0)


def _try(node):
    try:
        node.propose(b"again=1", timeout=1)
    except craft.Error as e:
        return e
    return None
