"""``icdbench explain``: LIME and attention explanations of one test document of a tiny finished run."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch

from icdbench.app.requests import ExplainRequest
from icdbench.app.runs import explain
from icdbench.errors import UserError
from icdbench.models.base import ModelOutput
from icdbench.training import explain as explain_module
from icdbench.training.explain import _top_words


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A ``plm-icd`` run (tiny random encoder, ci profile) on synth-tiny; ``(run_dir, data_dir, doc)``."""
    from icdbench.training.run import RunRequest, train

    root = tmp_path_factory.mktemp("explain")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(root / "data"))
        patch.setenv("RUNS_DIR", str(root / "runs"))
        result = train(
            RunRequest(
                model="plm-icd",
                split="synth-tiny",
                profile="ci",
                overrides=["optim.epochs=1", "optim.accumulate=1", "train.logger=none", "data.max_train_docs=60"],
            )
        )
    test = pl.read_parquet(root / "data" / "synth-tiny" / "test.parquet", columns=["doc_id", "text"])
    return result.run_dir, root / "data", test.row(0, named=True)


def _explain(run_dir, data, doc_id, method, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(data))
    assert explain(ExplainRequest(run_dir, doc_id, method)) == 0
    return capsys.readouterr().out


def test_lime_explains_predicted_codes_with_words_of_the_note(tiny_run, monkeypatch, capsys):
    run_dir, data, doc = tiny_run
    out = _explain(run_dir, data, doc["doc_id"], "lime", monkeypatch, capsys)
    saved = run_dir / "explanations" / f"{doc['doc_id']}-lime.json"
    result = json.loads(saved.read_text())
    assert result["method"] == "lime" and result["lime_samples"] == explain_module.LIME_SAMPLES
    assert 1 <= len(result["codes"]) <= explain_module.MAX_CODES
    text = doc["text"].lower()
    for entry in result["codes"]:
        assert 0.0 <= entry["score"] <= 1.0 and entry["title"]
        assert 0 < len(entry["words"]) <= explain_module.TOP_WORDS
        assert all(w["word"].lower() in text for w in entry["words"])  # LIME's features are the note's words
    html = (run_dir / "explanations" / f"{doc['doc_id']}-lime.html").read_text()
    assert "<html>" in html and "lime" in html.lower()
    assert result["codes"][0]["code"] in out and "run folder: synthetic data" in out


def test_attention_sums_token_weights_per_word(tiny_run, monkeypatch, capsys):
    run_dir, data, doc = tiny_run
    _explain(run_dir, data, doc["doc_id"], "attention", monkeypatch, capsys)
    result = json.loads((run_dir / "explanations" / f"{doc['doc_id']}-attention.json").read_text())
    assert not (run_dir / "explanations" / f"{doc['doc_id']}-attention.html").exists()
    text = doc["text"].lower()
    for entry in result["codes"]:
        weights = [w["weight"] for w in entry["words"]]
        assert weights == sorted(weights, reverse=True) and all(0 < w <= 1 for w in weights)
        assert all(w["word"] in text for w in entry["words"])


def test_explanations_of_dua_data_stay_in_data_dir(tiny_run, monkeypatch, capsys, tmp_path):
    run_dir, data, doc = tiny_run
    monkeypatch.setattr(explain_module, "is_synthetic", lambda split: False)
    before = sorted(p.name for p in (run_dir / "explanations").glob("*"))
    out = _explain(run_dir, data, doc["doc_id"], "attention", monkeypatch, capsys)
    target = data / "synth-tiny" / "explanations" / run_dir.name / f"{doc['doc_id']}-attention.json"
    assert target.is_file() and "data-use agreement" in out
    assert sorted(p.name for p in (run_dir / "explanations").glob("*")) == before  # nothing new in the run


def test_unknown_document_and_missing_attention_are_user_errors(tiny_run, monkeypatch, capsys):
    run_dir, data, _ = tiny_run
    monkeypatch.setenv("DATA_DIR", str(data))
    with pytest.raises(UserError, match="not in the test part"):
        explain(ExplainRequest(run_dir, "no-such-doc", "lime"))

    class NoAttention(torch.nn.Module):
        want_attributions = False

        def forward(self, batch):
            return ModelOutput(logits=torch.zeros(1, 3))

    scorer = type("Scorer", (), {"batch": lambda self, texts: {}, "inputs": None})()
    with pytest.raises(UserError, match="use --method lime"):
        explain_module.explain_attention(NoAttention(), scorer, "text", [(0, True)], "bert-cls")


def test_subword_pieces_merge_into_words():
    wordpiece = ["pneum", "##onia", None, "right", "lobe", "pneum", "##onia", None]
    weights = np.array([0.1, 0.2, 0.0, 0.05, 0.15, 0.2, 0.1, 0.0])
    merged = dict(_top_words(wordpiece, weights))
    assert merged == pytest.approx({"pneumonia": 0.6, "right": 0.05, "lobe": 0.15})
    bpe = ["Ġpneum", "onia", "Ġlobe"]
    assert dict(_top_words(bpe, np.array([0.3, 0.3, 0.4]))) == pytest.approx({"pneumonia": 0.6, "lobe": 0.4})
