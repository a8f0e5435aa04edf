"""Fixtures in the public formats of CMC 2007 (XML) and CodiEsp v4 (folders of text files and TSVs)."""

from __future__ import annotations

import random
from pathlib import Path

from icdbench.datasets.synthetic.cmc_shaped import cmc_report

CMC_CODES = ["786.2", "780.6", "599.0", "593.70", "V13.09", "486", "518.0", "786.07", "493.90", "791.0", "788.30",
             "753.0", "786.05", "277.00", "591"]


def write_cmc(path: Path, n_docs: int = 120, seed: int = 0, *, labelled: bool = True) -> Path:
    """A CMC 2007-format XML file; companies agree with the majority except for an occasional code."""
    rng = random.Random(seed)
    docs = []
    for i in range(n_docs):
        gold = rng.sample(CMC_CODES, rng.choice([1, 1, 2]))
        coders = {"CMC_MAJORITY": gold} if labelled else {}
        if labelled:
            for company in ("COMPANY1", "COMPANY2", "COMPANY3"):
                coders[company] = gold if rng.random() < 0.8 else rng.sample(CMC_CODES, 1)
        docs.append(cmc_report(str(97630000 + i), f"Cough and fever {i} days.",
                               f"Findings consistent with pneumonia & effusion < {i}.", coders))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<docs>\n' + "\n".join(docs) + "\n</docs>\n")
    return path


CODIESP_DX = ["r69", "i10", "e11.9", "n18.3", "j18.9", "r50.9", "k57.3"]  # 3-char categories kept as given
CODIESP_PX = ["bw03zzz", "0dtj4zz", "bw24", "3e0234z"]  # "bw24": a truncated PCS code


def write_codiesp(root: Path, sizes: dict[str, int] | None = None, seed: int = 0) -> Path:
    """A CodiEsp v4-format folder. Each case mentions its diagnoses by code word ("dolor r69") so X offsets
    can be checked: text[start:end] is the word, and one discontinuous reference has two pieces."""
    rng = random.Random(seed)
    sizes = sizes or {"train": 12, "dev": 6, "test": 6}
    for part, n in sizes.items():
        folder = root / part
        (folder / "text_files").mkdir(parents=True, exist_ok=True)
        (folder / "text_files_en").mkdir(parents=True, exist_ok=True)
        d_rows, p_rows, x_rows = [], [], []
        for i in range(n):
            doc = f"S0000-{part}{i:03d}"
            dx = rng.sample(CODIESP_DX, 2)
            px = rng.sample(CODIESP_PX, 1) if i % 3 else []
            text = "Paciente de 70 años. "
            for code in dx:
                start = len(text) + len("Presenta ")
                text += f"Presenta dolor{code} grave. "
                x_rows.append(f"{doc}\tDIAGNOSTICO\t{code}\tdolor{code}\t{start} {start + len('dolor' + code)}")
            for code in px:
                first = len(text)
                text += f"Se realiza biopsia de la zona {code}. "
                second = text.index(code, first)
                x_rows.append(f"{doc}\tPROCEDIMIENTO\t{code}\tbiopsia {code}\t{first + 11} {first + 18};{second} "
                              f"{second + len(code)}")
            (folder / "text_files" / f"{doc}.txt").write_text(text)
            (folder / "text_files_en" / f"{doc}.txt").write_text("Patient aged 70.\nShe has pain.\n")
            d_rows += [f"{doc}\t{c}" for c in dx]
            p_rows += [f"{doc}\t{c}" for c in px]
        prefix = folder / part
        Path(f"{prefix}D.tsv").write_text("\n".join(d_rows) + "\n")
        Path(f"{prefix}P.tsv").write_text("\n".join(p_rows) + "\n")
        Path(f"{prefix}X.tsv").write_text("\n".join(x_rows) + "\n")
    (root / "background").mkdir(exist_ok=True)
    return root
