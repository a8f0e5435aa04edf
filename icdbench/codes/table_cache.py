"""An on-disk copy of each built table, so a new process loads a system in well under a second.

Building ICD-10-CM means importing `simple_icd_10_cm`, which parses the whole tabular XML (seconds); every
test worker and CLI call would pay that again. The copy lives in ``$ICDBENCH_CACHE_DIR`` (default
``$XDG_CACHE_HOME/icdbench`` or ``~/.cache/icdbench``), holds only public code tables, and its file name
carries a hash of the source package versions and of this package's loader code, so any change builds afresh.
An unreadable copy is rebuilt; an unwritable directory only costs the rebuild next time.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from icdbench.codes.hierarchy import Hierarchy, Node
from icdbench.io import atomic_write

_CODE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    explicit = os.environ.get("ICDBENCH_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "icdbench"


def _key(name: str, distributions: tuple[str, ...]) -> str:
    from importlib import metadata  # imported here: it costs more than the rest of `import icdbench.codes`

    digest = hashlib.sha256(name.encode())
    for distribution in distributions:
        digest.update(f"{distribution}={metadata.version(distribution)}".encode())
    for source in sorted(_CODE_DIR.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def cached_load(name: str, distributions: tuple[str, ...], build: Callable[[], Hierarchy]) -> Hierarchy:
    """The table `name`, read from the cache or built by `build` (from `distributions`) and then saved."""
    with _gc_paused():  # ~10^5 long-lived nodes: the cyclic collector would rescan them repeatedly (2x time)
        return _load_or_build(name, distributions, build)


@contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_or_build(name: str, distributions: tuple[str, ...], build: Callable[[], Hierarchy]) -> Hierarchy:
    path = cache_dir() / "codes" / f"{name}-{_key(name, distributions)}.json"
    try:
        return _from_rows(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        pass
    hierarchy = build()
    try:
        _save(hierarchy, path)
    except OSError:
        pass
    return hierarchy


def _save(hierarchy: Hierarchy, path: Path) -> None:
    """Write to a temporary file, then rename: readers (other processes) never see a partial file."""
    rows = [[n.code, n.kind, n.parent, n.title, n.short_title] for n in hierarchy.nodes.values()]
    atomic_write(path, lambda handle: json.dump(rows, handle, separators=(",", ":")))
    name = path.name.rsplit("-", 1)[0]
    for stale in path.parent.glob(f"{name}-*.json"):  # copies from older package or loader versions
        if stale != path:
            stale.unlink(missing_ok=True)


def _from_rows(rows: list[list]) -> Hierarchy:
    """Rows are in insertion order, parents before children, so children lists come out as when built."""
    hierarchy = Hierarchy()
    nodes = hierarchy.nodes
    for code, kind, parent, title, short_title in rows:
        nodes[code] = Node(code, kind, parent, title, short_title)
        if parent is not None:
            nodes[parent].children.append(code)
    return hierarchy.finish()
