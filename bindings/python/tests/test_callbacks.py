"""User callbacks: exceptions are logged and turned into error codes,
storage and transport can be written in Python, trace goes to logging."""

from __future__ import annotations

import logging
import pickle
import threading

import pytest

import craft

from conftest import KV, SLOW, Cluster, wait_for


class Picky(KV):
    """Raises on payloads starting with b"bad"."""

    def apply(self, index, term, data):
        if data.startswith(b"bad"):
            raise ValueError("I refuse %r" % data)
        if data == b"wrong-type":
            return 42
        return super().apply(index, term, data)


def test_exception_in_apply_is_logged_and_reported(cluster, caplog):
    c = cluster(3, fsm=Picky)
    leader = c.leader()
    with caplog.at_level(logging.ERROR, logger="craft.callback"):
        with pytest.raises(craft.CallbackError):
            leader.propose(b"bad=1")
        with pytest.raises(craft.CallbackError):
            leader.propose(b"wrong-type")
        # The node goes on; the entry counts as applied everywhere.
        assert leader.propose(b"good=1").data is None
        wait_for(lambda: sum("I refuse" in str(r.exc_info[1]) for r in caplog.records
                             if r.exc_info) >= 3, what="a log on every node")
    recs = [r for r in caplog.records if r.name == "craft.callback"]
    refuse = [r for r in recs if r.exc_info and isinstance(r.exc_info[1], ValueError)]
    assert refuse and refuse[0].craft_callback == "fsm.apply"
    assert refuse[0].exc_info[2] is not None          # with its traceback
    text = logging.Formatter().format(refuse[0])
    assert "Traceback" in text and "I refuse" in text and "apply" in text
    assert any(isinstance(r.exc_info[1], TypeError) for r in recs if r.exc_info)
    for n in c.nodes.values():
        assert n.read(lambda kv: kv.data.get(b"good")) == b"1"


def test_exception_in_read_fn_reaches_the_caller(kv_cluster):
    leader = kv_cluster.leader()

    def boom(kv):
        raise KeyError("nope")
    with pytest.raises(KeyError, match="nope"):
        leader.read(boom)
    assert leader.read(lambda kv: 7) == 7


class BrokenSnapshot(KV):
    def snapshot(self, writer):
        writer.write(b"partial")
        raise RuntimeError("disk on fire")


def test_exception_in_snapshot(cluster, caplog):
    c = cluster(3, fsm=BrokenSnapshot)
    leader = c.leader()
    leader.propose(b"a=1")
    with caplog.at_level(logging.ERROR, logger="craft.callback"):
        with pytest.raises(craft.CallbackError):
            leader.take_snapshot()
    assert any(r.craft_callback == "fsm.snapshot" for r in caplog.records
               if hasattr(r, "craft_callback"))
    assert leader.propose(b"b=2").index > 0


def test_writer_is_invalid_after_the_call():
    kept = []

    class Keeper(KV):
        def snapshot(self, writer):
            kept.append(writer)
            super().snapshot(writer)
    c = Cluster(1, fsm=Keeper, tick_ms=5)
    try:
        leader = c.leader()
        leader.propose(b"a=1")
        leader.take_snapshot()
        assert kept and kept[0].closed
        with pytest.raises(ValueError):
            kept[0].write(b"late")
    finally:
        c.close()


# ---- storage and transport written in Python -------------------------------

