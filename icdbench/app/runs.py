"""``icdbench train``, ``bench`` (over seeds, or over the folds of a cross-validated split), ``predict``,
``explain`` and ``export``: one run, several runs and what a finished run folder gives."""

from __future__ import annotations

from icdbench.app.crossval import coder_table, requested_folds
from icdbench.app.requests import BenchRequest, ExplainRequest, ExportRequest, PredictRequest, TrainRequest
from icdbench.app.tables import official_metric, results_table, speed_notes, yardstick
from icdbench.datasets.prepared import fold_plan
from icdbench.errors import UserError
from icdbench.io import format_table
from icdbench.training.explain import explain_document
from icdbench.training.export import export_run
from icdbench.training.predict import predict_codes
from icdbench.training.run import RunRequest
from icdbench.training.run import train as run_train


def train(request: TrainRequest) -> int:
    """Train one model once (or resume a run folder) and print its results."""
    result = run_train(RunRequest(
        model=request.model, split=request.split, profile=request.profile,
        seed=None if request.resume else request.seed, overrides=list(request.overrides), source=request.source,
        resume=request.resume, command=request.command,
    ))  # fmt: skip
    if result.record is not None:
        print(f"run: {result.run_dir}")
        print(results_table([result.record], official=official_metric(request.split)))
    return 0


def bench(request: BenchRequest) -> int:
    """One run per seed (or per fold of a cross-validated split), then the table of all of them and the
    committed board's yardsticks (or the human coders on the same folds)."""
    seeds = list(request.seeds)
    asked, overrides = requested_folds(request.folds, list(request.overrides))
    folds = fold_plan(request.split, asked, request.source, request.command)
    if folds is not None and len(seeds) > 1:
        raise UserError("cross-validation runs one seed per fold (leaderboards average the folds); pass one --seeds")
    runs = [(seed, None) for seed in seeds] if folds is None else [(seeds[0], fold) for fold in folds]
    if len(runs) > 1 and any(o.startswith("train.strategy=ddp") for o in overrides):
        raise UserError("a DDP run launches copies of this command; run one seed per command with --seeds N")
    records, dirs = [], []
    for seed, fold in runs:
        result = run_train(RunRequest(
            model=request.model, split=request.split, profile=request.profile, seed=seed, overrides=overrides,
            source=request.source, fold=fold, command=request.command,
        ))  # fmt: skip
        if result.record is None:  # a DDP rank other than 0
            return 0
        records.append(result.record)
        dirs.append(result.run_dir)
    cv = f", seed {seeds[0]}, folds {folds[0]}..{folds[-1]}" if folds is not None else ""
    print(f"{request.model} on {request.split} (profile {request.profile}{cv}); runs:")
    for path in dirs:
        print(f"  {path}")
    print(results_table(records, "fold" if folds is not None else "seed", official_metric(request.split)))
    board = yardstick(request.split, request.profile, request.model) if folds is None else None
    if board is not None:
        print(f"\n{board}")
        for note in speed_notes(records):
            print(note)
    coders = coder_table(request.split, folds) if folds is not None else None
    if coders is not None:
        print(f"\nhuman coders on the same test documents (mean±std over {len(folds)} folds):")
        print(format_table(*coders, numeric=set(range(1, len(coders[0])))))
    return 0


def predict(request: PredictRequest) -> int:
    """Codes with scores and titles for one new document."""
    if not request.text.is_file():
        raise UserError(f"--text {request.text}: no such file")
    rows = predict_codes(request.run_dir, request.text.read_text(errors="replace"), top=request.top)
    header = ["rank", "code", "score", "assigned", "title"]
    table = [[str(i + 1), r["code"], f"{r['score']:.4f}", "yes" if r["assigned"] else "", r["title"]]
             for i, r in enumerate(rows)]  # fmt: skip
    print(format_table(header, table, numeric={0, 2}))
    return 0


def explain(request: ExplainRequest) -> int:
    """Per-code evidence for one test document of a finished run."""
    explain_document(request.run_dir, request.doc, request.method)
    return 0


def export(request: ExportRequest) -> int:
    """A finished run's test predictions as an official submission file."""
    path = export_run(request.run_dir, request.format, part=request.part, out=request.out)
    print(f"wrote {path}")
    return 0
