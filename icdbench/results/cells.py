"""The content of every rendered leaderboard table as plain cells, shared by the Markdown and HTML renderers
(so both show the same numbers) — formatting only, no file I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from icdbench.results.leaderboard import (
    CONVERGED,
    EVIDENCE,
    HEADLINE,
    RANK_KEY,
    SETTINGS,
    STOP_REASONS,
    UNRECORDED,
    Row,
    Stat,
    Table,
    stop_reason_order,
)

DIGITS = 3
SETTING_TITLES = {"full": "Full label set", "top50": "Top-50 codes (the 50 most frequent in train)"}
REFERENCE_FIELDS = ("model", "registry_model", "metric", "value", "published", "plus_minus", "citation", "table",
                    "definition", "note")  # fmt: skip
# A mark after a model's name for every reason other than "converged" among its runs (issue 15), so a number that
# is not a converged model's never passes for one; the footnote under each table says what the marks mean.
STOP_MARKS = {"budget": "†", "prior": "‡", "collapse": "§", UNRECORDED: "?"}
STOP_NOTES = {
    "budget": "training stopped at its budget (epochs, optimiser steps or wall time) while the validation monitor "
              "still improved; the number is not a converged model's.",
    "prior": "the selected model did not beat the label prior on validation by a point of mAP beyond chance (paired "
             "bootstrap over the validation documents); the number measures the prior, not a trained model (icdbench's "
             "README, \"Rows at the prior\", lists common causes).",
    "collapse": "the collapse guard stopped training (the model scored nearly every code high); the number is not "
                "a trained model's.",
    UNRECORDED: "the record does not say why training stopped (written before icdbench recorded stop reasons, or "
                "with a reason this version does not know), so convergence is unknown.",
}  # fmt: skip
STOP_LEGEND = ("A mark after a model's name (†, ‡, §, ?) says that not every run of the row converged; the footnote "
               "under the table says why, and `stop_reason` in leaderboard.csv / .json lists the reasons of the "
               "row's runs (\"converged/budget\" when they differ).")  # fmt: skip


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None = None  # what a sortable table sorts on (None sorts last)
    note: str = ""  # second line: the 95% interval


@dataclass(frozen=True)
class Grid:
    header: list[str]
    rows: list[list[Cell]]
    numeric: list[bool]  # per column: right-aligned numbers
    notes: list[str] = field(default_factory=list)  # footnotes shown under the table


def number(value: float | None, digits: int = DIGITS) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def stat_cell(stat: Stat | None) -> Cell:
    if stat is None or stat.mean is None:
        return Cell("–")
    text = number(stat.mean) if stat.std is None else f"{number(stat.mean)} ± {number(stat.std)}"
    note = f"[{number(stat.low)}, {number(stat.high)}]" if stat.low is not None and stat.high is not None else ""
    return Cell(text, stat.mean, note)


def _replicates(replicates: list[tuple[str, int]]) -> str:
    kinds = sorted({kind for kind, _ in replicates})
    return "; ".join(f"{kind}s " + ",".join(str(i) for k, i in replicates if k == kind) for kind in kinds)


def replicates_text(row: Row) -> str:
    return _replicates(row.replicates) if row.replicates else "not run"


def _mark_key(reason: str) -> str:
    return reason if reason in STOP_MARKS else UNRECORDED  # a reason this version does not know: convergence unknown


def _mark_keys(row: Row) -> set[str]:
    """The marks a row's runs earn: one per non-converged stop reason, and the budget's too for a run that
    stayed at the prior until a budget ended it (HMHAN at 15 minutes), so such a row says both."""
    keys = {_mark_key(reason) for reason in row.stop_reasons if reason != CONVERGED}
    if any(reason == "prior" and ended for reason, ended in zip(row.stop_reasons, row.budget_ended)):
        keys.add("budget")
    return keys


def stop_mark(row: Row) -> str:
    """The marks of the row's non-converged stop reasons ("" for a converged row or one without runs)."""
    keys = _mark_keys(row)
    return "".join(STOP_MARKS[key] for key in STOP_REASONS if key in keys)


def stop_footnotes(rows: list[Row]) -> list[str]:
    """One line per mark that appears among ``rows``: the mark and what it means."""
    keys = set().union(*(_mark_keys(row) for row in rows))
    return [f"{STOP_MARKS[key]} {STOP_NOTES[key]}" for key in STOP_REASONS if key in keys]


