"""Fixtures of the metrics tests."""

from __future__ import annotations

import pytest
from metrics_cases import make_case


@pytest.fixture(params=[(0, False), (1, True), (2, False), (3, True)], ids=["random", "ties", "random2", "ties2"])
def case(request):
    seed, ties = request.param
    return make_case(seed, ties=ties)


@pytest.fixture(autouse=True)
def _one_thread():
    """The matrices here are tiny: intra-op threads would only add start-up and contention overhead."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
