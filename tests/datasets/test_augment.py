from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icdbench.datasets.augment import permute_sentences


def _sentences(ids: np.ndarray, starts: np.ndarray) -> list[tuple[int, ...]]:
    bounds = np.append(starts, len(ids))
    return [tuple(ids[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def test_whole_sentences_move_and_order_changes():
    ids = np.arange(10, 22)  # distinct tokens: every sentence is recognisable
    starts = np.array([0, 3, 4, 9])
    out = permute_sentences(ids, starts, np.random.default_rng(0))
    assert out.dtype == ids.dtype and out.shape == ids.shape
    assert not np.array_equal(out, ids)
    original = _sentences(ids, starts)
    # Re-split the output by walking the original sentences it is made of.
    pieces, pos = [], 0
    while pos < len(out):
        match = next(s for s in original if tuple(out[pos : pos + len(s)]) == s)
        pieces.append(match)
        pos += len(match)
    assert sorted(pieces) == sorted(original) and pieces != original


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=12), seed=st.integers(0, 2**32 - 1))
def test_sentences_stay_whole_in_a_new_order(lengths, seed):
    ids = np.arange(sum(lengths)) + 2  # distinct tokens, so each output position names its source
    starts = np.cumsum([0] + lengths[:-1])
    out = permute_sentences(ids, starts, np.random.default_rng(seed))
    np.testing.assert_array_equal(np.sort(out), ids)
    position = np.argsort(out)  # where each source token ended up
    for a, b in zip(starts, np.append(starts[1:], len(ids))):
        np.testing.assert_array_equal(np.diff(position[a:b]), 1)  # contiguous, internal order kept
    assert (len(lengths) < 2) == np.array_equal(out, ids)


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=12), seed=st.integers(0, 2**32 - 1))
def test_keeps_token_multiset_and_is_seeded(lengths, seed):
    ids = np.random.default_rng(seed).integers(0, 5, size=sum(lengths))  # repeated tokens on purpose
    starts = np.cumsum([0] + lengths[:-1])
    out = permute_sentences(ids, starts, np.random.default_rng(seed))
    np.testing.assert_array_equal(out, permute_sentences(ids, starts, np.random.default_rng(seed)))
    np.testing.assert_array_equal(np.sort(out), np.sort(ids))


def test_two_sentences_always_swap():
    ids = np.array([5, 6, 7, 8, 9])
    for seed in range(20):
        np.testing.assert_array_equal(
            permute_sentences(ids, np.array([0, 2]), np.random.default_rng(seed)), [7, 8, 9, 5, 6]
        )


def test_different_seeds_give_different_copies():
    ids = np.arange(40)
    starts = np.arange(0, 40, 4)
    copies = {tuple(permute_sentences(ids, starts, np.random.default_rng(s))) for s in range(5)}
    assert len(copies) == 5


def test_prefix_before_first_start_is_a_sentence():
    ids = np.array([1, 2, 3, 4])
    out = permute_sentences(ids, np.array([2]), np.random.default_rng(0))
    np.testing.assert_array_equal(out, [3, 4, 1, 2])


@pytest.mark.parametrize("starts", [np.array([], dtype=np.int64), np.array([0])])
def test_single_sentence_or_none_is_unchanged_copy(starts):
    ids = np.array([3, 1, 2])
    out = permute_sentences(ids, starts, np.random.default_rng(0))
    np.testing.assert_array_equal(out, ids)
    assert out is not ids


def test_empty_note():
    empty = np.array([], dtype=np.int64)
    assert permute_sentences(empty, empty, np.random.default_rng(0)).size == 0


@pytest.mark.parametrize("starts", [[0, 0, 2], [2, 1], [0, 4], [-1, 2]])
def test_bad_starts_raise(starts):
    with pytest.raises(ValueError, match="strictly increasing"):
        permute_sentences(np.arange(4), np.array(starts), np.random.default_rng(0))
