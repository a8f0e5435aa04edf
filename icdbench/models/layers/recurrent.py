"""Running a recurrent layer over padded batches without letting the padding in."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def run_packed(
    rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a ``batch_first`` RNN over ``inputs`` [B, T, E] with true ``lengths`` [B].

    Returns ``(states [B, T, H·directions], last [layers·directions, B, H])``: states are zero at padded
    positions and ``last`` holds each sequence's own final hidden state (for an LSTM, ``h`` only). Lengths are
    clamped to [1, T] so an empty document still yields a state.
    """
    steps = inputs.shape[1]
    lengths = lengths.clamp(min=1, max=steps).cpu()
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    output, hidden = rnn(packed)
    states, _ = pad_packed_sequence(output, batch_first=True, total_length=steps)
    last = hidden[0] if isinstance(hidden, tuple) else hidden
    return states, last
