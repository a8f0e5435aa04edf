"""The model registry. ``@register_model`` in a model's own file is the only registration (timm style).

A registered builder takes the model's config dataclass and a :class:`ModelContext` and returns an
``nn.Module`` (neural models, trained by the one ``CodingModule``) or an object with ``fit``/``predict_scores``
(``trainer="sklearn"``). A variant (``register_variant``) is a registered model's spec under another name with
a few fields changed: other config defaults, training settings, paper line or builder.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from icdbench.errors import lookup

InputKind = Literal["words", "segments", "sentences", "text"]
TrainerKind = Literal["lightning", "sklearn", "custom"]
DepartureKind = Literal["deliberate", "hardware", "not-yet-fixed"]
DEPARTURE_KINDS = ("deliberate", "hardware", "not-yet-fixed")


@dataclass(frozen=True)
class Departure:
    """One way a model differs from its paper or reference implementation: ``deliberate`` (a choice, usually
    with a config switch that restores the original), ``hardware`` (forced by the machines it runs on) or
    ``not-yet-fixed`` (a known gap)."""

    kind: DepartureKind
    what: str

    def __post_init__(self) -> None:
        if self.kind not in DEPARTURE_KINDS:
            raise ValueError(f"departure kind must be one of {DEPARTURE_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Fidelity:
    """How a model stands to its paper (``ModelSpec.paper``): the implementation it follows and is checked
    against, and every known departure. ``icdbench list models --fidelity`` and the leaderboards print it."""

    reference: str  # the released code it follows (and the test that checks it), or why there is none
    departures: tuple[Departure, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    paper: str
    inputs: InputKind
    config: type  # dataclass with the published (paper-profile) architecture defaults
    build: Callable[..., Any]
    config_defaults: dict = field(default_factory=dict)  # variant tweaks applied over ``config()``
    train_defaults: dict = field(default_factory=dict)  # published optimisation/training settings (RunConfig keys)
    trainer: TrainerKind = "lightning"
    fidelity: Fidelity | None = None  # every registered model declares one (a test checks)

    def default_config(self):
        return dataclasses.replace(self.config(), **self.config_defaults)


_MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    family: str,
    paper: str,
    inputs: InputKind,
    config: type,
    config_defaults: dict | None = None,
    train_defaults: dict | None = None,
    trainer: TrainerKind = "lightning",
    fidelity: Fidelity | None = None,
):
    """Register ``build(config, ctx)`` under ``name``. Usable as a decorator on the builder function."""

    def decorator(build: Callable[..., Any]) -> Callable[..., Any]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} registered twice")
        _MODELS[name] = ModelSpec(
            name=name,
            family=family,
            paper=paper,
            inputs=inputs,
            config=config,
            build=build,
            config_defaults=dict(config_defaults or {}),
            train_defaults=dict(train_defaults or {}),
            trainer=trainer,
            fidelity=fidelity,
        )
        return build

    return decorator


def register_variant(of: str, name: str, **changes: Any) -> None:
    """Register ``name`` as the model ``of`` (registered before it) with ``changes`` to its :class:`ModelSpec`
    fields, e.g. ``config_defaults={"smote": False}`` or ``build=`` another builder of the same config."""
    if name in _MODELS:
        raise ValueError(f"model {name!r} registered twice")
    _MODELS[name] = dataclasses.replace(_MODELS[of], name=name, **changes)


def _discover() -> None:
    # discovery: every model file is imported by name and registers itself
    import icdbench.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in {"registry", "base", "layers"} and not info.name.startswith("_"):
            importlib.import_module(f"icdbench.models.{info.name}")


def all_models() -> dict[str, ModelSpec]:
    _discover()
    return dict(sorted(_MODELS.items()))


def get_model(name: str) -> ModelSpec:
    return lookup("model", name, all_models(), "icdbench list models")
