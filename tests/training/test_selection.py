"""Model selection on a metric that moves: a flat monitor never keeps epoch 0 over a later epoch with a lower
validation loss; a monitor that cannot move on the split is warned about; every record says why it stopped."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pytorch_lightning.trainer.states import TrainerFn

from icdbench.datasets.registry import PrepareOptions, get_split
from icdbench.datasets.synthetic.cmc_shaped import write_cmc_file
from icdbench.metrics.stats import paired_test
from icdbench.training.monitor import monitor_metrics
from icdbench.training.run import RunRequest, train
from icdbench.training.selection import PRIOR_MARGIN, TIE, LabelPrior, SelectionCallback, better, resolve_monitor


class _Trainer(SimpleNamespace):
    """What SelectionCallback reads from a Lightning Trainer."""

    def save_checkpoint(self, path, weights_only=False):
        self.saved.append((self.current_epoch, Path(path).name))


def _epochs(
    callback: SelectionCallback, points: list[tuple[float, float]], monitor_key: str = "val/p@8", scores=None,
    logged: dict | None = None,
) -> _Trainer:
    """Validates one epoch per point; ``scores`` (one ``(scores, targets)`` per point) is what the module
    collected on the validation documents, which the prior's test reads; ``logged``: more metrics every epoch."""
    trainer = _Trainer(state=SimpleNamespace(fn=TrainerFn.FITTING), sanity_checking=False, should_stop=False,
                       saved=[], current_epoch=0, callback_metrics={})
    for epoch, (monitor, loss) in enumerate(points):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {monitor_key: monitor, "val/loss": loss, **(logged or {})}
        module = SimpleNamespace(collected={"val": (None, *scores[epoch])}) if scores else None
        callback.on_validation_end(trainer, module)
        if trainer.should_stop:
            break
    return trainer


def _validation(n_docs: int = 120, n_codes: int = 30, seed: int = 0):
    """Validation targets, the label prior on them, and scores that rank them better by chance (0.0007 of mAP),
    slightly but beyond chance (0.0054, interval 0.0022-0.0088) and clearly."""
    rng = np.random.default_rng(seed)
    targets = rng.random((n_docs, n_codes)) < np.linspace(0.02, 0.4, n_codes)
    prior = LabelPrior.of(targets.sum(axis=0), n_docs, targets)
    noise = rng.normal(0, 0.01, (n_docs, n_codes))
    noisy, slight, clear = (np.clip(prior.scores(n_docs) + gain * targets + noise, 0, 1).astype(np.float32)
                            for gain in (0.001, 0.004, 0.3))  # fmt: skip
    return targets, prior, noisy, slight, clear


def test_a_flat_monitor_selects_the_epoch_with_the_lowest_validation_loss(tmp_path):
    callback = SelectionCallback("val/p@8", "max", patience=3, best_path=tmp_path / "best.ckpt")
    trainer = _epochs(callback, [(0.1084, 0.40), (0.1084, 0.31), (0.1084, 0.25), (0.1084, 0.26)])
    assert callback.best == 2 and trainer.saved == [(0, "best.ckpt"), (1, "best.ckpt"), (2, "best.ckpt")]
    assert not trainer.should_stop and callback.stop_reason() == "budget"  # still improving when epochs ran out


def test_patience_counts_epochs_without_a_better_one_and_the_run_converges(tmp_path):
    callback = SelectionCallback("val/p@8", "max", patience=2, best_path=tmp_path / "best.ckpt")
    trainer = _epochs(callback, [(0.2, 0.5), (0.3, 0.6), (0.3, 0.7), (0.29, 0.4), (0.5, 0.1)])
    assert trainer.should_stop and callback.stop_reason() == "converged"
    assert callback.best == 1 and len(callback.curve) == 4  # the fifth epoch never ran
    assert callback.state_dict()["curve"][1] == {"epoch": 1, "monitor": 0.3, "val_loss": 0.6}