def stop_text(row: Row) -> str:
    """The row's stop reason, with the runs of each when they differ ("converged (seeds 0,2), budget (seeds 1)")."""
    if not row.stop_reasons:
        return "–"
    reasons = sorted(set(row.stop_reasons), key=stop_reason_order)
    if len(reasons) == 1:
        return reasons[0]
    runs = list(zip(row.replicates, row.stop_reasons))
    return ", ".join(f"{reason} ({_replicates([rep for rep, r in runs if r == reason])})" for reason in reasons)


def _model_cell(row: Row) -> Cell:
    mark = stop_mark(row)
    text = row.label + (f" {mark}" if mark else "") + ("" if row.registered else " (no longer registered)")
    if row.encoder_substituted:
        text += f" (encoder substituted: {row.encoder_substituted})"
    return Cell(text, row.label)


def _resource_cells(row: Row) -> list[Cell]:
    params = f"{row.n_parameters:,}" if row.n_parameters is not None else "–"
    return [
        Cell(params, row.n_parameters),
        Cell(number(row.train_seconds, 1), row.train_seconds),
        Cell(number(row.inference_ms_per_doc, 2), row.inference_ms_per_doc),
    ]


def metric_grid(table: Table, setting: str) -> Grid:
    """Mean ± std (95% interval below) of the split's official metric (where its records have one) and every
    headline metric in one setting, plus size and speed."""
    metrics = (*table.official(setting), *HEADLINE)
    header = ["model", "runs", *[label for _, label in metrics], "parameters", "run time (s)", "ms / doc"]
    rows = []
    for row in table.rows:
        stats = row.stats.get(setting, {})
        rows.append([_model_cell(row), Cell(str(row.n_runs), row.n_runs),
                     *[stat_cell(stats.get(key)) for key, _ in metrics], *_resource_cells(row)])  # fmt: skip
    return Grid(header, rows, [False] + [True] * (len(header) - 1), stop_footnotes(table.rows))


EVIDENCE_TITLE = "Evidence: where in the note the models look"
EVIDENCE_CAPTION = (
    "Test notes with gold evidence spans, full label set, correctly predicted codes only: how much of a model's "
    "attribution (label attention; the tagger's focus sentences) falls on the gold spans. Rows: models that "
    "expose attributions."
)


def evidence_grid(table: Table) -> Grid | None:
    """Mean ± std of the ``evidence_*`` metrics for the rows that have them; None when no row has."""
    rows = [row for row in table.rows if any(row.value("full", key) is not None for key, _ in EVIDENCE)]
    if not rows:
        return None
    header = ["model", "runs", *[label for _, label in EVIDENCE]]
    cells = [[_model_cell(row), Cell(str(row.n_runs), row.n_runs),
              *[stat_cell(row.stats["full"].get(key)) for key, _ in EVIDENCE]] for row in rows]  # fmt: skip
    return Grid(header, cells, [False] + [True] * (len(header) - 1), stop_footnotes(rows))


def _ranks(rows: list[Row], setting: str) -> dict[str, int]:
    valued = [(row.value(setting, RANK_KEY), row.label) for row in rows if row.value(setting, RANK_KEY) is not None]
    ordered = sorted(valued, key=lambda item: (-item[0], item[1]))
    return {label: i + 1 for i, (_, label) in enumerate(ordered)}


def side_by_side_grid(table: Table) -> Grid:
    """Full / top-50 means next to each other (the official metric, full setting only, first), and each model's
    rank by micro-F1 in both settings."""
    full_rank, top_rank = _ranks(table.rows, "full"), _ranks(table.rows, "top50")
    official = table.official("full")
    header = ["model", "rank full", "rank top-50", *[f"{label} full" for _, label in official],
              *[f"{label} full / top-50" for _, label in HEADLINE]]  # fmt: skip
    rows = []
    for row in table.rows:
        cells = [_model_cell(row), Cell(str(full_rank.get(row.label, "–")), full_rank.get(row.label)),
                 Cell(str(top_rank.get(row.label, "–")), top_rank.get(row.label))]  # fmt: skip
        cells += [Cell(number(row.value("full", key)), row.value("full", key)) for key, _ in official]
        for key, _ in HEADLINE:
            full, top = row.value("full", key), row.value("top50", key)
            cells.append(Cell(f"{number(full)} / {number(top)}", full))
        rows.append(cells)
    return Grid(header, rows, [False] + [True] * (len(header) - 1), stop_footnotes(table.rows))


