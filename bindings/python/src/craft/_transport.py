"""How a node's messages reach its peers."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Union

from . import _trace
from . import lowlevel as _ll
from ._errors import Busy, InvalidArgument, StateError, check, error_from_code, _report

__all__ = ["Hub", "Transport", "TcpTransport"]


class Hub:
    """libcraft's in-process transport (``craft/testing.h``): a switch
    between the nodes of one process, for tests, examples and benchmarks.
    Give the same hub to every node (``Node(..., transport=hub)``); a node
    is attached to it while open. Links can be cut to simulate
    partitions. Thread-safe.
    """

    def __init__(self) -> None:
        rc, self._hub = _ll.craft_hub_create(None)
        check(rc)

    def _craft_transport_ops(self, ops: Any, node_id: int) -> Any:
        check(_ll.craft_hub_transport(self._hub, node_id, ops))
        return None

    def _craft_attach(self, node_id: int, handle: Any) -> None:
        check(_ll.craft_hub_attach(self._hub, node_id, handle))

    def _craft_detach(self, node_id: int) -> None:
        _ll.craft_hub_detach(self._hub, node_id)

    def _craft_release(self, keep: Any) -> None:
        pass

    def isolate(self, node_id: int, isolated: bool = True) -> None:
        """Cuts (or restores) every link to and from node_id."""
        check(_ll.craft_hub_isolate(self._hub, node_id, 1 if isolated else 0))

    def set_link(self, src: int, dst: int, up: bool) -> None:
        """Cuts (up False) or restores the one-way link src -> dst; 0 means
        every server."""
        check(_ll.craft_hub_set_link(self._hub, src, dst, 1 if up else 0))

    def set_busy(self, node_id: int, busy: bool = True) -> None:
        """Makes sends to node_id fail with CRAFT_EBUSY: a slow peer."""
        check(_ll.craft_hub_set_busy(self._hub, node_id, 1 if busy else 0))

    @property
    def delivered(self) -> int:
        """Messages delivered so far."""
        return _ll.craft_hub_delivered(self._hub)

    @property
    def lost(self) -> int:
        """Messages lost so far (cut link, nobody attached, receive error)."""
        return _ll.craft_hub_lost(self._hub)

    def __del__(self) -> None:
        hub = getattr(self, "_hub", None)
        if hub is not None:
            self._hub = None
            _ll.craft_hub_free(hub)


def _have_tcp() -> bool:
    return hasattr(_ll, "craft_tcp_create")


class TcpTransport:
    """libcraft's TCP transport (``craft/tcp.h``): listens on ``listen``
    ("host:port"; port 0 picks a free one, see ``port``), keeps one
    connection to each peer and follows the node's membership for the
    peers' addresses (give them with ``Node.bootstrap({id: addr})`` and
    ``Node.add_peer(id, addr)``, or ``set_peer``). One node per
    transport; every server of a cluster uses the same ``cluster_id``.
    Sending never blocks: what does not fit a peer's queue is dropped
    (Raft retransmits). No authentication: run it on a trusted network.

    ``node_id`` may be given now (the transport then listens at once, so
    ``port`` is known before the Node exists) or is taken from the Node.
    ``trace`` routes its trace events (logger ``craft.transport``:
    ``transport.connected``, ...) to ``logging`` like ``Node(trace=...)``.
    Other options are the fields of ``craft_tcp_options`` by name
    (``advertise``, ``max_frame_bytes``, ``queue_messages``,
    ``queue_bytes``, ``connect_timeout_ms``, ``backoff_min_ms``,
    ``backoff_max_ms``, ``stall_timeout_ms``, ``seed``). ``close()``
    (after the node's) stops it. Raises ``craft.IOError`` when the
    address cannot be bound, ``craft.InvalidArgument`` for a malformed
    address or an option out of range.
    """

    def __init__(self, listen: str = "127.0.0.1:0", *, cluster_id: int = 0,
                 node_id: int = 0, trace: Union[bool, int] = False,
                 **options: Any) -> None:
        if not _have_tcp():
            raise NotImplementedError("this libcraft has no TCP transport")
        self._t = None
        self._sink = None
        self._lock = threading.Lock()
        self._users = 0
        self.listen = listen
        self.cluster_id = cluster_id
        self._trace = trace
        self._options = options
        fields = {k for k, v in vars(_ll.craft_tcp_options).items()
                  if isinstance(v, property)}
        bad = set(options) - (fields - {"struct_size", "node_id", "cluster_id",
                                        "listen", "allocator", "trace",
                                        "trace_user", "trace_level"})
        if bad:
            raise TypeError("TcpTransport() got unknown options %s" % sorted(bad))
        if node_id:
            self._create(node_id)

    def _create(self, node_id: int) -> None:
        o = _ll.craft_tcp_options()
        check(_ll.craft_tcp_options_init(o))
        o.node_id = node_id
        o.cluster_id = self.cluster_id
        o.listen = self.listen
        for k, v in self._options.items():
            setattr(o, k, v)
        sink = None
        level = _trace.resolve(self._trace)
        if level:
            o.trace_level = level
            rc, sink = _ll.cpy_trace_sink_create(_trace.emit, _report, node_id)
            check(rc)
            check(_ll.cpy_tcp_options_trace(o, sink))
        rc, t = _ll.craft_tcp_create(o)
        if rc != 0:
            if sink is not None:
                _ll.cpy_trace_sink_free(sink)
            detail = {_ll.CRAFT_EIO: "cannot listen on %s" % self.listen,
                      _ll.CRAFT_EINVAL: "node id 0, a malformed address or an "
                                        "option out of range"}.get(rc, "")
            raise error_from_code(rc, detail=detail)
        self._t = t
        self._sink = sink
        self.node_id = node_id

    def _craft_transport_ops(self, ops: Any, node_id: int) -> Any:
        with self._lock:
            if self._users:
                raise Busy("a TcpTransport serves one node at a time")
            if self._t is None:
                self._create(node_id)
            elif self.node_id != node_id:
                raise InvalidArgument("this TcpTransport was made for node %d"
                                      % self.node_id)
            check(_ll.craft_tcp_transport(self._t, ops))
            self._users += 1
        return self

    def _craft_attach(self, node_id: int, handle: Any) -> None:
        check(_ll.craft_tcp_attach(self._t, handle))

    def _craft_detach(self, node_id: int) -> None:
        if self._t is not None:
            _ll.craft_tcp_attach(self._t, None)

    def _craft_release(self, keep: Any) -> None:
        with self._lock:
            self._users -= 1

    @property
    def port(self) -> int:
        """The port listened on (0 before it listens)."""
        return _ll.craft_tcp_port(self._t) if self._t is not None else 0

    @property
    def address(self) -> str:
        """"host:port" as listened on."""
        host = self.listen.rsplit(":", 1)[0]
        return "%s:%d" % (host, self.port)

    def set_peer(self, peer: int, address: Optional[str]) -> None:
        """Overrides the address of ``peer`` (None removes the override)."""
        check(_ll.craft_tcp_set_peer(self._t, peer, address or ""))

    def peers(self) -> List[int]:
        """The ids of the peers the transport knows (members, overrides,
        servers that connected), in no particular order."""
        if self._t is None:
            return []
        rc, ids, n = _ll.craft_tcp_peers(self._t, 16)
        if rc == 0 and n > len(ids):
            rc, ids, n = _ll.craft_tcp_peers(self._t, n)
        check(rc)
        return ids

    def metrics(self, peer: int = 0) -> Dict[str, int]:
        """Counters and gauges, in total (peer 0) or for one peer ({} once
        closed)."""
        out: Dict[str, int] = {}
        if self._t is None:
            return out
        i = 1
        while True:
            name = _ll.craft_tcp_metric_name(i)
            if name is None:
                return out
            r = _ll.craft_tcp_metric(self._t, peer, i)
            if r[0] == 0:
                out[name] = r[1]
            i += 1

    def close(self) -> None:
        """Closes every connection and the listener. Close the node first."""
        with self._lock:
            if self._users:
                raise StateError("TcpTransport.close(): a node still uses it")
            t, self._t = self._t, None
            sink, self._sink = self._sink, None
        if t is not None:
            _ll.craft_tcp_free(t)
        if sink is not None:
            _ll.cpy_trace_sink_free(sink)

    def __enter__(self) -> "TcpTransport":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_t", None) is not None and not self._users:
            try:
                self.close()
            except Exception:
                pass


class Transport:
    """Base class of a transport written in Python.

    ``send`` runs on the node's driver thread with the GIL: it must not
    block. Deliver the bytes to the peer's node, whose side hands them to
    ``Node.receive(data)``. Return normally when the bytes were taken
    (delivery may still fail: Raft retransmits), raise ``craft.Busy`` to
    have the node keep them and retry later; any other exception drops
    them (and is logged on ``craft.callback``). Slow: meant for tests and
    for carrying craft over a channel libcraft has no battery for.
    """

    def send(self, peer: int, data: bytes) -> None:
        raise NotImplementedError

    def _craft_transport_ops(self, ops: Any, node_id: int) -> Any:
        return _python_transport_ops(self, ops)

    def _craft_attach(self, node_id: int, handle: Any) -> None:
        pass

    def _craft_detach(self, node_id: int) -> None:
        pass

    def _craft_release(self, keep: Any) -> None:
        _ll.cpy_transport_free(keep)


def _python_transport_ops(obj: Any, ops: Any) -> Any:
    rc, t = _ll.cpy_transport_create(obj, _report)
    check(rc)
    check(_ll.cpy_transport_ops(t, ops))
    return t


class _DuckTransport(Transport):
    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def _craft_transport_ops(self, ops: Any, node_id: int) -> Any:
        return _python_transport_ops(self.obj, ops)


def _as_transport(obj: Any) -> Any:
    if hasattr(obj, "_craft_transport_ops"):
        return obj
    if callable(getattr(obj, "send", None)):
        return _DuckTransport(obj)
    raise TypeError("transport must be craft.Hub, craft.TcpTransport or a "
                    "craft.Transport, not %s" % type(obj).__name__)
