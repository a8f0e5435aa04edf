"""Run configuration: typed dataclasses validated by OmegaConf, resolved in layers.

A run's configuration is ``RunConfig = {model, data, optim, train, seed}`` where ``model`` is the registered
model's own config dataclass. It is resolved in this order, each layer overriding the ones before it:

1. the model dataclass defaults (the published architecture),
2. ``ModelSpec.config_defaults`` (the variant's tweaks),
3. ``ModelSpec.train_defaults`` (published optimisation settings, dotted keys),
4. ``icdbench/settings/profiles/<profile>.yaml``: its ``default:`` section, then ``inputs: {<input kind>: ...}``,
   ``family: {<family>: ...}`` and ``model: {<model name>: ...}`` sections (more specific wins),
5. ``icdbench/settings/experiments/<split>/<model>.yaml`` (per-split published settings), only under a profile
   that says ``experiments: true`` (``paper``): the shrunken profiles (``cpu``, ``ci``) never read them, so a
   published per-split size cannot undo a profile's shrinking,
6. command-line ``key=value`` overrides, then ``--seed``.

Every layer is kept (``ResolvedConfig.layers``) and saved with the run. An unknown key or a value of the wrong
type is a one-line :class:`UserError` naming the key, the expected type and the layer it came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf import errors as oc_errors

from icdbench.errors import UserError
from icdbench.paths import settings_dir

# The metrics computed on the validation set every epoch (icdbench.training.monitor), logged as val/<key> beside
# val/loss; any of them can be the early-stopping monitor.
MONITORED = ("map_doc", "p@8", "micro_f1", "macro_auc_pr")
VAL_METRICS = (*(f"val/{key}" for key in MONITORED), "val/loss")


@dataclass
class DataConfig:
    max_tokens: int = 4000  # words: documents are cut to this many tokens
    segment_length: int = 128  # segments: subword tokens per segment (special tokens included)
    max_segments: int = 24  # segments: 24 x 128 = 3,072 tokens (PLM-ICD)
    max_sentences: int = 64  # sentences: per document
    sentence_length: int = 64  # sentences: words per sentence
    max_train_docs: int | None = None  # profile shrink: use the first N train documents (None = all)
    permutations: int = 0  # RAC sentence-permutation copies per train document (0 = off)
    num_workers: int = 0
    bucket: bool = True  # length-bucketed batches (sorted by length within shuffled chunks)
    # "train", or "train,val": train on both with train.fixed_from's choices (icdbench.training.official)
    train_parts: str = "train"


@dataclass
class OptimConfig:
    optimizer: Literal["adam", "adamw"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 16
    accumulate: int = 1  # gradient accumulation steps
    epochs: int = 20  # maximum epochs (early stopping usually ends sooner)
    # linear = warm-up then linear decay to 0; plateau = constant, times plateau_factor whenever train.monitor
    # has not improved for more than plateau_patience epochs (ReduceLROnPlateau; LAAT's published decay)
    schedule: Literal["constant", "linear", "plateau"] = "constant"
    warmup: float = 0.0  # fraction of the optimisation steps spent warming up (linear schedule)
    warmup_steps: int | None = None  # linear schedule: warm-up steps; when set, replaces the warmup fraction
    plateau_factor: float = 0.9  # plateau schedule only
    plateau_patience: int = 5  # plateau schedule only
    plateau_min_lr: float = 0.0  # plateau schedule only: the rate is never cut below this


@dataclass
class TrainConfig:
    loss: Literal["bce", "focal", "wbce", "focal+wbce"] = "bce"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    # "auto": a threshold-free ranking metric that moves on every split (icdbench.training.selection)
    monitor: str = "auto"
    monitor_mode: Literal["max", "min"] = "max"
    patience: int = 5  # epochs without a better epoch (monitor, then validation loss) before stopping
    max_minutes: float | None = None  # wall-time budget of a fit; a run that reaches it is marked "budget"
    # budget of optimiser steps per fit, ended like max_minutes (the partial last epoch is validated): unlike a
    # time budget it trains the same steps on any machine and under any load
    max_steps: int | None = None
    swa: bool = False  # stochastic weight averaging; the averaged model is the evaluated one
    swa_epoch_start: int = 1  # 1-based epoch from which weights are averaged
    swa_lrs: float | None = None  # SWA learning rate (None = keep optim.lr)
    # global/per_code/top_k: tuned on validation at the end; fixed: 0.5 (CAML's and MultiResCNN's releases)
    threshold: Literal["global", "per_code", "top_k", "fixed"] = "global"
    top_k: int | None = 8  # for threshold=top_k (None = k tuned on validation)
    precision: str = "32-true"  # Lightning precision ("bf16-mixed" on GPU)
    accelerator: str = "auto"
    devices: int = 1  # per node; under DDP, one process per device
    num_nodes: int = 1  # machines of a DDP run (torchrun --nnodes, SLURM --nodes)
    strategy: str = "auto"  # "ddp" for several processes
    logger: Literal["csv", "wandb", "tensorboard", "none"] = "csv"
    deterministic: bool = True
    limit_train_batches: int | None = None  # smoke runs: train on this many batches per epoch
    keep_checkpoints: bool = False  # keep Lightning's checkpoints (last/best .ckpt) after a finished run
    fixed_from: str | None = None  # data.train_parts=train,val: the train-only run whose choices are reused


@dataclass
class RunConfig:
    model: Any = None  # the model's config dataclass
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0


@dataclass(frozen=True)
class ConfigLayer:
    source: str  # e.g. "profile ci (family.caml)"
    values: dict


@dataclass
class ResolvedConfig:
    cfg: DictConfig  # validated RunConfig
    layers: list[ConfigLayer]

    @property
    def yaml(self) -> str:
        return OmegaConf.to_yaml(self.cfg)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.yaml.encode()).hexdigest()

    def model_config(self):
        """The model's config dataclass instance, as the builder expects it."""
        return OmegaConf.to_object(self.cfg.model)


