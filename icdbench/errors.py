"""User-facing errors: one clear line, exit code 2, no traceback (unless --debug)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A problem with what the user asked for or supplied; the message names the problem and the fix."""

    exit_code = 2


class Terminated(UserError):
    """The run was stopped by SIGTERM (preemption) and left a checkpoint to resume from: exit 143 (128 + 15), the
    code a shell gives a process SIGTERM killed, so schedulers and ``icdbench grid`` see it as stopped."""

    exit_code = 143


def lookup(kind: str, name: str, known: Mapping[str, T], listing: str) -> T:
    """``known[name]``; an unknown name is a :class:`UserError` offering the closest known names, or else the
    ``listing`` command that prints them all."""
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; see `{listing}`"
        raise UserError(f"unknown {kind} {name!r}{hint}")
    return known[name]
