"""Write a leaderboard folder: ``README.md`` (generated, never typed), ``leaderboard.csv`` / ``.json``,
``index.html`` (static, sortable tables) and ``plots/*.png``.

Everything is a pure function of the records (no time stamps, sorted keys, fixed float formats), so the
committed files rebuild byte for byte from ``leaderboards/records``. The folder is written under a file lock,
each file atomically; stale plots from an older build are removed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from icdbench.metrics.keys import METRICS
from icdbench.results.board import (
    HOW_TO_CITE,
    PLOT_CAPTIONS,
    PLOT_KINDS,
    PLOTS_DIR,
    Leaderboard,
    anchor,
    hidden_text,
    plot_name,
    split_line,
)
from icdbench.results.cells import (
    STOP_LEGEND,
    STOP_NOTES,
    Grid,
    Section,
    provenance_section,
    replicates_text,
    table_sections,
)
from icdbench.results.fidelity import fidelity_markdown
from icdbench.results.html import html_page
from icdbench.results.leaderboard import EVIDENCE, HEADLINE, OFFICIAL, SETTINGS, TABLE_KEYS
from icdbench.results.locking import csv_text, locked, write_bytes, write_text


# ---------------------------------------------------------------------------------------------------- markdown
def markdown_grid(grid: Grid) -> str:
    def cell_text(cell) -> str:
        text = cell.text.replace("|", "\\|")
        return f"{text}<br><sub>{cell.note}</sub>" if cell.note else text

    lines = ["| " + " | ".join(grid.header) + " |",
             "|" + "|".join("---:" if numeric else "---" for numeric in grid.numeric) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(cell_text(cell) for cell in row) + " |" for row in grid.rows]
    # a blank line ends the table (a text line right under it would be read as one more row)
    notes = "".join(f"\n{note}\n" for note in grid.notes)
    return "\n".join(lines) + "\n" + notes


def markdown_section(section: Section) -> str:
    grids = [f"{caption}\n\n{markdown_grid(grid)}" if caption else markdown_grid(grid)
             for caption, grid in section.grids]  # fmt: skip
    return "\n".join([f"### {section.title}\n", *grids])


def markdown(board: Leaderboard, plots: dict[str, str]) -> str:
    parts = [f"# {board.title}\n", board.intro + "\n"]
    parts.append(
        "Cells show the mean ± sample std over a row's runs (seeds or folds); below it, the 95% interval: a "
        "t-interval over the runs when there are several, else the run's bootstrap interval over test documents "
        "(1,000 resamples). Rows are sorted by full-setting micro-F1. *Top-50* scores the same runs on the 50 "
        "codes with most training documents (documents with at least one of them), so both settings come from one "
        f"run; Kendall τ compares the two rankings of models. {STOP_LEGEND}\n"
    )
    if board.hidden:
        parts.append(hidden_text(board) + "\n")
    if not board.tables:
        parts.append("No run records yet.\n")
    parts.append("\n".join(f"- [{t.split} — {t.profile} profile](#{anchor(t)})" for t in board.tables) + "\n")
    for table in board.tables:
        parts.append(f'<a id="{anchor(table)}"></a>\n\n## {table.split} — {table.profile} profile\n')
        parts.append(split_line(table) + "\n")
        parts += [markdown_section(section) for section in table_sections(table, board.references.get(table.split, []))]
        shown = [kind for kind in PLOT_KINDS if plot_name(table, kind) in plots]
        if shown:
            parts.append("### Plots\n")
            parts += [f"{PLOT_CAPTIONS[k]}\n\n![{k}]({plot_name(table, k)})\n" for k in shown]
        parts.append(markdown_section(provenance_section(table)))
    parts.append(fidelity_markdown())
    parts.append("## Metrics\n")
    parts.append("\n".join(f"- **{label}** (`{key}`): {METRICS[key].definition}."
                           for key, label in OFFICIAL + HEADLINE + EVIDENCE) + "\n")  # fmt: skip
    parts.append(HOW_TO_CITE)
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------- csv / json
# What a row's ``stop_reason`` field says; several reasons are joined with "/" in STOP_REASONS order.
STOP_REASON_DEFINITIONS = {
    "converged": "every run stopped because its validation monitor stopped improving (patience exhausted), or a "
                 "fitted model's grid was searched",
    **{reason: note.rstrip(".") for reason, note in STOP_NOTES.items()},
}  # fmt: skip


def _num(value, digits: int = 6):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), digits)


def csv_fields() -> list[str]:
    base = ["split", "split_version", "split_hash", "profile", "setting", "model", "label", "registered",
            "config_hash", "replicates", "n_runs", "stop_reason", "encoder_substituted", "suite_version",
            "git_commits", "n_parameters", "train_seconds", "inference_ms_per_doc"]  # fmt: skip
    per_metric = [f"{key}{suffix}" for key in TABLE_KEYS for suffix in ("", "_std", "_low", "_high", "_ci")]
    return base + per_metric


def _csv_value(value) -> str:
    return "" if value is None else (f"{value:.6f}" if isinstance(value, float) else str(value))


def table_rows(board: Leaderboard) -> list[dict]:
    out = []
    for table in board.tables:
        for row in table.rows:
            for setting in SETTINGS:
                entry = {
                    "split": table.split, "split_version": row.split_version, "split_hash": row.split_hash,
                    "profile": table.profile, "setting": setting, "model": row.model, "label": row.label,
                    "registered": row.registered, "config_hash": row.config_hash,
                    "replicates": replicates_text(row), "n_runs": row.n_runs,
                    "stop_reason": row.stop_reason or None,  # "converged", or e.g. "converged/budget"
                    "encoder_substituted": row.encoder_substituted or None,  # e.g. "minilm for roberta-pm-m3-voc"
                    "suite_version": " ".join(row.suite_versions), "git_commits": " ".join(row.git_commits),
                    "n_parameters": row.n_parameters, "train_seconds": _num(row.train_seconds, 3),
                    "inference_ms_per_doc": _num(row.inference_ms_per_doc, 4),
                }  # fmt: skip
                for key in TABLE_KEYS:
                    stat = row.stats.get(setting, {}).get(key)
                    entry[key] = _num(stat.mean) if stat else None
                    entry[f"{key}_std"] = _num(stat.std) if stat else None
                    entry[f"{key}_low"] = _num(stat.low) if stat else None
                    entry[f"{key}_high"] = _num(stat.high) if stat else None
                    entry[f"{key}_ci"] = stat.ci if stat else None
                out.append(entry)
    return out


def csv_document(board: Leaderboard) -> str:
    rows = [{k: _csv_value(v) for k, v in row.items()} for row in table_rows(board)]
    return csv_text(csv_fields(), rows)


def json_document(board: Leaderboard) -> str:
    tables = []
    for table in board.tables:
        tau = {k: (None if v is None else {"tau": _num(v[0]), "p": _num(v[1]), "models": v[2]})
               for k, v in table.tau.items()}  # fmt: skip
        rows = [{k: v for k, v in row.items() if v is not None} for row in table_rows(Leaderboard("", "", [table]))]
        tables.append({"split": table.split, "profile": table.profile, "kendall_tau_full_vs_top50": tau, "rows": rows})
    document = {"title": board.title, "metrics": {key: METRICS[key].definition for key in TABLE_KEYS},
                "stop_reasons": STOP_REASON_DEFINITIONS, "tables": tables}  # fmt: skip
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------------- writing
def render_plots(board: Leaderboard) -> dict[str, bytes]:
    from icdbench.results import plots  # heavy: matplotlib, loaded only when a board draws its plots

    out: dict[str, bytes] = {}
    for table in board.tables:
        curves = board.curves.get((table.split, table.profile), {})
        made: dict[str, Callable[[], bytes | None]] = {
            "rare-f1": lambda t=table: plots.rare_code_f1(t),
            "automation": lambda t=table, c=curves: plots.automation(t, c),
            "pr": lambda t=table, c=curves: plots.precision_recall(t, c),
        }
        for kind, draw in made.items():
            png = draw()
            if png is not None:
                out[plot_name(table, kind)] = png
    return out


def rebuild_leaderboard(out_dir: Path, build: Callable[[], Leaderboard]) -> tuple[Leaderboard, list[Path]]:
    """Build a board with ``build`` (which reads the records) and write it, both under the folder's lock.

    Reading inside the lock is what keeps a row from being lost: a process that read the records before
    another one committed its record must not write after that one's rebuild.
    """
    out_dir = Path(out_dir)
    with locked(out_dir, folder=True):
        board = build()
        return board, _write_files(board, out_dir)


def _write_files(board: Leaderboard, out_dir: Path) -> list[Path]:
    pngs = render_plots(board)
    plots = {name: name for name in pngs}
    files = {
        "README.md": markdown(board, plots),
        "leaderboard.csv": csv_document(board),
        "leaderboard.json": json_document(board),
        "index.html": html_page(board, plots),
    }
    written = [write_text(out_dir / name, text) for name, text in files.items()]
    written += [write_bytes(out_dir / name, png) for name, png in sorted(pngs.items())]
    plot_dir = out_dir / PLOTS_DIR
    if plot_dir.is_dir():
        for stale in plot_dir.glob("*.png"):
            if f"{PLOTS_DIR}/{stale.name}" not in pngs:
                stale.unlink()
    return written