def nest(dotted: dict[str, Any]) -> dict:
    """``{"optim.lr": 1e-3}`` -> ``{"optim": {"lr": 1e-3}}``."""
    out: dict = {}
    for key, value in dotted.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def base_config(model_config) -> DictConfig:
    """The structured RunConfig holding ``model_config`` (a dataclass instance) with every default."""
    return OmegaConf.structured(RunConfig(model=model_config))


def merge_layer(cfg: DictConfig, layer: ConfigLayer) -> DictConfig:
    """Merge one layer into ``cfg``; OmegaConf errors become one-line UserErrors naming key and source."""
    try:
        return OmegaConf.merge(cfg, OmegaConf.create(layer.values))
    except oc_errors.ConfigKeyError as exc:
        key = exc.full_key or "?"
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
        known = list(parent.keys()) if isinstance(parent, DictConfig) else []
        close = difflib.get_close_matches(leaf, known, n=2)
        hint = (
            f"; did you mean {', '.join(f'{parent_key}.{c}' if parent_key else c for c in close)}?"
            if close
            else ""
        )
        raise UserError(f"unknown config key {key!r} (from {layer.source}){hint}") from None
    except (oc_errors.ValidationError, oc_errors.UnsupportedValueType) as exc:
        key = exc.full_key or "?"
        raise UserError(
            f"config key {key!r} expects {_expected_type(cfg, key)}, got {_value_at(layer.values, key)!r} "
            f"(from {layer.source})"
        ) from None
    except oc_errors.OmegaConfBaseException as exc:
        raise UserError(f"invalid config from {layer.source}: {str(exc).splitlines()[0]}") from None


def _expected_type(cfg: DictConfig, key: str) -> str:
    parent_key, _, leaf = key.rpartition(".")
    owner = OmegaConf.get_type(OmegaConf.select(cfg, parent_key) if parent_key else cfg)
    if owner is not None and dataclasses.is_dataclass(owner):
        for f in dataclasses.fields(owner):
            if f.name == leaf:
                return str(f.type)
    return "another type"


def _value_at(values: dict, key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "?"
        node = node[part]
    return node


def parse_overrides(overrides: list[str]) -> dict:
    """``["optim.lr=1e-3", "train.swa=true"]`` -> nested dict (values parsed as YAML scalars)."""
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise UserError(f"override {item!r} is not key=value (e.g. optim.lr=1e-3)")
    try:
        return OmegaConf.to_container(OmegaConf.from_dotlist(list(overrides)))
    except oc_errors.OmegaConfBaseException as exc:
        raise UserError(f"cannot parse overrides {overrides}: {str(exc).splitlines()[0]}") from None


def profile_path(profile: str) -> Path:
    path = settings_dir() / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (settings_dir() / "profiles").glob("*.yaml"))
        raise UserError(f"unknown profile {profile!r}; available: {', '.join(available) or 'none'}")
    return path


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of config keys")
    return data


PROFILE_SECTIONS = ("default", "inputs", "family", "model")
READS_EXPERIMENTS = "experiments"  # top-level ``experiments: true``: the profile reads the per-split settings


def _profile_data(profile: str) -> dict:
    path = profile_path(profile)
    data = _read_yaml(path)
    unknown = [k for k in data if k not in (*PROFILE_SECTIONS, READS_EXPERIMENTS)]
    if unknown:
        allowed = ", ".join((*PROFILE_SECTIONS, READS_EXPERIMENTS))
        raise UserError(f"{path}: unknown sections {unknown}; allowed: {allowed}")
    if not isinstance(data.get(READS_EXPERIMENTS, False), bool):
        raise UserError(f"{path}: {READS_EXPERIMENTS} must be true or false, got {data[READS_EXPERIMENTS]!r}")
    return data


def reads_experiments(profile: str) -> bool:
    """Whether ``profile`` applies ``settings/experiments/<split>/<model>.yaml`` (the published settings)."""
    return _profile_data(profile).get(READS_EXPERIMENTS, False)


def profile_layers(profile: str, spec) -> list[ConfigLayer]:
    """The layers a profile contributes for ``spec``: default, then inputs/family/model sections."""
    data = _profile_data(profile)
    layers = [ConfigLayer(f"profile {profile} (default)", data.get("default") or {})]
    for section, key in (("inputs", spec.inputs), ("family", spec.family), ("model", spec.name)):
        values = (data.get(section) or {}).get(key)
        if values:
            layers.append(ConfigLayer(f"profile {profile} ({section}.{key})", values))
    return layers


