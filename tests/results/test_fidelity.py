"""The fidelity table: every registered model declares one, and the CLI and the leaderboards print it."""

from __future__ import annotations

import pytest

from icdbench.cli import main
from icdbench.models.registry import DEPARTURE_KINDS, Departure, all_models
from icdbench.results.fidelity import TITLE, fidelity_markdown


@pytest.mark.parametrize("name", sorted(all_models()))
def test_every_registered_model_declares_its_fidelity(name):
    fidelity = all_models()[name].fidelity
    assert fidelity is not None, f"{name}: register it with fidelity=Fidelity(reference=..., departures=(...))"
    assert fidelity.reference.strip()
    for departure in fidelity.departures:
        assert departure.kind in DEPARTURE_KINDS and departure.what.strip() and "\n" not in departure.what


def test_a_departure_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="departure kind must be one of"):
        Departure("cosmetic", "x")


def test_the_table_has_a_row_per_model_and_is_the_same_every_time():
    text = fidelity_markdown()
    assert text == fidelity_markdown() and text.startswith(TITLE)
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| model ")]
    assert [row.split(" | ")[0][2:] for row in rows] == sorted(all_models())
    for row in rows:
        assert row.count(" | ") == 3  # a "|" inside a cell is escaped


def test_list_models_fidelity_prints_every_model_and_its_departures(capsys):
    assert main(["list", "models", "--fidelity"]) == 0
    out = capsys.readouterr().out
    for name, spec in all_models().items():
        assert f"{name}: {spec.paper}" in out
        for departure in spec.fidelity.departures:
            assert f"[{departure.kind}] {departure.what}" in out


def test_the_leaderboard_readme_carries_the_table():
    from icdbench.results.render import Leaderboard, markdown

    board = Leaderboard("t", "i", [])
    assert fidelity_markdown() in markdown(board, {})
