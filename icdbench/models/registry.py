"""The model registry. ``@register_model`` in a model's own file is the only registration (timm style).

A registered builder takes the model's config dataclass and a :class:`ModelContext` and returns an
``nn.Module`` (neural models, trained by the one ``CodingModule``) or an object with ``fit``/``predict_scores``
(``trainer="sklearn"``). Variants are extra registrations of the same family with different defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from icdbench.errors import UserError

InputKind = Literal["words", "segments", "sentences", "text"]
TrainerKind = Literal["lightning", "sklearn", "custom"]


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
    run: Callable[..., Any] | None = None  # for trainer="custom": the family's own orchestration

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
    run: Callable[..., Any] | None = None,
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
            run=run,
        )
        return build

    return decorator


def _discover() -> None:
    import icdbench.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in {"registry", "base", "layers"} and not info.name.startswith("_"):
            importlib.import_module(f"icdbench.models.{info.name}")


def all_models() -> dict[str, ModelSpec]:
    _discover()
    return dict(sorted(_MODELS.items()))


def get_model(name: str) -> ModelSpec:
    models = all_models()
    if name not in models:
        close = difflib.get_close_matches(name, models, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `icdbench list models`"
        raise UserError(f"unknown model {name!r}{hint}")
    return models[name]
