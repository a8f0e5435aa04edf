"""Run records: ``RUNS_DIR/<split>/<model>/<run_id>/record.json`` and the files beside it.

A run folder holds ``config.yaml`` (the resolved config), ``config_layers.yaml`` (every layer in resolution
order), ``record.json`` (provenance, metrics with confidence intervals, threshold, timing, memory, sizes),
``scores.npz`` (test scores, the metrics package's format), ``threshold.json``, ``codes.parquet`` (the label
set with titles), ``model.pt`` (the evaluated weights, a plain state dict) and, for word models,
``vocab.txt``. Every file is written to a temporary name and renamed, so a crash never leaves a
half-written file. No note text is written.

:class:`RunRecord` is the record's one typed form: the training core builds one and writes it
(:meth:`RunRecord.write`), every reader gets one (:func:`read_record_file`, :func:`read_run`). The JSON is
schema ``RECORD_SCHEMA``; a file of another schema, not a JSON object, without the identity fields or with a
field this schema does not have is refused with one line naming the file.

Migration of older schema-1 records: fields the writer added later (``stop_reason``, ``training``,
``comparable_to_published``, ``convergence``, its ``budget_hit``, ...) read as their defaults: an empty block,
None, and for ``stop_reason`` ``"unrecorded"`` (nothing says the run converged, so leaderboards do not count it
as converged). A record remembers which keys its file lacked (``written_without``), so :meth:`RunRecord.to_dict`
gives back exactly the JSON it was read from and committed records stay byte-identical.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from icdbench.errors import UserError
from icdbench.io import atomic_write_json, jsonable

RECORD_FILE = "record.json"
CONFIG_FILE = "config.yaml"
LAYERS_FILE = "config_layers.yaml"
SCORES_FILE = "scores.npz"
THRESHOLD_FILE = "threshold.json"
RECORD_SCHEMA = 1
UNRECORDED = "unrecorded"  # the stop reason of a record written before stop reasons existed


class IncompatibleRecord(UserError):
    """A record of another schema: written by an icdbench version this one cannot read."""


def later(default: Any = None, *, factory: Any = None) -> Any:
    """A field every record has today; one written before it existed reads ``default`` and writes it back absent."""
    return field(default_factory=factory) if factory is not None else field(default=default)


def optional(*, block: type[Block] | None = None) -> Any:
    """A field written only when it has a value: absent reads as None, None writes nothing."""
    return field(default=None, metadata={"optional": True, "block": block})


def nested(block: type[Block], *, each: bool = False) -> Any:
    """A block of its own (``each``: a mapping of names to blocks); a record without it reads the empty block."""
    return field(default_factory=dict if each else block, metadata={"block": block, "each": each})


@dataclass(frozen=True, kw_only=True)
class Block:
    """A JSON object of the record with typed fields, in the order the writer writes them."""

    written_without: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Any, source: str = "run record", where: str = "") -> Self:
        if not isinstance(data, dict):
            raise _not_an_object(source, where)
        own = [f for f in fields(cls) if f.name != "written_without"]
        unknown = [key for key in data if key not in {f.name for f in own}]
        if unknown:
            raise IncompatibleRecord(f"{source} has a field a schema-{RECORD_SCHEMA} record does not have "
                                     f"({where}{unknown[0]}): written by another icdbench version? re-run it with "
                                     "this version")  # fmt: skip
        values, absent = {}, []
        for f in own:
            if f.name in data:
                values[f.name] = _decode(f, data[f.name], source, f"{where}{f.name}.")
            elif f.default is MISSING and f.default_factory is MISSING:
                raise UserError(f"{source} is not a complete run record (missing {where}{f.name}); re-run the run")
            elif not f.metadata.get("optional"):
                absent.append(f.name)
        return cls(**values, written_without=frozenset(absent))

    def recorded(self, name: str) -> bool:
        """Whether the file had field ``name`` (a field added later reads its default in an older record)."""
        return name not in self.written_without

    def to_dict(self) -> dict:
        """The JSON object: the fields in order, less those the file lacked and the optional ones without a value."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "written_without" or f.name in self.written_without:
                continue
            if value is None and f.metadata.get("optional"):
                continue
            out[f.name] = _encode(f, value)
        return out


def _not_an_object(source: str, where: str) -> UserError:
    return UserError(f"{source} is not a run record ({where.rstrip('.') or 'it'} is not a JSON object); delete it "
                     "or re-run the run")  # fmt: skip


