"""Bad MIMIC inputs give one line naming the file, column or value, and leave nothing half-written."""

from __future__ import annotations

import gzip
import shutil

import pytest
from fixtures_mimic import Admission, write_csv_gz, write_mimic3, write_mimic4

from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.errors import UserError

ADMISSIONS = [Admission(1 + i // 2, 100 + i, [f"Note {i}: CHF."], dx=["I10", "E785"], proc=["0DTJ4ZZ"])
              for i in range(24)]


@pytest.fixture
def mimic4(tmp_path):
    return write_mimic4(tmp_path / "mimic4", ADMISSIONS)


def _prepare(name, out, **options):
    return get_split(name).prepare(out, PrepareOptions(**options))


def _assert_nothing_written(out):
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no temporary folder


def test_missing_source(tmp_path, monkeypatch):
    monkeypatch.delenv("MIMIC_DIR", raising=False)
    with pytest.raises(UserError, match="--source DIR or set MIMIC_DIR"):
        _prepare("mimic4-icd10", tmp_path / "out")
    with pytest.raises(UserError, match="does not exist"):
        _prepare("mimic4-icd10", tmp_path / "out", source=tmp_path / "nowhere")
    _assert_nothing_written(tmp_path / "out")


def test_mimic_dir_environment_variable_is_used(mimic4, tmp_path, monkeypatch):
    monkeypatch.setenv("MIMIC_DIR", str(mimic4))
    assert (_prepare("mimic4-icd10", tmp_path / "out") / "manifest.json").is_file()


@pytest.mark.parametrize(("path", "project"), [("hosp/diagnoses_icd.csv.gz", "physionet.org/content/mimiciv"),
                                               ("note/discharge.csv.gz", "physionet.org/content/mimic-iv-note")])
def test_missing_file_names_file_layout_and_project(mimic4, tmp_path, path, project):
    (mimic4 / path).unlink()
    with pytest.raises(UserError) as error:
        _prepare("mimic4-icd10", tmp_path / "out", source=mimic4)
    message = str(error.value)
    assert path in message and "DIR/hosp" in message and project in message and "\n" not in message
    _assert_nothing_written(tmp_path / "out")


def test_unpacked_csv_is_accepted(mimic4, tmp_path):
    gz = mimic4 / "hosp/patients.csv.gz"
    (mimic4 / "hosp/patients.csv").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    assert (_prepare("mimic4-icd10", tmp_path / "out", source=mimic4) / "manifest.json").is_file()


def test_missing_column_names_column_and_file(mimic4, tmp_path):
    write_csv_gz(mimic4 / "hosp/patients.csv.gz", ["subject_id", "gender", "anchor_year", "anchor_year_group"],
                 [[1, "F", 2150, "2011 - 2013"]])
    with pytest.raises(UserError, match=r"patients.csv.gz lacks column 'anchor_age'"):
        _prepare("mimic4-icd10", tmp_path / "out", source=mimic4)
    _assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("path", ["hosp/diagnoses_icd.csv.gz", "note/discharge.csv.gz"])
def test_wrong_dtype_names_file_column_and_value(mimic4, tmp_path, path):
    """A value that is not an integer in an id column; for the streamed note file as for the small tables."""
    with gzip.open(mimic4 / path, "rt") as handle:
        lines = handle.read().splitlines(keepends=True)
    lines[3] = lines[3].replace(",10", ",abc", 1)  # the hadm_id of the third row
    with gzip.open(mimic4 / path, "wt") as handle:
        handle.write("".join(lines))
    with pytest.raises(UserError, match=rf"{path}: column 'hadm_id' should hold integers but has 'abc"):
        _prepare("mimic4-icd10", tmp_path / "out", source=mimic4)
    _assert_nothing_written(tmp_path / "out")


def test_corrupt_download(mimic4, tmp_path):
    (mimic4 / "hosp/diagnoses_icd.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(UserError, match="diagnoses_icd.csv.gz cannot be read"):
        _prepare("mimic4-icd10", tmp_path / "out", source=mimic4)
    _assert_nothing_written(tmp_path / "out")


def test_unsupported_mimic_version(mimic4, tmp_path):
    old = tmp_path / "physionet.org/files/mimiciv/2.0"
    shutil.copytree(mimic4, old)
    with pytest.raises(UserError, match="MIMIC-IV v2.0; icdbench supports MIMIC-IV v2.2 and later"):
        _prepare("mimic4-icd10", tmp_path / "out", source=old)
    _assert_nothing_written(tmp_path / "out")


def test_mimic3_missing_noteevents_names_the_project(tmp_path):
    root = write_mimic3(tmp_path / "mimic3", [Admission(1, 100, ["x"], dx=["4019"])])
    (root / "NOTEEVENTS.csv.gz").unlink()
    with pytest.raises(UserError, match=r"NOTEEVENTS.csv.gz not found.*physionet.org/content/mimiciii/1.4"):
        _prepare("mimic3-full", tmp_path / "out", source=root)


def test_existing_split_of_another_version_is_kept_without_force(mimic4, tmp_path):
    out = _prepare("mimic4-icd10", tmp_path / "out", source=mimic4)
    manifest = (out / "manifest.json").read_text()
    (out / "manifest.json").write_text(manifest.replace('"split_version": "1.0.0"', '"split_version": "0.9"'))
    with pytest.raises(UserError, match="--force"):
        _prepare("mimic4-icd10", out, source=mimic4)
    assert '"0.9"' in (out / "manifest.json").read_text()
