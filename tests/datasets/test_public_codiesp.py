"""``codiesp-*``: CodiEsp v4 folders, published parts, codes as given, X-file evidence on the Spanish text."""

from __future__ import annotations

import polars as pl
import pytest
from fixtures_public import write_codiesp

from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.storage import load_split
from icdbench.errors import UserError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_codiesp(tmp_path_factory.mktemp("codiesp") / "final_dataset_v4_to_publish")


def _prepare(name, source, out):
    return load_split(get_split(name).prepare(out, PrepareOptions(source=source)))


def _raw_codes(root, part: str, letter: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (root / part / f"{part}{letter}.tsv").read_text().splitlines():
        doc, code = line.split("\t")
        out.setdefault(doc, []).append(code)
    return out


def test_diagnoses_keep_published_parts_order_and_granularity(corpus, tmp_path):
    split = _prepare("codiesp-d", corpus, tmp_path / "d")
    assert split.manifest["rows"] == {"train": 12, "val": 6, "test": 6}
    raw = _raw_codes(corpus, "dev", "D")
    for doc in split.val.to_dicts():
        assert doc["codes"] == [c.upper() for c in raw[doc["doc_id"]]]  # file order, case normalised
        assert doc["subject_id"] == doc["doc_id"]
    assert "R69" in split.code_list and "K57.3" in split.code_list  # 3-character categories kept as given
    assert split.manifest["unknown_codes"]["count"] == 0 and split.manifest["comparable_to_published"]


def test_evidence_spans_point_into_the_spanish_text(corpus, tmp_path):
    for name in ("codiesp-d", "codiesp-p"):
        split = _prepare(name, corpus, tmp_path / name)
        docs = pl.concat([split.train, split.val, split.test]).to_dicts()
        pieces = 0
        for doc in docs:
            assert {e["code"] for e in doc["evidence"]} == set(doc["codes"])
            for span in doc["evidence"]:
                covered = doc["text"][span["start"]:span["end"]]
                pieces += 1
                assert covered.lower().endswith(span["code"].lower()) or covered == "biopsia"
        assert pieces > 0
    # a discontinuous reference ("biopsia ... <code>") gives one span per piece
    assert any(doc["text"][e["start"]:e["end"]] == "biopsia" for doc in docs for e in doc["evidence"])


def test_procedures_keep_truncated_codes_and_report_them(corpus, tmp_path):
    split = _prepare("codiesp-p", corpus, tmp_path / "p")
    assert "BW24" in split.code_list and split.manifest["unknown_codes"]["examples"] == ["BW24"]
    assert split.codes.filter(pl.col("code") == "BW24")["kind"][0] == "proc"
    assert split.manifest["counts"]["train_documents_without_codes"] == 4  # kept, as in the official evaluation


def test_english_variant_uses_translation_lines_without_evidence(corpus, tmp_path):
    split = _prepare("codiesp-d-en", corpus, tmp_path / "en")
    doc = split.train.to_dicts()[0]
    assert "evidence" not in split.train.columns and doc["text"].startswith("Patient aged 70.")
    assert [doc["text"][s["start"]:s["end"]] for s in doc["sentences"]] == ["Patient aged 70.", "She has pain."]


def test_bad_evidence_offsets_are_counted_not_fatal(corpus, tmp_path):
    x = corpus / "train" / "trainX.tsv"
    original = x.read_text()
    doc = original.splitlines()[0].split("\t")[0]
    try:
        x.write_text(original + f"{doc}\tDIAGNOSTICO\tr69\tdolor\t5000 5010\n{doc}\tDIAGNOSTICO\tr69\tnot it\t0 8\n")
        split = _prepare("codiesp-d", corpus, tmp_path / "bad")
        assert split.manifest["counts"]["evidence_offset_outside_text"] == 1
        assert split.manifest["counts"]["evidence_reference_mismatch"] == 1
    finally:
        x.write_text(original)


@pytest.mark.parametrize(("path", "content", "message"), [
    ("dev/devD.tsv", "S0000-dev000\n", r"devD.tsv line 1: expected 2 tab-separated fields, found 1"),
    ("dev/devX.tsv", "S0000-dev000\tDIAGNOSTICO\tr69\tdolor\t12-20\n", r"devX.tsv line 1: offsets '12-20'"),
    ("dev/devD.tsv", "S9999-nowhere\tr69\n", r"devD.tsv line 1: no text file for article 'S9999-nowhere'"),
])
def test_malformed_tsv_names_file_and_line(corpus, tmp_path, path, content, message):
    target = corpus / path
    original = target.read_text()
    try:
        target.write_text(content)
        with pytest.raises(UserError, match=message):
            get_split("codiesp-d").prepare(tmp_path / "out", PrepareOptions(source=corpus))
        assert not (tmp_path / "out").exists()
    finally:
        target.write_text(original)


def test_missing_folder(tmp_path):
    (tmp_path / "codiesp" / "train").mkdir(parents=True)
    with pytest.raises(UserError, match=r"train/text_files not found; expected layout: DIR/\{train,dev,test\}"):
        get_split("codiesp-p").prepare(tmp_path / "out", PrepareOptions(source=tmp_path / "codiesp"))
