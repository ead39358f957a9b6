"""Where a node keeps its log, hard state and snapshots."""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple, Union

from . import lowlevel as _ll
from ._errors import Error, check, _report

__all__ = ["MemStorage", "Storage", "Loader"]

Buffer = Union[bytes, bytearray, memoryview]


class MemStorage:
    """libcraft's in-memory storage (``craft/testing.h``): fast and not
    durable across processes, for tests. It outlives the nodes that use
    it, so a test can close a node (a crash) and create a new ``Node`` on
    the same storage (a restart). Thread-safe.
    """

    def __init__(self) -> None:
        rc, self._ms = _ll.craft_mem_storage_create(None)
        check(rc)
        self._lock = threading.Lock()
        self._users = 0

    def _craft_storage_ops(self, ops: Any, node_id: int) -> Any:
        if self._ms is None:
            raise ValueError("the storage was closed")
        check(_ll.craft_mem_storage_ops(self._ms, ops))
        with self._lock:
            self._users += 1
        return self

    def _craft_release(self, keep: Any) -> None:
        with self._lock:
            self._users -= 1

    def fail(self, error: Optional[Union[int, type]] = None) -> None:
        """Makes every later write fail with ``error`` (a ``craft.Error``
        subclass or a negative code; default ``craft.IOError``), to test a
        node's fail-stop. ``fail(0)`` clears it."""
        if error is None:
            code = _ll.CRAFT_EIO
        elif isinstance(error, type) and issubclass(error, Error):
            code = error.code
        else:
            code = int(error)
        check(_ll.craft_mem_storage_fail(self._ms, code))

    @property
    def last_index(self) -> int:
        """The last log index it holds."""
        return _ll.craft_mem_storage_last_index(self._ms)

    @property
    def snapshot_index(self) -> int:
        """The index of its snapshot, 0 when none."""
        return _ll.craft_mem_storage_snapshot_index(self._ms)

    @property
    def term(self) -> int:
        return _ll.craft_mem_storage_term(self._ms)

    @property
    def vote(self) -> int:
        return _ll.craft_mem_storage_vote(self._ms)

    @property
    def syncs(self) -> int:
        """How many syncs were made."""
        return _ll.craft_mem_storage_syncs(self._ms)

    def close(self) -> None:
        """Frees it. No node may be using it (closed nodes are fine)."""
        with self._lock:
            if self._users:
                raise Error("MemStorage.close(): a node still uses it",
                            code=_ll.CRAFT_ESTATE)
            ms, self._ms = self._ms, None
        if ms is not None:
            _ll.craft_mem_storage_free(ms)

    def __del__(self) -> None:
        ms = getattr(self, "_ms", None)
        if ms is not None and not getattr(self, "_users", 0):
            self._ms = None
            _ll.craft_mem_storage_free(ms)


class Loader:
    """Given to ``Storage.load``: feed the persisted state in, in order:
    the hard state, then the latest complete snapshot's metadata if any,
    then the log entries after it in index order. Each method raises the
    craft error of bad input (then let it propagate out of load)."""

    def __init__(self, ptr: Any) -> None:
        self._ptr = ptr

    def hard_state(self, term: int, vote: int) -> None:
        check(_ll.craft_loader_hard_state(self._ptr, term, vote))

    def snapshot(self, index: int, term: int, conf: Buffer) -> None:
        check(_ll.craft_loader_snapshot(self._ptr, index, term, conf))

    def entry(self, index: int, term: int, type: int, data: Buffer) -> None:
        check(_ll.craft_loader_entry(self._ptr, index, term, type, data))


class Storage:
    """Base class of a storage written in Python.

    Slow (every write takes the GIL on the node's driver thread) and only
    as durable as you make it: meant for tests, for experiments and for
    storing the log somewhere libcraft has no battery for. The methods are
    those of ``craft_storage_ops`` in ``craft/node.h``, whose contract
    holds word for word: the node never calls two at once; a write that
    raises stops the node (fail-stop) and is logged on ``craft.callback``;
    raise a ``craft.Error`` to choose the code (``craft.NotFound`` from
    snapshot_read when the snapshot is gone).
    """

    def load(self, loader: Loader) -> None:
        """Feed the persisted state to ``loader`` (nothing when empty)."""

    def save_hard_state(self, term: int, vote: int) -> None:
        raise NotImplementedError

    def append(self, index: int, term: int, type: int, data: bytes) -> None:
        """Write one entry at index (the log after index - 1). ``type``
        is a ``craft.lowlevel.CRAFT_ENTRY_*`` value to give back to
        ``loader.entry``."""
        raise NotImplementedError

    def truncate(self, index: int) -> None:
        """Delete the entries >= index."""
        raise NotImplementedError

    #: Make every write so far durable; None when each write already is.
    sync: Any = None

    def snapshot_write(self, index: int, term: int, offset: int, data: bytes,
                       conf: Optional[bytes], last: bool) -> None:
        """Write data at offset of the snapshot at index (offset 0 starts
        a new one; the current one stays until it is complete). With
        ``last`` it is complete: store ``conf`` with it, make it the
        current snapshot; entries <= index may then be dropped."""
        raise NotImplementedError

    def snapshot_read(self, index: int, offset: int,
                      count: int) -> Tuple[Buffer, bool]:
        """At most count bytes at offset of the current snapshot (at
        index), and whether they end it."""
        raise NotImplementedError

    def _craft_storage_ops(self, ops: Any, node_id: int) -> Any:
        return _python_storage_ops(self, ops)

    def _craft_release(self, keep: Any) -> None:
        _ll.cpy_storage_free(keep)


class _LoadAdapter:
    """Wraps the loader pointer for a Python storage's load()."""

    def __init__(self, obj: Any) -> None:
        self._load = obj.load

    def __call__(self, ptr: Any) -> None:
        self._load(Loader(ptr))


class _StorageShim:
    """What the C trampolines call: the user's methods, with load given a
    Loader instead of a raw pointer."""

    def __init__(self, obj: Any) -> None:
        self.load = _LoadAdapter(obj)
        self.save_hard_state = obj.save_hard_state
        self.append = obj.append
        self.truncate = obj.truncate
        self.sync = getattr(obj, "sync", None)
        self.snapshot_write = obj.snapshot_write
        self.snapshot_read = obj.snapshot_read


def _python_storage_ops(obj: Any, ops: Any) -> Any:
    rc, s = _ll.cpy_storage_create(_StorageShim(obj), _report)
    check(rc)
    check(_ll.cpy_storage_ops(s, ops))
    return s


class _DuckStorage:
    """A storage object that does not derive from Storage but has its
    methods."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def _craft_storage_ops(self, ops: Any, node_id: int) -> Any:
        return _python_storage_ops(self.obj, ops)

    def _craft_release(self, keep: Any) -> None:
        _ll.cpy_storage_free(keep)


def _as_storage(obj: Any) -> Any:
    if hasattr(obj, "_craft_storage_ops"):
        return obj
    if all(callable(getattr(obj, m, None)) for m in
           ("load", "save_hard_state", "append", "truncate",
            "snapshot_write", "snapshot_read")):
        return _DuckStorage(obj)
    raise TypeError("storage must be craft.MemStorage, craft.FileStorage or "
                    "a craft.Storage, not %s" % type(obj).__name__)
