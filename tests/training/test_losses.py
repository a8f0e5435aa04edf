"""Losses of the training loop against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from icdbench.training.losses import CodingLoss, focal_loss, positive_weights, weighted_bce


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_focal_loss_matches_the_formula_by_hand():
    logits = torch.tensor([[2.0, -1.0], [0.0, 3.0]])
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    gamma, alpha = 2.0, 0.25
    expected = []
    for x, y in zip(logits.flatten().tolist(), targets.flatten().tolist()):
        p = _sigmoid(x)
        p_t = p if y else 1 - p
        a_t = alpha if y else 1 - alpha
        expected.append(-a_t * (1 - p_t) ** gamma * math.log(p_t))
    got = focal_loss(logits, targets, gamma=gamma, alpha=alpha)
    assert got.item() == pytest.approx(sum(expected) / len(expected), rel=1e-6)


def test_focal_loss_with_gamma_zero_and_no_alpha_is_bce():
    logits, targets = torch.randn(4, 5), (torch.rand(4, 5) > 0.5).float()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    assert focal_loss(logits, targets, gamma=0.0, alpha=-1).item() == pytest.approx(bce.item(), rel=1e-6)


def test_focal_loss_is_finite_for_extreme_logits():
    logits = torch.tensor([[80.0, -80.0]], requires_grad=True)
    loss = focal_loss(logits, torch.tensor([[0.0, 1.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_positive_weights_are_negatives_over_positives():
    weights = positive_weights(np.array([1, 4, 0]), n_docs=10)
    assert weights.tolist() == pytest.approx([9.0, 1.5, 1.0])


def test_weighted_bce_weights_positive_terms_only():
    logits = torch.tensor([[0.5, -0.5]])
    targets = torch.tensor([[1.0, 0.0]])
    w = torch.tensor([3.0, 7.0])
    by_hand = (-3.0 * math.log(_sigmoid(0.5)) - math.log(1 - _sigmoid(-0.5))) / 2
    assert weighted_bce(logits, targets, w).item() == pytest.approx(by_hand, rel=1e-6)


def test_combined_loss_is_the_sum():
    logits, targets = torch.randn(3, 4), (torch.rand(3, 4) > 0.5).float()
    w = torch.full((4,), 2.0)
    combined = CodingLoss("focal+wbce", pos_weight=w)(logits, targets)
    parts = focal_loss(logits, targets) + weighted_bce(logits, targets, w)
    assert combined.item() == pytest.approx(parts.item(), rel=1e-6)
    with pytest.raises(ValueError):
        CodingLoss("wbce")


@pytest.mark.parametrize("kind", ["bce", "focal", "wbce", "focal+wbce"])
def test_per_document_losses_average_to_the_trained_loss(kind):
    logits, targets = torch.randn(5, 7) * 4, (torch.rand(5, 7) > 0.7).float()
    loss = CodingLoss(kind, pos_weight=torch.rand(7) * 5)
    per_document = loss.per_document(logits, targets)
    assert per_document.shape == (5,)
    assert per_document.mean().item() == pytest.approx(loss(logits, targets).item(), rel=1e-6)
    # a document's loss does not depend on the batch it arrives in
    assert loss.per_document(logits[2:3], targets[2:3]).item() == pytest.approx(per_document[2].item(), rel=1e-6)
