"""No references or memory leak per call: 100k proposals leave the heap
and the reference counts where they were."""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc

import craft

from conftest import Cluster

N = 100_000


class Null(craft.StateMachine):
    """Keeps nothing, returns the same result object every time (so its
    reference count shows a leak in the result path)."""

    RESULT = b"r" * 32

    def __init__(self):
        self.n = 0

    def apply(self, index, term, data):
        self.n += 1
        return self.RESULT


def _run_async(leader, payload, count, workers=256):
    async def go():
        async def worker(n):
            for _ in range(n):
                r = await leader.propose_async(payload)
                assert r.data == Null.RESULT
        await asyncio.gather(*(worker(count // workers) for _ in range(workers)))
    asyncio.run(go())


def test_no_leak_over_100k_proposals():
    c = Cluster(3, fsm=Null, tick_ms=5, election_ticks=200)
    try:
        leader = c.leader()
        payload = b"p" * 64
        fn = lambda sm: sm.n  # noqa: E731
        # Warm up: the first loop, the bridge, caches.
        _run_async(leader, payload, 2000)
        for _ in range(200):
            leader.propose(payload)
            leader.read(fn)
        gc.collect()
        refs = (sys.getrefcount(payload), sys.getrefcount(Null.RESULT),
                sys.getrefcount(leader.fsm), sys.getrefcount(fn),
                sys.getrefcount(leader))
        objects = len(gc.get_objects())
        tracemalloc.start()
        before = tracemalloc.take_snapshot()

        _run_async(leader, payload, N - 2000)
        for _ in range(1000):
            leader.propose(payload)
            leader.read(fn)

        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        assert leader.read(lambda sm: sm.n) >= N - 256
        # Every call the glue allocated was freed.
        assert craft.lowlevel.cpy_live_calls() == 0
        assert (sys.getrefcount(payload), sys.getrefcount(Null.RESULT),
                sys.getrefcount(leader.fsm), sys.getrefcount(fn),
                sys.getrefcount(leader)) == refs
        # Python objects: a few may come and go (loop internals), not one
        # per call.
        assert len(gc.get_objects()) - objects < 1000
        # Allocations made by Python code: under 10 bytes per call.
        assert grown < N * 10, "heap grew by %d bytes" % grown
    finally:
        c.close()
