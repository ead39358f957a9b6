"""craft's error codes as exceptions.

Every fallible C function returns CRAFT_OK (0) or a negative CRAFT_E* code;
the binding raises the exception class of that code. The classes form
families, so ``except craft.InvalidArgument`` also catches ``TooBig``, and
a few also derive from the matching built-in exception (``Timeout`` is a
``TimeoutError``, ``InvalidArgument`` a ``ValueError``, ``NoMemory`` a
``MemoryError``, ``UnknownPeer`` and ``NotFound`` are ``LookupError``).
"""

from __future__ import annotations

import logging
from typing import Dict, Optional, Type

from . import lowlevel as _ll

__all__ = [
    "Error", "InvalidArgument", "StructSize", "TooBig", "NoMemory",
    "DataError", "Malformed", "ChecksumError", "FormatVersion", "Corrupt",
    "NotLeader", "NotReady", "UnknownPeer", "Exists", "NotFound", "Busy",
    "Timeout", "Lost", "SteppedDown", "Shutdown", "Canceled", "CallbackError",
    "StateError", "IOError", "error_from_code",
]


class Error(Exception):
    """Base class of every error craft raises.

    Attributes:
        code: the negative CRAFT_E* code (``craft.lowlevel.CRAFT_EINVAL``...).
        name: its C name (``"CRAFT_EINVAL"``).
        detail: more context when there is any (the node's last error
            message for an I/O failure), else ``""``.
    """

    code: int = _ll.CRAFT_ECALLBACK
    #: True for errors after which a proposal may or may not have been
    #: committed (a deadline, a leader stepping down): retry only if the
    #: command is idempotent.
    outcome_unknown: bool = False

    def __init__(self, message: Optional[str] = None, *, code: Optional[int] = None,
                 detail: str = "") -> None:
        if code is not None:
            self.code = code
        self.detail = detail
        if message is None:
            message = _ll.craft_strerror(self.code)
            if detail:
                message = "%s (%s)" % (message, detail)
        super().__init__(message)

    @property
    def name(self) -> str:
        return _ll.craft_strerror(self.code).split(":", 1)[0]


class InvalidArgument(Error, ValueError):
    """An argument is missing, zero or out of range (CRAFT_EINVAL)."""
    code = _ll.CRAFT_EINVAL


class StructSize(InvalidArgument):
    """A struct_size the library does not know (CRAFT_ESTRUCT)."""
    code = _ll.CRAFT_ESTRUCT


class TooBig(InvalidArgument):
    """A buffer or a count exceeds a limit (CRAFT_ETOOBIG)."""
    code = _ll.CRAFT_ETOOBIG


class NoMemory(Error, MemoryError):
    """An allocation failed; nothing changed (CRAFT_ENOMEM)."""
    code = _ll.CRAFT_ENOMEM


class DataError(Error):
    """Bytes from disk or network that cannot be trusted."""


class Malformed(DataError):
    """Bytes that do not decode (CRAFT_EMALFORMED)."""
    code = _ll.CRAFT_EMALFORMED


class ChecksumError(DataError):
    """Bytes whose CRC32C is wrong (CRAFT_ECHECKSUM)."""
    code = _ll.CRAFT_ECHECKSUM


class FormatVersion(DataError):
    """A format version this build does not know (CRAFT_EVERSION)."""
    code = _ll.CRAFT_EVERSION


class Corrupt(DataError):
    """Persisted state that contradicts itself (CRAFT_ECORRUPT)."""
    code = _ll.CRAFT_ECORRUPT


class NotLeader(Error):
    """Only the leader can do this (CRAFT_ENOTLEADER).

    ``leader`` is the id of the leader this node knows of, 0 when none:
    send the request there.
    """
    code = _ll.CRAFT_ENOTLEADER

    def __init__(self, message: Optional[str] = None, *, leader: int = 0,
                 **kw) -> None:
        self.leader = leader
        if message is None and leader:
            message = "%s; leader is %d" % (_ll.craft_strerror(self.code), leader)
        super().__init__(message, **kw)


