"""Atomic writes and plain-text tables: the ground floor every package may use (it imports nothing from icdbench).

A file or folder is written under a temporary name in the folder it will live in, then renamed into place with
``os.replace``; a crash or an exception part-way leaves the old file (or none) and no temporary file behind,
and readers in other processes never see a half-written file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write(path: Path | str, write: Callable[[Any], None], *, binary: bool = False) -> Path:
    """Call ``write(handle)`` on a temporary file next to ``path``, then rename it into place.

    ``binary`` opens the handle in bytes mode (``np.save``, ``torch.save``, parquet); text is UTF-8.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text))


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    return atomic_write(path, lambda handle: handle.write(data), binary=True)


def jsonable(value: Any) -> Any:
    """Plain JSON types; NaN/inf become null (JSON has no such numbers).

    Arrays and tensors (anything with ``tolist``: numpy arrays and scalars, torch tensors) become lists or
    Python numbers; mapping keys become strings.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def atomic_write_json(path: Path | str, data: Any, *, indent: int | None = 2, separators=None) -> Path:
    """``data`` as JSON (through :func:`jsonable`, so NaN is ``null``), ending in a newline when indented."""
    text = json.dumps(jsonable(data), indent=indent, separators=separators, allow_nan=False)
    return atomic_write_text(path, text + "\n" if indent is not None else text)


@contextmanager
def atomic_directory(path: Path | str, *, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it is renamed to ``path``.

    ``path`` must not exist yet (``os.replace`` cannot replace a non-empty folder), unless ``replace``: then an
    existing ``path`` is removed just before the rename. On failure the temporary folder is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if replace and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def format_table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """A plain-text table; columns whose index is in ``numeric`` are right-aligned."""
    numeric = numeric or set()
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])
