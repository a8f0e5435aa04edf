"""``icdbench compare RUN_A RUN_B``: a paired bootstrap test between two runs on the same split."""

from __future__ import annotations

import math

import polars as pl

from icdbench.app.requests import CompareRequest
from icdbench.datasets.prepared import recorded_split_dir
from icdbench.datasets.storage import read_manifest
from icdbench.errors import UserError
from icdbench.io import format_table
from icdbench.results.cells import number
from icdbench.results.curves import GoldCodes
from icdbench.results.leaderboard import HEADLINE
from icdbench.results.paired import N_BOOT, align, compare_runs, load_run_scores
from icdbench.results.record import read_run


def compare(request: CompareRequest) -> int:
    """Paired bootstrap of two runs on the same test documents: each headline metric's delta, interval and p."""
    rec_a, rec_b = read_run(request.run_a), read_run(request.run_b)
    ident = [(r.split, str(r.split_version), r.split_hashes.content_sha256) for r in (rec_a, rec_b)]
    if ident[0] != ident[1]:
        raise UserError(f"the runs are on different splits ({ident[0][0]} v{ident[0][1]} vs {ident[1][0]} "
                        f"v{ident[1][1]}, or differently prepared); a paired test needs the same test documents")
    a = load_run_scores(request.run_a, rec_a)
    b = align(a, load_run_scores(request.run_b, rec_b))

    split_dir = recorded_split_dir(rec_a.split, rec_a.fold)  # a fold run's gold codes are in its fold folder
    gold = GoldCodes.load(split_dir, rec_a.split_hashes.content_sha256)
    if gold is None:
        state = "is not prepared" if read_manifest(split_dir, missing_ok=True) is None else "is another preparation"
        raise UserError(f"{split_dir} {state}; compare needs the split the runs used (content hash "
                        f"{ident[0][2][:12] if ident[0][2] else '?'}) for the gold codes: `icdbench prepare "
                        f"{rec_a.split}` with DATA_DIR set as for the runs")  # fmt: skip
    if gold.missing(a.doc_ids):
        raise UserError(f"the runs scored documents that {split_dir}'s test part lacks; is DATA_DIR the right one?")
    targets = gold.matrix(a.doc_ids, a.codes)
    counts = dict(pl.read_parquet(split_dir / "codes.parquet", columns=["code", "train_count"]).iter_rows())
    train_counts = [int(counts.get(code, 0)) for code in a.codes]
    results = compare_runs(a, b, targets, gold.sequences(a.doc_ids), train_counts)
    print(f"A: {request.run_a} ({rec_a.model}, seed {rec_a.seed})")
    print(f"B: {request.run_b} ({rec_b.model}, seed {rec_b.seed})")
    print(f"paired bootstrap ({N_BOOT} resamples) over {len(a.doc_ids)} test documents of {rec_a.split} (full "
          "label set); delta = B - A with its 95% interval; two-sided p")  # fmt: skip
    rows = []
    for key, label in HEADLINE:
        r = results[key]
        delta = _finite(r["delta"])
        rows.append([label, number(_finite(r["a"]), 4), number(_finite(r["b"]), 4),
                     "–" if delta is None else f"{delta:+.4f}",
                     f"[{number(_finite(r['low']), 4)}, {number(_finite(r['high']), 4)}]",
                     number(_finite(r["p_value"]), 4)])  # fmt: skip
    print(format_table(["metric", "A", "B", "delta", "95% CI", "p"], rows))
    return 0


def _finite(value):
    return None if value is None or not math.isfinite(float(value)) else float(value)
