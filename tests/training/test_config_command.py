"""``icdbench config``: every resolved value with the layer that set it, without a prepared split."""

from __future__ import annotations

import pytest

from icdbench.cli import main
from icdbench.config import resolve_config, value_sources
from icdbench.models.registry import get_model


def _rows(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.splitlines()[2:]:
        if not line.strip():
            break
        key, value, source = line.split(maxsplit=2)
        rows[key] = (value, source)
    return rows


def test_each_value_names_the_last_layer_that_set_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "no-data"))  # nothing prepared: not needed
    assert main(["config", "caml", "synth-icd10", "--profile", "ci", "optim.epochs=5", "data.max_tokens=9"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["optim.epochs"] == ("5", "command line")  # the ci profile's 2 is overridden
    assert rows["data.max_tokens"] == ("9", "command line")
    assert rows["optim.lr"] == ("0.0001", "caml train_defaults")
    assert rows["optim.batch_size"] == ("16", "profile ci (default)")
    assert rows["model.embed_dim"] == ("32", "profile ci (inputs.words)")
    assert rows["model.kernel_size"] == ("10", "caml defaults")
    resolved = resolve_config(get_model("caml"), split="synth-icd10", profile="ci", overrides=["optim.epochs=5"])
    assert len(rows) == len(value_sources(resolved))  # every leaf of the config, once


def test_an_unknown_split_or_bad_override_is_one_line(capsys):
    assert main(["config", "caml", "mimic3-fulll", "--profile", "paper"]) != 0
    err = capsys.readouterr().err.strip()
    assert "unknown split 'mimic3-fulll'" in err and "mimic3-full" in err and "\n" not in err
    assert main(["config", "caml", "synth-tiny", "optim.lrr=1"]) != 0
    assert "did you mean optim.lr?" in capsys.readouterr().err


@pytest.mark.parametrize("profile", ["paper", "ci"])
def test_the_experiments_layer_shows_under_paper_only(capsys, profile):
    assert main(["config", "laat", "mimic4-icd10", "--profile", profile]) == 0
    rows = _rows(capsys.readouterr().out)
    from_experiment = rows["optim.weight_decay"][1] == "experiment mimic4-icd10/laat"
    assert from_experiment == (profile == "paper")
