"""``icdbench list splits`` / ``icdbench prepare``: the card, reuse, and one clear line for each bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from icdbench.cli import main
from icdbench.datasets.synthetic.corpus import GENERATOR_VERSION


@pytest.fixture
def prepared(synth_tiny_data, tmp_path):
    """A private copy of the session's prepared synth-tiny (tests below damage it)."""
    out = tmp_path / "synth-tiny"
    shutil.copytree(synth_tiny_data / "synth-tiny", out)
    return out


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("icdbench: error: "), err
    return err


def test_list_splits(capsys, synth_tiny_data, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(synth_tiny_data))
    assert main(["list", "splits"]) == 0
    out = capsys.readouterr().out
    for name in ("synth-icd10", "synth-icd10-50", "synth-icd9", "synth-icd9-50", "synth-radiology", "synth-tiny"):
        assert name in out
    tiny = next(line for line in out.splitlines() if line.startswith("synth-tiny "))
    assert GENERATOR_VERSION in tiny and " yes " in tiny
    icd10 = next(line for line in out.splitlines() if line.startswith("synth-icd10 "))
    assert " no " in icd10


def test_prepare_reuses_an_identical_split(prepared, capsys):
    before = json.loads((prepared / "manifest.json").read_text())
    assert main(["prepare", "synth-tiny", "--out", str(prepared)]) == 0
    out = capsys.readouterr().out
    assert "already prepared" in out and "documents" in out and "rare codes" in out and "distractors" in out
    assert json.loads((prepared / "manifest.json").read_text()) == before


def test_prepare_writes_a_new_split_and_prints_the_card(tmp_path, capsys):
    out = tmp_path / "fresh"
    assert main(["prepare", "synth-tiny", "--out", str(out), "--seed", "2"]) == 0
    card = capsys.readouterr().out
    for field in ("documents", "label set", "codes/document", "words/document", "rare codes", "distractors"):
        assert field in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["command"].endswith("--seed 2")


def test_unknown_split_suggests_names(capsys):
    assert main(["prepare", "synth-icd1O"]) == 2
    assert "synth-icd10" in _error_line(capsys)


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["prepare", "synth-tiny", "--out", str(blocker / "split")]) == 2
    assert "writable" in _error_line(capsys)
    assert main(["prepare", "synth-tiny", "--out", str(blocker)]) == 2
    _error_line(capsys)


def test_foreign_directory_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["prepare", "synth-tiny", "--out", str(tmp_path), "--force"]) == 2
    assert "not a prepared split" in _error_line(capsys)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_other_version_or_seed_needs_force(prepared, capsys):
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert main(["prepare", "synth-tiny", "--out", str(prepared), "--seed", "1"]) == 2
    assert "--force" in _error_line(capsys)
    (prepared / "manifest.json").write_text(json.dumps({**manifest, "split_version": "0.0.1"}))
    assert main(["prepare", "synth-tiny", "--out", str(prepared)]) == 2
    assert "0.0.1" in _error_line(capsys)
    assert main(["prepare", "synth-tiny", "--out", str(prepared), "--force"]) == 0
    capsys.readouterr()
    assert json.loads((prepared / "manifest.json").read_text())["split_version"] == GENERATOR_VERSION


def test_corrupt_or_partial_parquet_is_detected(prepared, capsys):
    train = prepared / "train.parquet"
    train.write_bytes(train.read_bytes()[: train.stat().st_size // 2])
    assert main(["prepare", "synth-tiny", "--out", str(prepared)]) == 2
    assert "train.parquet" in _error_line(capsys)
    (prepared / "test.parquet").unlink()
    assert main(["prepare", "synth-tiny", "--out", str(prepared)]) == 2
    _error_line(capsys)
    (prepared / "manifest.json").write_text("{not json")
    assert main(["prepare", "synth-tiny", "--out", str(prepared)]) == 2
    assert "corrupt" in _error_line(capsys)


def test_nothing_half_written_when_preparation_fails(tmp_path, capsys, monkeypatch):
    from icdbench.datasets.synthetic import splits

    def broken(name, seed):
        raise RuntimeError("boom")

    monkeypatch.setattr(splits, "build", broken)
    with pytest.raises(RuntimeError):
        main(["prepare", "synth-tiny", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []
