"""A recurrent layer over a padded batch: PyTorch's packing against ``run_within_lengths``, forward and backward.

Both keep padding out of the states (the test suite checks that they agree); this times one training pass of
each, alternating so that load on a shared machine slows both alike, and reports the packed/ours ratio.
Defaults are LAAT's cpu-profile shape (BiLSTM 64 → 2x128, batch 16, 512 tokens, lengths 400-512).

    python benchmarks/perf/recurrent.py
    python benchmarks/perf/recurrent.py --kind gru --hidden 64 --tokens 2500 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from torch import nn

from icdbench.io import format_table
from icdbench.models.layers.recurrent import run_packed, run_within_lengths


def timed_pass(run, rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor) -> tuple[float, float]:
    """Seconds of one forward and of its backward pass."""
    start = time.perf_counter()
    states = run(rnn, inputs, lengths)
    middle = time.perf_counter()
    states.sum().backward()
    return middle - start, time.perf_counter() - middle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128, help="per direction")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    layer = nn.LSTM if args.kind == "lstm" else nn.GRU
    rnn = layer(args.embed, args.hidden, batch_first=True, bidirectional=True)
    inputs = torch.randn(args.batch_size, args.tokens, args.embed, generator=generator, requires_grad=True)
    low = max(1, int(0.78 * args.tokens))
    lengths = torch.randint(low, args.tokens + 1, (args.batch_size,), generator=generator)
    runs = {"packed (pack_padded_sequence)": lambda *a: run_packed(*a)[0],
            "run_within_lengths": lambda *a: run_within_lengths(*a)[0]}  # fmt: skip
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for repeat in range(args.repeats + 1):
        for name, run in runs.items():
            measured = timed_pass(run, rnn, inputs, lengths)
            if repeat:  # the first pass of each warms up
                times[name].append(measured)
    medians = {name: [statistics.median(t[i] for t in ts) for i in (0, 1)] for name, ts in times.items()}
    ours = sum(medians["run_within_lengths"])
    rows = [[name, f"{fwd:.3f}", f"{bwd:.3f}", f"{fwd + bwd:.3f}", f"{(fwd + bwd) / ours:.1f}"]
            for name, (fwd, bwd) in medians.items()]  # fmt: skip
    print(f"bi{args.kind} {args.embed} -> 2x{args.hidden}, batch {args.batch_size}, {args.tokens} tokens "
          f"(lengths {low}-{args.tokens}), {args.threads} thread(s), median of {args.repeats}")  # fmt: skip
    header = ["implementation", "forward s", "backward s", "step s", "x run_within_lengths"]
    print(format_table(header, rows, {1, 2, 3, 4}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
