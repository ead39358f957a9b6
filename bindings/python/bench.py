#!/usr/bin/env python3
"""Throughput of craft.Node.propose from Python, next to the same cluster
driven from C in the same run.

A 3-node cluster in one process (craft.Hub + craft.MemStorage), 16-byte
proposals to the leader, closed loops:

  C        the glue's C driver (cpy_bench_drive): N proposals in flight,
           each completion proposes again from the apply thread; no
           Python at all on the path. The baseline.
  thread   N Python threads calling node.propose() (blocking, GIL
           released while it waits).
  asyncio  N asyncio tasks awaiting node.propose_async() in one loop.

Each is run with two state machines: "native" (craft.NativeCounter, C:
the cluster is the same as the C benchmark's, so the gap is the binding's
client side) and "python" (a StateMachine subclass: each of the three
nodes calls Python for every entry). Figures are ops/s (commits
completed per second) and the ratio to the C driver at the same
concurrency. A benchmark, not a test: figures depend on the machine and
its load (printed).

Usage: bench.py [--seconds S] [--fsm native|python|both] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time

import craft
from craft import lowlevel as ll

PAYLOAD = b"x" * 16


class PyCounter(craft.StateMachine):
    """The Python twin of NativeCounter."""

    def __init__(self):
        self.value = 0

    def apply(self, index, term, data):
        self.value += 1
        return None


def make_cluster(kind):
    hub = craft.Hub()
    fsm = craft.NativeCounter if kind == "native" else PyCounter
    # Elections after 0.5-1 s of silence: a loaded machine (or a sanitizer
    # build) must not depose the leader in the middle of a run.
    nodes = [craft.Node(i, storage=craft.MemStorage(), transport=hub, fsm=fsm(),
                        request_timeout_ms=30000, election_ticks=50)
             for i in (1, 2, 3)]
    for n in nodes:
        n.bootstrap([1, 2, 3])
    for n in nodes:
        n.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for n in nodes:
            if n.is_leader and all(m.leader == n.id for m in nodes):
                return hub, nodes, n
        time.sleep(0.005)
    raise SystemExit("bench.py: no leader")


def run_c(leader, outstanding, seconds):
    with leader._handle() as h:
        rc, done = ll.cpy_bench_drive(h, outstanding, int(seconds * 1000), len(PAYLOAD))
    craft._errors.check(rc)
    return done / seconds


def run_threads(leader, nthreads, seconds):
    stop = threading.Event()
    counts = [0] * nthreads
    start = threading.Barrier(nthreads + 1)

    def worker(k):
        start.wait()
        c = 0
        while not stop.is_set():
            leader.propose(PAYLOAD)
            c += 1
        counts[k] = c
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.monotonic()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def run_asyncio(leader, ntasks, seconds):
    async def main():
        stop = False
        count = 0

        async def worker():
            nonlocal count
            while not stop:
                await leader.propose_async(PAYLOAD)
                count += 1
        tasks = [asyncio.create_task(worker()) for _ in range(ntasks)]
        await asyncio.sleep(0.2)               # warm up
        c0, t0 = count, time.monotonic()
        await asyncio.sleep(seconds)
        done, t1 = count - c0, time.monotonic()
        stop = True
        await asyncio.gather(*tasks)
        return done / (t1 - t0)
    return asyncio.run(main())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--fsm", choices=("native", "python", "both"), default="both")
    ap.add_argument("--quick", action="store_true",
                    help="0.3 s per run (a smoke run, figures meaningless)")
    args = ap.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    kinds = ("native", "python") if args.fsm == "both" else (args.fsm,)

    print("craft %s, Python %s, %d CPUs, load average %s" % (
        craft.version(), sys.version.split()[0], os.cpu_count() or 0,
        " ".join("%.2f" % x for x in os.getloadavg())))
    print("3 nodes in one process (Hub + MemStorage), %d-byte proposals, "
          "%.1f s per run\n" % (len(PAYLOAD), seconds))
    print("%-7s %-28s %12s %10s" % ("fsm", "driver", "ops/s", "vs C"))
    rows = []
    for kind in kinds:
        hub, nodes, leader = make_cluster(kind)
        try:
            base = {n: run_c(leader, n, seconds) for n in (1, 64, 256)}
            for n in (1, 64, 256):
                rows.append((kind, "C, %d in flight" % n, base[n], 1.0))
                print("%-7s %-28s %12.0f %10s" % (kind, "C, %d in flight" % n, base[n], "1.00"))
            for label, fn, n in (("1 Python thread", run_threads, 1),
                                 ("64 Python threads", run_threads, 64),
                                 ("256 asyncio tasks", run_asyncio, 256)):
                ops = fn(leader, n, seconds)
                ratio = ops / base[n] if base[n] else 0.0
                rows.append((kind, label, ops, ratio))
                print("%-7s %-28s %12.0f %10.2f" % (kind, label, ops, ratio))
        finally:
            for n in nodes:
                n.close()
    return rows


if __name__ == "__main__":
    main()
