"""Fixtures shared by every test folder.

- ``synth_tiny_data``: a DATA_DIR (session-wide, temporary) holding the prepared ``synth-tiny`` split, prepared
  once per test session;
- ``run_env``: points ``DATA_DIR`` at it and ``RUNS_DIR`` at a fresh temporary folder for one test, and returns
  ``(data_dir, runs_dir)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests run quietly and single-threaded (the CI machine has two cores); Lightning banners stay out.
os.environ.setdefault("CI", "true")


@pytest.fixture(scope="session")
def synth_tiny_data(tmp_path_factory) -> Path:
    from icdbench.datasets.prepared import ensure_split

    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(data))
        ensure_split("synth-tiny")
    return data


@pytest.fixture
def run_env(synth_tiny_data, tmp_path, monkeypatch) -> tuple[Path, Path]:
    runs = tmp_path / "runs"
    monkeypatch.setenv("DATA_DIR", str(synth_tiny_data))
    monkeypatch.setenv("RUNS_DIR", str(runs))
    return synth_tiny_data, runs