# synth-icd10 BERT-CLS, seed 0 (HMHAN's class-weighted loss): validation mAP by epoch and validation loss, and
# the prior's validation mAP; the committed record kept epoch 0
BERT_CLS = [(0.0198, 0.9409), (0.0192, 0.8492), (0.0192, 0.8106), (0.0196, 0.7960)]
BERT_CLS_PRIOR = 0.1451


def test_a_run_that_never_left_the_prior_is_evaluated_at_its_lowest_validation_loss(tmp_path):
    callback = SelectionCallback("val/map_doc", "max", patience=2, best_path=tmp_path / "best.ckpt")
    callback.prior = LabelPrior(np.zeros(1, dtype=np.float32), 1, BERT_CLS_PRIOR)
    trainer = _epochs(callback, BERT_CLS, monitor_key="val/map_doc")
    assert callback.best == 0  # the monitor alone keeps epoch 0, as before
    assert callback.below_prior and callback.evaluated() == (3, tmp_path / "lowest-loss.ckpt")
    assert [name for _, name in trainer.saved].count("lowest-loss.ckpt") == 4  # the loss fell every epoch
    # 3 epochs since the best with a patience of 2, but at the prior patience does not count: a budget ends it
    assert not trainer.should_stop and callback.stop_reason() == "budget"


def test_a_stage_s_own_monitor_keeps_choosing_below_the_prior(tmp_path):
    """The sentence tagger's classifier stage on codiesp-d: accuracy over single-code sentences climbs while its
    validation loss rises and the pipeline's document ranking stays below the prior. The accuracy measures
    learning there, so it chooses (not the lowest loss), and patience waits for the prior to be left."""
    callback = SelectionCallback("val/classifier_accuracy", "max", patience=2, best_path=tmp_path / "best.ckpt")
    callback.prior = LabelPrior(np.zeros(1, dtype=np.float32), 1, BERT_CLS_PRIOR)
    points = [(0.025, 0.032), (0.025, 0.034), (0.025, 0.036), (0.045, 0.039), (0.064, 0.039)]
    trainer = _epochs(callback, points, monitor_key="val/classifier_accuracy", logged={"val/map_doc": 0.07})
    assert callback.prior is not None and not callback.left_prior and callback.lowest_loss == 0
    assert not callback.below_prior and callback.evaluated() == (4, tmp_path / "best.ckpt")
    assert not trainer.should_stop and callback.stop_reason() == "budget"  # two flat epochs did not end it


def test_once_an_epoch_leaves_the_prior_the_monitor_chooses_and_the_loss_checkpoint_goes(tmp_path):
    targets, prior, _, _, clear = _validation()
    callback = SelectionCallback("val/map_doc", "max", patience=5, best_path=tmp_path / "best.ckpt")
    callback.prior = LabelPrior(prior.prevalence, prior.n_train, 0.145)
    (tmp_path / "lowest-loss.ckpt").write_bytes(b"")  # what the first epochs saved (the fake trainer saves none)
    # a monitor that climbs past the prior while the loss rises (BCE over many codes): epoch 2 is evaluated
    points = [(0.10, 0.030), (0.14, 0.031), (0.20, 0.033), (0.18, 0.032)]
    _epochs(callback, points, monitor_key="val/map_doc", scores=[(clear, targets)] * 4)
    assert not callback.below_prior and callback.evaluated() == (2, tmp_path / "best.ckpt")
    assert not (tmp_path / "lowest-loss.ckpt").exists()
    assert callback.state_dict()["left_prior"] is True and callback.left_at == 2


def test_the_prior_is_left_only_by_a_point_of_map_beyond_chance():
    targets, prior, noisy, slight, clear = _validation()
    noisy_gain, slight_gain = (monitor_metrics(x, targets)["map_doc"] - prior.val_map_doc for x in (noisy, slight))
    assert TIE < noisy_gain < slight_gain < PRIOR_MARGIN
    gain = paired_test(prior.scores(len(targets)), slight, targets, metrics=("map_doc",))["map_doc"]
    assert gain["low"] > 0  # the slight gain is no accident of the documents, but too small to be learning
    assert not prior.beaten_by(noisy, targets) and not prior.beaten_by(slight, targets)
    assert prior.beaten_by(clear, targets) and not prior.beaten_by(prior.scores(len(targets)), targets)


