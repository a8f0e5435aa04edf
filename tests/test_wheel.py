"""The wheel alone runs a benchmark: profiles, per-split settings and grids ship inside the package, so an
installed icdbench (not editable, not the repository) works from any folder (issue 18)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the sources, so nothing (build/, *.egg-info) lands in the repository."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "icdbench", src / "icdbench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", dist, src])  # fmt: skip
    (wheel,) = dist.glob("icdbench-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new virtualenv with the wheel installed; it sees this environment's packages for the dependencies (a
    ``.pth`` line), so nothing downloads, but not the repository or its editable install."""
    venv = tmp_path / "venv"
    _run([sys._base_executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel])
    return venv


def test_the_wheel_ships_every_settings_file(tmp_path):
    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    shipped = {p.relative_to(REPO).as_posix() for p in (REPO / "icdbench" / "settings").rglob("*.yaml")}
    assert {"icdbench/settings/profiles/ci.yaml", "icdbench/settings/grids/committed.yaml"} <= shipped
    assert shipped - names == set()


@pytest.mark.slow  # build, install and a ci-profile run: about a minute and a half on two busy cores
def test_an_installed_wheel_benchmarks_from_an_empty_folder(tmp_path):
    venv = fresh_venv(tmp_path, build_wheel(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICDBENCH_") and k != "PYTHONPATH"}
    env |= {"DATA_DIR": str(tmp_path / "data"), "RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    where = _run([venv / "bin" / "python", "-c", "import icdbench; print(icdbench.__file__)"], cwd=work, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the wheel's copy, not the repository's
    done = _run([venv / "bin" / "icdbench", "bench", "caml", "synth-tiny", "--profile", "ci"], cwd=work, env=env)
    assert "caml on synth-tiny (profile ci)" in done.stdout
    (record_file,) = (tmp_path / "runs" / "synth-tiny" / "caml").glob("*/record.json")
    record = json.loads(record_file.read_text())
    assert record["profile"] == "ci" and 0.0 <= record["metrics"]["full"]["micro_f1"] <= 1.0
    assert list(work.iterdir()) == []  # everything went to DATA_DIR and RUNS_DIR
