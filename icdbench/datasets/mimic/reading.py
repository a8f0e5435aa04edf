"""Reading raw PhysioNet CSV files lazily with the types ``schema`` promises; one-line errors when they do not.

Small tables are collected eagerly, each inside its own error context, so that a parse error raised while the
large note file streams can only come from the note file and is reported against it.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from icdbench.datasets.mimic.schema import Table
from icdbench.datasets.storage import sha256_file
from icdbench.errors import UserError

_PARSE_ERROR = re.compile(r"could not parse `(?P<value>.*?)` as dtype `(?P<dtype>[^`]+)` at column '(?P<column>[^']+)'")
_DTYPE_WORDS = {"i64": "integers", "i32": "integers", "f64": "numbers", "str": "text"}


def locate(root: Path, table: Table) -> Path:
    """The file of ``table`` under ``root`` (``X.csv.gz``, or ``X.csv`` if unpacked) or a UserError."""
    path = Path(root) / table.path
    for candidate in (path, path.with_suffix("")):
        if candidate.is_file():
            return candidate
    if not Path(root).is_dir():
        raise UserError(f"source folder {root} does not exist; expected layout: {table.layout}")
    raise UserError(f"{path} not found; expected layout: {table.layout} — this file comes from {table.project}")


def header(path: Path) -> list[str]:
    """The column names on the first line, read without decompressing the whole file."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            first = handle.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read ({exc}); download it again") from exc
    return next(csv.reader(io.StringIO(first)), [])


def check_columns(path: Path, table: Table) -> None:
    found = header(path)
    missing = [column for column in table.columns if column not in found]
    if missing:
        raise UserError(
            f"{path} lacks column {', '.join(repr(c) for c in missing)} (found {found[:12]}); "
            f"expected the {table.path} file of {table.project}"
        )


def scan(root: Path, table: Table) -> pl.LazyFrame:
    """A lazy scan of ``table`` with the schema's types; other columns are not read."""
    path = locate(root, table)
    check_columns(path, table)
    frame = pl.scan_csv(path, schema_overrides=table.columns, infer_schema=False)
    return frame.select(list(table.columns))


@contextmanager
def reading(root: Path, table: Table) -> Iterator[None]:
    """Turn polars' parse errors while reading ``table`` into one line naming the file, column and value."""
    try:
        yield
    except pl.exceptions.ComputeError as exc:
        label = Path(root) / table.path
        match = _PARSE_ERROR.search(str(exc))
        if match:
            expected = _DTYPE_WORDS.get(match["dtype"], match["dtype"])
            raise UserError(
                f"{label}: column {match['column']!r} should hold {expected} but has {match['value']!r}; "
                f"is it the {table.path} file of {table.project}?"
            ) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{label} could not be read ({first_line}); download it again") from None


def collect(root: Path, table: Table, query=None) -> pl.DataFrame:
    """Read a (small) table eagerly; ``query`` may filter or project the lazy scan first."""
    frame = scan(root, table)
    if query is not None:
        frame = query(frame)
    with reading(root, table):
        return frame.collect(engine="streaming")


def checksums(root: Path, tables: list[Table]) -> dict[str, str]:
    """sha256 of each raw file read, keyed by its path under the source folder (recorded in the manifest)."""
    out = {}
    for table in tables:
        path = locate(root, table)
        out[str(path.relative_to(root))] = sha256_file(path)
    return dict(sorted(out.items()))
