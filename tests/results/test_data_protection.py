"""Note text never leaves DATA_DIR (DESIGN.md §9), and checkpoints refuse to unpickle code.

A MIMIC-IV-shaped source (the synthetic generator's PhysioNet-layout writer) gets marker sentences in its
discharge notes; the split is prepared, then train (CSV, TensorBoard and offline wandb loggers, a neural and
a scikit-learn model), evaluate, leaderboard and explain (attention and LIME) run on it. Every file written
anywhere else — run folders, logs, trackers, leaderboards, reports, the home and temp folders the processes
saw — is scanned, compressed containers opened, for the markers: there must be none.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from pathlib import Path

import polars as pl
import pytest
import torch

from icdbench.cli import main
from icdbench.datasets.synthetic.mimic_shaped import write_mimic_files

SPLIT = "mimic4-icd10"
# Made-up words that occur in several notes each, so a leaked vocabulary would show them; every note's marker
# sentence (three of them in a combination no other note has) is unique.
MARKER_WORDS = ["zqflorbex", "zqvantrid", "zqmelkorp", "zqdubrane", "zqsilvath", "zqoprenti", "zqkastelv",
                "zqwendrim", "zqpurlone", "zqgathrix", "zqbelmuto", "zqhorvane"]  # fmt: skip
TRAIN = ["--profile", "ci", "optim.epochs=1", "data.max_train_docs=64"]


def _marker_sentence(i: int) -> str:
    n = len(MARKER_WORDS)
    a, b, c = MARKER_WORDS[i % n], MARKER_WORDS[(i // n) % n], MARKER_WORDS[(i // (n * n) + 5) % n]
    return f"Patient keeps the {a} beside {b} and {c} at home."


def _write_source(raw: Path) -> list[str]:
    write_mimic_files(raw, version="mimic4", n_notes=300, words_per_note=150, seed=7, radiology=False)
    path = raw / "note" / "discharge.csv.gz"
    notes = pl.read_csv(path, infer_schema=False)
    sentences = [_marker_sentence(i) for i in range(notes.height)]
    notes = notes.with_columns(pl.Series("text", [f"{s}\n{t}" for s, t in zip(sentences, notes["text"])]))
    with gzip.open(path, "wb") as handle:
        notes.write_csv(handle)
    return sentences


def _contents(path: Path) -> list[bytes]:
    """The bytes of a file and of whatever it contains (zip members, gzip, parquet/npz string columns)."""
    data = path.read_bytes()
    out = [data]
    if zipfile.is_zipfile(path):  # torch checkpoints, .npz
        with zipfile.ZipFile(path) as archive:
            out += [archive.read(name) for name in archive.namelist()]
    if data[:2] == b"\x1f\x8b":
        out.append(gzip.decompress(data))
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        out.append(frame.select(pl.col(pl.String)).write_csv().encode())
    return out


def _leaks(root: Path, excluded: list[Path], needles: list[str]) -> list[str]:
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(path.is_relative_to(e) for e in excluded):
            continue
        text = b"\n".join(_contents(path)).decode("latin-1").lower()
        hits += [f"{path.relative_to(root)}: {needle}" for needle in needles if needle in text]
    return hits


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> dict[str, Path]:
    """Every place a run may write: DATA_DIR, RUNS_DIR, leaderboards, cwd, HOME, temp and wandb's folders."""
    places = {name: tmp_path / name for name in ("data", "raw", "runs", "leaderboards", "cwd", "home", "tmp")}
    for place in places.values():
        place.mkdir()
    monkeypatch.setenv("DATA_DIR", str(places["data"]))
    monkeypatch.setenv("RUNS_DIR", str(places["runs"]))
    monkeypatch.setenv("ICDBENCH_LEADERBOARDS", str(places["leaderboards"]))
    for name in ("HOME", "TMPDIR", "WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(places["home" if name == "HOME" else "tmp"]))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.chdir(places["cwd"])
    return {**places, "root": tmp_path}


def test_no_note_text_outside_data_dir(sandbox, capsys):
    sentences = _write_source(sandbox["raw"])
    assert main(["prepare", SPLIT, "--source", str(sandbox["raw"])]) == 0
    test_ids = pl.read_parquet(sandbox["data"] / SPLIT / "test.parquet", columns=["doc_id", "text"])
    assert any(word in test_ids["text"][0].lower() for word in MARKER_WORDS)  # the markers reached the split
    run_dirs = []
    for logger in ("csv", "tensorboard", "wandb"):
        assert main(["train", "caml", SPLIT, *TRAIN, f"train.logger={logger}"]) == 0
        run_dirs.append(Path(capsys.readouterr().out.split("run: ", 1)[1].splitlines()[0]))
    assert main(["train", "lr", SPLIT, "--profile", "ci"]) == 0
    caml = run_dirs[0]
    report = sandbox["cwd"] / "report.json"
    assert main(["evaluate", str(caml / "scores.npz"), "--split", SPLIT, "--out", str(report)]) == 0
    assert main(["leaderboard"]) == 0
    doc = test_ids["doc_id"][0]
    for method in ("attention", "lime"):
        assert main(["explain", str(caml), "--doc", doc, "--method", method]) == 0
    capsys.readouterr()
    assert (sandbox["runs"] / "leaderboard" / "README.md").is_file() and report.is_file()
    assert any((run_dirs[1] / "logs").rglob("events.out.tfevents*"))  # the loggers did write
    assert any(sandbox["root"].rglob("*.wandb"))
    needles = MARKER_WORDS + [s.lower().rstrip(".") for s in sentences[:50]]
    leaks = _leaks(sandbox["root"], [sandbox["data"], sandbox["raw"]], needles)
    assert leaks == [], "note text outside DATA_DIR:\n" + "\n".join(leaks[:20])
    assert _leaks(sandbox["data"], [], MARKER_WORDS[:1])  # the scan does find text where it is allowed


class _Payload:
    """Unpickling this opens (creates) a file: the harmless stand-in for arbitrary code in a checkpoint."""

    def __init__(self, target: Path):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_checkpoint_carrying_a_pickled_payload_is_refused(tmp_path, run_env):
    target = tmp_path / "pwned"
    bad = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "extra": _Payload(target)}, bad)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(bad.getvalue()), weights_only=True)
    assert not target.exists()
    torch.load(io.BytesIO(bad.getvalue()), weights_only=False)
    assert target.exists()  # the payload is live: loading it the unsafe way runs it
    target.unlink()
    # A finished run's model.pt replaced by the payload: predict and explain refuse it and nothing runs.
    assert main(["train", "caml", "synth-tiny", "--profile", "ci", "optim.epochs=1", "train.logger=none"]) == 0
    run_dir = next((run_env[1] / "synth-tiny" / "caml").iterdir())
    (run_dir / "model.pt").write_bytes(bad.getvalue())
    note = tmp_path / "note.txt"
    note.write_text("Chest pain and fever.")
    doc = pl.read_parquet(run_env[0] / "synth-tiny" / "test.parquet", columns=["doc_id"])["doc_id"][0]
    for argv in (["predict", str(run_dir), "--text", str(note)], ["explain", str(run_dir), "--doc", doc]):
        try:
            code = main(argv)
        except pickle.UnpicklingError:
            code = None  # refused, though not yet as a one-line error
        assert code != 0 and not target.exists(), argv
    # The same payload as a Lightning checkpoint of an unfinished run: --resume refuses it too.
    (run_dir / "record.json").unlink()
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(bad.getvalue())
    try:
        code = main(["train", "caml", "synth-tiny", "--resume", str(run_dir)])
    except pickle.UnpicklingError:
        code = None
    assert code != 0 and not target.exists()
