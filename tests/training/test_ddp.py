"""Two-process DDP on CPU (gloo): the recorded metrics equal a single-process evaluation of the same weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from icdbench.config import load_run_config
from icdbench.datasets.datamodule import CodingDataModule
from icdbench.datasets.storage import load_split
from icdbench.metrics import evaluate_settings, top_codes
from icdbench.models.registry import get_model
from icdbench.training.fit import score_parts
from icdbench.training.module import CodingModule


@pytest.mark.slow
def test_ddp_metrics_equal_single_process_evaluation(run_env):
    data_dir, runs_dir = run_env
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "icdbench.cli", "train", "caml", "synth-tiny", "--profile", "ci",
               "train.strategy=ddp", "train.devices=2", "train.accelerator=cpu", "train.logger=none",
               "optim.epochs=2"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (run_dir,) = list((runs_dir / "synth-tiny" / "caml").iterdir())  # both ranks shared one run folder
    record = json.loads((run_dir / "record.json").read_text())
    assert record["epochs_run"] == 2

    spec = get_model("caml")
    cfg = load_run_config(run_dir / "config.yaml", spec)
    cfg.train.strategy, cfg.train.devices = "auto", 1
    split = load_split(data_dir / "synth-tiny")
    datamodule = CodingDataModule(split, cfg, spec.inputs)
    model = spec.build(spec.config(**{k: v for k, v in cfg.model.items()}), datamodule.ctx)
    model.load_state_dict(torch.load(run_dir / "model.pt", weights_only=True))
    module = CodingModule(model, cfg, datamodule.ctx)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, use_distributed_sampler=False)  # fmt: skip
    _, test, _ = score_parts(module, trainer, datamodule)
    assert len(test.doc_index) == len(split.test) and np.array_equal(test.doc_index, np.arange(len(split.test)))

    threshold = json.loads((run_dir / "threshold.json").read_text())["value"]
    codes = split.code_list
    counts = np.array(split.codes["train_count"].to_list())
    single = evaluate_settings(test.scores, test.targets, codes=codes, top50_codes=top_codes(counts, codes),
                               threshold=threshold)  # fmt: skip
    saved = np.load(run_dir / "scores.npz")["scores"]
    np.testing.assert_allclose(saved, test.scores, atol=1e-6)
    for setting in ("full", "top50"):
        for key in ("micro_f1", "macro_f1", "macro_auc_pr", "p@8", "map_doc", "emr", "jaccard_samples"):
            assert record["metrics"][setting][key] == pytest.approx(single[setting][key], abs=1e-6), key
