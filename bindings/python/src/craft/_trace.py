"""craft's structured trace events, routed to the ``logging`` module.

Off by default: ``Node(..., trace=True)`` turns it on at the level of the
``craft`` logger (``trace=logging.DEBUG`` chooses the level). Each event
goes to the logger named by its target (``craft.engine``, ``craft.node``,
...) at the matching level, with the message ``"<name> key=value ..."``
and, in ``extra``, ``craft_event`` (the stable event name, e.g.
``"leader.elected"``), ``craft_fields`` (a dict of every field) and each
field on its own (``node_id``, ``term``, ``leader``, ...; a field whose
name a LogRecord already uses gets a ``craft_`` prefix).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Union

from . import lowlevel as _ll

__all__ = ["trace_names"]

# craft's levels (enum craft_trace_level) and the logging module's.
_TO_LOGGING = {
    _ll.CRAFT_TRACE_ERROR: logging.ERROR,
    _ll.CRAFT_TRACE_WARN: logging.WARNING,
    _ll.CRAFT_TRACE_INFO: logging.INFO,
    _ll.CRAFT_TRACE_DEBUG: logging.DEBUG,
}

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def craft_level(level: int) -> int:
    """The craft trace level that lets through logging level ``level``."""
    if level <= logging.DEBUG:
        return _ll.CRAFT_TRACE_DEBUG
    if level <= logging.INFO:
        return _ll.CRAFT_TRACE_INFO
    if level <= logging.WARNING:
        return _ll.CRAFT_TRACE_WARN
    return _ll.CRAFT_TRACE_ERROR


def resolve(trace: Union[bool, int]) -> int:
    """The craft trace level for the Node option ``trace``, 0 for off."""
    if trace is False or trace is None:
        return 0
    if trace is True:
        return craft_level(logging.getLogger("craft").getEffectiveLevel())
    return craft_level(int(trace))


def emit(node_id: int, level: int, target: str, name: str,
         fields: Dict[str, Any]) -> None:
    """Called by the C trampoline for every event (on craft's threads)."""
    logger = logging.getLogger(target)
    lvl = _TO_LOGGING.get(level, logging.DEBUG)
    if not logger.isEnabledFor(lvl):
        return
    extra: Dict[str, Any] = {"craft_event": name, "craft_fields": fields}
    for k, v in fields.items():
        extra["craft_" + k if k in _RESERVED else k] = v
    text = " ".join("%s=%s" % kv for kv in fields.items())
    logger.log(lvl, "%s %s", name, text, extra=extra)


def trace_names() -> Dict[str, str]:
    """Every trace event libcraft can emit: name -> target."""
    out = {}
    i = 1
    while True:
        name = _ll.craft_trace_name(i)
        if name is None:
            return out
        out[name] = _ll.craft_trace_target(i)
        i += 1
