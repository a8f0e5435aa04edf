"""CLI handlers: ``icdbench train``, ``bench``, ``predict`` and ``list models``."""

from __future__ import annotations

import shlex
import statistics
import sys

from icdbench.errors import UserError

TABLE_METRICS = (
    ("micro_f1", "micro-F1"),
    ("macro_f1", "macro-F1"),
    ("macro_auc_roc", "AUC-ROC"),
    ("macro_auc_pr", "AUC-PR"),
    ("p@8", "P@8"),
    ("emr", "EMR"),
    ("jaccard_samples", "Jaccard"),
)


def _command() -> str:
    return shlex.join(["icdbench", *sys.argv[1:]])


def format_table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """A plain-text table; columns whose index is in ``numeric`` are right-aligned."""
    numeric = numeric or set()
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        return "  ".join(
            str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def official_metric(split: str) -> tuple[str, str] | None:
    """``(metric key, label)`` of the split's official metric, as its manifest declares it (``official_metric``,
    e.g. CodiEsp's MAP); None when the split declares none or is not prepared."""
    from icdbench.datasets.storage import read_manifest
    from icdbench.paths import data_dir

    declared = (read_manifest(data_dir() / split, missing_ok=True) or {}).get("official_metric")
    return (declared["key"], declared["label"]) if declared else None


def results_table(records: list[dict], replicate: str = "seed", official: tuple[str, str] | None = None) -> str:
    """One row per (setting, seed) — or fold, with ``replicate="fold"`` — plus mean ± std when there are several;
    ``official`` (:func:`official_metric`) comes first."""
    columns = [*([official] if official else []), *TABLE_METRICS]
    header = ["setting", replicate, *[label for _, label in columns], "time (s)"]
    rows = []
    for setting in ("full", "top50"):
        for record in records:
            metrics = record["metrics"].get(setting) or {}
            cells = [_fmt(metrics.get(k)) for k, _ in columns]
            rows.append([setting, str(record[replicate]), *cells, f"{record['timing']['wall_seconds']:.1f}"])
        if len(records) > 1:
            cells = []
            for key, _ in columns:
                values = [r["metrics"][setting].get(key) for r in records if r["metrics"].get(setting)]
                cells.append(_mean_std([v for v in values if v is not None]))
            mean_time = statistics.mean(r["timing"]["wall_seconds"] for r in records)
            rows.append([setting, "mean±std", *cells, f"{mean_time:.1f}"])
    return format_table(header, rows, numeric=set(range(2, len(header))))


YARDSTICK_MODELS = ("prior", "lr")  # the rows a newcomer compares a run with: no learning, a tuned linear model
YARDSTICK_METRICS = (("micro_f1", "micro-F1"), ("macro_auc_pr", "AUC-PR"), ("p@8", "P@8"))


def yardstick(split: str, profile: str, model: str) -> str | None:
    """The committed board's ``prior`` and ``lr`` rows (and ``model``'s own) for the same split and profile, so a
    run's numbers are read against a baseline; None when the board has none of them."""
    from icdbench.results.sources import committed_records

    by_model: dict[str, list[dict]] = {}
    for loaded in committed_records():
        record = loaded.record
        if record["split"] == split and record["profile"] == profile and record["model"] in {*YARDSTICK_MODELS, model}:
            by_model.setdefault(record["model"], []).append(record)
    if not by_model:
        return None
    rows = []
    for name in sorted(by_model, key=lambda m: (m == model, m)):
        records = by_model[name]
        cells = []
        for key, _ in YARDSTICK_METRICS:
            values = [r["metrics"]["full"].get(key) for r in records]
            cells.append(_fmt(statistics.mean(values)) if None not in values else "n/a")
        reasons = "/".join(sorted({r.get("stop_reason") or "unrecorded" for r in records}))
        rows.append([name, str(len(records)), reasons, *cells])
    header = ["committed board", "runs", "stop reason", *[label for _, label in YARDSTICK_METRICS]]
    table = format_table(header, rows, numeric=set(range(3, len(header))))
    return f"the committed {split} board at profile {profile} (leaderboards/README.md), full label set:\n{table}"


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    return f"{statistics.mean(values):.4f}±{statistics.stdev(values):.4f}"


def _request(args, seed: int | None, fold: int | None = None):
    from icdbench.training.run import RunRequest

    return RunRequest(
        model=args.model,
        split=args.split,
        profile=args.profile,
        seed=seed,
        overrides=list(args.overrides),
        source=args.source,
        fold=fold,
        command=_command(),
    )


def train(args) -> int:
    from icdbench.training.run import train as run_train

    request = _request(args, None if args.resume else args.seed)
    if args.resume:
        request.resume = args.resume
    result = run_train(request)
    if result.record is not None:
        print(f"run: {result.run_dir}")
        print(results_table([result.record], official=official_metric(args.split)))
    return 0


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds must be comma-separated integers (e.g. 0,1,2), got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds must list distinct integers, got {text!r}")
    return seeds


def bench(args) -> int:
    from icdbench.training.crossval import coder_table, fold_plan, requested_folds
    from icdbench.training.run import train as run_train

    seeds = parse_seeds(args.seeds)
    asked, args.overrides = requested_folds(getattr(args, "folds", None), list(args.overrides))
    folds = fold_plan(args.split, asked, args.source, _command())
    if folds is not None and len(seeds) > 1:
        raise UserError("cross-validation runs one seed per fold (leaderboards average the folds); pass one --seeds")
    runs = [(seed, None) for seed in seeds] if folds is None else [(seeds[0], fold) for fold in folds]
    if len(runs) > 1 and any(o.startswith("train.strategy=ddp") for o in args.overrides):
        raise UserError("a DDP run launches copies of this command; run one seed per command with --seeds N")
    records, dirs = [], []
    for seed, fold in runs:
        result = run_train(_request(args, seed, fold))
        if result.record is None:  # a DDP rank other than 0
            return 0
        records.append(result.record)
        dirs.append(result.run_dir)
    cv = f", seed {seeds[0]}, folds {folds[0]}..{folds[-1]}" if folds is not None else ""
    print(f"{args.model} on {args.split} (profile {args.profile}{cv}); runs:")
    for path in dirs:
        print(f"  {path}")
    print(results_table(records, "fold" if folds is not None else "seed", official_metric(args.split)))
    board = yardstick(args.split, args.profile, args.model) if folds is None else None
    if board is not None:
        print(f"\n{board}")
    coders = coder_table(args.split, folds) if folds is not None else None
    if coders is not None:
        print(f"\nhuman coders on the same test documents (mean±std over {len(folds)} folds):")
        print(format_table(*coders, numeric=set(range(1, len(coders[0])))))
    return 0


def predict(args) -> int:
    from icdbench.training.predict import predict_codes

    if not args.text.is_file():
        raise UserError(f"--text {args.text}: no such file")
    rows = predict_codes(args.run_dir, args.text.read_text(errors="replace"), top=args.top)
    header = ["rank", "code", "score", "assigned", "title"]
    table = [[str(i + 1), r["code"], f"{r['score']:.4f}", "yes" if r["assigned"] else "", r["title"]]
             for i, r in enumerate(rows)]  # fmt: skip
    print(format_table(header, table, numeric={0, 2}))
    return 0


def list_models(args) -> int:
    from icdbench.models.registry import all_models

    if args.fidelity:
        from icdbench.results.fidelity import fidelity_text

        print(fidelity_text())
        return 0
    from icdbench.training.nominal import NOMINAL, parameter_count

    rows = []
    for spec in all_models().values():
        count = parameter_count(spec)
        rows.append([spec.name, spec.family, spec.inputs, spec.trainer,
                     "n/a" if count is None else f"{count:,}", spec.paper])  # fmt: skip
    print(format_table(["model", "family", "inputs", "trainer", "parameters", "paper"], rows, numeric={4}))
    print(f"parameters at the default (paper) config for {NOMINAL}")
    return 0
