"""``codiesp-*``: CodiEsp v4 folders, published parts, codes as given, X-file evidence on the Spanish text."""

from __future__ import annotations

import shutil

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


@pytest.mark.parametrize(("split", "path", "content", "message"), [
    ("codiesp-d", "dev/devD.tsv", "S0000-dev000\n",
     r"devD.tsv line 1: expected 2 tab-separated fields \(articleID<TAB>code\), found 1$"),
    ("codiesp-d", "dev/devD.tsv", "S0000-dev000\tr69\tdolor\n",
     r"devD.tsv line 1: expected 2 tab-separated fields \(articleID<TAB>code\), found 3$"),
    ("codiesp-d", "dev/devD.tsv", "S0000-dev000\tr69\t\n", r"devD.tsv line 1: .*found 3; remove the trailing tab$"),
    ("codiesp-d", "dev/devD.tsv", "S0000-dev000\ti10\nS0000-dev000\t\n",
     r"devD.tsv line 2: the code field is empty; expected an ICD-10-CM code \(letter, digit"),
    ("codiesp-d", "dev/devD.tsv", "S0000-dev000\tnot-a-code!!\n",
     r"devD.tsv line 1: 'not-a-code!!' is not an ICD-10-CM code"),
    ("codiesp-d", "dev/devD.tsv", "S0000-dev000\tr69.12345\n", r"'r69.12345' is not an ICD-10-CM code"),
    ("codiesp-p", "dev/devP.tsv", "S0000-dev000\tbw03zz\n", r"devP.tsv line 1: 'bw03zz' is not an ICD-10-PCS code"),
    ("codiesp-p", "dev/devP.tsv", "S0000-dev000\t0dti4zz\n", r"'0dti4zz' is not an ICD-10-PCS code \(7 characters"),
    ("codiesp-d", "dev/devX.tsv", "S0000-dev000\tDIAGNOSTICO\tr69\tdolor\t12-20\n",
     r"devX.tsv line 1: offsets '12-20'"),
    ("codiesp-d", "dev/devX.tsv", "S0000-dev000\tDIAGNOSTICO\tr69\tdolor\t12 20\t\n",
     r"devX.tsv line 1: expected 5 tab-separated fields \(articleID<TAB>label<TAB>code<TAB>reference<TAB>offsets\), "
     r"found 6; remove the trailing tab$"),
    ("codiesp-d", "dev/devX.tsv", "S0000-dev000\tDIAGNOSTICO\tnot-a-code!!\tdolor\t12 20\n",
     r"devX.tsv line 1: 'not-a-code!!' is not an ICD-10-CM code"),
    ("codiesp-d", "dev/devX.tsv", "S0000-dev000\tDIAGNOSIS\tr69\tdolor\t12 20\n",
     r"devX.tsv line 1: label 'DIAGNOSIS' is not DIAGNOSTICO or PROCEDIMIENTO$"),
    ("codiesp-d", "dev/devD.tsv", "S9999-nowhere\tr69\n", r"devD.tsv line 1: no text file for article 'S9999-nowhere'"),
])
def test_malformed_tsv_names_file_and_line(corpus, tmp_path, capsys, split, path, content, message):
    from icdbench.cli import main

    target = corpus / path
    original = target.read_text()
    try:
        target.write_text(content)
        with pytest.raises(UserError, match=message):
            get_split(split).prepare(tmp_path / "out", PrepareOptions(source=corpus))
        assert not (tmp_path / "out").exists()
        # the command line: exit status 2 and one line, no traceback
        assert main(["prepare", split, "--source", str(corpus), "--out", str(tmp_path / "cli")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("icdbench: error: ")
        assert not (tmp_path / "cli").exists()
    finally:
        target.write_text(original)


def test_well_formed_codes_missing_from_the_tables_are_kept_and_reported(corpus, tmp_path):
    """CodiEsp-D has placeholder forms without a 7th character (s02.0xx, w19.xxx): the official scorer scores them,
    so they stay labels and the manifest lists them."""
    target = corpus / "dev" / "devD.tsv"
    original = target.read_text()
    try:
        target.write_text(original + "S0000-dev000\ts02.0xx\n")
        split = _prepare("codiesp-d", corpus, tmp_path / "d")
        assert "S02.0XX" in split.code_list and split.manifest["unknown_codes"]["examples"] == ["S02.0XX"]
        assert "S02.0XX" in split.val.filter(pl.col("doc_id") == "S0000-dev000")["codes"][0]
    finally:
        target.write_text(original)


def test_source_that_is_a_file_asks_for_the_folder(corpus, tmp_path):
    archive = tmp_path / "codiesp.zip"
    archive.write_bytes(b"PK")
    with pytest.raises(UserError, match=r"--source .*codiesp.zip is a file \(unpack it first\); codiesp-d needs the "
                                        r"CodiEsp v4 folder holding train/, dev/ and test/ \(DIR/\{train,dev,test\}"):
        get_split("codiesp-d").prepare(tmp_path / "out", PrepareOptions(source=archive))
    with pytest.raises(UserError, match=r"trainD.tsv is a file; codiesp-d needs the CodiEsp v4 folder"):
        get_split("codiesp-d").prepare(tmp_path / "out", PrepareOptions(source=corpus / "train" / "trainD.tsv"))
    assert not (tmp_path / "out").exists()


def test_another_source_is_refused_not_silently_reused(corpus, tmp_path, capsys, monkeypatch):
    from icdbench.cli import main
    from icdbench.datasets.prepared import ensure_split

    other = shutil.copytree(corpus, tmp_path / "other")
    (other / "dev" / "devD.tsv").write_text("S0000-dev000\ti10\n")
    data = tmp_path / "data"
    out = data / "codiesp-d-en"
    assert main(["prepare", "codiesp-d-en", "--source", str(corpus), "--out", str(out)]) == 0
    before = (out / "manifest.json").read_text()
    assert load_split(out).manifest["source"]["path"] == str(corpus.resolve())
    capsys.readouterr()
    # the same folder spelled another way is the same source: reused
    monkeypatch.chdir(corpus.parent)
    assert main(["prepare", "codiesp-d-en", "--source", f"./{corpus.name}/", "--out", str(out)]) == 0
    assert "reusing it" in capsys.readouterr().out
    # another folder: one line, exit 2, the old split untouched
    assert main(["prepare", "codiesp-d-en", "--source", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"icdbench: error: {out} was prepared from {corpus.resolve()}, not from --source {other.resolve()}; "
                   "rerun with --force to re-prepare it from the new folder\n")
    assert (out / "manifest.json").read_text() == before
    # bench/train go through ensure_split
    monkeypatch.setenv("DATA_DIR", str(data))
    with pytest.raises(UserError, match=rf"was prepared from .*; run `icdbench prepare codiesp-d-en --source {other} "
                                        r"--force` to re-prepare it$"):
        ensure_split("codiesp-d-en", other)
    assert ensure_split("codiesp-d-en", corpus) == out and ensure_split("codiesp-d-en") == out
    # --force re-prepares from the new folder
    assert main(["prepare", "codiesp-d-en", "--source", str(other), "--out", str(out), "--force"]) == 0
    split = load_split(out)
    assert split.manifest["source"]["path"] == str(other.resolve())
    assert split.val.filter(pl.col("doc_id") == "S0000-dev000")["codes"][0].to_list() == ["I10"]


def test_missing_folder(tmp_path):
    (tmp_path / "codiesp" / "train").mkdir(parents=True)
    with pytest.raises(UserError, match=r"train/text_files not found; expected layout: DIR/\{train,dev,test\}"):
        get_split("codiesp-p").prepare(tmp_path / "out", PrepareOptions(source=tmp_path / "codiesp"))
