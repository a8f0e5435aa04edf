"""Config checks shared by the model builders: one clear line instead of a torch traceback."""

from __future__ import annotations

from icdbench.errors import UserError


def require_positive(model: str, config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if value <= 0:
            raise UserError(f"{model}: {name} must be positive, got {value!r}")


def require_fraction(model: str, config: object, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:
            raise UserError(f"{model}: {name} must be in [0, 1), got {value!r}")
