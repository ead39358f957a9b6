"""What libcraft says when something is wrong: the create-time message in
the exception, and the ready-made stderr trace printer."""

from __future__ import annotations

import re

import pytest

import craft

from conftest import KV, run_python


def test_create_error_carries_the_library_message():
    with pytest.raises(craft.InvalidArgument) as info:
        craft.Node(1, storage=craft.MemStorage(), transport=craft.Hub(),
                   fsm=KV(), tick_ms=0)
    assert info.value.detail == "options.tick_ms is 0"
    assert str(info.value).endswith("(options.tick_ms is 0)")


def test_create_error_message_of_a_zero_bound():
    with pytest.raises(craft.InvalidArgument) as info:
        craft.Node(1, storage=craft.MemStorage(), transport=craft.Hub(),
                   fsm=KV(), apply_queue_entries=0)
    assert info.value.detail == "options.apply_queue_entries is 0"


def test_trace_rejects_an_unknown_sink():
    with pytest.raises(craft.InvalidArgument, match="stderr"):
        craft.Node(1, storage=craft.MemStorage(), transport=craft.Hub(),
                   fsm=KV(), trace="stdout")


# One line per event, as include/craft/node.h shows it.
_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z INFO  "
                   r"craft\.engine leader\.elected node_id=1 term=\d+ leader=1$",
                   re.M)


def test_trace_stderr_prints_one_line_per_event():
    code = """
import time, craft
class Nop:
    def apply(self, index, term, data):
        return None
with craft.Node(1, storage=craft.MemStorage(), transport=craft.Hub(),
                fsm=Nop(), tick_ms=5, trace="stderr") as n:
    n.bootstrap([1])
    n.start()
    deadline = time.monotonic() + 30
    while n.status().leader != 1:
        assert time.monotonic() < deadline, "no leader"
        time.sleep(0.01)
print("ok")
"""
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    assert _LINE.search(r.stderr), r.stderr
    # INFO and above only: no DEBUG line.
    assert " DEBUG " not in r.stderr