def tau_grid(table: Table) -> Grid:
    header = ["metric", "Kendall τ (full vs top-50)", "p", "models"]
    rows = []
    for key, label in HEADLINE:
        result = table.tau.get(key)
        if result is None:
            rows.append([Cell(label, label), Cell("–"), Cell("–"), Cell("–")])
        else:
            tau, p, n = result
            rows.append([Cell(label, label), Cell(number(tau, 2), tau), Cell(number(p, 3), p), Cell(str(n), n)])
    return Grid(header, rows, [False, True, True, True])


def provenance_grid(table: Table) -> Grid:
    header = ["model", "config hash", "runs", "stop reason", "split version", "split hash", "suite version",
              "git commit"]  # fmt: skip
    rows = [[_model_cell(row), Cell(row.config_hash or "–"), Cell(replicates_text(row)), Cell(stop_text(row)),
             Cell(row.split_version or "–"), Cell(row.split_hash or "–"),
             Cell(", ".join(row.suite_versions) or "–"), Cell(", ".join(row.git_commits) or "–")]
            for row in table.rows]  # fmt: skip
    return Grid(header, rows, [False] * len(header), stop_footnotes(table.rows))


def excluded_text(table: Table) -> str:
    """One sentence naming the registered models the committed plan leaves out of this table; "" when none."""
    if not table.excluded:
        return ""
    return (f" Not run here: {', '.join(table.excluded)} — the committed grid leaves them out of this split (the "
            "introduction says why).")


def reference_grids(references: list[dict]) -> list[tuple[str, Grid]]:
    """Published numbers pivoted per source table: one row per published model, one column per metric."""
    out = []
    for source in dict.fromkeys(r["table"] for r in references):
        rows_of = [r for r in references if r["table"] == source]
        metrics = list(dict.fromkeys(r["metric"] for r in rows_of))
        header = ["published model", "≈ icdbench model", *metrics]
        grid_rows = []
        for model in dict.fromkeys(r["model"] for r in rows_of):
            values = {r["metric"]: r for r in rows_of if r["model"] == model}
            first = next(iter(values.values()))
            cells = [Cell(model, model), Cell(first["registry_model"] or "–")]
            for metric in metrics:
                ref = values.get(metric)
                text = "–" if ref is None else ref["value"] + (f" ± {ref['plus_minus']}%" if ref["plus_minus"] else "")
                cells.append(Cell(text, float(ref["value"]) if ref else None))
            grid_rows.append(cells)
        notes = sorted({f"{r['citation']}; {r['note']}" for r in rows_of})
        definitions = sorted({f"{r['metric']}: {r['definition']}" for r in rows_of})
        caption = f"{source} — " + " / ".join(notes) + ". Definitions: " + "; ".join(definitions) + "."
        out.append((caption, Grid(header, grid_rows, [False, False] + [True] * len(metrics))))
    return out


@dataclass(frozen=True)
class Section:
    """One titled part of a split's table on the leaderboard page: its grids, each with a caption ("" for none)."""

    title: str
    grids: list[tuple[str, Grid]]


PUBLISHED_TITLE = "Published numbers (not our runs; shown for context, never merged)"


def table_sections(table: Table, references: list[dict]) -> list[Section]:
    """The parts of a split's table that come before its plots, in page order (the Markdown and HTML pages show
    the same ones); ``references``: the published numbers for the split."""
    sections = [Section("Full and top-50 side by side", [("", side_by_side_grid(table)), ("", tau_grid(table))])]
    sections += [Section(SETTING_TITLES[setting], [("", metric_grid(table, setting))]) for setting in SETTINGS]
    evidence = evidence_grid(table)
    if evidence is not None:
        sections.append(Section(EVIDENCE_TITLE, [(EVIDENCE_CAPTION, evidence)]))
    if references:
        sections.append(Section(PUBLISHED_TITLE, reference_grids(references)))
    return sections


def provenance_section(table: Table) -> Section:
    """The part that closes a split's table, after its plots."""
    return Section("Provenance", [("", provenance_grid(table))])
