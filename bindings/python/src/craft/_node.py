"""craft.Node: one Raft server."""

from __future__ import annotations

import asyncio
import atexit
import enum
import math
import threading
import weakref
from dataclasses import dataclass
from typing import (Any, Awaitable, Callable, Dict, Iterable, NamedTuple,
                    Optional, Tuple, TypeVar, Union)

from . import _lowlevel as _C
from . import lowlevel as _ll
from . import _trace
from ._errors import (Error, InvalidArgument, Shutdown, StateError, check,
                      error_from_code, _report)
from ._fsm import NativeCounter, _restore_hook, _snapshot_hook
from ._storage import _as_storage
from ._transport import _as_transport

__all__ = ["Node", "Result", "Status", "Member", "Role", "MemberRole",
           "ProgressState", "NODE_OPTIONS", "ENGINE_OPTIONS"]

T = TypeVar("T")
Buffer = Union[bytes, bytearray, memoryview]
Address = Union[str, bytes, bytearray, memoryview]


def _addr(a: Optional[Address]) -> Optional[bytes]:
    if a is None:
        return None
    if isinstance(a, str):
        return a.encode()
    return bytes(a)

_PROPOSE = _ll.CPY_PROPOSE
_READ = _ll.CPY_READ
_OK = _ll.CRAFT_OK
_EIO = _ll.CRAFT_EIO


class Role(enum.IntEnum):
    """A server's Raft role (enum craft_role)."""
    FOLLOWER = _ll.CRAFT_ROLE_FOLLOWER
    PRE_CANDIDATE = _ll.CRAFT_ROLE_PRE_CANDIDATE
    CANDIDATE = _ll.CRAFT_ROLE_CANDIDATE
    LEADER = _ll.CRAFT_ROLE_LEADER


class MemberRole(enum.IntEnum):
    """A member's role in the configuration."""
    VOTER = _ll.CRAFT_VOTER
    LEARNER = _ll.CRAFT_LEARNER


class ProgressState(enum.IntEnum):
    """How the leader replicates to a member."""
    PROBE = _ll.CRAFT_PROGRESS_STATE_PROBE
    REPLICATE = _ll.CRAFT_PROGRESS_STATE_REPLICATE
    SNAPSHOT = _ll.CRAFT_PROGRESS_STATE_SNAPSHOT


class Result(NamedTuple):
    """The receipt of a completed call.

    index, term: the log position of the entry (proposal, configuration
    change, snapshot); data: what the state machine's apply() returned for
    a proposal (None otherwise); leader: the leader known when it
    completed.
    """
    index: int
    term: int
    data: Optional[bytes]
    leader: int


_new_result = tuple.__new__


@dataclass(frozen=True)
class Member:
    """One member of the configuration, as ``Node.status()`` sees it.
    match_index, next_index and progress are known on the leader only
    (0 / PROBE elsewhere); address is what the member was added with
    (b"" when none)."""
    id: int
    role: MemberRole
    match_index: int
    next_index: int
    progress: ProgressState
    address: bytes = b""


@dataclass(frozen=True)
class Status:
    """A consistent copy of a node's state (``Node.status()``)."""
    id: int
    role: Role
    term: int
    leader: int
    commit_index: int
    applied_index: int
    last_index: int
    snapshot_index: int
    members: Tuple[Member, ...]


def _struct_fields(cls: type) -> Tuple[str, ...]:
    return tuple(k for k, v in vars(cls).items()
                 if isinstance(v, property) and k not in ("thisown", "this"))


_NOT_OPTIONS = {"struct_size", "id", "storage", "transport", "fsm", "engine",
                "allocator", "trace", "trace_user", "trace_level"}
#: Keyword options of Node taken by craft_node_options (include/craft/node.h).
NODE_OPTIONS = tuple(f for f in _struct_fields(_ll.craft_node_options)
                     if f not in _NOT_OPTIONS)
#: Keyword options of Node taken by craft_engine_options (craft/engine.h).
ENGINE_OPTIONS = tuple(f for f in _struct_fields(_ll.craft_engine_options)
                       if f not in ("struct_size", "id", "allocator"))


# Room for craft_node_create_msg's one-line message.
_CREATE_MSG_BYTES = 512


