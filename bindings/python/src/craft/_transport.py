"""How a node's messages reach its peers."""

from __future__ import annotations

from typing import Any

from . import lowlevel as _ll
from ._errors import check, _report

__all__ = ["Hub", "Transport"]


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
