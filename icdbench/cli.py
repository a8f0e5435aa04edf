"""``icdbench`` command line: argument parsing only. Each subcommand becomes a typed request
(:mod:`icdbench.app.requests`) handed to the application layer; the app modules are imported lazily, so the
command starts fast and ``icdbench list splits`` does not load torch."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from icdbench.app.requests import (
    BenchRequest,
    CompareRequest,
    ConfigRequest,
    EvaluateRequest,
    ExplainRequest,
    ExportRequest,
    GridRequest,
    LeaderboardRequest,
    ListRequest,
    PredictRequest,
    PrepareRequest,
    RegressRequest,
    TrainRequest,
    parse_seeds,
)
from icdbench.errors import UserError


def _command() -> str:
    """The command line as typed, recorded with a run."""
    return shlex.join(["icdbench", *sys.argv[1:]])


# Each handler builds the command's typed request and hands it to app/. The app modules are imported when their
# command runs: they load torch, Lightning and polars, which `icdbench list splits` and `--help` must not wait for.


def _list(args) -> int:
    from icdbench.app.listing import list_things  # heavy: see the comment above the handlers

    return list_things(ListRequest(args.what, fidelity=args.fidelity))


def _prepare(args) -> int:
    from icdbench.app.prepare import prepare  # heavy: see the comment above the handlers

    return prepare(PrepareRequest(args.split, out=args.out, force=args.force, source=args.source,
                                  split_ids=args.split_ids, evidence=args.evidence, seed=args.seed,
                                  folds=args.folds))  # fmt: skip


def _evaluate(args) -> int:
    from icdbench.app.evaluate import evaluate  # heavy: see the comment above the handlers

    return evaluate(EvaluateRequest(args.scores, args.split, out=args.out))


def _train(args) -> int:
    from icdbench.app.runs import train  # heavy: see the comment above the handlers

    return train(TrainRequest(args.model, args.split, profile=args.profile, seed=args.seed,
                              overrides=tuple(args.overrides), source=args.source, resume=args.resume,
                              command=_command()))  # fmt: skip


def _bench(args) -> int:
    from icdbench.app.runs import bench  # heavy: see the comment above the handlers

    return bench(BenchRequest(args.model, args.split, profile=args.profile, seeds=parse_seeds(args.seeds),
                              folds=args.folds, overrides=tuple(args.overrides), source=args.source,
                              command=_command()))  # fmt: skip


def _predict(args) -> int:
    from icdbench.app.runs import predict  # heavy: see the comment above the handlers

    return predict(PredictRequest(args.run_dir, args.text, top=args.top))


def _explain(args) -> int:
    from icdbench.app.runs import explain  # heavy: see the comment above the handlers

    return explain(ExplainRequest(args.run_dir, args.doc, method=args.method))


def _export(args) -> int:
    from icdbench.app.runs import export  # heavy: see the comment above the handlers

    return export(ExportRequest(args.run_dir, args.format, part=args.part, out=args.out))


def _leaderboard(args) -> int:
    from icdbench.app.leaderboard import leaderboard  # heavy: see the comment above the handlers

    return leaderboard(LeaderboardRequest(tuple(args.splits), run=args.run, converged_only=args.converged_only))


def _compare(args) -> int:
    from icdbench.app.compare import compare  # heavy: see the comment above the handlers

    return compare(CompareRequest(args.run_a, args.run_b))


def _regress(args) -> int:
    from icdbench.app.regress import regress  # heavy: see the comment above the handlers

    return regress(RegressRequest(update=args.update))


def _grid(args) -> int:
    from icdbench.grid.commands import grid  # heavy: see the comment above the handlers

    return grid(GridRequest(args.grid, launcher=args.launcher, dry_run=args.dry_run,
                            retry_failed=args.retry_failed, cpus=args.cpus, address=args.address,
                            partition=args.partition, account=args.account,
                            slurm_cluster=args.slurm_cluster))  # fmt: skip


def _config(args) -> int:
    from icdbench.app.config import show_config  # heavy: see the comment above the handlers

    return show_config(ConfigRequest(args.model, args.split, profile=args.profile, overrides=tuple(args.overrides)))


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name (see `icdbench list models`)")
    parser.add_argument("split", help="split name (see `icdbench list splits`)")
    parser.add_argument("--profile", default="cpu", help="scale profile: paper, cpu or ci (default: cpu)")
    parser.add_argument("--source", type=Path, help="raw files for splits that need them (MIMIC_DIR, ...)")
    parser.add_argument("overrides", nargs="*", help="config overrides as key=value (e.g. optim.lr=1e-3)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icdbench", description=__doc__.split(".")[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list splits, models or metrics")
    p.add_argument("what", choices=["splits", "models", "metrics"])
    p.add_argument("--fidelity", action="store_true", help="models: each one's paper, reference and departures")
    p.set_defaults(func=_list)

    p = sub.add_parser("prepare", help="prepare a split under DATA_DIR")
    p.add_argument("split")
    p.add_argument("--out", type=Path, help="output directory (default: DATA_DIR/SPLIT)")
    p.add_argument("--force", action="store_true", help="replace an existing split of another version")
    p.add_argument("--source", type=Path, help="raw files (MIMIC_DIR, CMC XML, CodiEsp folder)")
    p.add_argument("--split-ids", type=Path, help="published split id lists")
    p.add_argument("--evidence", type=Path, help="MDACE evidence annotations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, help="cross-validated corpora (cmc2007): number of folds (default 10)")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("evaluate", help="evaluate a scores file on a prepared split's test part")
    p.add_argument("scores", type=Path)
    p.add_argument("--split", required=True)
    p.add_argument("--out", type=Path, help="write the report as JSON here")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("config", help="the resolved config of MODEL on SPLIT and the layer that set each value")
    p.add_argument("model", help="registered model name (see `icdbench list models`)")
    p.add_argument("split", help="split name (see `icdbench list splits`); it need not be prepared")
    p.add_argument("--profile", default="cpu", help="scale profile: paper, cpu or ci (default: cpu)")
    p.add_argument("overrides", nargs="*", help="config overrides as key=value (e.g. optim.lr=1e-3)")
    p.set_defaults(func=_config)

    p = sub.add_parser("train", help="train one model once")
    _add_run_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", type=Path, help="run directory to resume from its last checkpoint")
    p.set_defaults(func=_train)

    p = sub.add_parser("bench", help="prepare, train, evaluate and record (over seeds)")
    _add_run_options(p)
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    p.add_argument("--folds", help="cross-validated splits (cmc2007): run the first K folds (default: all prepared); "
                   "also accepted as folds=K")
    p.set_defaults(func=_bench)

    p = sub.add_parser("predict", help="codes with scores and titles for new text")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--text", type=Path, required=True, help="a text file (one document)")
    p.add_argument("--top", type=int, default=15)
    p.set_defaults(func=_predict)

    p = sub.add_parser("explain", help="per-code evidence for one test document")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--doc", required=True, help="doc_id in the split's test part")
    p.add_argument("--method", choices=["attention", "lime"], default="attention")
    p.set_defaults(func=_explain)

    p = sub.add_parser("export", help="a finished run's test predictions as an official submission file")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--format", required=True, help="codiesp-d, codiesp-p (ranked codes) or codiesp-x (evidence)")
    p.add_argument("--part", default="test", help="the part to export (a run folder keeps its test part)")
    p.add_argument("--out", type=Path, help="the file to write (default: RUN_DIR/FORMAT-PART.tsv)")
    p.set_defaults(func=_export)

    p = sub.add_parser("leaderboard", help="build leaderboards from run records")
    p.add_argument("splits", nargs="*")
    p.add_argument("--run", action="store_true", help="run whatever record is missing first")
    p.add_argument("--converged-only", action="store_true",
                   help="hide rows whose runs did not all converge (budget, prior, collapse or unrecorded stop "
                        "reason) from the summary and your runs' board; the committed files keep every row")
    p.set_defaults(func=_leaderboard)

    p = sub.add_parser("compare", help="paired bootstrap test between two runs")
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.set_defaults(func=_compare)

    p = sub.add_parser("regress", help="re-run the ci profile and compare to leaderboards/ci.csv")
    p.add_argument("--update", action="store_true", help="rewrite leaderboards/ci.csv")
    p.set_defaults(func=_regress)

    p = sub.add_parser("grid", help="run a grid (icdbench/settings/grids/NAME.yaml) locally, on Ray or on SLURM")
    p.add_argument("grid", help="grid name (icdbench/settings/grids/NAME.yaml) or path to a grid file")
    p.add_argument("--launcher", choices=["local", "ray", "slurm"], default="local")
    p.add_argument("--dry-run", action="store_true", help="list the runs to do (slurm: print the sbatch scripts)")
    p.add_argument("--retry-failed", action="store_true", help="run only the runs that failed last time")
    p.add_argument("--cpus", type=int, help="CPUs of the local pool or local Ray instance (default: all cores)")
    p.add_argument("--address", help="ray: address of a running cluster (default: start a local instance)")
    p.add_argument("--partition", help="slurm: partition (overrides the grid file)")
    p.add_argument("--account", help="slurm: account (overrides the grid file)")
    p.add_argument("--slurm-cluster", choices=["slurm", "local"], default="slurm",
                   help="slurm: local runs the arrays with submitit's local executor (no SLURM needed)")
    p.set_defaults(func=_grid)
    return parser


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse, letting ``key=value`` overrides follow options (``train caml synth-icd10 --profile ci a.b=1``):
    argparse alone stops filling a ``nargs="*"`` positional once an option has been seen."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any("=" not in item or item.startswith("-") for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.debug:
            raise
        print(f"icdbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("icdbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
