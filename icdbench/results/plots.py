"""Leaderboard plots (matplotlib, Agg backend, PNG): rare-code F1 by training-frequency bucket per model,
selective-automation curves and precision-recall curves of the top models.

Each function returns PNG bytes (or None when the table has nothing to draw) so the caller writes them
atomically. The PNG carries no software/version text chunk, and nothing in a figure depends on the time, so
the same records give the same bytes with the same matplotlib.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from icdbench.metrics.keys import FREQUENCY_BUCKETS  # noqa: E402
from icdbench.results.leaderboard import Row, Table  # noqa: E402

TOP_MODELS = 5  # precision-recall curves: the best models by full-setting micro-F1
DPI = 100
STYLE = {"font.size": 9, "axes.grid": True, "grid.alpha": 0.3}


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def _colors(n: int):
    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    return [cmap(i % cmap.N) for i in range(n)]


def _title(table: Table, what: str) -> str:
    return f"{table.split} ({table.profile} profile): {what}"


def rare_code_f1(table: Table) -> bytes | None:
    """Macro-F1 of codes grouped by training documents (1-10, 11-50, 51-100, 101+), one line per model."""
    keys = [f"macro_f1@{name}" for name, _, _ in FREQUENCY_BUCKETS]
    rows = [row for row in table.rows if any(_bucket(row, key) is not None for key in keys)]
    if not rows:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for row, color in zip(rows, _colors(len(rows))):
            values = [_bucket(row, key) for key in keys]
            xs = [i for i, v in enumerate(values) if v is not None]
            ax.plot(xs, [values[i] for i in xs], marker="o", color=color, label=row.label)
        ax.set_xticks(range(len(keys)), [f"{name} train docs" for name, _, _ in FREQUENCY_BUCKETS])
        ax.set_ylabel("macro-F1 (full setting)")
        ax.set_ylim(0, 1)
        ax.set_title(_title(table, "F1 by code frequency"))
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        return _png(fig)


def _bucket(row: Row, key: str) -> float | None:
    """A bucket's mean macro-F1 from the row's records (the bucket keys are not headline columns)."""
    values = [r.record.metrics.full.get(key) for r in row.records]
    values = [float(v) for v in values if v is not None and v == v]
    return sum(values) / len(values) if values else None


def automation(table: Table, curves: dict[str, list[dict]]) -> bytes | None:
    """EMR (left) and Jaccard (right) of the automated documents vs the share automated, most confident first;
    one line per model. ``curves``: row label -> the curves of its runs (averaged point by point over seeds)."""
    drawn = []
    for row in table.rows:
        runs = [c["automation"] for c in curves.get(row.label, [])]
        emr, jaccard = _mean_curve(runs, "coverage", "emr"), _mean_curve(runs, "coverage", "jaccard")
        if emr is not None and jaccard is not None:
            drawn.append((row, emr, jaccard))
    if not drawn:
        return None
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
        for (row, emr, jaccard), color in zip(drawn, _colors(len(drawn))):
            axes[0].plot(*emr, color=color, label=row.label)
            axes[1].plot(*jaccard, color=color, label=row.label)
        axes[0].axhline(0.9, color="grey", linestyle="--", linewidth=0.8)
        for ax, what in zip(axes, ("exact match ratio", "Jaccard (code accuracy)")):
            ax.set_xlabel("share of documents automated (most confident first)")
            ax.set_ylabel(f"{what} of automated documents")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
        fig.suptitle(_title(table, "selective automation"))
        axes[1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
        return _png(fig)


def precision_recall(table: Table, curves: dict[str, list[dict]]) -> bytes | None:
    """Micro-averaged precision-recall curves of the ``TOP_MODELS`` best rows (by full micro-F1)."""
    drawn = []
    for row in table.rows:  # rows are sorted best first
        if row.value("full", "micro_f1") is None or not curves.get(row.label):
            continue
        xy = _mean_curve([c["pr"] for c in curves[row.label]], "recall", "precision", align=False)
        if xy is not None:
            drawn.append((row, xy))
        if len(drawn) == TOP_MODELS:
            break
    if not drawn:
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for (row, (xs, ys)), color in zip(drawn, _colors(len(drawn))):
            ax.plot(xs, ys, color=color, label=row.label)
        ax.set_xlabel("micro recall")
        ax.set_ylabel("micro precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title(_title(table, f"precision-recall, top {len(drawn)} models"))
        ax.legend(loc="lower left", fontsize=8)
        return _png(fig)


def _mean_curve(curves: list[dict], x: str, y: str, align: bool = True):
    """Point-wise mean over runs when their x points agree (automation); else the first run's curve (PR)."""
    curves = [c for c in curves if c and c.get(x)]
    if not curves:
        return None
    if align and all(c[x] == curves[0][x] for c in curves):
        ys = [sum(values) / len(values) for values in zip(*(c[y] for c in curves))]
        return curves[0][x], ys
    return curves[0][x], curves[0][y]
