"""Safe writes for files that several ``icdbench`` processes share (run index, leaderboard files).

Two rules: every file appears whole or not at all (written to a temporary name, then renamed — see
:mod:`icdbench.io`), and read-modify-write cycles on a shared file happen under a
``filelock`` lock, so two ``bench`` processes that finish at the same moment both keep their row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from icdbench.errors import UserError
from icdbench.io import atomic_write_bytes as write_bytes  # noqa: F401 (the atomic writers, under their names here)
from icdbench.io import atomic_write_text as write_text  # noqa: F401

LOCK_TIMEOUT_S = 600.0  # a leaderboard rebuild with plots takes seconds; ten minutes means a stuck process


FOLDER_LOCK = ".icdbench.lock"  # inside a guarded folder; `.*.lock` is in .gitignore


def lock_path(path: Path, folder: bool = False) -> Path:
    """The lock file guarding ``path``: a hidden sibling of a file, or a hidden file inside a folder — never a
    file next to the folder, which for ``leaderboards/`` would litter the repository root."""
    path = Path(path)
    return path / FOLDER_LOCK if folder else path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT_S, folder: bool = False) -> Iterator[None]:
    """Hold the inter-process lock of the file (or, with ``folder``, the folder) ``path`` for the ``with`` block."""
    path = Path(path)
    lock = lock_path(path, folder)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock), timeout=timeout):
            yield
    except Timeout:
        raise UserError(
            f"another icdbench process has held {lock} for {timeout:.0f} s; "
            "wait for it, or delete the lock file if no icdbench process is running"
        ) from None


def csv_text(fields: Sequence[str], rows: Sequence[dict]) -> str:
    """CSV with a header line, ``\\n`` line ends and empty cells for missing values."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in fields})
    return out.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def append_rows(path: Path, rows: Sequence[dict], fields: Sequence[str], key: Sequence[str] = ()) -> int:
    """Add ``rows`` to the CSV at ``path`` under its lock; returns the number of rows in the file after.

    With ``key`` columns, a new row replaces an existing row with the same key (a re-run replaces its old
    row); columns the file has but ``fields`` lacks are kept, so older files stay readable.
    """
    path = Path(path)
    with locked(path):
        existing = read_csv(path)
        columns = list(dict.fromkeys([*fields, *(existing[0].keys() if existing else [])]))
        if key:
            incoming = {tuple(str(row.get(k, "")) for k in key) for row in rows}
            existing = [row for row in existing if tuple(row.get(k, "") for k in key) not in incoming]
        merged = [*existing, *rows]
        write_text(path, csv_text(columns, merged))
        return len(merged)
