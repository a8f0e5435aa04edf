"""The atomic writers of ``icdbench.io``: a write lands whole, a failure part-way leaves the old file (or folder)
and no temporary file behind."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest
import torch

from icdbench.io import (
    atomic_directory,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    jsonable,
)


def test_text_bytes_and_json_land_whole_in_new_folders(tmp_path):
    text = atomic_write_text(tmp_path / "a" / "note.txt", "zwölf\n")
    data = atomic_write_bytes(tmp_path / "b" / "blob.bin", b"\x00\x01")
    doc = atomic_write_json(tmp_path / "c" / "doc.json", {"f1": 0.5, "none": math.nan, 3: [1, 2]})
    assert text.read_bytes() == "zwölf\n".encode()  # UTF-8 whatever the locale
    assert data.read_bytes() == b"\x00\x01"
    assert doc.read_text() == '{\n  "f1": 0.5,\n  "none": null,\n  "3": [\n    1,\n    2\n  ]\n}\n'


def test_compact_json_has_no_trailing_newline(tmp_path):
    path = atomic_write_json(tmp_path / "rows.json", [["A00", None]], indent=None, separators=(",", ":"))
    assert path.read_text() == '[["A00",null]]'


def test_a_new_file_has_the_usual_permissions_not_mkstemps_0600(tmp_path):
    path = atomic_write_text(tmp_path / "x.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary_file(tmp_path, error):
    path = atomic_write_text(tmp_path / "board.csv", "model,micro_f1\ncaml,0.5\n")

    def fail_halfway(handle):
        handle.write("model,micro_f1\nca")
        handle.flush()
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, fail_halfway)
    assert path.read_text() == "model,micro_f1\ncaml,0.5\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.csv"]


def test_a_failed_first_write_leaves_nothing(tmp_path):
    def fail(handle):
        handle.write(b"PK\x03\x04")
        raise OSError("no space left on device")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "scores.npz", fail, binary=True)
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "out.json", {"codes": {"A00", "B01"}})  # a set is not JSON
    assert list(tmp_path.iterdir()) == []


def test_binary_writers_such_as_numpy_and_torch(tmp_path):
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    atomic_write(tmp_path / "m.npy", lambda handle: np.save(handle, matrix, allow_pickle=False), binary=True)
    atomic_write(tmp_path / "t.pt", lambda handle: torch.save({"w": torch.ones(2)}, handle), binary=True)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), matrix)
    assert torch.equal(torch.load(tmp_path / "t.pt")["w"], torch.ones(2))


def test_jsonable_turns_arrays_tensors_and_numpy_scalars_into_plain_json():
    value = {"a": np.float32(0.25), "b": np.array([1, 2]), "c": torch.tensor([0.5]), "d": np.float64("inf"),
             "e": (np.int64(3), "s"), "f": np.str_("code")}
    assert jsonable(value) == {"a": 0.25, "b": [1, 2], "c": [0.5], "d": None, "e": [3, "s"], "f": "code"}
    json.dumps(jsonable(value), allow_nan=False)


def test_atomic_directory_appears_whole(tmp_path):
    target = tmp_path / "cache" / "features"
    with atomic_directory(target) as tmp:
        assert tmp.parent == target.parent and not target.exists()
        (tmp / "index.json").write_text("{}")
    assert (target / "index.json").read_text() == "{}"
    assert sorted(p.name for p in target.parent.iterdir()) == ["features"]


def test_atomic_directory_replaces_an_old_folder_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "split"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(target, replace=True) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("writer crashed")
    assert [p.name for p in tmp_path.iterdir()] == ["split"] and (target / "old.txt").read_text() == "old"
    with atomic_directory(target, replace=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["split"] and [p.name for p in target.iterdir()] == ["new.txt"]


def test_a_failure_inside_atomic_directory_leaves_no_folder(tmp_path):
    target = tmp_path / "features"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "part.npy").write_bytes(b"half")
        raise RuntimeError("encoder crashed")
    assert list(tmp_path.iterdir()) == []
