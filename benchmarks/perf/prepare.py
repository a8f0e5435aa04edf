"""Speed and memory of preparing ``mimic4-icd9`` and ``mimic4-icd10`` together from MIMIC-shaped files (issue 8).

MIMIC-shaped raw files (the synthetic generator's ``write_mimic_files``) at ``--scale`` x full MIMIC-IV
(331,794 discharge notes of ~1,500 words; the generator writes ~6.6 codes per admission, 2.19M diagnosis rows at
scale 1.0, where MIMIC-IV's ~5M also cover admissions without a discharge note) are prepared by:

* ``icdbench (polars)`` — ``prepare_mimic4``: one lazy, streaming pass over the raw files writes both splits;
* ``pandas reference``  — a straightforward pandas implementation of the same rules (written below), handing
  the documents to the same patient-level splitter.

Each runs in its own process pinned to ``--cores`` cores (thread pools capped to match); peak memory is that
process's maximum RSS. The pandas reference holds every note several times over: at scale 1.0 it outgrows a
24 GiB machine and is reported as killed, with the time and memory it had used (run a smaller scale for the
ratio). The two outputs are compared document by document (parts, text, codes, kinds).
The targets (issue 8) are for scale 1.0: <= 3 minutes and <= 8 GB on 2 cores. Generated files are cached
under ``--cache`` (generation at large scales takes long). ``--cards`` also prepares every MIMIC split (and
MIMIC-III-shaped files) at the same scale and prints their statistics cards.

Run: ``python benchmarks/perf/prepare.py --scale 0.05 [--cache DIR] [--cores 2] [--skip-pandas] [--cards]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL_NOTES = 331_794
NAMES = ("mimic4-icd9", "mimic4-icd10")
RAM_GB = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
SYSTEMS = {(9, "dx"): "icd9cm", (9, "proc"): "icd9proc", (10, "dx"): "icd10cm", (10, "proc"): "icd10pcs"}


def generate(cache: Path, version: str, scale: float, seed: int, workers: int) -> Path:
    """MIMIC-shaped files for ``scale``, generated once and reused (a marker file records the counts)."""
    from icdbench.datasets.synthetic.mimic_shaped import write_mimic_files

    folder = cache / f"{version}-scale{scale:g}-seed{seed}"
    marker = folder / "generated.json"
    if not marker.is_file():
        n_notes = max(200, round(FULL_NOTES * scale))
        started = time.perf_counter()
        print(f"generating {n_notes:,} {version} discharge notes in {folder} ...", file=sys.stderr, flush=True)
        counts = write_mimic_files(folder, version=version, n_notes=n_notes, seed=seed, workers=workers,
                                   radiology=version == "mimic4")
        marker.write_text(json.dumps({"counts": counts, "seconds": time.perf_counter() - started}, indent=1))
    return folder


# --- the pandas reference: the same rules, written the straightforward way -----------------------------------
def pandas_clean(text):
    """DESIGN.md §4 cleaning with pandas string methods."""
    spaced = text.str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True)
    return spaced.str.replace(r"\b[0-9]+\b", " ", regex=True).str.split().str.join(" ")


def pandas_reference(source: Path, out: Path, seed: int) -> dict:
    import pandas as pd
    import polars as pl

    from icdbench.codes import get_system
    from icdbench.datasets.mimic.stratify import patient_split

    notes = pd.read_csv(source / "note/discharge.csv.gz",
                        usecols=["subject_id", "hadm_id", "note_seq", "charttime", "text"])
    dx = pd.read_csv(source / "hosp/diagnoses_icd.csv.gz", dtype={"icd_code": str})
    px = pd.read_csv(source / "hosp/procedures_icd.csv.gz", dtype={"icd_code": str})
    patients = pd.read_csv(source / "hosp/patients.csv.gz")

    codes = pd.concat([dx.assign(kind="dx", rank=0), px.assign(kind="proc", rank=1)], ignore_index=True)
    codes = codes.dropna(subset=["icd_code", "hadm_id"])
    codes["code"] = [get_system(SYSTEMS[(v, k)]).normalize(c)
                     for c, v, k in zip(codes["icd_code"], codes["icd_version"], codes["kind"])]
    notes = notes.dropna(subset=["text"])
    notes = notes[notes["hadm_id"].isin(codes["hadm_id"])]
    notes = notes.sort_values(["hadm_id", "note_seq"]).drop_duplicates(["hadm_id", "text"])
    reason = notes["text"].str.extract(r"(?i)chief complaint:[ \t]*\n?[ \t]*([^\n]*)", expand=False)
    notes["reason_for_visit"] = pandas_clean(reason.fillna("")).replace("", None)
    docs = notes.groupby("hadm_id").agg(subject_id=("subject_id", "first"), charttime=("charttime", "min"),
                                        text=("text", "\n".join), reason_for_visit=("reason_for_visit", "first"))
    docs["text"] = pandas_clean(docs["text"])
    docs = docs.join(patients.set_index("subject_id")[["gender", "anchor_age", "anchor_year"]], on="subject_id")
    docs["age"] = (docs["anchor_age"] + docs["charttime"].str[:4].astype(int) - docs["anchor_year"]).astype(float)
    docs = docs.rename(columns={"gender": "sex"})

    sizes = {}
    for name, version in zip(NAMES, (9, 10)):
        rows = codes[(codes["icd_version"] == version) & codes["hadm_id"].isin(docs.index)]
        rows = rows.sort_values(["hadm_id", "rank", "seq_num"]).drop_duplicates(["hadm_id", "code"])
        counts = rows.groupby("code").size()
        rows = rows[rows["code"].isin(counts[counts >= 10].index)]
        lists = rows.groupby("hadm_id").agg(codes=("code", list), code_kinds=("kind", list))
        frame = docs.join(lists, how="inner").reset_index()
        frame["doc_id"] = frame["hadm_id"].astype(str)
        frame["subject_id"] = frame["subject_id"].astype(str)
        columns = ["doc_id", "subject_id", "text", "codes", "code_kinds", "reason_for_visit", "age", "sex"]
        parts = patient_split(pl.from_pandas(frame[columns]).sort("doc_id"), seed=seed)  # the same splitter
        (out / name).mkdir(parents=True, exist_ok=True)
        for part, table in parts.items():
            table.to_pandas().to_parquet(out / name / f"{part}.parquet")
        sizes[name] = {part: table.height for part, table in parts.items()}
    return sizes


def polars_pipeline(source: Path, out: Path, seed: int) -> dict:
    from icdbench.datasets.mimic.mimic4 import prepare_mimic4
    from icdbench.datasets.registry import PrepareOptions

    written = prepare_mimic4({name: out / name for name in NAMES}, PrepareOptions(source=source, seed=seed))
    return {name: json.loads((path / "manifest.json").read_text())["rows"] for name, path in written.items()}


def run_child(args) -> None:
    """One implementation, in this (child) process; prints the part sizes as JSON (the parent measures time
    and memory)."""
    run = polars_pipeline if args.run == "polars" else pandas_reference
    print(json.dumps({"sizes": run(args.source, args.out, args.seed)}))


def measure(which: str, source: Path, out: Path, seed: int, cores: int) -> dict:
    """Run one implementation in a child process pinned to ``cores`` cores (thread pools capped to match).

    Wall time, CPU time and peak RSS come from ``wait4`` on the child, so a child the kernel kills for memory
    still reports what it used: its result then has ``failed`` instead of ``sizes``."""
    env = {**os.environ, "POLARS_MAX_THREADS": str(cores), "OMP_NUM_THREADS": str(cores),
           "RAYON_NUM_THREADS": str(cores), "ARROW_NUM_THREADS": str(cores)}
    usable = sorted(os.sched_getaffinity(0))[:cores]
    command = [sys.executable, __file__, "--run", which, "--source", str(source), "--out", str(out),
               "--seed", str(seed)]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, text=True,
                                 preexec_fn=lambda: os.sched_setaffinity(0, usable))
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        result = {"seconds": time.perf_counter() - started, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_bytes": usage.ru_maxrss * 1024}  # ru_maxrss is in KiB on Linux
        if child.returncode < 0:
            killer = signal.Signals(-child.returncode).name
            starved = killer == "SIGKILL" and result["peak_bytes"] > RAM_GB * 1e9 / 2  # the kernel's OOM killer
            result["failed"] = f"killed by {killer}" + (f" (out of memory on a {RAM_GB:.0f} GB machine)"
                                                       if starved else "")
        elif child.returncode:
            stderr.seek(0)
            raise SystemExit(f"{which} failed:\n{stderr.read()[-3000:]}")
        else:
            stdout.seek(0)
            result["sizes"] = json.loads(stdout.read().strip().splitlines()[-1])["sizes"]
    return result


def compare(polars_out: Path, pandas_out: Path) -> int:
    """Number of documents compared; raises if any document differs in part, text or codes."""
    import polars as pl

    compared = 0
    columns = ["doc_id", "text", "codes", "code_kinds", "reason_for_visit", "age", "sex"]
    for name in NAMES:
        for part in ("train", "val", "test"):
            ours = pl.read_parquet(polars_out / name / f"{part}.parquet", columns=columns).sort("doc_id")
            theirs = pl.read_parquet(pandas_out / name / f"{part}.parquet", columns=columns).sort("doc_id")
            if not ours.equals(theirs):
                diff = ours.join(theirs, on="doc_id", how="full", suffix="_pandas").head(3)
                raise SystemExit(f"outputs differ in {name}/{part}:\n{diff}")
            compared += ours.height
    return compared


def cards(cache: Path, mimic4: Path, scale: float, seed: int, workers: int) -> None:
    """Prepare every MIMIC split at this scale and print its statistics card."""
    from icdbench.datasets.registry import PrepareOptions, all_splits
    from icdbench.datasets.stats import format_card
    from icdbench.datasets.storage import read_manifest

    mimic3 = generate(cache, "mimic3", scale * 52_726 / FULL_NOTES, seed, workers)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        for name, spec in all_splits().items():
            if not name.startswith(("mimic3", "mimic4")):
                continue
            source = mimic3 if name.startswith("mimic3") else mimic4
            path = spec.prepare(Path(tmp) / name, PrepareOptions(source=source, seed=seed))
            manifest = read_manifest(path)
            print(format_card(name, manifest["split_version"], manifest["stats"]))
            print(f"  split             {manifest['split_assignment']} ({manifest['source']['dataset']} "
                  f"{manifest['source']['version']}, MIMIC-shaped files)\n")


def _parts(sizes: dict) -> str:
    return "/".join(f"{sizes[part]:,}" for part in ("train", "val", "test"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.05, help="fraction of full MIMIC-IV (1.0 = 331,794 notes)")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("DATA_DIR") or "data") / ".cache/mimic")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="processes generating the files")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--cards", action="store_true", help="also print the card of every MIMIC split")
    parser.add_argument("--run", choices=("polars", "pandas"), help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_child(args)

    args.cache.mkdir(parents=True, exist_ok=True)
    source = generate(args.cache, "mimic4", args.scale, args.seed, args.workers)
    generated = json.loads((source / "generated.json").read_text())["counts"]
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        results = {"icdbench (polars)": measure("polars", source, Path(tmp) / "polars", args.seed, args.cores)}
        if not args.skip_pandas:
            results["pandas reference"] = measure("pandas", source, Path(tmp) / "pandas", args.seed, args.cores)
            if "sizes" in results["pandas reference"]:
                same = compare(Path(tmp) / "polars", Path(tmp) / "pandas")
    notes, dx_rows = generated["note/discharge.csv.gz"], generated["hosp/diagnoses_icd.csv.gz"]
    print(f"prepare {' + '.join(NAMES)} from MIMIC-shaped files at scale {args.scale:g}: {notes:,} discharge "
          f"notes, {dx_rows:,} diagnosis rows; {args.cores} cores")
    header = (f"{'implementation':<20}{'wall s':>9}{'CPU s':>9}{'peak GB':>9}   "
              + "   ".join(f"{n} train/val/test" for n in NAMES))
    print(header + "\n" + "-" * len(header))
    for label, result in results.items():
        sizes = (result["failed"] if "failed" in result
                 else "   ".join(f"{_parts(result['sizes'][name]):>26}" for name in NAMES))
        print(f"{label:<20}{result['seconds']:>9.1f}{result['cpu_seconds']:>9.1f}{result['peak_bytes'] / 1e9:>9.2f}"
              f"   {sizes}")
    ours, ref = results["icdbench (polars)"], results.get("pandas reference", {})
    if "failed" in ref:
        print(f"pandas reference: {ref['failed']} after {ref['seconds']:.0f} s; no ratio or output comparison at "
              "this scale (run a smaller --scale for them)")
    elif ref:
        print(f"{'pandas / polars':<20}{ref['seconds'] / ours['seconds']:>8.2f}x"
              f"{ref['cpu_seconds'] / ours['cpu_seconds']:>8.2f}x{ref['peak_bytes'] / ours['peak_bytes']:>8.2f}x")
        print(f"outputs identical: {same:,} documents compared (parts, text, codes, kinds, demographics)")
    print(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall time stretches when the machine is shared; CPU time less so)")
    within = ours["seconds"] <= 180 and ours["peak_bytes"] <= 8e9
    print(f"targets at scale 1.0 (issue 8): <= 180 s and <= 8 GB on 2 cores; icdbench at scale {args.scale:g} "
          f"on {args.cores} cores: {ours['seconds']:.0f} s, {ours['peak_bytes'] / 1e9:.1f} GB "
          f"({'within' if within else 'OUTSIDE'} the targets)")
    if args.cards:
        cards(args.cache, source, args.scale, args.seed, args.workers)


if __name__ == "__main__":
    main()
