"""The shared layers: masking, attention, per-code output, embeddings, packed RNNs, same-length convs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from icdbench.errors import UserError
from icdbench.models.layers import (
    CamlAttention,
    LabelAttention,
    PerCodeLinear,
    SameConv1d,
    WordEmbedding,
    masked_max,
    masked_softmax,
)
from icdbench.models.layers.recurrent import run_packed, run_within_lengths


def _mask(lengths: list[int], width: int) -> torch.Tensor:
    return torch.arange(width) < torch.tensor(lengths)[:, None]


def test_masked_softmax_zero_on_padding_and_equal_to_softmax_of_valid_part():
    scores = torch.randn(2, 3, 6)
    mask = _mask([4, 6], 6)
    weights = masked_softmax(scores, mask.unsqueeze(1))
    assert torch.all(weights[0, :, 4:] == 0)
    torch.testing.assert_close(weights[0, :, :4], torch.softmax(scores[0, :, :4], dim=-1))
    torch.testing.assert_close(weights[1], torch.softmax(scores[1], dim=-1))


def test_masked_softmax_all_masked_row_is_zero_with_finite_gradient():
    scores = torch.randn(2, 5, requires_grad=True)
    mask = torch.tensor([[True, True, False, False, False], [False] * 5])
    weights = masked_softmax(scores, mask)
    assert torch.all(weights[1] == 0)
    assert torch.isfinite(weights).all()
    (weights * torch.randn(2, 5)).sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert torch.all(scores.grad[1] == 0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_masked_softmax_low_precision_stays_finite(dtype):
    scores = (torch.randn(2, 4, 8) * 50).to(dtype)
    mask = _mask([3, 0], 8).unsqueeze(1)
    weights = masked_softmax(scores, mask)
    assert torch.isfinite(weights).all()
    assert torch.all(weights[1] == 0)
    torch.testing.assert_close(weights[0].float().sum(-1), torch.ones(4), atol=1e-2, rtol=0)


@pytest.mark.parametrize("make", [lambda: CamlAttention(8, 5), lambda: LabelAttention(8, 5, attention_dim=6)])
def test_attention_ignores_padding_content_and_width(make):
    torch.manual_seed(0)
    attention = make()
    states = torch.randn(2, 7, 8)
    mask = _mask([4, 7], 7)
    per_code, weights = attention(states, mask)
    assert per_code.shape == (2, 5, 8) and weights.shape == (2, 5, 7)
    assert torch.all(weights[0, :, 4:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    # Garbage in the padded positions and extra padding change nothing for the short document.
    noisy = states.clone()
    noisy[0, 4:] = 100.0
    wider = torch.cat([noisy, torch.randn(2, 3, 8)], dim=1)
    per_code_wide, _ = attention(wider, _mask([4, 7], 10))
    torch.testing.assert_close(per_code_wide, per_code)
    # The single document on its own gives the same vectors.
    alone, _ = attention(states[:1, :4], _mask([4], 4))
    torch.testing.assert_close(alone[0], per_code[0])


def test_label_attention_matches_its_equations():
    torch.manual_seed(0)
    attention = LabelAttention(4, 3, attention_dim=5)
    states = torch.randn(1, 6, 4)
    z = torch.tanh(states[0] @ attention.project.weight.T)  # [T, d_a]
    a = torch.softmax(attention.queries.weight @ z.T, dim=-1)  # [C, T]
    per_code, weights = attention(states, None)
    torch.testing.assert_close(weights[0], a)
    torch.testing.assert_close(per_code[0], a @ states[0])


def test_per_code_linear_is_a_dot_product_per_code():
    layer = PerCodeLinear(4, 3)
    per_code = torch.randn(2, 3, 4)
    expected = torch.stack([per_code[:, c] @ layer.weight[c] + layer.bias[c] for c in range(3)], dim=1)
    torch.testing.assert_close(layer(per_code), expected)
    std_layer = PerCodeLinear(1000, 50, init_std=0.03)
    assert abs(std_layer.weight.std().item() - 0.03) < 0.003


def test_masked_max_ignores_padding_and_empty_rows_give_zero():
    states = torch.tensor([[[1.0], [5.0], [9.0]], [[2.0], [3.0], [4.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert masked_max(states, mask).tolist() == [[5.0], [0.0]]


def test_same_conv_keeps_length_for_even_and_odd_kernels():
    for kernel in (1, 4, 9, 10):
        conv = SameConv1d(3, 2, kernel)
        assert conv(torch.randn(2, 3, 7)).shape == (2, 2, 7)


def test_word_embedding_loads_vectors_and_zeroes_padding(make_context):
    ctx = make_context(vocab_size=12, embed_dim=4)
    layer = WordEmbedding(ctx, 4)
    np.testing.assert_allclose(layer.embed.weight[1:].detach().numpy(), ctx.embeddings[1:])
    assert torch.all(layer.embed.weight[0] == 0)
    assert layer(torch.tensor([[0, 3]])).shape == (1, 2, 4)
    assert WordEmbedding(ctx, 4, freeze=True).embed.weight.requires_grad is False
    random_init = WordEmbedding(make_context(vocab_size=12, with_embeddings=False), 6, freeze=True)
    assert random_init.embed.weight.requires_grad  # nothing pretrained to keep fixed


def test_word_embedding_shape_mismatch_is_one_clear_error(make_context):
    with pytest.raises(UserError, match="embed_dim"):
        WordEmbedding(make_context(vocab_size=12, embed_dim=4), 8)


def test_run_within_lengths_matches_unpadded_runs():
    torch.manual_seed(0)
    rnn = nn.GRU(3, 4, batch_first=True, bidirectional=True)
    inputs = torch.randn(2, 6, 3)
    states, last = run_within_lengths(rnn, inputs, torch.tensor([6, 3]))
    alone_states, alone_last = rnn(inputs[1:, :3])
    torch.testing.assert_close(states[1, :3], alone_states[0])
    assert torch.all(states[1, 3:] == 0)
    torch.testing.assert_close(last[:, 1], alone_last[:, 0])


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize(("bidirectional", "layers"), [(True, 1), (True, 2), (False, 1)])
def test_run_within_lengths_gives_packed_states_and_gradients_and_draws_no_random_number(kind, bidirectional, layers):
    torch.manual_seed(0)
    rnn = kind(5, 7, batch_first=True, bidirectional=bidirectional, num_layers=layers)
    inputs = torch.randn(4, 9, 5, requires_grad=True)
    lengths = torch.tensor([9, 3, 1, 0])  # 0 is run as 1, as packing needs
    packed = pack_padded_sequence(inputs, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
    output, hidden = rnn(packed)
    expected_states = pad_packed_sequence(output, batch_first=True, total_length=9)[0]
    expected_last = hidden[0] if kind is nn.LSTM else hidden
    random_state = torch.random.get_rng_state()
    states, last = run_within_lengths(rnn, inputs, lengths)
    assert torch.equal(torch.random.get_rng_state(), random_state)  # a run's seed stream stays the packed one's
    torch.testing.assert_close(states, expected_states)
    torch.testing.assert_close(last, expected_last)
    for got, expected in zip(run_packed(rnn, inputs, lengths), (expected_states, expected_last), strict=True):
        torch.testing.assert_close(got, expected)  # the GPU path
    wrt = [inputs, *rnn.parameters()]
    expected_grads = torch.autograd.grad(expected_states.sum() + expected_last.sum(), wrt)
    for grad, expected in zip(torch.autograd.grad(states.sum() + last.sum(), wrt), expected_grads, strict=True):
        torch.testing.assert_close(grad, expected)