def _ms(timeout: Optional[float]) -> int:
    """A timeout in seconds as craft's milliseconds (0: the node's
    default)."""
    if timeout is None:
        return 0
    if not timeout > 0:
        raise InvalidArgument("timeout must be > 0 seconds, not %r" % (timeout,))
    return min(max(1, math.ceil(timeout * 1000)), 0xFFFFFFFF)


class _Hooks:
    """What the C glue reads once at create (see ext/glue.h)."""

    def __init__(self, fsm: Any, trace: bool, trace_stderr: bool = False) -> None:
        native = isinstance(fsm, NativeCounter)
        self.apply = None if native else fsm.apply
        self.snapshot = None if native else _snapshot_hook(fsm)
        self.restore = None if native else _restore_hook(fsm)
        self.report = _report
        self.trace = _trace.emit if trace else None
        self.trace_stderr = trace_stderr
        self.target = fsm


# ---- asyncio ---------------------------------------------------------------

class _Bridge:
    """Completions of one event loop's calls: libcraft's callbacks queue
    them in C and wake the loop through a pipe; the loop resolves the
    futures of a whole batch in one go."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        rc, self.q = _ll.cpy_queue_create()
        check(rc)
        self.fd = _ll.cpy_queue_fd(self.q)
        self.pending: Dict[int, Tuple[asyncio.Future, int]] = {}
        self.token = 0
        self.loop = loop
        loop.add_reader(self.fd, self.drain)

    def drain(self) -> None:
        pending = self.pending
        for token, status, index, term, leader, data, value, exc in \
                _C.cpy_queue_drain(self.q):
            entry = pending.pop(token, None)
            if entry is None:
                continue
            fut, kind = entry
            if fut.done():
                continue
            if status == _OK:
                if kind == _READ:
                    if exc is not None:
                        fut.set_exception(exc)
                    else:
                        fut.set_result(value)
                else:
                    fut.set_result(_new_result(Result, (index, term, data, leader)))
            else:
                fut.set_exception(error_from_code(status, leader=leader))

    def close(self) -> None:
        try:
            if not self.loop.is_closed():
                self.loop.remove_reader(self.fd)
        except Exception:
            pass
        q, self.q = self.q, None
        if q is not None:
            _ll.cpy_queue_free(q)

    def __del__(self) -> None:
        if getattr(self, "q", None) is not None:
            self.close()


_bridges: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Bridge]" = \
    weakref.WeakKeyDictionary()
_bridges_lock = threading.Lock()


def _bridge(loop: asyncio.AbstractEventLoop) -> _Bridge:
    b = _bridges.get(loop)
    if b is None:
        with _bridges_lock:
            b = _bridges.get(loop)
            if b is None:
                b = _Bridge(loop)
                _bridges[loop] = b
    return b


# ---- nodes -----------------------------------------------------------------

_live: "weakref.WeakSet[Node]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Shuts down every node still open at interpreter exit, while Python
    still runs: callbacks then never meet a finalizing interpreter."""
    for node in list(_live):
        try:
            node.close()
        except Exception:
            pass


def _members(st: Any) -> Tuple[Member, ...]:
    out = []
    for k in range(_ll.craft_status_member_count(st)):
        rc, mid, role, match, nxt, prog = _ll.craft_status_member(st, k)
        check(rc)
        rc, addr = _ll.craft_status_member_addr(st, k)
        out.append(Member(mid, MemberRole(role), match, nxt,
                          ProgressState(prog), addr or b""))
    return tuple(out)


def _teardown(n: Any, transport: Any, node_id: int, keep: list,
              destroy: bool = False) -> None:
    """Frees a shut-down node's craft_node, then what its storage and
    transport kept for it. The cpy_node struct itself lives until the
    Node object goes (other threads may still hold it: their calls then
    fail with Shutdown)."""
    try:
        transport._craft_detach(node_id)
    finally:
        _ll.cpy_node_free_node(n)
        for owner, k in keep:
            if k is not None:
                owner._craft_release(k)
        if destroy:
            _ll.cpy_node_destroy(n)