def _decode(f, value: Any, source: str, where: str) -> Any:
    block = f.metadata.get("block")
    if block is None or (value is None and f.metadata.get("optional")):
        return value
    if f.metadata.get("each"):
        if not isinstance(value, dict):
            raise _not_an_object(source, where)
        return {key: block.from_dict(item, source, f"{where}{key}.") for key, item in value.items()}
    return block.from_dict(value, source, where)


def _encode(f, value: Any) -> Any:
    if f.metadata.get("block") is None or value is None:
        return value
    if f.metadata.get("each"):
        return {key: item.to_dict() for key, item in value.items()}
    return value.to_dict()


@dataclass(frozen=True, kw_only=True)
class SplitHashes(Block):
    content_sha256: str | None = later()  # the prepared split's content: what makes two runs' numbers comparable
    doc_ids_sha256: str | None = later()
    codes_sha256: str | None = later()


@dataclass(frozen=True, kw_only=True)
class Provenance(Block):
    git_commit: str | None = later()
    git_dirty: bool | None = later()
    versions: dict[str, str | None] = later(factory=dict)  # python, the libraries and icdbench
    device: str | None = later()
    platform: str | None = later()


@dataclass(frozen=True, kw_only=True)
class Timing(Block):
    wall_seconds: float | None = later()  # training, scoring and evaluation
    train_docs_per_s: float | None = later()
    # training's CPU seconds / (wall seconds x threads): below 1 when other processes shared the cores, and so
    # a time-budgeted run trained fewer epochs than it would alone (icdbench.training.callbacks.ThroughputMeter)
    train_cpu_share: float | None = later()
    inference_ms_per_doc: float | None = later()


@dataclass(frozen=True, kw_only=True)
class Encoder(Block):
    """The pretrained encoder a run used, and whether it is its paper's (``models.encoders.encoder_record``)."""

    name: str | None = later()
    published: str | None = later()
    substituted: bool | None = later()
    architecture: str | None = later()


@dataclass(frozen=True, kw_only=True)
class BestMonitor(Block):
    name: str | None = later()
    value: float | None = later()


@dataclass(frozen=True, kw_only=True)
class Training(Block):
    """What the model trained on; a train+val run also names the train-only run it took its choices from."""

    parts: list[str] = later(factory=list)
    fixed_from: str | None = optional()
    fixed_from_dir: str | None = optional()
    threshold_rule: str | None = optional()
    epochs: int | None = optional()
    setting: dict[str, Any] | None = optional()  # a fitted model's chosen setting, e.g. {"C": 2.0}


@dataclass(frozen=True, kw_only=True)
class Convergence(Block):
    """Why training stopped, in numbers: the validation curve, the selected epoch, the label prior's mAP."""

    monitor: str | None = later()
    selected: int | None = later()  # index into ``curve``
    selected_epoch: int | None = later()
    curve: list[dict[str, Any]] = later(factory=list)
    val_map_doc: float | None = later()
    prior_val_map_doc: float | None = later()
    max_epochs: int | None = later()
    max_minutes: float | None = later()
    max_steps: int | None = later()
    steps_run: int | None = later()  # optimiser steps trained (what a step budget would need to match the run)
    budget_hit: str | None = later()  # which budget ended a "budget" run: max_epochs, max_minutes or max_steps


@dataclass(frozen=True, kw_only=True)
class Threshold(Block):
    """The decision rule: its tuned value (one number, or ``summary`` of the per-code values) or top-k's k."""

    rule: str | None = later()
    value: float | None = later()  # absent when the rule tunes one threshold per code (see ``summary``)
    top_k: int | None = later()
    summary: dict[str, float] | None = optional()


@dataclass(frozen=True, kw_only=True)
class Metrics(Block):
    """Test metrics per setting: ``full`` (the whole label set) and ``top50`` (the 50 most frequent codes)."""

    full: dict[str, float | None]
    top50: dict[str, float | None] = later(factory=dict)

    def of(self, setting: str) -> dict[str, float | None]:
        return {"full": self.full, "top50": self.top50}[setting]


@dataclass(frozen=True, kw_only=True)
class Interval(Block):
    """A bootstrap 95% interval over test documents."""

    estimate: float | None = later()
    low: float | None = later()
    high: float | None = later()
    std: float | None = later()