class DictStorage(craft.Storage):
    """A storage in Python: a dict log, kept in memory (survives a Node,
    like MemStorage), optionally failing."""

    def __init__(self):
        self.term = 0
        self.vote = 0
        self.log = {}
        self.snap = None       # (index, term, conf, bytes)
        self.pending = None
        self.fail_writes = False
        self.lock = threading.Lock()
        self.calls = 0

    def load(self, loader):
        loader.hard_state(self.term, self.vote)
        start = 1
        if self.snap is not None:
            index, term, conf, _ = self.snap
            loader.snapshot(index, term, conf)
            start = index + 1
        for i in sorted(k for k in self.log if k >= start):
            t, ty, d = self.log[i]
            loader.entry(i, t, ty, d)

    def _check(self):
        self.calls += 1
        if self.fail_writes:
            raise craft.IOError("disk full")

    def save_hard_state(self, term, vote):
        self._check()
        self.term, self.vote = term, vote

    def append(self, index, term, type, data):
        self._check()
        self.log[index] = (term, type, bytes(data))

    def truncate(self, index):
        self._check()
        for k in [k for k in self.log if k >= index]:
            del self.log[k]

    def sync(self):
        self._check()

    def snapshot_write(self, index, term, offset, data, conf, last):
        self._check()
        if offset == 0:
            self.pending = bytearray()
        self.pending += data
        if last:
            self.snap = (index, term, conf, bytes(self.pending))
            for k in [k for k in self.log if k <= index]:
                del self.log[k]

    def snapshot_read(self, index, offset, count):
        if self.snap is None or self.snap[0] != index:
            raise craft.NotFound()
        data = self.snap[3]
        chunk = data[offset:offset + count]
        return chunk, offset + len(chunk) >= len(data)


class PyHub(craft.Transport):
    """A transport in Python: delivers straight to the peer's node."""

    nodes = None

    def __init__(self, nodes):
        self.nodes = nodes
        self.sent = 0

    def send(self, peer, data):
        node = self.nodes.get(peer)
        if node is None or node.closed:
            return            # lost, like on a network
        self.sent += 1
        try:
            node.receive(data)
        except craft.Shutdown:
            pass


def _python_cluster(storages, nodes, transport, **opts):
    ids = sorted(storages)
    for i in ids:
        nodes[i] = craft.Node(i, storage=storages[i], transport=transport,
                              fsm=KV(), tick_ms=5, election_ticks=40 * SLOW, **opts)
    return ids


def test_python_storage_and_transport():
    storages = {i: DictStorage() for i in (1, 2, 3)}
    nodes = {}
    hub = PyHub(nodes)
    ids = _python_cluster(storages, nodes, hub, snapshot_entries=50,
                          snapshot_trailing=5)
    try:
        for i in ids:
            nodes[i].bootstrap(ids)
        for i in ids:
            nodes[i].start()
        leader = wait_for(lambda: next((n for n in nodes.values() if n.is_leader), None),
                          what="a leader over the Python transport")
        for k in range(200):
            leader.propose(b"k%d=%d" % (k % 20, k))
        assert hub.sent > 0
        assert all(len(s.log) > 0 or s.snap for s in storages.values())
        wait_for(lambda: all(s.snap is not None for s in storages.values()),
                 what="snapshots in the Python storages")
        # Restart a follower from its Python storage: snapshot + log.
        fid = next(i for i in ids if i != leader.id)
        nodes[fid].close()
        nodes[fid] = craft.Node(fid, storage=storages[fid], transport=hub,
                                fsm=KV(), tick_ms=5, election_ticks=40 * SLOW)
        nodes[fid].start()
        assert nodes[fid].fsm.restored == 1
        wait_for(lambda: nodes[fid].leader, what="the restarted node to know the leader")
        assert nodes[fid].read(lambda kv: kv.data[b"k19"], timeout=10) == b"199"
    finally:
        for n in nodes.values():
            n.close()


def test_python_storage_failure_stops_the_node(caplog):
    storages = {1: DictStorage()}
    nodes = {}
    _python_cluster(storages, nodes, PyHub(nodes))
    node = nodes[1]
    try:
        node.bootstrap([1])
        node.start()
        wait_for(lambda: node.is_leader, what="a leader")
        node.propose(b"a=1")
        storages[1].fail_writes = True
        with caplog.at_level(logging.ERROR, logger="craft.callback"):
            with pytest.raises((craft.IOError, craft.Timeout)):
                node.propose(b"b=2", timeout=2)
            with pytest.raises(craft.IOError):
                node.propose(b"c=3", timeout=2)
        recs = [r for r in caplog.records if getattr(r, "craft_callback", "").startswith("storage.")]
        assert recs and "disk full" in str(recs[0].exc_info[1])
    finally:
        node.close()


