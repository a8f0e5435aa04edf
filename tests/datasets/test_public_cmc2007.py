"""``cmc2007``: CMC 2007 XML, 10-fold cross-validation stored fold by fold, the coders' labels kept."""

from __future__ import annotations

import polars as pl
import pytest
from fixtures_public import write_cmc

from icdbench.datasets.public.cmc2007 import load_coders
from icdbench.datasets.public.folds import fold_dirs, is_cross_validated
from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.storage import load_split, read_manifest
from icdbench.errors import UserError


def _prepare(out, **options):
    return get_split("cmc2007").prepare(out, PrepareOptions(**options))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    xml = write_cmc(tmp_path_factory.mktemp("cmc") / "2007ChallengeTrainData.xml")
    out = _prepare(tmp_path_factory.mktemp("out") / "cmc2007", source=xml.parent, seed=4)
    return out, xml


def test_ten_folds_test_every_report_once(prepared):
    out, _ = prepared
    assert get_split("cmc2007").folds == 10 and is_cross_validated(out)
    folds = [load_split(d) for d in fold_dirs(out)]
    assert len(folds) == 10
    tests = [set(f.test["doc_id"].to_list()) for f in folds]
    assert sum(len(t) for t in tests) == 120 and len(set().union(*tests)) == 120
    for i, fold in enumerate(folds):
        parts = [set(fold.part(p)["doc_id"].to_list()) for p in ("train", "val", "test")]
        assert parts[1] == tests[(i + 1) % 10]  # validation = the next fold
        assert not (parts[0] & parts[1] or parts[0] & parts[2]) and len(parts[0] | parts[1] | parts[2]) == 120
        assert fold.manifest["fold"] == i and fold.manifest["split_version"] == "1.0.0"
    assert max(len(t) for t in tests) - min(len(t) for t in tests) <= 4


def test_gold_is_the_majority_and_text_history_plus_impression(prepared):
    out, _ = prepared
    fold = load_split(fold_dirs(out)[0])
    docs = pl.concat([fold.train, fold.val, fold.test])
    doc = docs.filter(pl.col("doc_id") == "97630003").to_dicts()[0]
    assert doc["text"] == "Cough and fever 3 days.\nFindings consistent with pneumonia & effusion < 3."
    coders = load_coders(out)
    majority = coders.filter((pl.col("doc_id") == "97630003") & (pl.col("coder") == "CMC_MAJORITY"))["codes"][0]
    assert doc["codes"] == majority.to_list() and set(doc["code_kinds"]) == {"dx"}
    assert sorted(coders["coder"].unique().to_list()) == ["CMC_MAJORITY", "COMPANY1", "COMPANY2", "COMPANY3"]
    assert coders.height == 4 * 120
    assert set(fold.code_list) <= {"786.2", "780.6", "599.0", "593.70", "V13.09", "486", "518.0", "786.07",
                                   "493.90", "791.0", "788.30", "753.0", "786.05", "277.00", "591"}


def test_folds_are_seeded(prepared, tmp_path):
    out, xml = prepared
    again = _prepare(tmp_path / "a", source=xml, seed=4)
    other = _prepare(tmp_path / "b", source=xml, seed=5)
    first = [load_split(d).test["doc_id"].to_list() for d in fold_dirs(out)]
    assert [load_split(d).test["doc_id"].to_list() for d in fold_dirs(again)] == first
    assert [load_split(d).test["doc_id"].to_list() for d in fold_dirs(other)] != first
    assert read_manifest(again)["files"] == read_manifest(out)["files"]