@dataclass(frozen=True, kw_only=True)
class Intervals(Block):
    full: dict[str, Interval] = nested(Interval, each=True)
    top50: dict[str, Interval] = nested(Interval, each=True)

    def of(self, setting: str) -> dict[str, Interval]:
        return {"full": self.full, "top50": self.top50}[setting]


@dataclass(frozen=True, kw_only=True)
class RunRecord(Block):
    """One finished run. Identity fields are required; every other field an older record may lack."""

    run_id: str
    model: str
    family: str | None = later()
    paper: str | None = later()
    inputs: str | None = later()
    split: str
    split_version: str | None = later()
    split_hashes: SplitHashes = nested(SplitHashes)
    profile: str
    seed: int
    fold: int | None = optional()  # cross-validated splits
    command: str | None = later()
    config: dict[str, Any] = later(factory=dict)  # the resolved config
    config_hash: str | None = later()
    config_sources: list[str] = later(factory=list)
    provenance: Provenance = nested(Provenance)
    timing: Timing = nested(Timing)
    memory: dict[str, float] = later(factory=dict)  # peak_rss_mib, and on GPU cuda_max_allocated_mib
    n_parameters: int | None = later()
    n_train_docs: int | None = later()
    n_demographics: int | None = later()
    n_test_docs: int | None = later()
    sentence_permutation: dict[str, int] | None = optional()  # RAC's sentence shuffling
    encoder: Encoder | None = optional(block=Encoder)
    epochs_run: int | None = later()
    # how the evaluated weights were chosen: best-checkpoint, lowest-loss, swa-average, fitted
    selection: str | None = later()
    best_monitor: BestMonitor = nested(BestMonitor)
    stop_reason: str = later(UNRECORDED)  # converged, budget, prior, collapse (or unrecorded: an older record)
    training: Training = nested(Training)
    comparable_to_published: bool | None = later()
    ceiling_recall: dict[str, float] | None = optional()  # the share of test codes a model can reach (CodiEsp)
    convergence: Convergence = nested(Convergence)
    threshold: Threshold = nested(Threshold)
    metrics: Metrics = field(metadata={"block": Metrics})
    ci: Intervals = nested(Intervals)
    files: dict[str, str | None] = later(factory=dict)  # the run folder's files by role
    extra: dict[str, Any] | None = optional()  # the family's own facts (the chosen setting, SMOTE, stages, ...)
    curves: dict[str, Any] | None = optional()  # compact plot points (``results.curves``), when a record has them

    @property
    def replicate(self) -> tuple[str, int]:
        """What distinguishes the runs that one row averages: the fold (cross-validation) or the seed."""
        return ("fold", int(self.fold)) if self.fold is not None else ("seed", int(self.seed))

    @property
    def suite_version(self) -> str | None:
        return self.provenance.versions.get("icdbench")

    @classmethod
    def from_dict(cls, data: Any, source: str = "run record", where: str = "") -> Self:
        if not isinstance(data, dict):
            raise _not_an_object(source, where)
        if data.get("schema") != RECORD_SCHEMA:
            raise IncompatibleRecord(
                f"{source} was written by an incompatible icdbench version (record schema {data.get('schema')}, "
                f"this suite reads {RECORD_SCHEMA}); re-run it with this version or use the version that wrote it"
            )
        return super().from_dict({k: v for k, v in data.items() if k != "schema"}, source, where)

    def to_dict(self) -> dict:
        return {"schema": RECORD_SCHEMA, **super().to_dict()}

    def write(self, run_dir: Path) -> RunRecord:
        """Write ``record.json``; returns the record as written (plain JSON values, NaN as None)."""
        path = Path(run_dir) / RECORD_FILE
        written = jsonable(self.to_dict())
        atomic_write_json(path, written)
        return RunRecord.from_dict(written, str(path))


def read_record_file(path: Path) -> RunRecord:
    """The record in ``path``; a one-line ``UserError`` if it is missing, corrupt or not a record this suite reads."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is corrupt ({getattr(exc, 'msg', exc)}); delete it or re-run the run") from None
    return RunRecord.from_dict(data, str(path))


def read_run(run_dir: Path) -> RunRecord:
    """The record of a run folder a user named: refused if the folder or its record is missing, corrupt or
    incompatible."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} does not exist")
    if not (run_dir / RECORD_FILE).is_file():
        raise UserError(f"{run_dir} has no {RECORD_FILE}; is it a finished run folder?")
    return read_record_file(run_dir / RECORD_FILE)
