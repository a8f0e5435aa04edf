"""Running a recurrent layer over padded batches without letting the padding in.

Packing (``pack_padded_sequence``) keeps padding out too, but PyTorch's CPU backward pass through a packed LSTM
or GRU is far slower than through the same padded batch: a forward and backward pass of one BiLSTM layer
(64 → 2x128) over 16 documents of 400-512 tokens took 3.4 s packed against 0.4 s here on one core
(``benchmarks/perf/recurrent.py``), and packing held LAAT to 4.5 training notes/s (21 with this). So each
direction runs as a plain padded batch in which padding cannot reach a real position: the forward direction
over the documents as they are (every pad comes after the last real token), the backward direction over each
document reversed within its own length. Same parameters, same outputs as packing (to float rounding;
``tests/models/test_layers.py``). On a GPU, cuDNN runs packed batches fast, and they are packed.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@cache
def _one_direction(kind: type[nn.RNNBase], input_size: int, hidden_size: int, bias: bool) -> nn.RNNBase:
    """A one-layer, one-direction module of ``kind`` to call with another module's weights (``functional_call``).
    Built on the meta device: no memory, and no draw from the random generator that seeds training."""
    return kind(input_size, hidden_size, bias=bias, batch_first=True, device="meta")


def reverse_within_lengths(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``values`` [B, T, ...] with each row's first ``lengths[b]`` positions in reverse order; positions past a
    row's length hold its first value (padding that a forward pass reaches only after every real position). The
    map is its own inverse on the real positions."""
    steps = values.shape[1]
    index = (lengths[:, None] - 1 - torch.arange(steps, device=values.device)).clamp(min=0)  # [B, T]
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return values.gather(1, index)


def run_packed(
    rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`run_within_lengths` through PyTorch's packing (its GPU path; the CPU benchmark's baseline)."""
    steps = inputs.shape[1]
    packed = pack_padded_sequence(inputs, lengths.clamp(min=1, max=steps).cpu(), batch_first=True,
                                  enforce_sorted=False)  # fmt: skip
    output, hidden = rnn(packed)
    states = pad_packed_sequence(output, batch_first=True, total_length=steps)[0]
    return states, hidden[0] if isinstance(hidden, tuple) else hidden


def run_within_lengths(
    rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a ``batch_first`` RNN over ``inputs`` [B, T, E] with true ``lengths`` [B], as if each sequence were
    run alone (what packing does).

    Returns ``(states [B, T, H·directions], last [layers·directions, B, H])``: states are zero at padded
    positions and ``last`` holds each sequence's own final hidden state (for an LSTM, ``h`` only). Lengths are
    clamped to [1, T] so an empty document still yields a state.
    """
    if not rnn.batch_first or rnn.proj_size or (rnn.dropout and rnn.num_layers > 1):
        raise ValueError("run_within_lengths: batch_first layers without projections or inter-layer dropout only")
    if inputs.is_cuda:  # cuDNN runs packed batches natively and fast
        return run_packed(rnn, inputs, lengths)
    steps = inputs.shape[1]
    lengths = lengths.to(inputs.device).clamp(min=1, max=steps)
    rows = torch.arange(inputs.shape[0], device=inputs.device)
    real = (torch.arange(steps, device=inputs.device) < lengths[:, None]).unsqueeze(-1)  # [B, T, 1]
    directions = 2 if rnn.bidirectional else 1
    parameters = dict(rnn.named_parameters())
    last = []
    layer_input = inputs
    for layer in range(rnn.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            names = WEIGHT_NAMES if rnn.bias else WEIGHT_NAMES[:2]
            weights = {f"{name}_l0": parameters[name + suffix] for name in names}
            single = _one_direction(type(rnn), layer_input.shape[-1], rnn.hidden_size, rnn.bias)
            reverse = direction == 1
            sequence = reverse_within_lengths(layer_input, lengths) if reverse else layer_input
            states, _ = functional_call(single, weights, (sequence,))
            last.append(states[rows, lengths - 1])  # each run's last real step (reversed: the first token)
            outputs.append(reverse_within_lengths(states, lengths) if reverse else states)
        layer_input = torch.cat(outputs, dim=-1) * real
    return layer_input, torch.stack(last)