class Node:
    """One Raft server: a libcraft node with its driver and apply threads.

    ``Node(id, storage=..., transport=..., fsm=..., **options)`` creates it
    and loads its persisted state; ``bootstrap(voters)`` founds a new
    cluster (only on an empty storage), ``start()`` starts it, ``close()``
    (or leaving a ``with`` block) shuts it down and frees it. Calls that
    wait for the cluster take ``timeout`` in seconds (None: the node's
    ``request_timeout_ms``); every blocking call releases the GIL while it
    waits, and each has an ``*_async`` twin to ``await`` in asyncio.

    Arguments:
        id: this server's id, a non-zero integer unique in the cluster.
        storage: ``craft.MemStorage()``, ``craft.FileStorage(dir)`` or a
            ``craft.Storage`` written in Python.
        transport: ``craft.Hub()`` (in-process), ``craft.TcpTransport``
            or a ``craft.Transport`` written in Python.
        fsm: the state machine, a ``craft.StateMachine`` (or any object
            with its methods).
        trace: route libcraft's trace events to ``logging`` (see
            ``craft._trace``): False (default) off, True at the level of
            the ``craft`` logger, or a ``logging`` level; or ``"stderr"``:
            libcraft's own printer (``craft_trace_stderr``) writes each
            event of level INFO and above as one line on stderr, with no
            Python on the path.
        options: any field of ``craft_node_options`` (``tick_ms``,
            ``request_timeout_ms``, ``apply_queue_entries``,
            ``max_pending``, ...: ``craft.NODE_OPTIONS``) or of
            ``craft_engine_options`` (``election_ticks``,
            ``heartbeat_ticks``, ``snapshot_entries``, ``pre_vote``,
            ``lease_reads``, ...: ``craft.ENGINE_OPTIONS``), by name; the
            headers document each.

    All methods may be called from any thread, except bootstrap and start
    (the creating thread). From inside the node's own callbacks (the state
    machine, a read function) the blocking methods raise
    ``craft.StateError``.
    """

    def __init__(self, id: int, *, storage: Any, transport: Any, fsm: Any,
                 trace: Union[bool, int, str] = False, **options: Any) -> None:
        self._n = None
        self._closed = True
        self._keep: list = []
        if not isinstance(id, int) or id <= 0 or id >= 1 << 64:
            raise InvalidArgument("id must be an integer in [1, 2**64), not %r" % (id,))
        native = fsm._c if isinstance(fsm, NativeCounter) else None
        if native is None and not callable(getattr(fsm, "apply", None)):
            raise TypeError("fsm must have an apply(index, term, data) method")
        self._id = id
        self._fsm = fsm
        self._storage = _as_storage(storage)
        self._transport = _as_transport(transport)

        opts = _ll.craft_node_options()
        check(_ll.craft_node_options_init(opts))
        opts.id = id
        engine = None
        for key, value in options.items():
            if key in NODE_OPTIONS:
                setattr(opts, key, value)
            elif key in ENGINE_OPTIONS:
                if engine is None:
                    engine = _ll.craft_engine_options()
                    check(_ll.craft_engine_options_init(engine))
                setattr(engine, key, value)
            else:
                raise TypeError("Node() got an unknown option %r" % key)
        if engine is not None:
            opts.engine = engine
        to_stderr = trace == "stderr"
        if isinstance(trace, str) and not to_stderr:
            raise InvalidArgument('trace must be a bool, a logging level or '
                                  '"stderr", not %r' % (trace,))
        level = 0 if to_stderr else _trace.resolve(trace)
        if level:
            opts.trace_level = level
        elif to_stderr:
            opts.trace_level = _ll.CRAFT_TRACE_INFO

        st_ops = _ll.craft_storage_ops()
        check(_ll.craft_storage_ops_init(st_ops))
        tr_ops = _ll.craft_transport_ops()
        check(_ll.craft_transport_ops_init(tr_ops))
        st_keep = self._storage._craft_storage_ops(st_ops, id)
        try:
            tr_keep = self._transport._craft_transport_ops(tr_ops, id)
        except BaseException:
            self._storage._craft_release(st_keep)
            raise
        self._keep = [(self._storage, st_keep), (self._transport, tr_keep)]
        opts.storage = st_ops
        opts.transport = tr_ops
        rc, n, msg = _ll.cpy_node_create(opts, _Hooks(fsm, bool(level), to_stderr),
                                         native, _CREATE_MSG_BYTES)
        if rc != _OK:
            self._release()
            raise error_from_code(rc, detail=msg)
        self._lock = threading.Lock()
        try:
            h = _ll.cpy_node_enter(n)
            try:
                self._transport._craft_attach(id, h)
            finally:
                _ll.cpy_node_leave(n)
        except BaseException:
            _ll.cpy_node_destroy(n)
            self._release()
            raise
        self._n = n
        self._closed = False
        _live.add(self)

    # ---- life cycle ----

    def _release(self) -> None:
        keep, self._keep = self._keep, []
        for owner, k in keep:
            if k is not None:
                owner._craft_release(k)

    class _Use:
        __slots__ = ("n", "h")

        def __init__(self, n: Any) -> None:
            self.n = n

        def __enter__(self) -> Any:
            h = _C.cpy_node_enter(self.n)
            if h is None:
                raise Shutdown()
            self.h = h
            return h

        def __exit__(self, *exc: Any) -> None:
            _C.cpy_node_leave(self.n)

    def _handle(self) -> "_Use":
        """``with self._handle() as h``: the craft_node, kept alive for the
        block even if another thread closes the node meanwhile."""
        return Node._Use(self._n)

    def bootstrap(self, voters: Union[Iterable[int], Dict[int, Address]]) -> None:
        """Founds a new cluster whose voters are ``voters`` (which must
        include this node), on an empty storage, before start(). A dict
        ``{id: address}`` also gives each server's address ("host:port",
        str or bytes), stored in the membership for transports that
        follow it (``craft.TcpTransport``). A node that is not
        bootstrapped waits for a leader to add it."""
        if isinstance(voters, dict):
            pairs = [(int(k), _addr(v) or b"") for k, v in voters.items()]
            with self._handle() as h:
                check(_ll.craft_node_bootstrap_addr(h, pairs))
            return
        ids = [int(v) for v in voters]
        with self._handle() as h:
            check(_ll.craft_node_bootstrap(h, ids))

    def start(self) -> "Node":
        """Restores the loaded snapshot (if any) and starts the threads."""
        with self._handle() as h:
            check(_ll.craft_node_start(h))
        return self

    def shutdown(self) -> None:
        """Stops the node: pending calls complete with ``craft.Shutdown``
        (committed entries already handed to the apply thread are applied
        first), the threads are joined. The node stays readable (status,
        metrics) until close()."""
        rc = _ll.cpy_node_shutdown(self._n)
        if rc == _ll.CRAFT_ESTATE:
            raise StateError("shutdown() from one of the node's own callbacks")
        if rc not in (_OK, _ll.CRAFT_ESHUTDOWN):
            check(rc)

    def close(self) -> None:
        """Shuts the node down (see shutdown()) and frees it. Idempotent;
        the storage and transport stay usable (a new Node on the same
        storage restarts this server)."""
        if self._closed:
            return
        self.shutdown()
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _live.discard(self)
        _teardown(self._n, self._transport, self._id, self._keep)
        self._keep = []

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        n = getattr(self, "_n", None)
        if n is None:
            return
        if not self._closed:
            self._closed = True
            if _ll.cpy_node_shutdown(n) == _ll.CRAFT_ESTATE:
                # Dropped on one of its own threads: finish on another.
                threading.Thread(target=_teardown, daemon=True,
                                 args=(n, self._transport, self._id,
                                       self._keep, True)).start()
                return
            _teardown(n, self._transport, self._id, self._keep)
        _ll.cpy_node_destroy(n)

    def __repr__(self) -> str:
        if self._closed:
            return "<craft.Node %d closed>" % self._id
        return "<craft.Node %d %s term=%d leader=%d>" % (
            self._id, self.role.name, self.term, self.leader)

    # ---- cheap state ----

    @property
    def id(self) -> int:
        return self._id

    @property
    def fsm(self) -> Any:
        """The state machine (read it through read(), not directly)."""
        return self._fsm

    @property
    def role(self) -> Role:
        with self._handle() as h:
            return Role(_ll.craft_node_role(h))

    @property
    def is_leader(self) -> bool:
        return self.role == Role.LEADER

    @property
    def term(self) -> int:
        with self._handle() as h:
            return _ll.craft_node_term(h)

    @property
    def leader(self) -> int:
        """The leader this node knows of, 0 when none."""
        with self._handle() as h:
            return _ll.craft_node_leader(h)

    @property
    def applied_index(self) -> int:
        with self._handle() as h:
            return _ll.craft_node_applied_index(h)

    @property
    def last_error(self) -> str:
        """The node's last detailed error message ("" when none)."""
        with self._handle() as h:
            size = 256
            while True:
                r = _ll.craft_node_errmsg(h, size)
                if r[0] < size:
                    return r[1]
                size = r[0] + 1

    def status(self) -> Status:
        """A consistent copy of the node's state (waits for the driver
        thread, GIL released)."""
        with self._handle() as h:
            rc, st = _ll.craft_node_status(h)
            check(rc)
        try:
            members = _members(st)
            return Status(
                id=_ll.craft_status_id(st),
                role=Role(_ll.craft_status_role(st)),
                term=_ll.craft_status_term(st),
                leader=_ll.craft_status_leader(st),
                commit_index=_ll.craft_status_commit_index(st),
                applied_index=_ll.craft_status_applied_index(st),
                last_index=_ll.craft_status_last_index(st),
                snapshot_index=_ll.craft_status_snapshot_index(st),
                members=tuple(members))
        finally:
            _ll.craft_status_free(st)

    def membership(self) -> Tuple[int, Tuple[Member, ...]]:
        """The node's latest configuration, without waiting for its
        driver: (version, members). The version grows with every change
        (0: no membership yet); ``membership_version`` reads it alone."""
        with self._handle() as h:
            rc, st, version = _ll.craft_node_membership(h)
            check(rc)
        try:
            return version, _members(st)
        finally:
            _ll.craft_status_free(st)

    @property
    def membership_version(self) -> int:
        with self._handle() as h:
            return _ll.craft_node_membership_version(h)

    def metrics(self) -> Dict[str, int]:
        """Every metric by its Prometheus name, e.g.
        ``craft_elections_total``."""
        out = {}
        with self._handle() as h:
            i = 1
            while True:
                name = _ll.craft_metric_name(i)
                if name is None:
                    return out
                rc, value = _ll.craft_node_metric(h, i)
                if rc == _OK:
                    out[name] = value
                i += 1

    def metrics_text(self) -> str:
        """Every metric in the Prometheus text format, labelled with the
        node id."""
        with self._handle() as h:
            size = 8192
            while True:
                rc, text, full = _ll.craft_node_metrics_text(h, size)
                if rc == _ll.CRAFT_ETOOBIG:
                    size = full + 1
                    continue
                check(rc)
                return text

    def receive(self, data: Buffer) -> None:
        """Hands bytes a peer sent (through a Python transport) to the
        node. Raises ``craft.Busy`` when its inbox is full (the bytes are
        dropped: Raft retransmits)."""
        with self._handle() as h:
            check(_ll.craft_node_receive(h, data))

    # ---- calls ----

    def _outcome(self, t: Tuple) -> Result:
        status, index, term, leader, data, value, exc = t
        if status != _OK:
            raise self._error(status, leader)
        return _new_result(Result, (index, term, data, leader))

    def _error(self, status: int, leader: int) -> Error:
        detail = ""
        if status == _EIO and not self._closed:
            try:
                detail = self.last_error
            except Error:
                pass
        return error_from_code(status, leader=leader, detail=detail)

    def _wait(self, kind: int, arg: int, obj: Any, timeout: Optional[float]) -> Tuple:
        return _C.cpy_call_wait(self._n, kind, arg, obj, _ms(timeout))

    def _async(self, kind: int, arg: int, obj: Any,
               timeout: Optional[float]) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        b = _bridges.get(loop) or _bridge(loop)
        fut = loop.create_future()
        b.token = token = b.token + 1
        b.pending[token] = (fut, kind)
        rc = _C.cpy_call(self._n, kind, arg, obj, _ms(timeout), b.q, token)
        if rc != _OK:
            del b.pending[token]
            raise error_from_code(rc)
        return fut

    def propose(self, data: Buffer, timeout: Optional[float] = None) -> Result:
        """Replicates ``data`` (bytes-like, copied) as one log entry and
        waits until it is committed and applied here; returns its
        ``Result`` (``data`` is what apply() returned). Raises
        ``NotLeader`` (``.leader`` is the hint), ``Timeout`` /
        ``SteppedDown`` (the outcome is then unknown), ``Lost``, ``Busy``,
        ``CallbackError`` (apply raised), ``Shutdown``, ``IOError``."""
        return self._outcome(self._wait(_PROPOSE, 0, data, timeout))

    def propose_async(self, data: Buffer,
                      timeout: Optional[float] = None) -> "asyncio.Future[Result]":
        """``await node.propose_async(data)``: propose() for asyncio. The
        completion comes back through the event loop (no thread per
        call); cancelling the future does not withdraw the proposal."""
        return self._async(_PROPOSE, 0, data, timeout)

    def read(self, fn: Optional[Callable[[Any], T]] = None,
             timeout: Optional[float] = None) -> Optional[T]:
        """A linearizable read (thesis §6.4): once this node's state
        machine has applied every write that completed before the call,
        runs ``fn(fsm)`` on the apply thread (in order with the applies)
        and returns what it returns; an exception it raises is re-raised
        here. Works on followers too (they ask the leader for the read
        index). ``fn=None`` only waits."""
        t = self._wait(_READ, 0, fn, timeout)
        status, index, term, leader, data, value, exc = t
        if status != _OK:
            raise self._error(status, leader)
        if exc is not None:
            raise exc
        return value

    def read_async(self, fn: Optional[Callable[[Any], T]] = None,
                   timeout: Optional[float] = None) -> "asyncio.Future[Optional[T]]":
        """``await node.read_async(fn)``: read() for asyncio."""
        return self._async(_READ, 0, fn, timeout)

    def _member_call(self, kind: int, peer: int, timeout: Optional[float],
                     address: Optional[Address] = None) -> Result:
        if not isinstance(peer, int) or peer <= 0:
            raise InvalidArgument("peer must be a positive integer id")
        return self._outcome(self._wait(kind, peer, _addr(address), timeout))

    def add_peer(self, peer: int, address: Optional[Address] = None,
                 timeout: Optional[float] = None) -> Result:
        """Adds server ``peer`` (reachable at ``address``, "host:port",
        when the transport needs one) as a learner and promotes it to
        voter once it caught up (thesis §4.2.1); on the leader. Raises
        ``NotLeader``, ``Busy`` (another change in progress: retry),
        ``Exists``, ``Timeout``..."""
        return self._member_call(_ll.CPY_ADD_PEER, peer, timeout, address)

    def add_learner(self, peer: int, address: Optional[Address] = None,
                    timeout: Optional[float] = None) -> Result:
        """Adds server ``peer`` as a non-voting learner."""
        return self._member_call(_ll.CPY_ADD_LEARNER, peer, timeout, address)

    def promote_learner(self, peer: int, timeout: Optional[float] = None) -> Result:
        """Makes learner ``peer`` a voter once it caught up."""
        return self._member_call(_ll.CPY_PROMOTE, peer, timeout)

    def remove_peer(self, peer: int, timeout: Optional[float] = None) -> Result:
        """Removes voter or learner ``peer`` (which may be this node)."""
        return self._member_call(_ll.CPY_REMOVE, peer, timeout)

    def transfer_leadership(self, peer: int, timeout: Optional[float] = None) -> Result:
        """Hands leadership to voter ``peer`` (thesis §3.10); the result's
        ``leader`` is peer once it took over."""
        return self._member_call(_ll.CPY_TRANSFER, peer, timeout)

    def take_snapshot(self, timeout: Optional[float] = None) -> Result:
        """Takes a snapshot now (state machine snapshot(), on the apply
        thread) and compacts the log; returns its index and term."""
        return self._outcome(self._wait(_ll.CPY_SNAPSHOT, 0, None, timeout))

    def add_peer_async(self, peer: int, address: Optional[Address] = None,
                       timeout: Optional[float] = None) -> "asyncio.Future[Result]":
        return self._async(_ll.CPY_ADD_PEER, peer, _addr(address), timeout)

    def remove_peer_async(self, peer: int, timeout: Optional[float] = None) -> "asyncio.Future[Result]":
        return self._async(_ll.CPY_REMOVE, peer, None, timeout)

    def transfer_leadership_async(self, peer: int, timeout: Optional[float] = None) -> "asyncio.Future[Result]":
        return self._async(_ll.CPY_TRANSFER, peer, None, timeout)
