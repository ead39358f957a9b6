"""The binding matches the headers it claims to wrap, and the library it
loads."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import pytest

import craft
from craft import lowlevel

from conftest import run_python, source_root

# Public functions the generated module deliberately does not wrap, with
# the reason. Empty: SWIG wraps every CRAFT_API function of every header.
SKIPPED = {}

# Public functions the Pythonic package does not use (they stay reachable
# through craft.lowlevel), with the reason. A function in neither list nor
# used by the package is reported as a warning: wrap it or list it here.
LOW_LEVEL_ONLY = {
    "craft_allocator_init": "allocator hooks are for C callers",
    "craft_node_propose": "the glue proposes with its own completion",
    "craft_node_propose_wait": "Node.propose waits in the glue (interruptible)",
    "craft_node_read_linearizable": "called by the glue",
    "craft_node_add_peer": "called by the glue",
    "craft_node_add_learner": "called by the glue",
    "craft_node_promote_learner": "called by the glue",
    "craft_node_remove_peer": "called by the glue",
    "craft_node_transfer_leadership": "called by the glue",
    "craft_node_trigger_snapshot": "called by the glue",
    "craft_node_create": "the glue calls craft_node_create_msg, the same "
                         "call with its message",
    "craft_node_shutdown": "called by the glue",
    "craft_node_free": "called by the glue",
    "craft_node_id": "Node.id is known in Python",
    "craft_fsm_ops_init": "the glue fills the table",
    "craft_result_status": "results are read by the glue",
    "craft_result_index": "results are read by the glue",
    "craft_result_term": "results are read by the glue",
    "craft_result_leader": "results are read by the glue",
    "craft_result_data": "results are read by the glue",
    "craft_result_free": "results are read by the glue",
    "craft_trace_event_id": "trace events are read by the glue",
    "craft_trace_event_level": "trace events are read by the glue",
    "craft_trace_event_name": "trace events are read by the glue",
    "craft_trace_event_target": "trace events are read by the glue",
    "craft_trace_event_field_count": "trace events are read by the glue",
    "craft_trace_event_field": "trace events are read by the glue",
    "craft_metric_help": "metrics_text() carries the help text",
    "craft_metric_kind": "metrics_text() carries the kind",
    "craft_node_read_wait": "Node.read waits in the glue, which hands "
                            "Python values and exceptions back",
    "craft_node_receive_inline": "a Python transport delivers with "
                                 "craft_node_receive: an inline round would "
                                 "run the node's callbacks on the delivering "
                                 "thread",
    "craft_file_storage_open": "opened by the glue (cpy_file_storage_open) "
                               "to get the detailed message",
}


def declared_functions(include: Path):
    """Every function declared CRAFT_API in the public headers (the same
    rule as abi/check-exports.sh)."""
    names = set()
    for h in [include / "craft.h", *sorted((include / "craft").glob("*.h"))]:
        for line in h.read_text().splitlines():
            if re.match(r"\s*CRAFT_API\s", line):
                m = re.search(r"[^A-Za-z0-9_](craft_[A-Za-z0-9_]*)\s*\(", line)
                if m:
                    names.add(m.group(1))
    return names


def header_digest(include: Path, names):
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0")
        h.update((include / name).read_bytes())
    return h.hexdigest()


def build_info():
    from craft import _build_info
    return _build_info


def test_version_matches_loaded_library():
    v = craft.version()
    assert v == lowlevel.CRAFT_VERSION_STRING
    assert lowlevel.craft_abi_version() == lowlevel.CRAFT_ABI_VERSION
    assert craft.version_info() == craft.BUILT_FOR[:3]


def test_version_check_refuses_another_abi():
    major, minor, patch, abi = craft.BUILT_FOR
    number = major * 10000 + minor * 100 + patch
    craft._check_loaded(abi, number)
    craft._check_loaded(abi, number + 100)  # a newer minor serves us
    with pytest.raises(craft.FormatVersion, match="ABI"):
        craft._check_loaded(abi + 1, number)
    with pytest.raises(craft.FormatVersion, match="rebuild|newer"):
        if number == 0:
            raise craft.FormatVersion("newer")
        craft._check_loaded(abi, number - 1)


def test_command_line_version():
    r = run_python("import craft; print(craft.version())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == lowlevel.craft_version_string()


def test_binding_was_rebuilt_for_these_headers():
    """Fails when a public header changed and the extension was not
    regenerated from it (make python-test rebuilds it)."""
    info = build_info()
    if info.LIBCRAFT != "bundled":
        pytest.skip("built against an installed libcraft")
    include = source_root() / "include"
    current = ["craft.h"]
    umbrella = (include / "craft.h").read_text()
    current += re.findall(r'^\s*#\s*include\s+"(craft/[^"]+\.h)"', umbrella, re.M)
    current += sorted("craft/" + p.name for p in (include / "craft").glob("*.h")
                      if "craft/" + p.name not in current)
    assert info.HEADERS == current, "headers added or removed since the build"
    assert info.HEADERS_SHA256 == header_digest(include, current), \
        "include/ changed since the binding was built: rebuild it"
    assert info.VERSION == lowlevel.CRAFT_VERSION_STRING


def test_every_public_function_is_wrapped():
    declared = declared_functions(source_root() / "include")
    assert declared, "no CRAFT_API declarations found"
    missing = sorted(f for f in declared
                     if f not in SKIPPED and not hasattr(lowlevel, f))
    assert not missing, "not wrapped by craft.lowlevel (rebuild, or list in " \
                        "SKIPPED with a reason): %s" % missing
    stale = sorted(f for f in SKIPPED if f not in declared)
    assert not stale, "SKIPPED lists functions the headers lost: %s" % stale


def test_pythonic_api_coverage():
    """Each public function is used by the Pythonic package or listed in
    LOW_LEVEL_ONLY; a new one is reported until it is either."""
    declared = declared_functions(source_root() / "include")
    pkg = Path(craft.__file__).parent
    text = "".join(p.read_text() for p in pkg.glob("*.py")
                   if p.name != "lowlevel.py")
    glue = source_root() / "bindings" / "python" / "ext" / "glue.c"
    if glue.exists():
        text += glue.read_text()
    engine = {f for f in declared
              if f.startswith(("craft_engine_", "craft_action", "craft_event_"))}
    unused = sorted(f for f in declared - engine
                    if f not in LOW_LEVEL_ONLY
                    and not re.search(r"\b%s\b" % f, text))
    if unused:
        warnings.warn("public functions not in the Pythonic API yet "
                      "(craft.lowlevel has them): %s" % ", ".join(unused))
    stale = sorted(f for f in LOW_LEVEL_ONLY if f not in declared)
    assert not stale, "LOW_LEVEL_ONLY lists functions the headers lost: %s" % stale


def test_installed_package_is_the_one_under_test():
    if not os.environ.get("CRAFT_PYTHON_INSTALLED"):
        pytest.skip("not run by make python-test")
    assert "site-packages" in craft.__file__, craft.__file__
    pkg = Path(craft.__file__).parent
    assert (pkg / "py.typed").exists()
    assert list(pkg.glob("_lowlevel*.so")), "the extension is missing"


def test_help_is_useful():
    import pydoc
    text = pydoc.render_doc(craft.Node, renderer=pydoc.plaintext)
    for word in ("propose", "propose_async", "read", "add_peer",
                 "remove_peer", "transfer_leadership", "status",
                 "metrics_text", "storage", "transport", "fsm", "timeout"):
        assert word in text
    assert craft.StateMachine.apply.__doc__
    assert craft.__doc__ and "StateMachine" in craft.__doc__


def test_options_come_from_the_headers():
    assert "tick_ms" in craft.NODE_OPTIONS
    assert "request_timeout_ms" in craft.NODE_OPTIONS
    assert "election_ticks" in craft.ENGINE_OPTIONS
    assert "snapshot_entries" in craft.ENGINE_OPTIONS
    assert "id" not in craft.NODE_OPTIONS and "id" not in craft.ENGINE_OPTIONS


def test_trace_names_are_listed():
    names = craft.trace_names()
    assert names["leader.elected"] == "craft.engine"
    assert names["node.started"] == "craft.node"


def test_system_build_links_the_installed_library():
    if build_info().LIBCRAFT != "system":
        pytest.skip("bundled build")
    import subprocess
    so = list(Path(craft.__file__).parent.glob("_lowlevel*.so"))[0]
    out = subprocess.run(["ldd", str(so)], capture_output=True, text=True).stdout
    assert "libcraft.so.%d" % lowlevel.CRAFT_ABI_VERSION in out
