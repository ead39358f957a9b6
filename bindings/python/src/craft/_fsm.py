"""The replicated state machine a node drives."""

from __future__ import annotations

import io
from typing import Any, Callable, Optional, Union

from . import lowlevel as _ll
from ._errors import check

__all__ = ["StateMachine", "SnapshotWriter", "SnapshotReader", "NativeCounter"]

Buffer = Union[bytes, bytearray, memoryview]


class StateMachine:
    """Base class of a replicated state machine (subclass it, or write any
    class with the same methods).

    All three methods run on the node's apply thread, one at a time, so the
    state machine needs no lock against them; code that reads it from other
    threads should go through ``Node.read(fn)``, which runs ``fn`` on that
    same thread, in order with the applies.

    ``apply`` is required. ``snapshot`` and ``restore`` come together:
    without them the node never takes a snapshot and its log grows
    forever (and it cannot catch up a peer that fell behind a compacted
    log: don't mix). An exception raised by any of them is logged on the
    ``craft.callback`` logger with its traceback and turned into the
    callback's error code: for apply, the proposer gets
    ``craft.CallbackError`` (the entry counts as applied all the same, on
    every node, so apply should be deterministic and rather not raise).
    """

    def apply(self, index: int, term: int, data: bytes) -> Optional[Buffer]:
        """Applies the committed entry ``index`` (of ``term``) whose payload
        is ``data``. What it returns (bytes-like, or None) is the proposer's
        ``Result.data``."""
        raise NotImplementedError

    def snapshot(self, writer: "SnapshotWriter") -> None:
        """Writes the whole state, as of the last applied entry, with
        ``writer.write(bytes)`` (any number of calls: it streams)."""
        raise NotImplementedError

    def restore(self, reader: "SnapshotReader") -> None:
        """Replaces the whole state by the snapshot read from
        ``reader.read(n)`` (b"" at the end)."""
        raise NotImplementedError


class NativeCounter:
    """A state machine written in C: it counts the entries it applied, and
    apply's result is the new count as 8 bytes, little-endian
    (``int.from_bytes(result.data, "little")``). No Python runs in its
    apply path, so it measures the binding and the cluster alone
    (bench.py uses it); ``value`` may be read from any thread. Give each
    node its own."""

    def __init__(self) -> None:
        rc, self._c = _ll.cpy_counter_create()
        check(rc)

    @property
    def value(self) -> int:
        """Entries applied so far."""
        return _ll.cpy_counter_value(self._c)

    def __del__(self) -> None:
        c = getattr(self, "_c", None)
        if c is not None:
            self._c = None
            _ll.cpy_counter_free(c)


def _implements(fsm: Any, name: str) -> bool:
    method = getattr(type(fsm), name, None)
    if method is None:
        return callable(getattr(fsm, name, None))
    return method is not getattr(StateMachine, name) and callable(method)


class SnapshotWriter(io.RawIOBase):
    """Where ``StateMachine.snapshot`` writes the state: a write-only binary
    file (``pickle.dump(state, writer)`` works), valid only during the
    call. Every write is copied by libcraft right away.

    Attributes: ``index`` and ``term`` of the last applied entry, which the
    snapshot represents.
    """

    def __init__(self, ptr: Any, index: int, term: int) -> None:
        super().__init__()
        self._ptr = ptr
        self.index = index
        self.term = term
        self.bytes_written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:  # type: ignore[override]
        if self._ptr is None:
            raise ValueError("the snapshot writer is only valid inside snapshot()")
        check(_ll.craft_snapshot_writer_write(self._ptr, data))
        n = memoryview(data).nbytes
        self.bytes_written += n
        return n

    def _invalidate(self) -> None:
        self._ptr = None
        self.close()


class SnapshotReader(io.RawIOBase):
    """Where ``StateMachine.restore`` reads the snapshot: a read-only binary
    file (``pickle.load(reader)`` works; wrap it in ``io.BufferedReader``
    for many small reads), valid only during the call. ``read(n)`` returns
    at most n bytes, b"" at the end.

    Attributes: ``index`` and ``term`` of the snapshot.
    """

    def __init__(self, ptr: Any, index: int, term: int) -> None:
        super().__init__()
        self._ptr = ptr
        self.index = index
        self.term = term
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        if self._ptr is None:
            raise ValueError("the snapshot reader is only valid inside restore()")
        if n is None or n < 0:
            return self.readall()
        if n == 0 or self._eof:
            return b""
        r = _ll.craft_snapshot_reader_read(self._ptr, n)
        check(r[0])
        if not r[1]:
            self._eof = True
        return r[1]

    def readall(self) -> bytes:
        parts = []
        while True:
            chunk = self.read(1 << 20)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        chunk = self.read(len(view))
        view[:len(chunk)] = chunk
        return len(chunk)

    def _invalidate(self) -> None:
        self._ptr = None
        self.close()


def _snapshot_hook(fsm: Any) -> Optional[Callable[[int, int, Any], None]]:
    if not (_implements(fsm, "snapshot") and _implements(fsm, "restore")):
        return None
    method = fsm.snapshot

    def snapshot(index: int, term: int, ptr: Any) -> None:
        w = SnapshotWriter(ptr, index, term)
        try:
            method(w)
        finally:
            w._invalidate()
    return snapshot


def _restore_hook(fsm: Any) -> Optional[Callable[[int, int, Any], None]]:
    if not _implements(fsm, "restore"):
        return None
    method = fsm.restore

    def restore(index: int, term: int, ptr: Any) -> None:
        r = SnapshotReader(ptr, index, term)
        try:
            method(r)
        finally:
            r._invalidate()
    return restore
