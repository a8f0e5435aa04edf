"""A built leaderboard (:class:`Leaderboard`: its tables, references, curves, hidden rows) and what every
rendering of it shares: plot names, anchors, the split line, the guide to citing a number. Rendered by ``render``
(Markdown, CSV, JSON, plots) and ``html``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from icdbench.results.cells import excluded_text
from icdbench.results.leaderboard import Row, Table
from icdbench.results.locking import read_csv

PLOTS_DIR = "plots"
PLOT_KINDS = ("rare-f1", "automation", "pr")
PLOT_CAPTIONS = {
    "rare-f1": "Macro-F1 by how many training documents a code has (rare codes on the left).",
    "automation": "Selective automation: exact match and Jaccard of the documents a model is most sure of, against "
                  "the share automated (dashed: EMR 0.9).",
    "pr": "Micro-averaged precision-recall curves of the best models.",
}  # fmt: skip

HOW_TO_CITE = """\
## How to cite a number

A number in these tables is identified by the fields of its row (all in `leaderboard.csv` / `.json` and the
provenance table of its split):

- **suite version** (`suite_version`): the icdbench release that produced the runs;
- **split**: its name, version and content hash (`split`, `split_version`, `split_hash` — the hash of the
  prepared files, so a silently different preparation cannot pass for the same split);
- **model and config**: the registered model name and the hash of its resolved configuration without the
  seed (`model`, `config_hash`), with the scale profile (`profile`: paper, cpu or ci);
- **seeds** (or folds) averaged (`replicates`), and the **setting** (full label set or top-50).

Quote them with the number, for example: *micro-F1 0.512 ± 0.010 (mean ± std over seeds 0,1,2; 95% CI
[0.487, 0.537]) — caml, config 0a1b2c3d4e5f, profile cpu, split synth-icd10 v1.0.0 (hash 9f8e7d6c5b4a),
icdbench 0.1.0*. The run records (`leaderboards/records/`) hold everything else: git commit, library versions,
device, the full resolved config and the command; `icdbench bench MODEL SPLIT --profile PROFILE --seeds S`
re-runs a row. Cite the suite itself with `CITATION.cff`.
"""


@dataclass
class Leaderboard:
    title: str
    intro: str  # a paragraph under the title: where the records come from, how to rebuild
    tables: list[Table]
    references: dict[str, list[dict]] = field(default_factory=dict)  # split -> published numbers
    # (split, profile) -> row label -> the curves of its runs
    curves: dict[tuple[str, str], dict[str, list[dict]]] = field(default_factory=dict)
    hidden: list[Row] = field(default_factory=list)  # rows left out by --converged-only (said under the intro)


def hidden_text(board: Leaderboard) -> str:
    """One sentence naming the rows ``--converged-only`` hid; "" when none was."""
    if not board.hidden:
        return ""
    names = ", ".join(f"{row.label} ({row.split}, {row.profile}: {row.stop_reason})" for row in board.hidden)
    return (f"Built with `--converged-only`: {len(board.hidden)} row(s) whose runs did not all converge are "
            f"hidden: {names}.")  # fmt: skip


def load_references(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in read_csv(path):
        out.setdefault(row["split"], []).append(row)
    return out


def anchor(table: Table) -> str:
    return f"{table.split}-{table.profile}"


def plot_name(table: Table, kind: str) -> str:
    return f"{PLOTS_DIR}/{anchor(table)}-{kind}.png"


def split_line(table: Table) -> str:
    """The split's version and hash, its ceiling recall, and the models not planned on it."""
    versions = sorted({row.split_version for row in table.rows if row.split_version})
    hashes = sorted({row.split_hash for row in table.rows if row.split_hash})
    line = (f"Split `{table.split}` version {', '.join(versions) or '–'}, content hash {', '.join(hashes) or '–'}; "
            f"profile `{table.profile}`.")  # fmt: skip
    return line + ceiling_text(table) + excluded_text(table)


def ceiling_text(table: Table) -> str:
    """The split's ceiling recall as its records report it (``ceiling_recall``), or "" when they do not."""
    ceiling = next((loaded.record.ceiling_recall for row in table.rows for loaded in row.records
                    if loaded.record.ceiling_recall), None)  # fmt: skip
    if ceiling is None:
        return ""
    return (f" Ceiling recall: {ceiling['label_set']:.1%} of the test code occurrences have a code in the label "
            f"set; {ceiling['seen_in_train']:.1%} a code with a train document, {ceiling['seen_in_train_val']:.1%} "
            "with a train or validation one (only a model reading code titles reaches the rest).")
