"""``benchmarks/perf/prepare.py`` runs end to end at the smallest scale: both implementations prepare the same
documents, and a reference killed for memory is reported with what it used instead of crashing the benchmark.
No timing is asserted (speed is measured by the benchmark itself, not in tests)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "perf" / "prepare.py"


def test_both_implementations_write_the_same_documents(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--scale", "0.0001", "--cores", "1", "--workers", "1",
                           "--cache", str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines if line.startswith(("icdbench", "pandas reference"))}
    assert set(rows) == {"icdbench", "pandas"}
    assert rows["icdbench"].split()[-2:] == rows["pandas"].split()[-2:]  # the same train/val/test sizes
    assert any(line.startswith("outputs identical:") for line in lines)


def test_a_killed_child_is_reported_with_what_it_used(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("prepare_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    victim = tmp_path / "victim.py"
    victim.write_text("import os, signal\nblock = bytearray(50_000_000)\nos.kill(os.getpid(), signal.SIGKILL)\n")
    monkeypatch.setattr(bench, "__file__", str(victim))  # the child command runs this script instead
    result = bench.measure("pandas", tmp_path, tmp_path / "out", 0, 1)
    assert result["failed"] == "killed by SIGKILL"  # far below the machine's memory: not called out of memory
    assert result["peak_bytes"] >= 50_000_000 and "sizes" not in result
    monkeypatch.setattr(bench, "RAM_GB", 0.06)  # a machine the child's 50 MB more than half fills
    assert bench.measure("pandas", tmp_path, tmp_path / "out", 0, 1)["failed"].startswith(
        "killed by SIGKILL (out of memory on a 0 GB machine)")
