"""Threads and the GIL: blocking calls release it, callbacks take it,
shutdown and interpreter exit never deadlock."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import craft

from conftest import KV, Cluster, run_python, wait_for


def test_other_threads_run_while_propose_blocks(cluster):
    # Without check-quorum the cut-off leader stays leader: the proposal
    # waits for its whole deadline.
    c = cluster(3, check_quorum=0, pre_vote=1)
    leader = c.leader()
    for f in c.followers():
        c.hub.isolate(f.id)              # the proposal can never commit
    count = 0
    stop = threading.Event()

    def spin():
        nonlocal count
        while not stop.is_set():
            count += 1
    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    try:
        before = count
        t0 = time.monotonic()
        with pytest.raises(craft.Timeout):
            leader.propose(b"blocked=1", timeout=1.0)
        waited = time.monotonic() - t0
        during = count - before
    finally:
        stop.set()
        t.join()
    assert waited >= 0.9
    # A pure-Python loop makes millions of turns a second; with the GIL
    # held by propose it would make none.
    assert during > 10000, during


def test_64_threads_propose(kv_cluster):
    leader = kv_cluster.leader()
    errors = []
    per = 60

    def worker(k):
        try:
            for j in range(per):
                r = leader.propose(b"t%d=%d" % (k, j))
                assert r.index > 0
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert leader.read(lambda kv: len(kv.data)) == 64
    assert leader.read(lambda kv: kv.data[b"t63"]) == b"%d" % (per - 1)


def test_shutdown_under_load():
    c = Cluster(3, tick_ms=5)
    leader = c.leader()
    outcomes = {"ok": 0, "err": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            try:
                leader.propose(b"load=1", timeout=5)
                kind = "ok"
            except craft.Error:
                kind = "err"
            with lock:
                outcomes[kind] += 1
            if kind == "err":
                return
    threads = [threading.Thread(target=worker) for _ in range(16)]

    async def async_load():
        async def one():
            while True:
                try:
                    await leader.propose_async(b"aload=1", timeout=5)
                except craft.Error:
                    return
        tasks = [asyncio.create_task(one()) for _ in range(64)]
        await asyncio.sleep(0.3)
        # Close every node while all of that is in flight.
        t0 = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, c.close)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return time.monotonic() - t0

    for t in threads:
        t.start()
    took = asyncio.run(async_load())
    stop.set()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert outcomes["ok"] > 0 and outcomes["err"] > 0
    assert took < 10
    with pytest.raises(craft.Shutdown):
        leader.propose(b"after=1")


def test_callback_running_during_shutdown():
    entered = threading.Event()
    release = threading.Event()

    class Slow(KV):
        def apply(self, index, term, data):
            if data == b"slow":
                entered.set()
                release.wait(5)     # blocks the apply thread, GIL released
                time.sleep(0.2)
            return super().apply(index, term, data)
    c = Cluster(1, fsm=Slow, tick_ms=5)
    leader = c.leader()
    results = []
    t = threading.Thread(target=lambda: results.append(_outcome(leader, b"slow")))
    t.start()
    assert entered.wait(5)
    closer = threading.Thread(target=c.close)
    closer.start()
    time.sleep(0.1)
    release.set()          # the callback finishes while close() waits
    closer.join(10)
    t.join(10)
    assert not closer.is_alive() and not t.is_alive()
    # The entry was committed before the shutdown: it completes normally.
    assert results and isinstance(results[0], craft.Result)


def _outcome(node, data):
    try:
        return node.propose(data, timeout=10)
    except craft.Error as e:
        return e


def test_close_from_own_callback_is_refused():
    seen = []

    class SelfCloser(KV):
        node = None

        def apply(self, index, term, data):
            if data == b"close-me":
                try:
                    self.node.close()
                except craft.StateError as e:
                    seen.append(e)
                try:
                    self.node.status()
                except craft.StateError as e:
                    seen.append(e)
            return super().apply(index, term, data)
    c = Cluster(1, fsm=SelfCloser, tick_ms=5)
    try:
        leader = c.leader()
        leader.fsm.node = leader
        leader.propose(b"close-me")
        assert len(seen) == 2
        assert leader.propose(b"still=1").index > 0
    finally:
        leader.fsm.node = None
        c.close()


EXIT_SCRIPT = r"""
import asyncio, threading, time, craft

class KV(craft.StateMachine):
    def __init__(self): self.n = 0
    def apply(self, index, term, data):
        self.n += 1
        time.sleep(0.0005)
        return None

hub = craft.Hub()
nodes = [craft.Node(i, storage=craft.MemStorage(), transport=hub, fsm=KV(),
                    tick_ms=5) for i in (1, 2, 3)]
for n in nodes: n.bootstrap([1, 2, 3])
for n in nodes: n.start()
while not any(n.is_leader for n in nodes): time.sleep(0.01)
leader = [n for n in nodes if n.is_leader][0]

def hammer():
    while True:
        try:
            leader.propose(b"x", timeout=5)
        except craft.Error:
            return
for _ in range(4):
    threading.Thread(target=hammer, daemon=True).start()

async def fire():
    for _ in range(200):
        leader.propose_async(b"y")
asyncio.run(fire())
time.sleep(0.2)
print("exiting with nodes running", flush=True)
"""


def test_interpreter_exit_with_nodes_running():
    t0 = time.monotonic()
    r = run_python(EXIT_SCRIPT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "exiting with nodes running" in r.stdout
    assert "Fatal Python error" not in r.stderr
    assert time.monotonic() - t0 < 30


def test_interpreter_exit_after_loop_closed_with_pending_async():
    script = r"""
import asyncio, time, craft
class KV(craft.StateMachine):
    def apply(self, index, term, data): return None
hub = craft.Hub()
n = craft.Node(1, storage=craft.MemStorage(), transport=hub, fsm=KV(), tick_ms=5)
n.bootstrap([1]); n.start()
while not n.is_leader: time.sleep(0.01)
async def main():
    for _ in range(1000):
        n.propose_async(b"z")
asyncio.run(main())      # the loop closes with completions in flight
n.propose(b"sync")
print("ok", flush=True)
"""
    r = run_python(script, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout


def test_node_dropped_without_close_is_freed():
    import gc
    import weakref
    hub = craft.Hub()
    n = craft.Node(1, storage=craft.MemStorage(), transport=hub, fsm=KV(), tick_ms=5)
    n.bootstrap([1])
    n.start()
    wait_for(lambda: n.is_leader, what="a leader")
    ref = weakref.ref(n)
    del n
    gc.collect()
    assert ref() is None
