"""The statistics card of a prepared split, and the README section that shows it for every synthetic split.

``python -m icdbench.datasets.stats --readme README.md`` regenerates the cards between the
``<!-- split-cards:start -->`` and ``<!-- split-cards:end -->`` markers.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from icdbench.datasets.registry import PrepareOptions, all_splits
from icdbench.datasets.storage import PARTS, read_manifest

RARE = 10  # a code is rare below this many training documents
START, END = "<!-- split-cards:start -->", "<!-- split-cards:end -->"


def _quartiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"median": 0.0, "q1": 0.0, "q3": 0.0}
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3)}


def split_card(parts: dict[str, pl.DataFrame], codes: pl.DataFrame) -> dict:
    """Documents per part, label set, codes and words per document, share of rare codes."""
    frames = [parts[p].select("subject_id", "codes", "text") for p in PARTS]
    docs = pl.concat(frames)
    n_codes = docs["codes"].list.len().to_numpy()
    n_words = docs["text"].str.split(" ").list.eval(pl.element().filter(pl.element() != "")).list.len()
    kinds = codes["kind"].value_counts()
    by_kind = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list()))
    train_counts = codes["train_count"].to_numpy()
    return {
        "documents": {p: parts[p].height for p in PARTS},
        "patients": docs["subject_id"].n_unique(),
        "label_set": codes.height,
        "label_set_by_kind": {k: int(v) for k, v in sorted(by_kind.items())},
        "codes_per_document": _quartiles(n_codes),
        "words_per_document": _quartiles(n_words.to_numpy()),
        "rare_code_share": float(np.mean(train_counts < RARE)) if train_counts.size else 0.0,
    }


def format_card(name: str, version: str, card: dict, where: Path | None = None) -> str:
    docs, cpd, wpd = card["documents"], card["codes_per_document"], card["words_per_document"]
    kinds = ", ".join(f"{k} {v:,}" for k, v in card.get("label_set_by_kind", {}).items())
    lines = [
        f"{name} (version {version})" + (f" at {where}" if where else ""),
        f"  documents         train {docs['train']:,} | val {docs['val']:,} | test {docs['test']:,}"
        f"  ({card['patients']:,} patients)",
        f"  label set         {card['label_set']:,} codes" + (f" ({kinds})" if kinds else ""),
        f"  codes/document    median {cpd['median']:g} (IQR {cpd['q1']:g}-{cpd['q3']:g})",
        f"  words/document    median {wpd['median']:g} (IQR {wpd['q1']:g}-{wpd['q3']:g})",
        f"  rare codes        {card['rare_code_share']:.1%} of codes have <{RARE} training documents",
    ]
    if "distractor_doc_share" in card:
        lines.append(f"  distractors       {card['distractor_doc_share']:.1%} of documents "
                     f"(mean {card['distractors_per_document']:.1f} per document)")
    if "label_noise" in card:
        noise = card["label_noise"]
        lines.append(f"  label noise       {noise['omitted']:.1%} of documents miss a mentioned code, "
                     f"{noise['extra']:.1%} carry an unsupported one; {noise.get('unmentioned', 0):.1%} of "
                     "codes are never mentioned")
    return "\n".join(lines)


def markdown_cards(cards: list[tuple[str, str, dict]]) -> str:
    """One table row per split."""
    head = ("| split | version | train / val / test docs | patients | label set | codes/doc median (IQR) "
            "| words/doc median (IQR) | codes <10 train docs | docs with distractors |")
    rows = [head, "|" + "---|" * 9]
    for name, version, c in cards:
        d, cpd, wpd = c["documents"], c["codes_per_document"], c["words_per_document"]
        distractors = f"{c['distractor_doc_share']:.0%}" if "distractor_doc_share" in c else "n/a"
        rows.append(f"| `{name}` | {version} | {d['train']:,} / {d['val']:,} / {d['test']:,} | {c['patients']:,} "
                    f"| {c['label_set']:,} | {cpd['median']:g} ({cpd['q1']:g}-{cpd['q3']:g}) "
                    f"| {wpd['median']:g} ({wpd['q1']:g}-{wpd['q3']:g}) | {c['rare_code_share']:.0%} "
                    f"| {distractors} |")
    return "\n".join(rows)


def synthetic_cards(seed: int = 0) -> list[tuple[str, str, dict]]:
    """Prepare every synthetic split in a temporary folder and collect its card."""
    cards = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in all_splits().items():
            if not name.startswith("synth-"):
                continue
            out = spec.prepare(Path(tmp) / name, PrepareOptions(seed=seed, command=f"icdbench prepare {name}"))
            manifest = read_manifest(out)
            cards.append((name, manifest["split_version"], manifest["stats"]))
    return cards


def rewrite_readme(path: Path, table: str) -> None:
    text = path.read_text() if path.exists() else f"# icdbench\n\n## Splits\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Splits\n\n{START}\n{END}\n"
    note = ("Generated by `python -m icdbench.datasets.stats --readme README.md` (seed 0); "
            "do not edit by hand.")
    block = f"{START}\n{note}\n\n{table}\n{END}"
    path.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="statistics cards of the synthetic splits")
    parser.add_argument("--readme", type=Path, help="rewrite the split-cards section of this README")
    args = parser.parse_args(argv)
    table = markdown_cards(synthetic_cards())
    if args.readme:
        rewrite_readme(args.readme, table)
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