def test_bad_inputs(tmp_path):
    unlabelled = write_cmc(tmp_path / "test.xml", n_docs=5, labelled=False)
    with pytest.raises(UserError, match="unlabelled test file"):
        _prepare(tmp_path / "out", source=unlabelled)
    broken = tmp_path / "broken.xml"
    broken.write_text('<docs>\n<doc id="1" type="RADIOLOGY_REPORT">\n<codes></doc>\n</docs>\n')
    with pytest.raises(UserError, match=r"broken.xml line 3, column \d+: not well-formed XML"):
        _prepare(tmp_path / "out", source=broken)
    other = tmp_path / "other.xml"
    other.write_text("<reports/>")
    with pytest.raises(UserError, match="expected <docs>"):
        _prepare(tmp_path / "out", source=other)
    with pytest.raises(UserError, match="needs --source"):
        _prepare(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "manifest.json").write_text('{"split": "synth-tiny", "split_version": "1.0.0"}')
    assert not is_cross_validated(plain)
    with pytest.raises(UserError, match="not a cross-validated split"):
        fold_dirs(plain)


def test_existing_folds_of_another_version_need_force(tmp_path):
    xml = write_cmc(tmp_path / "x" / "train.xml", n_docs=40)
    out = _prepare(tmp_path / "cv", source=xml)
    manifest = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(manifest.replace('"split_version": "1.0.0"', '"split_version": "0.1"'))
    with pytest.raises(UserError, match="--force"):
        _prepare(out, source=xml)
    assert read_manifest(_prepare(out, source=xml, force=True))["split_version"] == "1.0.0"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cv.")]  # no temporary folder left


def test_the_synthetic_cmc_file_prepares_with_real_titles_and_all_coders(tmp_path):
    """The CMC-format stand-in that ``regress`` cross-validates on: every code is a real ICD-9-CM code with a
    title, every report has gold codes, and the three companies' labels are kept."""
    from icdbench.datasets.synthetic.cmc_shaped import CMC_CODES, write_cmc_file

    xml = write_cmc_file(tmp_path / "cmc.xml", n_docs=90, seed=2)
    assert xml.read_bytes() == write_cmc_file(tmp_path / "again.xml", n_docs=90, seed=2).read_bytes()  # seeded
    out = _prepare(tmp_path / "cmc2007", source=xml, folds=3)
    assert len(fold_dirs(out)) == 3 and read_manifest(fold_dirs(out)[0])["folds"] == 3
    codes = pl.read_parquet(fold_dirs(out)[0] / "codes.parquet")
    assert set(codes["code"]) <= set(CMC_CODES) and codes["title"].str.len_chars().min() > 0
    docs = pl.concat(load_split(d).test for d in fold_dirs(out))
    assert docs.height == 90 and docs["codes"].list.len().min() >= 1
    assert sorted(load_coders(out)["coder"].unique()) == ["CMC_MAJORITY", "COMPANY1", "COMPANY2", "COMPANY3"]


@pytest.mark.parametrize(("argv", "needle"), [
    (["--folds", "1"], "--folds 1: cross-validation needs 2 to 40 folds"),
    (["--folds", "41"], "--folds 41: cross-validation needs 2 to 40 folds"),
])
def test_prepare_folds_option_and_its_bad_values(tmp_path, capsys, argv, needle):
    from icdbench.cli import main

    xml = write_cmc(tmp_path / "cmc.xml", n_docs=40)
    assert main(["prepare", "cmc2007", "--source", str(xml), "--out", str(tmp_path / "ok"), "--folds", "4"]) == 0
    assert len(fold_dirs(tmp_path / "ok")) == 4
    capsys.readouterr()
    assert main(["prepare", "cmc2007", "--source", str(xml), "--out", str(tmp_path / "ok"), "--folds", "5"]) == 2
    assert "holds 4 folds, not 5; rerun with --force" in capsys.readouterr().err
    assert main(["prepare", "cmc2007", "--source", str(xml), "--out", str(tmp_path / "ok"), "--folds", "4"]) == 0
    capsys.readouterr()
    assert main(["prepare", "cmc2007", "--source", str(xml), "--out", str(tmp_path / "bad"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    assert main(["prepare", "synth-tiny", "--out", str(tmp_path / "tiny"), "--folds", "3"]) == 2
    assert "has fixed train/val/test parts, not folds" in capsys.readouterr().err
