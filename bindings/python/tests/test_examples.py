"""The example and the benchmark run (a smoke test: no figures checked)."""

from __future__ import annotations

import subprocess
import sys

from conftest import source_root

PY = source_root() / "bindings" / "python"


def test_kv_example_in_one_process():
    r = subprocess.run([sys.executable, str(PY / "examples" / "kv.py")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all three agree" in r.stdout


def test_bench_quick():
    r = subprocess.run([sys.executable, str(PY / "bench.py"), "--quick"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "256 asyncio tasks" in r.stdout and "C, 256 in flight" in r.stdout


def test_kv_example_three_processes_over_tcp(tmp_path):
    r = subprocess.run([sys.executable, str(PY / "examples" / "kv.py"), "tcp",
                        "--dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all three agree" in r.stdout
