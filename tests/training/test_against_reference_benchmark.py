"""``benchmarks/perf/train.py --against reference`` runs end to end at the smallest sizes: both sides of every
model it compares train and predict on the same batches and the table has a row per model. No timing is
asserted (the benchmark measures it); skipped where the reference code in ``../shared`` is absent."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "perf" / "train.py"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "medical-coding-reproducibility"


@pytest.mark.skipif(not (REFERENCE / "src" / "models").is_dir(), reason=f"no reference code at {REFERENCE}")
def test_against_reference_prints_a_row_per_model(capsys):
    spec = importlib.util.spec_from_file_location("train_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sizes = ["--threads", "1", "--tokens", "16", "--batch-size", "2", "--codes", "5", "--vocab", "40",
             "--embed-dim", "8", "--steps", "1", "--segment-length", "8", "--encoder-layers", "1",
             "--encoder-width", "16", "--encoder-vocab", "50"]  # fmt: skip
    assert module.main(["--against", "reference", *sizes]) == 0
    table = capsys.readouterr().out.split("speed ratio > 1: icdbench faster\n", 1)[1].splitlines()
    assert [line.split()[0] for line in table[2:]] == ["caml", "laat", "multirescnn", "plm-icd"]