def test_ordering_the_prior_s_ties_is_not_leaving_it():
    """CodiEsp's case: most codes share a prevalence (never or once seen in training). A model that merely puts
    equally frequent codes in some order (here by column, the same for every document) beats the tied prior's
    mAP, because a tied group counts at its lowest place, but not the yardstick, whose ties are broken at random."""
    rng = np.random.default_rng(1)
    counts = np.r_[np.zeros(200), np.ones(180), np.arange(2, 22) * 4]
    targets = rng.random((250, len(counts))) < (counts + 0.4) / 100
    prior = LabelPrior.of(counts, 100, targets)
    tied = np.broadcast_to((counts / 100).astype(np.float32), targets.shape)
    ordered = np.broadcast_to((counts / 100 + 1e-4 * np.arange(len(counts)) / len(counts)).astype(np.float32),
                              targets.shape)  # fmt: skip
    tied_map, ordered_map = (monitor_metrics(np.ascontiguousarray(x), targets)["map_doc"] for x in (tied, ordered))
    assert ordered_map > tied_map + 10 * TIE and not prior.beaten_by(np.ascontiguousarray(ordered), targets)


def test_patience_counts_only_after_the_run_left_the_prior(tmp_path):
    """CodiEsp's CAML: a first epoch a hair above the prior, three flat ones, then a climb. Patience 3 used to end
    the run after epoch 3; now it trains on, and patience counts from the epoch that left the prior."""
    targets, prior, noisy, _, clear = _validation()
    callback = SelectionCallback("val/map_doc", "max", patience=3, best_path=tmp_path / "best.ckpt")
    callback.prior = prior
    noisy_value = monitor_metrics(noisy, targets)["map_doc"]
    flat = [(noisy_value, 0.030)] + [(noisy_value - 0.001, 0.031)] * 4
    climb = [(0.9, 0.020), (0.89, 0.021), (0.88, 0.022), (0.87, 0.023), (0.5, 0.03)]
    scores = [(noisy, targets)] * len(flat) + [(clear, targets)] * len(climb)
    trainer = _epochs(callback, flat + climb, monitor_key="val/map_doc", scores=scores)
    assert callback.left_at == 5 and callback.best == 5
    assert trainer.should_stop and len(callback.curve) == 9 and callback.stop_reason() == "converged"


def test_without_a_prior_or_its_metric_the_monitor_alone_chooses(tmp_path):
    callback = SelectionCallback("val/p@8", "max", patience=5, best_path=tmp_path / "best.ckpt")
    # set, but this fit logs no val/map_doc
    callback.prior = LabelPrior(np.zeros(1, dtype=np.float32), 1, BERT_CLS_PRIOR)
    _epochs(callback, BERT_CLS)
    assert callback.prior is None and callback.evaluated() == (0, tmp_path / "best.ckpt")


def test_better_is_lexicographic_on_monitor_then_loss():
    assert better(0.50, 0.9, 0.40, 0.1, "max")  # a clearly higher monitor wins whatever the loss
    assert not better(0.40, 0.01, 0.50, 0.9, "max")
    assert better(0.40, 0.2, 0.40, 0.3, "max") and not better(0.40, 0.3, 0.40, 0.2, "max")  # ties: lower loss
    assert better(0.2, None, 0.3, None, "min") and not better(float("nan"), 0.1, 0.3, 0.2, "max")
    assert resolve_monitor("auto") == "val/map_doc" and resolve_monitor("val/p@8") == "val/p@8"


@pytest.fixture(scope="module")
def cmc_shaped(tmp_path_factory) -> Path:
    """DATA_DIR with cmc2007 prepared from the CMC-shaped synthetic corpus (1–3 codes per report), 3 folds."""
    data = tmp_path_factory.mktemp("data")
    xml = write_cmc_file(tmp_path_factory.mktemp("cmc") / "cmc.xml", n_docs=200, seed=0)
    get_split("cmc2007").prepare(data / "cmc2007", PrepareOptions(source=xml, folds=3, command="test"))
    return data


