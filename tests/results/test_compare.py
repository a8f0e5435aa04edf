"""``icdbench compare RUN_A RUN_B``: a paired bootstrap on the same test documents, refusing anything else with
one line and exit code 2."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch
from fake_records import fake_record, write_run

from icdbench.cli import main
from icdbench.metrics import evaluate
from icdbench.metrics.scores_file import save_scores
from icdbench.results.curves import GoldCodes
from icdbench.results.leaderboard import HEADLINE
from icdbench.results.paired import ExtraPieces, compare_runs, load_run_scores
from icdbench.results.record import read_run


def _run(runs, data, model: str, quality: float, seed: int = 0, doc_slice=slice(None)):
    """A finished run folder on synth-tiny whose scores are the gold codes blurred by noise (``quality`` 0..1)."""
    manifest = json.loads((data / "synth-tiny" / "manifest.json").read_text())
    record = fake_record(model, split="synth-tiny", profile="ci", seed=seed)
    record["split_hashes"] = {"content_sha256": manifest["content_sha256"]}
    record["split_version"] = manifest["split_version"]
    run_dir = write_run(runs, record)
    test = pl.read_parquet(data / "synth-tiny" / "test.parquet", columns=["doc_id", "codes"])[doc_slice]
    codes = pl.read_parquet(data / "synth-tiny" / "codes.parquet")["code"].to_list()
    gold = GoldCodes.load(data / "synth-tiny").matrix(test["doc_id"].to_list(), codes)
    noise = np.random.default_rng(seed + int(quality * 100)).random(gold.shape)
    scores = np.clip(quality * gold + (1 - quality) * noise, 0, 1).astype(np.float32)
    save_scores(run_dir / "scores.npz", test["doc_id"].to_list(), codes, scores)
    (run_dir / "threshold.json").write_text(json.dumps({"rule": "global", "value": 0.5, "top_k": None}))
    return run_dir


def test_compare_prints_every_headline_metric_with_a_difference_and_p(run_env, capsys):
    data, runs = run_env
    a, b = _run(runs, data, "lr", 0.3), _run(runs, data, "caml", 0.6)
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0].strip(): line for line in out.splitlines()}
    for _, label in HEADLINE:
        assert label in lines, out
    delta, low, high, p = _row(lines["micro-F1"])
    assert delta > 0 and low > 0 and p < 0.01  # a much better run is significantly better


def _row(line: str) -> tuple[float, float, float, float]:
    cells = line.split()
    delta = float(cells[-4])
    low, high = (float(x.strip("[],")) for x in (cells[-3], cells[-2]))
    return delta, low, high, float(cells[-1])


def test_paired_estimates_match_evaluate_and_a_run_against_itself_has_no_difference(run_env):
    data, runs = run_env
    a_dir, b_dir = _run(runs, data, "lr", 0.3), _run(runs, data, "caml", 0.5)
    a, b = load_run_scores(a_dir, read_run(a_dir)), load_run_scores(b_dir, read_run(b_dir))
    gold = GoldCodes.load(data / "synth-tiny")
    targets, sequences = gold.matrix(a.doc_ids, a.codes), gold.sequences(a.doc_ids)
    counts = pl.read_parquet(data / "synth-tiny" / "codes.parquet")["train_count"].to_list()
    results = compare_runs(a, b, targets, sequences, counts)
    report = evaluate(b.scores, targets, codes=b.codes, threshold=0.5, gold_sequences=sequences, train_counts=counts)
    for key, _ in HEADLINE:
        assert results[key]["b"] == pytest.approx(report[key], nan_ok=True), key
    slow = evaluate(b.scores[::2], targets[::2], codes=b.codes, threshold=0.5, gold_sequences=sequences[::2],
                    train_counts=counts)  # fmt: skip
    pieces = ExtraPieces.of(b.scores, targets, b.codes, 0.5, sequences, counts)
    weights = torch.zeros(1, len(b.doc_ids), dtype=torch.float64)
    weights[0, ::2] = 1  # a resample holding every other document once equals evaluating those documents
    for key, value in pieces.replicate(weights).items():
        assert float(value[0]) == pytest.approx(slow[key], nan_ok=True), key
    same = compare_runs(a, a, targets, sequences, counts)
    assert all(same[k]["delta"] == 0 and same[k]["p_value"] == 1.0 for k in ("micro_f1", "jaccard_3char"))


def test_compare_refuses_different_documents_corrupt_scores_and_other_versions(run_env, capsys, tmp_path):
    data, runs = run_env
    a = _run(runs, data, "lr", 0.3)
    fewer = _run(runs, data, "caml", 0.5, seed=1, doc_slice=slice(0, 10))
    cases = {"different test documents": (a, fewer)}
    corrupt = _run(runs, data, "cnn", 0.5, seed=2)
    (corrupt / "scores.npz").write_bytes(b"PK\x03\x04 truncated")
    cases["not a readable .npz scores file"] = (a, corrupt)
    old = _run(runs, data, "laat", 0.5, seed=3)
    record = json.loads((old / "record.json").read_text())
    (old / "record.json").write_text(json.dumps({**record, "schema": 0}))
    cases["incompatible icdbench version"] = (a, old)
    other = _run(runs, data, "rac", 0.5, seed=4)
    (other / "record.json").write_text(json.dumps({**record, "split": "synth-icd10", "schema": 1}))
    cases["different splits"] = (a, other)
    cases["does not exist"] = (a, tmp_path / "nowhere")
    for needle, (x, y) in cases.items():
        assert main(["compare", str(x), str(y)]) == 2, needle
        err = capsys.readouterr().err
        assert err.startswith("icdbench: error: ") and err.count("\n") == 1 and needle in err, err
    with pytest.raises(Exception, match="incompatible"):
        main(["--debug", "compare", str(a), str(old)])  # --debug shows the traceback instead
