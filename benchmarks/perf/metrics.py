"""Speed and memory of the metrics package at MIMIC-IV ICD-10 test scale (issue 3).

A synthetic score matrix the size of the MIMIC-IV ICD-10 test set (19,802 documents x 7,942 codes; about
15 gold codes per document with long-tailed code frequencies; scores from a model-like logit model, better
on frequent codes) is evaluated by:

* ``ours report``    — ``icdbench.metrics.evaluate``: every key, with sequences, ancestors and train counts;
* ``ours AUC``       — ``functional.auc.per_code_auc``: per-code AUC-ROC and AUC-PR only (the compared work);
* ``ours bootstrap`` — ``stats.bootstrap_ci`` of the headline keys, 1,000 resamples;
* ``sklearn loop``   — ``roc_auc_score`` + ``average_precision_score`` per code;
* ``torchmetrics``   — ``MultilabelAUROC`` + ``MultilabelAveragePrecision`` (``average=None``, exact).

Each runs in its own process (peak memory is that process's high-water mark above the loaded inputs) with
the same thread budget. Run: ``python benchmarks/perf/metrics.py [--threads 2] [--docs N --codes C]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # huge pages for torch's large CPU buffers (see report)

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

METHODS = ("ours report", "ours AUC", "ours bootstrap", "sklearn loop", "torchmetrics")
THRESHOLD = 0.4


def make_data(n_docs: int, n_codes: int, seed: int, out: Path) -> None:
    """Write scores.npy, targets.npy and meta.json (codes, ancestors, train counts, sequences) to ``out``."""
    rng = np.random.default_rng(seed)
    rank = np.arange(n_codes)
    prevalence = 1.0 / (rank + 5)
    prevalence *= 15.0 / prevalence.sum()  # ~15 gold codes per document, the most frequent in ~40%
    complexity = rng.lognormal(0.0, 0.35, n_docs).astype(np.float32)
    scores = np.empty((n_docs, n_codes), dtype=np.float32)
    targets = np.empty((n_docs, n_codes), dtype=bool)
    ease = -1.5 + 0.8 * np.log10(prevalence * 89_099 + 1)  # frequent codes are easier
    code_bias = rng.normal(0.0, 1.0, n_codes)
    for start in range(0, n_docs, 2048):
        stop = min(start + 2048, n_docs)
        n = stop - start
        chance = np.minimum(1, prevalence[None] * complexity[start:stop, None])
        gold = rng.random((n, n_codes), dtype=np.float32) < chance
        negative = rng.normal(-6.5, 1.5, (n, n_codes)) + code_bias[None]
        positive = rng.normal(ease[None], 1.8, (n, n_codes))
        scores[start:stop] = 1 / (1 + np.exp(-np.where(gold, positive, negative)))
        targets[start:stop] = gold
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = [f"{letters[i // 300 % 26]}{i // 3 % 100:02d}.{i % 3}{i // 7800}" for i in range(n_codes)]
    ancestors = {c: [c[:5], c[:3], c[0]] for c in codes}
    train_counts = np.maximum(1, np.round(prevalence * 89_099 * rng.lognormal(0, 0.2, n_codes))).astype(int)
    sequences = [[codes[c] for c in rng.permutation(np.flatnonzero(row))] for row in targets]
    np.save(out / "scores.npy", scores)
    np.save(out / "targets.npy", targets)
    meta = {"codes": codes, "ancestors": ancestors, "train_counts": train_counts.tolist(), "sequences": sequences}
    (out / "meta.json").write_text(json.dumps(meta))


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(method: str, data: Path, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    scores, targets = np.load(data / "scores.npy"), np.load(data / "targets.npy")
    meta = json.loads((data / "meta.json").read_text())
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the loaded state
    base = _rss_mb("VmRSS")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result: dict = {}
    if method == "ours report":
        from icdbench.metrics import evaluate

        report = evaluate(
            scores, targets, codes=meta["codes"], threshold=THRESHOLD, gold_sequences=meta["sequences"],
            ancestors=meta["ancestors"], train_counts=meta["train_counts"],
        )  # fmt: skip
        result["report"] = report
    elif method == "ours AUC":
        from icdbench.metrics.functional.auc import per_code_auc
        from icdbench.metrics.functional.sets import CodeSets

        roc, ap = per_code_auc(torch.from_numpy(scores), CodeSets.from_mask(torch.from_numpy(targets)))
        result["roc"], result["ap"] = roc.tolist(), ap.tolist()
    elif method == "ours bootstrap":
        from icdbench.metrics.stats import HEADLINE, bootstrap_ci

        result["ci"] = bootstrap_ci(scores, targets, HEADLINE, threshold=THRESHOLD, n_boot=1000, seed=0)
    elif method == "sklearn loop":
        from sklearn.metrics import average_precision_score, roc_auc_score

        positives = targets.sum(0)
        roc, ap = [float("nan")] * scores.shape[1], [float("nan")] * scores.shape[1]
        for c in np.flatnonzero(positives > 0):
            ap[c] = average_precision_score(targets[:, c], scores[:, c])
            if positives[c] < len(targets):
                roc[c] = roc_auc_score(targets[:, c], scores[:, c])
        result["roc"], result["ap"] = roc, ap
    elif method == "torchmetrics":
        from torchmetrics.functional.classification import multilabel_auroc, multilabel_average_precision

        preds, target = torch.from_numpy(scores), torch.from_numpy(targets).long()
        n = scores.shape[1]
        result["roc"] = multilabel_auroc(preds, target, n, average="none", thresholds=None).tolist()
        result["ap"] = multilabel_average_precision(preds, target, n, average="none", thresholds=None).tolist()
    result["seconds"] = time.perf_counter() - start
    used = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime
    result["peak_mb"] = _rss_mb("VmHWM") - base
    return result


def _max_diff(ours: list[float], reference: list[float], defined: np.ndarray) -> float:
    a, b = np.asarray(ours, dtype=float)[defined], np.asarray(reference, dtype=float)[defined]
    return float(np.max(np.abs(a - b))) if len(a) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=19_802)
    parser.add_argument("--codes", type=int, default=7_942)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ", ".join(METHODS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.threads)))
        return
    with tempfile.TemporaryDirectory(prefix="icdbench-perf-") as tmp:
        data = Path(tmp)
        start = time.perf_counter()
        make_data(args.docs, args.codes, args.seed, data)
        targets = np.load(data / "targets.npy")
        matrix_mb = args.docs * args.codes * 4 / 2**20
        print(f"data: {args.docs} x {args.codes}, {targets.sum() / args.docs:.1f} gold codes/doc, "
              f"score matrix {matrix_mb:.0f} MB float32, generated in {time.perf_counter() - start:.0f} s; "
              f"{args.threads} threads")  # fmt: skip
        results = {}
        # passive OpenMP waits: on a shared machine spinning threads otherwise slow every torch call ~10x
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
               "OMP_WAIT_POLICY": "PASSIVE"}  # fmt: skip
        for method in args.methods.split(","):
            command = [sys.executable, __file__, "--worker", method, "--data", str(data)]
            command += ["--threads", str(args.threads)]
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
            if done.returncode:
                print(f"{method}: failed\n{done.stderr[-2000:]}")
                continue
            results[method] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  {method}: {results[method]['seconds']:.1f} s", flush=True)
        positives = targets.sum(0)
        defined_roc = (positives > 0) & (positives < len(targets))
        reference = results.get("sklearn loop")
        header = f"{'method':<16} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'x matrix':>8}"
        print(f"\n{header} {'max |dAUROC|':>13} {'max |dAP|':>10}")
        for method, r in results.items():
            roc_diff = ap_diff = "-"
            if reference and "roc" in r and method != "sklearn loop":
                roc_diff = f"{_max_diff(r['roc'], reference['roc'], defined_roc):.1e}"
                ap_diff = f"{_max_diff(r['ap'], reference['ap'], positives > 0):.1e}"
            print(f"{method:<16} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} {r['peak_mb']:>8.0f} "
                  f"{r['peak_mb'] / matrix_mb:>8.2f} "
                  f"{roc_diff:>13} {ap_diff:>10}")  # fmt: skip
        ours = results.get("ours AUC")
        for other in ("sklearn loop", "torchmetrics"):
            if ours and other in results:
                for measure, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
                    ratio = results[other][measure] / ours[measure]
                    line = f"per-code AUC-ROC + AUC-PR, {label} time: ours {ratio:.1f}x faster than {other}"
                    if "ours report" in results:
                        line += f" (whole report: {results[other][measure] / results['ours report'][measure]:.1f}x)"
                    print(line)


if __name__ == "__main__":
    main()
