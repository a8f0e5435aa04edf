from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from icdbench.training.families.hmhan_smote import imbalance_ratios, interpolate, mlsmote


def _data(seed: int = 0, n: int = 60, n_features: int = 4):
    """Three labels: 0 frequent, 1 medium, 2 rare (IRLbl 1, ~2, ~6)."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, n_features))
    labels = np.zeros((n, 3), dtype=bool)
    labels[: int(0.8 * n), 0] = True
    labels[rng.choice(n, size=n // 4, replace=False), 1] = True
    labels[rng.choice(n, size=8, replace=False), 2] = True
    return features, labels


def test_imbalance_ratios_by_hand():
    labels = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0]], dtype=bool)
    ratios = imbalance_ratios(labels)
    np.testing.assert_allclose(ratios[:3], [1.0, 4.0, 4.0])
    assert np.isnan(ratios[3])  # no positives: not a minority label, not in MeanIR
    plan = mlsmote(np.arange(8.0).reshape(4, 2), labels, k=3)
    assert plan.mean_ir == pytest.approx(3.0)
    np.testing.assert_array_equal(plan.minority_labels, [1, 2])
    assert len(plan) == 0  # both minority bags hold a single sample: no neighbour to move towards


def test_counts_one_synthetic_sample_per_bag_member():
    features, labels = _data()
    plan = mlsmote(features, labels, k=5, seed=0)
    counts = labels.sum(0)
    ratios = counts.max() / counts
    expected_minority = np.flatnonzero(ratios > ratios.mean())
    np.testing.assert_array_equal(plan.minority_labels, expected_minority)
    assert 2 in expected_minority and 0 not in expected_minority
    assert len(plan) == counts[expected_minority].sum()
    for label in expected_minority:
        made = plan.for_label == label
        np.testing.assert_array_equal(np.sort(plan.seeds[made]), np.flatnonzero(labels[:, label]))
    assert plan.labels.shape == (len(plan), 3)
    assert plan.summary()["synthetic_samples"] == len(plan)


def test_labels_are_the_neighbourhood_majority_and_keep_the_minority_label():
    features, labels = _data(seed=1)
    plan = mlsmote(features, labels, k=3, seed=4)
    for m in range(len(plan)):
        assert plan.labels[m, plan.for_label[m]]
        voters = np.concatenate([[plan.seeds[m]], plan.neighbourhoods[m]])
        assert labels[voters, plan.for_label[m]].all()  # neighbours come from the minority bag
        majority = labels[voters].sum(0) > len(voters) / 2
        np.testing.assert_array_equal(plan.labels[m], majority)
        assert not (plan.labels[m] & ~labels[voters].any(0)).any()  # no label foreign to the neighbourhood


def test_points_lie_on_the_segment_to_one_of_the_k_nearest_bag_neighbours():
    features, labels = _data(seed=2)
    k = 4
    plan = mlsmote(features, labels, k=k, seed=7)
    synthetic = interpolate(features, plan)
    assert synthetic.shape == (len(plan), features.shape[1])
    assert ((plan.gaps >= 0) & (plan.gaps < 1)).all()
    for m in range(len(plan)):
        bag = np.flatnonzero(labels[:, plan.for_label[m]])
        nn = NearestNeighbors(n_neighbors=k + 1).fit(features[bag])
        _, idx = nn.kneighbors(features[[plan.seeds[m]]])
        nearest = set(bag[idx[0]]) - {plan.seeds[m]}
        assert plan.references[m] in nearest and set(plan.neighbourhoods[m]) == nearest
        start, end = features[plan.seeds[m]], features[plan.references[m]]
        # on the segment: synthetic = start + g (end - start) with the recorded g in [0, 1)
        np.testing.assert_allclose(synthetic[m], start + plan.gaps[m] * (end - start))
        distance_sum = np.linalg.norm(synthetic[m] - start) + np.linalg.norm(end - synthetic[m])
        assert distance_sum == pytest.approx(np.linalg.norm(end - start))


def test_deterministic_per_seed_and_k_shrinks_to_small_bags():
    features, labels = _data(seed=3)
    a, b = mlsmote(features, labels, seed=11), mlsmote(features, labels, seed=11)
    np.testing.assert_array_equal(a.references, b.references)
    np.testing.assert_array_equal(a.gaps, b.gaps)
    c = mlsmote(features, labels, seed=12)
    assert not np.array_equal(a.gaps, c.gaps)
    tiny = mlsmote(features, labels, k=50, seed=0)  # k larger than every bag
    assert all(len(h) == labels[:, lbl].sum() - 1 for h, lbl in zip(tiny.neighbourhoods, tiny.for_label))


def test_balanced_labels_need_no_synthetic_samples():
    labels = np.eye(4, dtype=bool).repeat(5, axis=0)
    plan = mlsmote(np.random.default_rng(0).normal(size=(20, 3)), labels)
    assert len(plan) == 0 and plan.labels.shape == (0, 4)
    assert interpolate(np.zeros((20, 3)), plan).shape == (0, 3)


# --- HMHAN's frozen-feature stage -----------------------------------------------------------------------


def _token_features(lengths=(5, 3, 7, 2), hidden=4, seed=0):
    from icdbench.training.families.hmhan import TokenFeatures

    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    order = rng.permutation(len(lengths))  # documents stored out of order, as the length-sorted loader writes
    starts = np.zeros(len(lengths), dtype=np.int64)
    offset = 0
    for doc in order:
        starts[doc], offset = offset, offset + lengths[doc]
    states = rng.normal(size=(offset, hidden)).astype(np.float16)
    return TokenFeatures(states, starts, lengths)


def test_token_features_round_trip_and_pooling(tmp_path):
    from icdbench.training.families.hmhan import TokenFeatures

    features = _token_features()
    features.save(tmp_path)
    loaded = TokenFeatures.load(tmp_path)
    assert len(loaded) == 4
    for i in range(4):
        np.testing.assert_array_equal(loaded.doc(i), features.doc(i))
        np.testing.assert_allclose(loaded.pooled()[i], features.doc(i).astype(np.float32).mean(0), rtol=1e-6)


def test_synthetic_documents_interpolate_token_states_position_by_position():
    from icdbench.training.families.hmhan import FeatureCollator, FeatureDataset
    from icdbench.training.families.hmhan_smote import SmotePlan

    features = _token_features()
    plan = SmotePlan(
        seeds=np.array([0, 1]),
        references=np.array([2, 2]),
        gaps=np.array([0.25, 0.5]),
        labels=np.array([[True, False], [True, True]]),
        for_label=np.array([0, 0]),
        neighbourhoods=[np.array([2]), np.array([2])],
        minority_labels=np.array([0]),
        mean_ir=1.5,
    )
    dataset = FeatureDataset(features, plan)
    assert len(dataset) == 6
    np.testing.assert_array_equal(dataset.lengths(), [5, 3, 7, 2, 5, 3])
    _, longer_ref = dataset[4]  # doc 0 (5 tokens) towards doc 2 (7 tokens): every position interpolated
    a, b = features.doc(0).astype(np.float32), features.doc(2).astype(np.float32)
    np.testing.assert_allclose(longer_ref, a + 0.25 * (b[:5] - a), rtol=1e-6)
    features2 = _token_features(lengths=(5, 3, 2, 2))
    _, shorter_ref = FeatureDataset(features2, plan)[4]  # towards a 2-token doc: the rest stays the sample's
    a, b = features2.doc(0).astype(np.float32), features2.doc(2).astype(np.float32)
    np.testing.assert_allclose(shorter_ref[:2], a[:2] + 0.25 * (b - a[:2]), rtol=1e-6)
    np.testing.assert_array_equal(shorter_ref[2:], a[2:])

    targets = np.concatenate([np.zeros((4, 2), bool), plan.labels])
    collate = FeatureCollator(targets, np.arange(6, dtype=np.float32), np.zeros(6, np.int64))
    batch = collate([dataset[1], dataset[5]])
    assert batch["token_states"].shape == (2, 3, 4) and batch["token_mask"].sum().item() == 6
    assert batch["targets"].tolist() == [[0.0, 0.0], [1.0, 1.0]] and batch["doc_index"].tolist() == [1, 5]


def test_encode_features_keeps_each_documents_real_tokens():
    from omegaconf import OmegaConf

    from icdbench.models.encoders import SegmentEncoder
    from icdbench.training.families.hmhan import encode_features

    encoder = SegmentEncoder("tiny-random", freeze=True)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 150, (3, 2, 6), generator=gen)
    att = torch.ones_like(ids)
    att[1, 0, 4:] = 0
    seg = torch.tensor([[True, True], [True, False], [True, True]])
    att = att * seg[..., None]
    # documents arrive out of order, as from a length-sorted loader
    batches = [
        {
            "input_ids": ids[rows],
            "attention_mask": att[rows],
            "segment_mask": seg[rows],
            "doc_index": torch.tensor(rows),
        }
        for rows in ([2, 0], [1])
    ]
    cfg = OmegaConf.create({"train": {"accelerator": "cpu", "precision": "32-true"}})
    features = encode_features(encoder, batches, 3, cfg)
    np.testing.assert_array_equal(features.lengths, [12, 4, 12])
    assert features.states.shape == (28, 64)
    with torch.no_grad():
        states, mask = encoder(ids, att, seg)
    for doc in range(3):
        expected = states[doc][mask[doc]].numpy().astype(np.float16)
        np.testing.assert_array_equal(features.doc(doc), expected)