class NotReady(Error):
    """The leader has not committed an entry of its term yet
    (CRAFT_ENOTREADY); retry shortly."""
    code = _ll.CRAFT_ENOTREADY


class UnknownPeer(Error, LookupError):
    """The peer id is not a member (CRAFT_EUNKNOWNPEER)."""
    code = _ll.CRAFT_EUNKNOWNPEER


class Exists(Error):
    """The thing already exists, e.g. the peer is a member (CRAFT_EEXIST)."""
    code = _ll.CRAFT_EEXIST


class NotFound(Error, LookupError):
    """The thing does not exist (CRAFT_ENOENT)."""
    code = _ll.CRAFT_ENOENT


class Busy(Error):
    """Too much in flight, or another change in progress (CRAFT_EBUSY);
    retry later. A Python transport's send() raises it to have the node
    keep the message and retry."""
    code = _ll.CRAFT_EBUSY


class Timeout(Error, TimeoutError):
    """The deadline passed (CRAFT_ETIMEDOUT). A proposal's outcome is then
    unknown."""
    code = _ll.CRAFT_ETIMEDOUT
    outcome_unknown = True


class Lost(Error):
    """The proposal was overwritten by a new leader's entry and will never
    commit (CRAFT_ELOST)."""
    code = _ll.CRAFT_ELOST


class SteppedDown(Error):
    """Leadership was lost while waiting (CRAFT_ESTEPPEDDOWN); the
    outcome is unknown."""
    code = _ll.CRAFT_ESTEPPEDDOWN
    outcome_unknown = True


class Shutdown(Error):
    """The node is shut down (CRAFT_ESHUTDOWN)."""
    code = _ll.CRAFT_ESHUTDOWN


class Canceled(Error):
    """Canceled, e.g. by a shutdown (CRAFT_ECANCELED)."""
    code = _ll.CRAFT_ECANCELED


class CallbackError(Error):
    """A user callback failed (CRAFT_ECALLBACK): for a proposal, the
    state machine's apply() raised (the entry is committed all the same)."""
    code = _ll.CRAFT_ECALLBACK


class StateError(Error):
    """The call is not valid in the node's current state (CRAFT_ESTATE),
    e.g. a blocking call made from one of the node's own callbacks."""
    code = _ll.CRAFT_ESTATE


class IOError(Error):  # noqa: A001 - craft.IOError, as the C code names it
    """Storage or transport failed (CRAFT_EIO); the node stopped."""
    code = _ll.CRAFT_EIO


_BY_CODE: Dict[int, Type[Error]] = {}
for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, Error) and "code" in _cls.__dict__:
        _BY_CODE[_cls.__dict__["code"]] = _cls
del _cls


def error_from_code(code: int, *, leader: int = 0, detail: str = "") -> Error:
    """The exception for a negative CRAFT_E* code."""
    cls = _BY_CODE.get(code, Error)
    if cls is NotLeader:
        return NotLeader(leader=leader, detail=detail)
    if cls is Error:
        return Error("unknown craft error %d" % code, code=code, detail=detail)
    return cls(detail=detail)


def check(rc: int) -> int:
    """Raises the exception of rc when it is negative; returns rc."""
    if rc < 0:
        raise error_from_code(rc)
    return rc


_callback_log = logging.getLogger("craft.callback")


def _report(where: str, node_id: int, exc: BaseException) -> int:
    """Called by the C trampolines, on craft's threads, when a user
    callback raised: logs the exception with its traceback and returns the
    error code the callback hands back to libcraft."""
    if isinstance(exc, Busy) and where == "transport.send":
        return _ll.CRAFT_EBUSY  # the documented way to ask for a retry
    try:
        _callback_log.error("%s raised in node %d", where, node_id,
                            exc_info=exc,
                            extra={"craft_callback": where, "node_id": node_id})
    except Exception:  # logging itself failed: never lose the report
        import sys
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__,
                                  file=sys.stderr)
    if isinstance(exc, Error) and exc.code < 0:
        return exc.code
    return _ll.CRAFT_ECALLBACK
