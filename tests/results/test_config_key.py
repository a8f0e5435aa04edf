"""Rows group runs by their config without the seed; keys added later do not split a row."""

from icdbench.results.record import Metrics, RunRecord
from icdbench.results.sources import config_key


def _record(seed: int, **train) -> RunRecord:
    config = {"model": {"embed_dim": 64}, "train": {"patience": 3, **train}, "seed": seed}
    return RunRecord(run_id="r", model="cnn", split="synth-tiny", profile="ci", seed=seed, config=config,
                     metrics=Metrics(full={}))  # fmt: skip


def test_seeds_share_a_row_and_a_changed_setting_does_not():
    assert config_key(_record(0)) == config_key(_record(1))
    assert config_key(_record(0)) != config_key(_record(0, patience=5))


def test_a_key_added_later_at_the_value_older_records_ran_with_keeps_them_in_one_row():
    old, new = _record(0), _record(1, num_nodes=1)
    assert config_key(old) == config_key(new)
    assert config_key(_record(1, num_nodes=2)) != config_key(old)
    assert old.config["train"] == {"patience": 3}  # the record itself is not changed


def test_a_step_budget_is_a_setting_of_its_own_but_its_absence_is_not():
    assert config_key(_record(1, max_steps=None)) == config_key(_record(0))
    assert config_key(_record(1, max_steps=450)) != config_key(_record(0))
