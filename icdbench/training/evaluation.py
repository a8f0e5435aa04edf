"""The end of every run, whatever trained it: tune the threshold on validation, evaluate the test scores in
the full and top-50 settings with bootstrap confidence intervals, and write the run folder's files."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from omegaconf import OmegaConf

from icdbench.config import ResolvedConfig
from icdbench.io import atomic_write, atomic_write_json
from icdbench.metrics import TopK, evaluate_settings, top_codes
from icdbench.metrics.codiesp import split_official_keys
from icdbench.metrics.scores_file import save_scores
from icdbench.metrics.stats import HEADLINE, bootstrap_ci
from icdbench.metrics.thresholds import tune_threshold
from icdbench.models.encoders import encoder_fields
from icdbench.results.provenance import peak_memory, provenance
from icdbench.results.record import (
    CONFIG_FILE,
    SCORES_FILE,
    THRESHOLD_FILE,
    BestMonitor,
    Convergence,
    Encoder,
    Intervals,
    Metrics,
    Provenance,
    RunRecord,
    SplitHashes,
    Threshold,
    Timing,
    Training,
)
from icdbench.training.evidence import evidence_keys, predicted_codes
from icdbench.training.job import MODEL_FILE, RunJob, ScoredRun
from icdbench.training.monitor import monitor_metrics
from icdbench.training.official import comparable_to_published, saved_threshold, train_parts
from icdbench.training.predict import RUN_CODES_FILE
from icdbench.training.selection import PRIOR_KEY

BOOTSTRAP_SAMPLES = 1000  # resamples of the test documents for the headline metrics' 95% intervals


def threshold_summary(rule: str, threshold) -> dict:
    """What ``threshold.json`` holds: the rule and its tuned value (a number, one per code, or top-k's k)."""
    if isinstance(threshold, TopK):
        return {"rule": rule, "value": None, "top_k": int(threshold.k)}
    array = np.asarray(threshold, dtype=np.float64)
    if array.ndim == 0:
        return {"rule": rule, "value": float(array), "top_k": None}
    summary = {"mean": float(array.mean()), "min": float(array.min()), "max": float(array.max())}
    return {"rule": rule, "value": array.tolist(), "top_k": None, "summary": summary}


def convergence(job: RunJob, scored: ScoredRun) -> tuple[str, Convergence]:
    """The run's stop reason and the ``convergence`` block of its record.

    ``converged`` or ``budget`` come from training (patience exhausted, or stopped by a budget while still
    improving or still at the prior); ``prior`` overrides either when the evaluated weights rank the validation
    codes no better than the training prevalence does, by the test training used (:meth:`LabelPrior.beaten_by`)."""
    val = scored.val
    model_value = monitor_metrics(val.scores, val.targets).get(PRIOR_KEY, float("nan"))
    prior = job.label_prior(val.targets)
    reason = scored.stop_reason or "converged"
    # the prior baseline is the yardstick itself, not a model that failed to leave it; a collapse says more
    if reason != "collapse" and job.spec.family != "prior" and not prior.beaten_by(val.scores, val.targets):
        reason = "prior"
    selected = scored.curve[scored.selected] if scored.selected is not None else {}
    max_epochs = scored.max_epochs or int(job.cfg.optim.epochs)
    budget_hit = budget_ended(job, scored) if scored.stop_reason == "budget" else None  # kept under "prior" too
    block = Convergence(
        monitor=job.monitor,
        selected=scored.selected,
        selected_epoch=selected.get("epoch"),
        curve=scored.curve,
        val_map_doc=model_value,
        prior_val_map_doc=prior.val_map_doc,
        max_epochs=max_epochs,
        max_minutes=job.cfg.train.max_minutes,
        max_steps=job.cfg.train.max_steps,
        steps_run=scored.steps_run,
        budget_hit=budget_hit,
    )
    return reason, block


def budget_ended(job: RunJob, scored: ScoredRun) -> str:
    """Which budget ended a run that still improved: ``max_epochs``, ``max_steps`` (the same on every machine) or
    ``max_minutes`` (the time budget: the same seed on another machine, or under other load, trains more or fewer
    epochs). Epochs are counted on the recorded curve, the fit that scores (a family with stages trains
    several)."""
    if len(scored.curve) >= (scored.max_epochs or int(job.cfg.optim.epochs)):
        return "max_epochs"
    steps = job.cfg.train.max_steps
    if steps and (scored.steps_run or 0) >= int(steps):
        return "max_steps"
    return "max_minutes" if job.cfg.train.max_minutes else "max_epochs"


def stop_note(record: RunRecord) -> str | None:
    """One line for a run whose numbers are not a converged model's (printed at the end of the run)."""
    block, name = record.convergence, f"{record.model} on {record.split}"
    if record.stop_reason == "prior":
        return (
            f"note: {name} did not leave the label prior (validation mAP {block.val_map_doc:.4f}, "
            f"the prior's {block.prior_val_map_doc:.4f}): its numbers measure no learning; {_prior_hint(record)}"
        )
    if record.stop_reason == "collapse":
        return f"note: {name} collapsed during training (see the warning above): not a trained model's numbers"
    if record.stop_reason == "budget":
        timed = block.budget_hit == "max_minutes"
        budget, knob = _budget_text(block)
        return (
            f"note: {name} stopped at {budget} after {record.epochs_run} epochs while {block.monitor} still "
            f"improved: not a converged model; raise {knob}"
            + (f" ({_load_text(record.timing.train_cpu_share)}a time budget depends on the machine and its load: the "
               "epoch count may differ elsewhere; train.max_steps does not)" if timed else "")
        )
    return None


def _budget_text(block: Convergence) -> tuple[str, str]:
    """The budget that ended a run, in words, and the setting that raises it."""
    if block.budget_hit == "max_minutes":
        return f"the {block.max_minutes:g}-minute time budget", "train.max_minutes"
    if block.budget_hit == "max_steps":
        return f"its budget of {block.max_steps} optimiser steps", "train.max_steps"
    return f"{block.max_epochs} epochs", "optim.epochs"


def _prior_hint(record: RunRecord) -> str:
    """What the curve says to try for a run at the prior. More of the same budget is no help to a run whose
    validation loss was lowest at epoch 0 (Bi-GRU on synth-icd10: training loss 0.032 -> 0.025 over 29 epochs while
    validation loss rose 0.031 -> 0.036); a class-weighted loss ranks below the prior by design until the text
    separates the codes (HMHAN, ~N/n_pos per code, lifts every unseen-evidence code to the same score)."""
    block = record.convergence
    losses = [point["val_loss"] for point in block.curve if point.get("val_loss") is not None]
    if len(losses) > 2 and min(losses) >= losses[0]:
        hint = (
            "its validation loss was lowest at epoch 0 and rose as it trained (it fits the training notes without "
            "generalising): more epochs will not help; try a lower optim.lr or more training notes"
        )
    elif block.budget_hit:
        budget, knob = _budget_text(block)
        hint = f"{budget} ended it first: raise {knob}"
    else:
        hint = "give it more epochs (optim.epochs, train.max_minutes) or check optim.lr"
    loss = (record.config.get("train") or {}).get("loss", "")
    if "wbce" in loss:
        hint += (
            f"; its class-weighted loss (train.loss={loss}) pulls every code toward the same score until the text "
            "tells them apart, so it ranks below the prevalence at first"
        )
    return hint


def _load_text(cpu_share: float | None) -> str:
    return "" if cpu_share is None else f"training had {cpu_share:.0%} of its cores' time; "


def finish_run(
    job: RunJob,
    scored: ScoredRun,
    resolved: ResolvedConfig,
    *,
    wall_seconds: float,
    profile: str,
    command: str,
) -> RunRecord:
    split, cfg, run_dir = job.split, job.cfg, job.run_dir
    codes = split.code_list
    rule = cfg.train.threshold
    if job.fixed is not None:  # train+val: the train-only run's threshold (validation is training data here)
        rule, threshold = job.fixed.threshold["rule"], saved_threshold(job.fixed.threshold)
        scored = replace(scored, stop_reason=job.fixed.stop_reason or scored.stop_reason)
    else:
        threshold = tune_threshold(
            scored.val.scores, scored.val.targets, rule, k=cfg.train.top_k if rule == "top_k" else None
        )
    test_frame = split.test[scored.test.doc_index.tolist()]
    doc_ids = test_frame["doc_id"].to_list()
    shared = {
        "gold_sequences": test_frame["codes"].to_list(),
        "ancestors": dict(zip(codes, split.codes["ancestors"].to_list())),
        "train_counts": np.array(split.codes["train_count"].to_list(), dtype=np.int64),
    }
    top50 = top_codes(shared["train_counts"], codes)
    metrics = evaluate_settings(
        scored.test.scores, scored.test.targets, codes=codes, top50_codes=top50, threshold=threshold, **shared
    )
    # The family's own test metrics (the sentence tagger's tagger_*/classifier_*/union_* keys) and, on splits
    # with gold evidence, the evidence_* keys of the saved model's attributions: full setting only.
    extra = dict(scored.extra)
    metrics["full"].update(extra.pop("metrics", {}))
    if (run_dir / MODEL_FILE).is_file():
        predicted = predicted_codes(scored.test, threshold, split.test.height)
        metrics["full"].update(evidence_keys(job, predicted))
    cis = bootstrap_ci(
        scored.test.scores, scored.test.targets, HEADLINE, codes=codes, threshold=threshold,
        top50_codes=top50, n_boot=BOOTSTRAP_SAMPLES, seed=cfg.seed,
    )  # fmt: skip
    save_scores(run_dir / SCORES_FILE, doc_ids, codes, scored.test.scores)
    metrics["full"].update(split_official_keys(split.name, run_dir / SCORES_FILE, test_frame["codes"].to_list()))
    threshold_file = threshold_summary(rule, threshold)
    atomic_write_json(run_dir / THRESHOLD_FILE, threshold_file)
    atomic_write(run_dir / RUN_CODES_FILE, split.codes.write_parquet, binary=True)
    if "summary" in threshold_file:
        threshold_file = {k: v for k, v in threshold_file.items() if k != "value"}
    manifest = split.manifest
    stop_reason, converged = convergence(job, scored)
    encoder = encoder_fields(job.spec, cfg.model).get("encoder")  # which encoder, and whether it is the paper's
    record = RunRecord(
        run_id=job.run_id,
        model=job.spec.name,
        family=job.spec.family,
        paper=job.spec.paper,
        inputs=job.spec.inputs,
        split=split.name,
        split_version=split.version,
        split_hashes=SplitHashes(
            content_sha256=manifest.get("content_sha256"),
            doc_ids_sha256=manifest.get("doc_ids_sha256"),
            codes_sha256=manifest.get("codes_sha256"),
        ),
        profile=profile,
        seed=cfg.seed,
        fold=manifest.get("fold"),  # cross-validated splits
        command=command,
        config=OmegaConf.to_container(cfg),
        config_hash=resolved.hash,
        config_sources=[layer.source for layer in resolved.layers],
        provenance=Provenance(**provenance(cfg.train.accelerator)),
        timing=Timing(
            wall_seconds=wall_seconds,
            train_docs_per_s=scored.train_docs_per_s,
            train_cpu_share=scored.train_cpu_share,
            inference_ms_per_doc=scored.inference_ms_per_doc,
        ),
        memory=peak_memory(),
        n_parameters=scored.n_parameters,
        n_train_docs=job.context.n_train_docs if job.context else None,
        n_demographics=job.context.n_demographics if job.context else None,
        n_test_docs=len(doc_ids),
        sentence_permutation=job.permutation_summary() or None,
        encoder=Encoder(**encoder) if encoder else None,
        epochs_run=scored.epochs_run,
        selection=scored.selection,
        best_monitor=BestMonitor(name=job.monitor, value=scored.best_monitor),
        stop_reason=stop_reason,
        training=Training(parts=list(train_parts(cfg)), **(job.fixed.record() if job.fixed else {})),
        comparable_to_published=comparable_to_published(manifest, train_parts(cfg)),
        # the share of test code occurrences a model can reach (splits that report it, e.g. CodiEsp)
        ceiling_recall=manifest.get("ceiling_recall") or None,
        convergence=converged,
        threshold=Threshold.from_dict(threshold_file, THRESHOLD_FILE),
        metrics=Metrics(full=metrics["full"], top50=metrics["top50"]),
        ci=Intervals.from_dict(cis, "bootstrap intervals"),
        files={
            "config": CONFIG_FILE,
            "scores": SCORES_FILE,
            "threshold": THRESHOLD_FILE,
            "codes": RUN_CODES_FILE,
            "model": MODEL_FILE if (run_dir / MODEL_FILE).exists() else None,
        },
        extra=extra or None,
    )
    return record.write(run_dir)
