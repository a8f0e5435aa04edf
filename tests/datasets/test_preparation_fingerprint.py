"""A prepared split records the code that prepared it; a split of the same version prepared by other code is
stale: an embedded (synthetic) split is generated again, a split of raw files asks for one command."""

from __future__ import annotations

import json
import shutil

import pytest
from fixtures_mimic import Admission, write_mimic4

from icdbench.app.listing import _status
from icdbench.datasets.fingerprint import preparation_modules
from icdbench.datasets.prepared import ensure_split
from icdbench.datasets.registry import PrepareOptions, get_split, stale_reason
from icdbench.datasets.storage import MANIFEST, read_manifest
from icdbench.errors import UserError


def _modules(root: str) -> set[str]:
    return {name for name, _ in preparation_modules(root)}


def test_the_fingerprint_covers_the_code_a_split_is_prepared_by():
    mimic4 = _modules("icdbench.datasets.mimic.mimic4")
    assert {"icdbench.datasets.text", "icdbench.datasets.mimic.cleaning", "icdbench.datasets.storage",
            "icdbench.codes.normalize"} <= mimic4  # fmt: skip
    # the registry and the package that registers every split decide which splits exist, not what one holds;
    # MIMIC-III's module is imported by neither
    assert not mimic4 & {"icdbench.datasets", "icdbench.datasets.registry", "icdbench.datasets.mimic.mimic3",
                         "icdbench.datasets.inputs"}  # fmt: skip
    # imports inside functions count: the radiology renderer is imported where the synthetic splits use it
    assert "icdbench.datasets.synthetic.radiology" in _modules("icdbench.datasets.synthetic.splits")


def _rewrite(split_dir, **changes) -> None:
    manifest = read_manifest(split_dir)
    manifest.update(changes)
    (split_dir / MANIFEST).write_text(json.dumps(manifest))


@pytest.fixture
def own_data(synth_tiny_data, tmp_path, monkeypatch):
    """A DATA_DIR of this test's own holding a copy of the session's prepared synth-tiny."""
    data = tmp_path / "data"
    shutil.copytree(synth_tiny_data / "synth-tiny", data / "synth-tiny")
    monkeypatch.setenv("DATA_DIR", str(data))
    return data


def test_a_fresh_synthetic_split_is_reused(own_data, capsys):
    manifest = read_manifest(own_data / "synth-tiny")
    assert manifest["preparation"]["inputs"]["seed"] == 0 and stale_reason("synth-tiny", manifest) is None
    before = (own_data / "synth-tiny" / "train.parquet").stat().st_mtime_ns
    ensure_split("synth-tiny")
    assert (own_data / "synth-tiny" / "train.parquet").stat().st_mtime_ns == before
    assert "stale" not in capsys.readouterr().err


@pytest.mark.parametrize("preparation", [None, {"code_sha256": "0" * 64}], ids=["unrecorded", "other-code"])
def test_a_stale_synthetic_split_is_generated_again(own_data, capsys, preparation):
    old = read_manifest(own_data / "synth-tiny")
    _rewrite(own_data / "synth-tiny", preparation=preparation)
    assert stale_reason("synth-tiny", read_manifest(own_data / "synth-tiny")) is not None
    assert _status(own_data / "synth-tiny", get_split("synth-tiny").version) == "stale (code)"  # list splits
    ensure_split("synth-tiny")
    new = read_manifest(own_data / "synth-tiny")
    assert "synth-tiny is stale" in capsys.readouterr().err
    assert new["preparation"] == old["preparation"] and stale_reason("synth-tiny", new) is None
    assert new["content_sha256"] == old["content_sha256"]  # same code, same seed: the same files


def test_a_stale_split_of_raw_files_names_the_command_that_re_prepares_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    adms = [Admission(1 + i // 2, 100 + i, [f"Note {i}: CHF."], dx=["I10", "E785"]) for i in range(24)]
    root = write_mimic4(tmp_path / "raw", adms)
    out = get_split("mimic4-icd10").prepare(tmp_path / "data" / "mimic4-icd10", PrepareOptions(source=root, seed=2))
    recorded = read_manifest(out)["preparation"]
    assert recorded["inputs"] == {"source": str(root.resolve()), "split_ids": None, "evidence": None, "seed": 2,
                                  "folds": None}  # fmt: skip
    assert ensure_split("mimic4-icd10") == out
    _rewrite(out, preparation={**recorded, "code_sha256": "0" * 64})
    with pytest.raises(UserError, match=r"stale: the code that prepares it has changed.*"
                                        r"`icdbench prepare mimic4-icd10 --source DIR --force`") as error:
        ensure_split("mimic4-icd10")
    assert "\n" not in str(error.value)