def experiment_path(split: str, model: str) -> Path:
    return settings_dir() / "experiments" / split / f"{model}.yaml"


def resolve_config(
    spec, *, split: str, profile: str, overrides: list[str] | None = None, seed: int | None = None
) -> ResolvedConfig:
    """Resolve a run's configuration for model ``spec`` on ``split`` (see the module docstring)."""
    cfg = base_config(spec.default_config())
    layers = [ConfigLayer(f"{spec.name} defaults", OmegaConf.to_container(cfg))]
    if spec.train_defaults:
        layers.append(ConfigLayer(f"{spec.name} train_defaults", nest(spec.train_defaults)))
    layers += profile_layers(profile, spec)
    experiment = experiment_path(split, spec.name)
    if reads_experiments(profile) and experiment.is_file():
        layers.append(ConfigLayer(f"experiment {split}/{spec.name}", _read_yaml(experiment)))
    if overrides:
        layers.append(ConfigLayer("command line", parse_overrides(overrides)))
    if seed is not None:
        layers.append(ConfigLayer("--seed", {"seed": seed}))
    for layer in layers[1:]:
        cfg = merge_layer(cfg, layer)
    check_run_config(cfg)
    return ResolvedConfig(cfg=cfg, layers=layers)


def _flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1e-3}}`` -> ``{"optim.lr": 1e-3}``; lists are values, not branches."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def value_sources(resolved: ResolvedConfig) -> list[tuple[str, Any, str]]:
    """``(dotted key, resolved value, source of the last layer that set it)`` for every value of the config."""
    final = _flatten(OmegaConf.to_container(resolved.cfg))
    layer_keys = [(layer.source, _flatten(layer.values)) for layer in resolved.layers]
    rows = []
    for key, value in final.items():
        source = next((name for name, keys in reversed(layer_keys) if key in keys), resolved.layers[0].source)
        rows.append((key, value, source))
    return rows


def check_run_config(cfg: DictConfig) -> None:
    """Checks OmegaConf's typing cannot express."""
    if cfg.train.monitor not in ("auto", *VAL_METRICS):
        raise UserError(
            f"train.monitor={cfg.train.monitor!r} is not logged; choose auto or one of {', '.join(VAL_METRICS)}"
        )
    if cfg.train.max_minutes is not None and cfg.train.max_minutes <= 0:
        raise UserError(f"train.max_minutes must be positive or null, got {cfg.train.max_minutes}")
    if cfg.train.max_steps is not None and cfg.train.max_steps <= 0:
        raise UserError(f"train.max_steps must be positive or null, got {cfg.train.max_steps}")
    positive = {
        "optim.lr": cfg.optim.lr,
        "optim.batch_size": cfg.optim.batch_size,
        "optim.accumulate": cfg.optim.accumulate,
        "optim.epochs": cfg.optim.epochs,
        "data.max_tokens": cfg.data.max_tokens,
        "train.devices": cfg.train.devices,
        "train.num_nodes": cfg.train.num_nodes,
    }
    for key, value in positive.items():
        if value <= 0:
            raise UserError(f"{key} must be positive, got {value}")
    if not 0.0 <= cfg.optim.warmup < 1.0:
        raise UserError(f"optim.warmup is a fraction of the training steps in [0, 1), got {cfg.optim.warmup}")
    if cfg.optim.warmup_steps is not None and cfg.optim.warmup_steps < 0:
        raise UserError(f"optim.warmup_steps must be >= 0 or null, got {cfg.optim.warmup_steps}")
    if cfg.optim.plateau_min_lr < 0:
        raise UserError(f"optim.plateau_min_lr must be >= 0, got {cfg.optim.plateau_min_lr}")
    if not 0.0 < cfg.optim.plateau_factor < 1.0 or cfg.optim.plateau_patience < 0:
        raise UserError(
            f"optim.plateau_factor must be in (0, 1) and optim.plateau_patience >= 0, got "
            f"{cfg.optim.plateau_factor} and {cfg.optim.plateau_patience}"
        )
    if cfg.train.swa_epoch_start < 1:
        raise UserError(f"train.swa_epoch_start is a 1-based epoch, got {cfg.train.swa_epoch_start}")
    if cfg.data.permutations < 0:
        raise UserError(f"data.permutations must be >= 0, got {cfg.data.permutations}")
    if cfg.data.max_train_docs is not None and cfg.data.max_train_docs <= 0:
        raise UserError(f"data.max_train_docs must be positive or null, got {cfg.data.max_train_docs}")


def load_run_config(path: Path, spec) -> DictConfig:
    """Re-read a saved resolved config (``config.yaml`` of a run) into the typed RunConfig of ``spec``."""
    layer = ConfigLayer(str(path), _read_yaml(path))
    cfg = merge_layer(base_config(spec.default_config()), layer)
    check_run_config(cfg)
    return cfg