def test_transport_busy_is_a_retry_not_an_error(caplog):
    class Flaky(PyHub):
        def __init__(self, nodes):
            super().__init__(nodes)
            self.busy = 0

        def send(self, peer, data):
            if self.busy < 20:
                self.busy += 1
                raise craft.Busy()
            super().send(peer, data)
    storages = {i: DictStorage() for i in (1, 2, 3)}
    nodes = {}
    t = Flaky(nodes)
    ids = _python_cluster(storages, nodes, t)
    try:
        with caplog.at_level(logging.ERROR, logger="craft.callback"):
            for i in ids:
                nodes[i].bootstrap(ids)
            for i in ids:
                nodes[i].start()
            leader = wait_for(lambda: next((n for n in nodes.values() if n.is_leader), None),
                              what="a leader")
            leader.propose(b"x=1", timeout=10)
        assert t.busy == 20
        assert not [r for r in caplog.records if r.name == "craft.callback"]
    finally:
        for n in nodes.values():
            n.close()


def test_duck_typed_storage_and_transport():
    class Duck:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)
    nodes = {}
    node = craft.Node(1, storage=Duck(DictStorage()), transport=Duck(PyHub(nodes)),
                      fsm=KV(), tick_ms=5)
    nodes[1] = node
    try:
        node.bootstrap([1])
        node.start()
        wait_for(lambda: node.is_leader, what="a leader")
        assert node.propose(b"d=1").index > 0
    finally:
        node.close()


# ---- trace -------------------------------------------------------------------

def test_trace_goes_to_logging(caplog):
    hub = craft.Hub()
    with caplog.at_level(logging.DEBUG, logger="craft"):
        with craft.Node(1, storage=craft.MemStorage(), transport=hub, fsm=KV(),
                        tick_ms=5, trace=logging.DEBUG) as n:
            n.bootstrap([1])
            n.start()
            wait_for(lambda: n.is_leader, what="a leader")
            n.propose(b"t=1")
    events = {r.craft_event: r for r in caplog.records if hasattr(r, "craft_event")}
    assert "node.started" in events and "leader.elected" in events
    assert "node.stopped" in events
    le = events["leader.elected"]
    assert le.name == "craft.engine" and le.levelno == logging.INFO
    assert le.node_id == 1 and le.leader == 1 and le.term >= 1
    assert le.craft_fields["leader"] == 1
    assert le.getMessage().startswith("leader.elected node_id=1")
    assert events["commit.advanced"].levelno == logging.DEBUG


def test_trace_is_off_by_default(caplog):
    with caplog.at_level(logging.DEBUG):
        with craft.Node(1, storage=craft.MemStorage(), transport=craft.Hub(),
                        fsm=KV(), tick_ms=5) as n:
            n.bootstrap([1])
            n.start()
            wait_for(lambda: n.is_leader, what="a leader")
    assert not [r for r in caplog.records if hasattr(r, "craft_event")]


def test_trace_level_follows_the_craft_logger(caplog):
    with caplog.at_level(logging.INFO, logger="craft"):
        with craft.Node(1, storage=craft.MemStorage(), transport=craft.Hub(),
                        fsm=KV(), tick_ms=5, trace=True) as n:
            n.bootstrap([1])
            n.start()
            wait_for(lambda: n.is_leader, what="a leader")
            n.propose(b"x=1")
    names = {r.craft_event for r in caplog.records if hasattr(r, "craft_event")}
    assert "leader.elected" in names and "commit.advanced" not in names


def test_pickle_roundtrip_through_snapshot_streams():
    """The writer/reader are files: pickle streams through them."""
    c = Cluster(1, tick_ms=5)
    try:
        leader = c.leader()
        big = b"v" * 100000
        for i in range(30):
            leader.propose(b"big%d=" % i + big)
        leader.take_snapshot()
        node = c.restart(1)
        assert node.fsm.restored == 1
        wait_for(lambda: node.is_leader, what="a leader")
        assert node.read(lambda kv: kv.data[b"big29"]) == big
    finally:
        c.close()
    assert pickle.loads(pickle.dumps({"a": 1})) == {"a": 1}
