"""asyncio: completions come back through the event loop, no thread per
call."""

from __future__ import annotations

import asyncio
import threading

import pytest

import craft


def test_propose_and_read_async(kv_cluster):
    leader = kv_cluster.leader()
    follower = kv_cluster.followers()[0]

    async def go():
        threads = threading.active_count()
        results = await asyncio.gather(
            *(leader.propose_async(b"a%d=%d" % (i, i)) for i in range(2000)))
        assert threading.active_count() == threads   # no thread per call
        assert all(isinstance(r, craft.Result) for r in results)
        assert [r.index for r in results] == sorted(r.index for r in results)
        n = await follower.read_async(lambda kv: len(kv.data))
        assert n == 2000
        with pytest.raises(ZeroDivisionError):
            await leader.read_async(lambda kv: 1 / 0)
        assert await leader.read_async() is None
        r = await leader.transfer_leadership_async(follower.id, timeout=10)
        assert r.leader == follower.id
    asyncio.run(go())


def test_cancel_does_not_break_the_bridge(kv_cluster):
    leader = kv_cluster.leader()

    async def go():
        futs = [leader.propose_async(b"c%d=1" % i) for i in range(100)]
        for f in futs[::2]:
            f.cancel()
        done = await asyncio.gather(*futs, return_exceptions=True)
        assert sum(isinstance(d, asyncio.CancelledError) for d in done) == 50
        assert (await leader.propose_async(b"after=1")).index > 0
    asyncio.run(go())


def test_two_loops_one_after_the_other(kv_cluster):
    leader = kv_cluster.leader()
    for k in range(3):
        r = asyncio.run(_one(leader, b"loop%d=1" % k))
        assert r.index > 0


async def _one(node, data):
    return await node.propose_async(data)


def test_loops_in_two_threads_at_once(kv_cluster):
    leader = kv_cluster.leader()
    out = []

    def run(k):
        async def go():
            rs = await asyncio.gather(*(leader.propose_async(b"t%d-%d=1" % (k, i))
                                        for i in range(500)))
            out.append(len(rs))
        asyncio.run(go())
    ts = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == [500, 500]


def test_async_outside_a_loop_raises(kv_cluster):
    with pytest.raises(RuntimeError):
        kv_cluster.leader().propose_async(b"x")
