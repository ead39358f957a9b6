"""Shared fixtures: clusters of nodes in one process, and a watchdog so a
hang fails the run with every thread's stack instead of blocking CI."""

from __future__ import annotations

import faulthandler
import os
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional

import pytest

import craft

# Seconds one test may take before the watchdog dumps every stack and
# exits (a deadlock must fail loudly, not hang CI).
WATCHDOG = float(os.environ.get("CRAFT_PYTEST_WATCHDOG", "180"))


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# How many times slower than a plain build the code under test runs.
SLOW = 5 if os.environ.get("CRAFT_PYTEST_SLOW") else 1


def source_root() -> Path:
    """The craft source tree the tests belong to."""
    env = os.environ.get("CRAFT_SOURCE_ROOT")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3]


def wait_for(pred: Callable[[], object], timeout: float = 10.0,
             what: str = "condition") -> object:
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.005)


class KV(craft.StateMachine):
    """A replicated dict: payload b"key=value" sets key; b"key" alone
    deletes it. apply returns the previous value."""

    def __init__(self) -> None:
        self.data = {}
        self.applied = 0
        self.restored = 0

    def apply(self, index, term, data):
        self.applied = index
        key, sep, value = data.partition(b"=")
        old = self.data.get(key)
        if sep:
            self.data[key] = value
        else:
            self.data.pop(key, None)
        return old

    def snapshot(self, writer):
        pickle.dump((self.data, self.applied), writer)

    def restore(self, reader):
        self.data, self.applied = pickle.load(reader)
        self.restored += 1


class Cluster:
    """N nodes over one Hub, each with its own MemStorage (kept across
    restarts) and state machine."""

    def __init__(self, n: int = 3, fsm: Callable[[], object] = KV,
                 storage: Optional[Callable[[int], object]] = None,
                 **options) -> None:
        self.ids = list(range(1, n + 1))
        self.hub = craft.Hub()
        self.fsm_factory = fsm
        # Short ticks keep the tests quick; 100 of them (0.5-1 s) before
        # an election keep a loaded machine (a CI runner, or other jobs
        # on its 2 cores) from deposing the leader mid-test. A
        # sanitizer build (CRAFT_PYTEST_SLOW, set by make python-asan)
        # runs several times slower: 5 times longer elections.
        options.setdefault("tick_ms", 5)
        options.setdefault("election_ticks", 100 * SLOW)
        self.options = options
        make_storage = storage or (lambda i: craft.MemStorage())
        self.storage = {i: make_storage(i) for i in self.ids}
        self.nodes = {}
        for i in self.ids:
            node = self.make(i)
            node.bootstrap(self.ids)
        for i in self.ids:
            self.nodes[i].start()

    def make(self, i: int, **extra) -> craft.Node:
        opts = dict(self.options)
        opts.update(extra)
        node = craft.Node(i, storage=self.storage[i], transport=self.hub,
                          fsm=self.fsm_factory(), **opts)
        self.nodes[i] = node
        return node

    def restart(self, i: int, **extra) -> craft.Node:
        """Closes node i (if open) and starts a new one on its storage."""
        old = self.nodes.get(i)
        if old is not None:
            old.close()
        node = self.make(i, **extra)
        node.start()
        return node

    def leader(self, timeout: float = 10.0,
               among: Optional[List[int]] = None) -> craft.Node:
        ids = among or self.ids

        def find():
            open_ = [self.nodes[i] for i in ids if not self.nodes[i].closed]
            for n in open_:
                if n.is_leader and all(m.leader == n.id for m in open_):
                    return n
            return None
        return wait_for(find, timeout, "a leader")

    def followers(self) -> List[craft.Node]:
        lead = self.leader()
        return [n for n in self.nodes.values()
                if n is not lead and not n.closed]

    def close(self) -> None:
        for n in self.nodes.values():
            n.close()
        for s in self.storage.values():
            if isinstance(s, craft.FileStorage):
                s.close()


@pytest.fixture
def cluster():
    made = []

    def make(*args, **kw) -> Cluster:
        c = Cluster(*args, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


@pytest.fixture
def kv_cluster(cluster) -> Cluster:
    return cluster(3)


def run_python(code: str, timeout: float = 60.0):
    """Runs code in a fresh interpreter (the same one the tests use)."""
    import subprocess
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=timeout)


__all__ = ["Cluster", "KV", "wait_for", "source_root", "run_python"]
