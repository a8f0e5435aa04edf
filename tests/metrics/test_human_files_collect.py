"""Coder agreement, the scores file format and the DDP-safe score collector."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from icdbench.errors import UserError
from icdbench.metrics.collect import DocumentMean, ScoreCollector
from icdbench.metrics.human import RAC_TABLE, coder_agreement
from icdbench.metrics.scores_file import load_scores, load_scores_file, save_scores


def test_coder_agreement_matches_sklearn_on_sets():
    reference = [["401.9", "428.0"], ["250.00"], [], ["401.9", "584.9", "V45.81"], ["428.0"]]
    coder = [["401.9"], ["250.00", "401.9"], [], ["584.9", "V45.81"], ["427.31"]]
    report = coder_agreement(coder, reference)
    binarizer = MultiLabelBinarizer().fit(reference + coder)
    y, p = binarizer.transform(reference), binarizer.transform(coder)
    used = np.flatnonzero(y.sum(0) > 0)
    macro = {"labels": used, "average": "macro", "zero_division": 0}
    assert set(RAC_TABLE) <= set(report)
    assert report["jaccard_micro"] == pytest.approx(skm.jaccard_score(y, p, average="micro"))
    assert report["jaccard_macro"] == pytest.approx(skm.jaccard_score(y, p, **macro))
    assert report["micro_precision"] == pytest.approx(skm.precision_score(y, p, average="micro"))
    assert report["macro_recall"] == pytest.approx(skm.recall_score(y, p, **macro))
    assert report["emr"] == pytest.approx(skm.accuracy_score(y, p))
    assert report["jaccard_3char"] >= report["jaccard_samples"]
    with pytest.raises(ValueError, match="not in codes"):
        coder_agreement(coder, reference, codes=["401.9"])
    with pytest.raises(ValueError, match="5 coder documents but 4"):
        coder_agreement(coder, reference[:4])


def test_scores_file_round_trip(tmp_path):
    scores = np.random.default_rng(0).random((3, 4)).astype(np.float32)
    target = tmp_path / "run" / "scores.npz"
    path = save_scores(
        target, ["d1", "d2", "d3"], ["A", "B", "C", "D"], torch.from_numpy(scores), threshold=np.full(4, 0.3)
    )
    doc_ids, codes, loaded = load_scores(path)
    assert doc_ids == ["d1", "d2", "d3"] and codes == ["A", "B", "C", "D"]
    assert loaded.dtype == np.float32 and np.array_equal(loaded, scores)
    assert load_scores_file(path).threshold.shape == (4,)
    half = save_scores(tmp_path / "half.npz", ["d1", "d2", "d3"], list("ABCD"), scores, threshold=0.4, dtype=np.float16)
    assert load_scores(half)[2].dtype == np.float16 and load_scores_file(half).threshold == pytest.approx(0.4)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary leftovers


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"doc_ids": np.array(["a"]), "codes": np.array(["A"])}, "missing array"),
        ({"doc_ids": np.array(["a", "a"]), "codes": np.array(["A"]), "scores": np.zeros((2, 1), np.float32)}, "dupl"),
        ({"doc_ids": np.array(["a"]), "codes": np.array(["A"]), "scores": np.zeros((1, 1))}, "float16 or float32"),
        ({"doc_ids": np.array(["a"]), "codes": np.array(["A", "B"]), "scores": np.zeros((1, 1), np.float32)}, "shape"),
        ({"doc_ids": np.array(["a"]), "codes": np.array(["A"]), "scores": np.full((1, 1), 2, np.float32)}, "[0, 1]"),
        ({"doc_ids": np.array([1]), "codes": np.array(["A"]), "scores": np.zeros((1, 1), np.float32)}, "unicode"),
    ],
)
def test_malformed_scores_files_get_one_line(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=message.replace("[", r"\[")) as error:
        load_scores(path)
    assert "\n" not in str(error.value)


def test_unreadable_scores_file(tmp_path):
    (tmp_path / "x.npz").write_text("not a zip")
    with pytest.raises(UserError, match="not a readable"):
        load_scores(tmp_path / "x.npz")
    with pytest.raises(UserError, match="does not exist"):
        load_scores(tmp_path / "missing.npz")


def test_collector_drops_sampler_padding_and_sorts():
    collector = ScoreCollector()
    scores = torch.rand(6, 3)
    targets = torch.rand(6, 3) > 0.5
    # two "ranks" interleaved as DistributedSampler does, the last index repeated to pad
    collector.update(scores[[4, 0]], targets[[4, 0]], torch.tensor([4, 0]))
    collector.update(scores[[2, 5]], targets[[2, 5]], torch.tensor([2, 5]))
    collector.update(scores[[1, 3]], targets[[1, 3]], torch.tensor([1, 3]))
    collector.update(scores[[5]], targets[[5]], torch.tensor([5]))  # padding duplicate
    doc_index, got_scores, got_targets = collector.compute()
    assert doc_index.tolist() == [0, 1, 2, 3, 4, 5]
    assert torch.equal(got_scores, scores) and torch.equal(got_targets, targets)


def test_collector_merges_process_states_like_ddp():
    """``merge_state`` concatenates list states the way the ``cat`` reduction does across processes."""
    scores, targets = torch.rand(5, 2), torch.rand(5, 2) > 0.5
    rank0, rank1 = ScoreCollector(), ScoreCollector()
    rank0.update(scores[[0, 2, 4]], targets[[0, 2, 4]], torch.tensor([0, 2, 4]))
    rank1.update(scores[[1, 3, 0]], targets[[1, 3, 0]], torch.tensor([1, 3, 0]))  # index 0 padded again
    rank0.merge_state(rank1)
    doc_index, got_scores, _ = rank0.compute()
    assert doc_index.tolist() == [0, 1, 2, 3, 4] and torch.equal(got_scores, scores)


def test_collector_rejects_conflicting_duplicates_and_bad_shapes():
    collector = ScoreCollector()
    collector.update(torch.rand(1, 2), torch.tensor([[True, False]]), torch.tensor([7]))
    collector.update(torch.rand(1, 2), torch.tensor([[False, False]]), torch.tensor([7]))
    with pytest.raises(ValueError, match="different targets"):
        collector.compute()
    with pytest.raises(ValueError, match="expected scores"):
        ScoreCollector().update(torch.rand(2, 3), torch.rand(2, 2) > 0, torch.tensor([0, 1]))


def test_document_mean_counts_each_document_once_across_ranks():
    """Two ranks of 3 and 1 documents plus a padding repeat: the mean of the 4 documents, not of the ranks' means."""
    rank0, rank1 = DocumentMean(), DocumentMean()
    rank0.update(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0, 2, 3]))
    rank1.update(torch.tensor([10.0, 1.0]), torch.tensor([1, 0]))  # document 0 again: the sampler's padding
    rank0.merge_state(rank1)
    assert rank0.compute().item() == pytest.approx(4.0)  # (1 + 10 + 2 + 3) / 4
    with pytest.raises(ValueError, match="expected values"):
        DocumentMean().update(torch.rand(2), torch.tensor([0, 1, 2]))