def test_p_at_8_on_a_one_or_two_code_corpus_is_warned_about_and_does_not_select_epoch_0(
    cmc_shaped, tmp_path, monkeypatch, capfd
):
    """The issue's CMC case: P@8 cannot move when reports carry 1–3 codes. Selection on it used to keep
    epoch 0; with the validation loss as tie-breaker it keeps the epoch that fits validation best."""
    monkeypatch.setenv("DATA_DIR", str(cmc_shaped))
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    overrides = ["train.monitor=val/p@8", "optim.epochs=5", "train.patience=5", "train.logger=none"]
    record = train(RunRequest("caml", "cmc2007", "ci", seed=0, fold=0, overrides=overrides)).record
    assert "warning: val/p@8 can hardly move on cmc2007" in capfd.readouterr().err
    curve = record.convergence.curve
    assert len({round(p["monitor"], 4) for p in curve}) == 1  # flat: every epoch ties
    selected = record.convergence.selected
    assert selected > 0 and curve[selected]["val_loss"] == min(p["val_loss"] for p in curve)
    assert record.convergence.selected_epoch == selected
    saved = json.loads((tmp_path / "runs" / "cmc2007" / "caml" / record.run_id / "record.json").read_text())
    assert saved["stop_reason"] == record.stop_reason in {"budget", "converged", "prior"}


def test_a_run_stopped_by_its_time_budget_says_which_budget(run_env, capfd):
    """A time budget ends the run before its epochs (here before the first one ends: the run then also never
    left the prior, which is the reason it reports)."""
    overrides = ["optim.epochs=30", "train.patience=30", "train.max_minutes=0.0001", "train.logger=none"]
    record = train(RunRequest("cnn", "synth-tiny", "ci", seed=0, overrides=overrides)).record
    assert record.convergence.budget_hit == "max_minutes" and record.epochs_run < 30
    assert record.stop_reason in {"budget", "prior"} and "note: cnn on synth-tiny" in capfd.readouterr().err


def test_a_step_budget_ends_the_run_mid_epoch_after_validating_it(run_env, capfd):
    """64 training documents in batches of 16 are 4 steps an epoch: a budget of 6 steps ends the run 2 steps into
    its second epoch, which is validated (as after a time budget) and says which budget ended it."""
    overrides = ["optim.epochs=30", "train.patience=30", "train.max_steps=6", "data.max_train_docs=64",
                 "optim.batch_size=16", "train.logger=none"]  # fmt: skip
    record = train(RunRequest("cnn", "synth-tiny", "ci", seed=0, overrides=overrides)).record
    block = record.convergence
    assert block.steps_run == 6 and block.max_steps == 6 and len(block.curve) == 2
    assert block.budget_hit == "max_steps" and record.stop_reason in {"budget", "prior"}
    if record.stop_reason == "budget":
        assert "stopped at its budget of 6 optimiser steps" in capfd.readouterr().err


def test_a_real_run_below_the_prior_is_evaluated_at_its_lowest_validation_loss(run_env):
    """End to end: a CNN under HMHAN's class-weighted loss starts at a random ranking (every code at 0.5) and stays
    below the prior for 4 epochs while its validation mAP falls and its loss falls. The monitor alone kept epoch 0
    (measured: 0.0575, 0.0426, 0.0369, 0.0396 against the prior's 0.180); the lowest loss is the last epoch."""
    overrides = ["train.loss=focal+wbce", "optim.epochs=4", "train.patience=4", "train.logger=none"]
    record = train(RunRequest("cnn", "synth-tiny", "ci", seed=0, overrides=overrides)).record
    block = record.convergence
    losses = [point["val_loss"] for point in block.curve]
    assert max(point["monitor"] for point in block.curve) < block.prior_val_map_doc
    assert record.selection == "lowest-loss" and record.stop_reason == "prior"
    assert block.selected == losses.index(min(losses)) > 0 and block.selected_epoch == block.selected
    assert record.best_monitor.value == block.curve[block.selected]["monitor"]
