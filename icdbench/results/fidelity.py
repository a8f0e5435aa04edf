"""The fidelity table, generated from the registry (``ModelSpec.fidelity``): per model, its paper, the
implementation it follows and every known departure, tagged deliberate, hardware or not yet fixed. Printed by
``icdbench list models --fidelity`` and at the end of the leaderboards' README; the order is the registry's
(models by name, departures as declared), so the text is the same on every run."""

from __future__ import annotations

from icdbench.models.registry import ModelSpec, all_models

TITLE = "## Fidelity to the papers"
INTRO = (
    "Generated from each model's `fidelity` declaration (`icdbench list models --fidelity`). *Reference* is the "
    "implementation a model follows and is checked against; a departure is *deliberate* (a choice, most with a "
    "config switch back), *hardware* (forced by the machines) or *not yet fixed*. Settings per split are in "
    "`benchmarks/experiments/` (`--profile paper`); the committed boards use the shrunken cpu/ci profiles."
)


def _specs() -> list[ModelSpec]:
    specs = list(all_models().values())
    missing = [spec.name for spec in specs if spec.fidelity is None]
    if missing:
        raise ValueError(f"models without a fidelity declaration: {', '.join(missing)}")
    return specs


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def fidelity_markdown() -> str:
    lines = [TITLE, "", INTRO, "", "| model | paper | reference | known departures |", "|---|---|---|---|"]
    for spec in _specs():
        departures = "<br>".join(f"*{d.kind}*: {_cell(d.what)}" for d in spec.fidelity.departures) or "none known"
        lines.append(f"| {spec.name} | {_cell(spec.paper)} | {_cell(spec.fidelity.reference)} | {departures} |")
    return "\n".join(lines) + "\n"


def fidelity_text() -> str:
    blocks = []
    for spec in _specs():
        lines = [f"{spec.name}: {spec.paper}", f"  reference: {spec.fidelity.reference}"]
        lines += [f"  - [{d.kind}] {d.what}" for d in spec.fidelity.departures] or ["  - no known departure"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
