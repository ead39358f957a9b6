"""Where a node keeps its log, hard state and snapshots."""

from __future__ import annotations

import os
import threading
from typing import Any, Optional, Tuple, Union

from . import lowlevel as _ll
from . import _trace
from ._errors import Busy, StateError, check, error_from_code, _report

__all__ = ["MemStorage", "FileStorage", "Storage", "Loader"]

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
        elif isinstance(error, type) and hasattr(error, "code"):
            code = error.code
        else:
            code = int(error)
        check(_ll.craft_mem_storage_fail(self._ms, code))

    def crash(self) -> None:
        """Simulates a power loss: forgets every write since the last
        successful sync, and fails every later write (a node still using
        it stops) until ``fail(0)``. Then close the node, ``fail(0)`` and
        create a new Node on this storage: a restart after the crash."""
        check(_ll.craft_mem_storage_crash(self._ms))

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
                raise StateError("MemStorage.close(): a node still uses it")
            ms, self._ms = self._ms, None
        if ms is not None:
            _ll.craft_mem_storage_free(ms)

    def __del__(self) -> None:
        ms = getattr(self, "_ms", None)
        if ms is not None and not getattr(self, "_users", 0):
            self._ms = None
            _ll.craft_mem_storage_free(ms)


_SYNC_MODES = {
    "fdatasync": _ll.CRAFT_FILE_SYNC_FDATASYNC,
    "dsync": _ll.CRAFT_FILE_SYNC_DSYNC,
    "direct": _ll.CRAFT_FILE_SYNC_DIRECT,
    "none-unsafe-for-tests": _ll.CRAFT_FILE_SYNC_NONE_UNSAFE_FOR_TESTS,
}


class FileStorage:
    """libcraft's durable storage (``craft/storage.h``): one node's log,
    hard state and snapshots in a data directory (created if missing),
    checksummed, with torn-tail recovery on open and fail-stop on a write
    error. Open it, give it to one ``Node`` at a time; ``close()`` (or
    leaving a ``with`` block) releases the directory's lock.

    Arguments:
        directory: the data directory (str or path).
        sync: how writes are made durable: ``"fdatasync"`` (default),
            ``"dsync"``, ``"direct"`` (O_DIRECT, not on tmpfs) or
            ``"none-unsafe-for-tests"`` (no sync at all: a power loss
            loses acknowledged writes; for tests and benchmarks only).
        segment_bytes: log segment size (default 64 MiB).
        preallocate: reserve each segment's size when created (default).
        cluster_id, node_id: checked against (or written into) the
            directory's metadata; 0 does not check.
        trace: the storage's trace events (target ``craft.storage``) to
            ``logging``, like ``Node(trace=...)``.

    Opening raises ``craft.Busy`` (another process or storage holds the
    directory), ``craft.StateError`` (another cluster's or node's
    directory), ``craft.Corrupt`` (damage other than a torn tail; the
    message names the file and offset), ``craft.FormatVersion``,
    ``craft.IOError``, ``craft.InvalidArgument``.
    """

    def __init__(self, directory: Union[str, "os.PathLike[str]"], *,
                 sync: str = "fdatasync", segment_bytes: Optional[int] = None,
                 preallocate: bool = True, cluster_id: int = 0,
                 node_id: int = 0, trace: Union[bool, int] = False) -> None:
        self._fs = None
        self._sink = None
        self._lock = threading.Lock()
        self._users = 0
        self.directory = os.fsdecode(directory)
        if sync not in _SYNC_MODES:
            raise ValueError("sync must be one of %s" % ", ".join(_SYNC_MODES))
        opts = _ll.craft_file_storage_options()
        check(_ll.craft_file_storage_options_init(opts))
        opts.sync_mode = _SYNC_MODES[sync]
        if segment_bytes is not None:
            opts.segment_bytes = segment_bytes
        opts.preallocate = 1 if preallocate else 0
        opts.cluster_id = cluster_id
        opts.node_id = node_id
        level = _trace.resolve(trace)
        if level:
            opts.trace_level = level
            rc, self._sink = _ll.cpy_trace_sink_create(_trace.emit, _report, node_id)
            check(rc)
        rc, fs, msg = _ll.cpy_file_storage_open(self.directory, opts, self._sink)
        if rc != 0:
            if self._sink is not None:
                _ll.cpy_trace_sink_free(self._sink)
                self._sink = None
            raise error_from_code(rc, detail=msg or self.directory)
        self._fs = fs

    def _craft_storage_ops(self, ops: Any, node_id: int) -> Any:
        with self._lock:
            if self._fs is None:
                raise ValueError("the storage was closed")
            if self._users:
                raise Busy("a FileStorage serves one node at a time")
            check(_ll.craft_file_storage_ops(self._fs, ops))
            self._users += 1
        return self

    def _craft_release(self, keep: Any) -> None:
        with self._lock:
            self._users -= 1

    @property
    def last_error(self) -> str:
        """The detailed message of the last failed method ("" if none)."""
        if self._fs is None:
            return ""
        n, text = _ll.craft_file_storage_errmsg(self._fs, 1024)
        if n >= 1024:
            n, text = _ll.craft_file_storage_errmsg(self._fs, n + 1)
        return text

    @property
    def closed(self) -> bool:
        return self._fs is None

    def close(self) -> None:
        """Closes the files and releases the directory. No node may be
        using it (close the node first). Idempotent."""
        with self._lock:
            if self._users:
                raise StateError("FileStorage.close(): a node still uses it")
            fs, self._fs = self._fs, None
            sink, self._sink = self._sink, None
        if fs is not None:
            _ll.craft_file_storage_close(fs)
        if sink is not None:
            _ll.cpy_trace_sink_free(sink)

    def __enter__(self) -> "FileStorage":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fs", None) is not None and not self._users:
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return "<craft.FileStorage %r%s>" % (self.directory,
                                             " closed" if self.closed else "")


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
