"""CodiEsp-X evidence as the Spanish splits' gold: what the card says, what the sentence tagger learns from, and
the real corpus in ``../shared/data/codiesp`` (skipped where it is absent)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fixtures_public import write_codiesp

from icdbench.app.prepare import card_text
from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.sentences import SentenceInputs
from icdbench.datasets.storage import load_split
from icdbench.datasets.text import tokenize
from icdbench.datasets.vocab import Vocab
from icdbench.training.evidence import has_gold_evidence

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "codiesp"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_codiesp(tmp_path_factory.mktemp("codiesp") / "v4")


def _prepare(name, source, out):
    return load_split(get_split(name).prepare(out, PrepareOptions(source=source)))


def _sentence_inputs(split) -> SentenceInputs:
    vocab = Vocab.build([tokenize(t) for t in split.train["text"].to_list()], min_count=1)
    return SentenceInputs(vocab, 64, 64, codes=split.codes)


def test_card_says_where_evidence_and_titles_come_from(corpus, tmp_path):
    spanish = _prepare("codiesp-d", corpus, tmp_path / "es")
    english = _prepare("codiesp-d-en", corpus, tmp_path / "en")
    es, en = card_text(spanish.path, spanish.manifest), card_text(english.path, english.manifest)
    assert "evidence          gold, from D rows of <part>X.tsv" in es and "test 12 spans" in es
    assert "evidence          none: the English machine translation has no offsets" in en
    assert "for Spanish text too: the corpus ships no Spanish descriptions" in es
    assert "official metric   MAP of CodiEsp-D" in en
    assert "ceiling recall    100.0% of test code occurrences are in the label set" in es
    assert has_gold_evidence(spanish.test) and not has_gold_evidence(english.test)


def test_sentence_tagger_focus_comes_from_the_x_spans(corpus, tmp_path):
    split = _prepare("codiesp-d", corpus, tmp_path / "d")
    encoding = _sentence_inputs(split)
    features = encoding.features(split.train, train=True)
    assert dict(encoding.supervision) == {"gold": split.train.height}  # no heuristic where gold exists
    index = {c: i for i, c in enumerate(split.code_list)}
    for feature, codes in zip(features, split.train["codes"].to_list()):
        # "Paciente de 70 años." is never focus; each "Presenta dolor<code> grave." is, with its own code; a
        # procedure sentence ("Se realiza biopsia ...") is not a diagnosis's evidence
        n = len(feature.focus)
        assert feature.focus.tolist() == [0, 1, 1] + [0] * (n - 3)
        assert feature.codes.tolist() == [-1, *(index[c] for c in codes)] + [-1] * (n - 3)
    english = _prepare("codiesp-d-en", corpus, tmp_path / "en")
    encoding = _sentence_inputs(english)
    encoding.features(english.train, train=True)
    assert "gold" not in encoding.supervision  # the translation has no spans: silver or none


@pytest.mark.skipif(not REAL.is_dir(), reason=f"the CodiEsp corpus is not at {REAL}")
def test_real_corpus_every_test_code_has_x_evidence(tmp_path):
    split = _prepare("codiesp-d", REAL, tmp_path / "d")
    assert split.manifest["rows"] == {"train": 500, "val": 250, "test": 250}
    without = {part: split.part(part).select(pl.col("codes").list.set_difference(
        pl.col("evidence").list.eval(pl.element().struct.field("code"))).list.len().sum()).item()
        for part in ("train", "val", "test")}
    # every gold code of every document has an X span, but one dev code whose only span lies outside its text
    assert without == {"train": 0, "val": 1, "test": 0}
    assert split.manifest["counts"]["evidence_offset_outside_text"] == 3
    x_rows = [line.split("\t") for line in (REAL / "test" / "testX.tsv").read_text().splitlines() if line]
    pieces = {(r[0], r[2].upper(), piece) for r in x_rows if r[1] == "DIAGNOSTICO" for piece in r[4].split(";")}
    assert len(pieces) == 4150  # distinct (document, code, piece) of the D rows; repeated mentions collapse
    assert split.test["evidence"].list.len().sum() == len(pieces)
    assert "test 4,150 spans" in split.manifest["card_notes"]["evidence"]
    # 2,842 distinct test (document, code) pairs; 403 of their codes are in neither train nor dev (about 14%)
    ceiling = split.manifest["ceiling_recall"]
    assert ceiling["label_set"] == 1.0 and ceiling["seen_in_train_val"] == pytest.approx(1 - 403 / 2842)
    assert ceiling["seen_in_train"] < ceiling["seen_in_train_val"]


def test_bench_summary_shows_the_official_metric_the_split_declares(corpus, tmp_path, monkeypatch):
    from icdbench.app.tables import official_metric, results_table
    from icdbench.results.record import Metrics, RunRecord, Timing

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    _prepare("codiesp-d", corpus, tmp_path / "codiesp-d")
    assert official_metric("codiesp-d") == ("map_codiesp", "MAP (official)")
    assert official_metric("codiesp-p") is None  # not prepared: nothing declared
    record = RunRecord(run_id="r", model="lr", split="codiesp-d", profile="ci", seed=0,
                       timing=Timing(wall_seconds=1.0), metrics=Metrics(full={"map_codiesp": 0.5432}))  # fmt: skip
    table = results_table([record], official=official_metric("codiesp-d")).splitlines()
    assert table[0].split()[2:4] == ["MAP", "(official)"] and table[2].split()[2] == "0.5432"
    assert "MAP" not in results_table([record]).splitlines()[0]  # splits without one keep the usual columns
