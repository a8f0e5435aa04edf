"""Grid files for the grid tests: small runs on synth-tiny at the ci profile."""

from __future__ import annotations

from pathlib import Path

import yaml

# caml trained on 96 documents for a few epochs: a neural run of seconds with a checkpoint per epoch
SMALL_CAML = ["data.max_train_docs=96", "train.logger=none", "train.patience=5"]


def write_grid(folder: Path, name: str, blocks: list[dict], **top) -> Path:
    path = Path(folder) / f"{name}.yaml"
    defaults = {"profiles": ["ci"], "splits": ["synth-tiny"], "seeds": [0]}
    path.write_text(yaml.safe_dump({"threads": 1, "resources": {"cpus": 1}, **top,
                                    "runs": [{**defaults, **block} for block in blocks]}))  # fmt: skip
    return path
