"""A CMC 2007-format XML file of synthetic pediatric radiology reports, for tests and ``regress``.

The CMC 2007 corpus cannot be redistributed, so the cross-validated pipeline (``cmc2007``: XML parsing, the
three companies' labels, folds) is exercised on this stand-in. Like the real reports, each has a short
clinical history (the reason for the study) and an impression; gold codes are stated in either, and other
codes appear negated ("No pneumonia.") so word presence alone does not decide them. The three coding
companies agree with the majority most of the time and otherwise swap one code, as in the challenge data.
"""

from __future__ import annotations

import random
from pathlib import Path
from xml.sax.saxutils import escape

# ICD-9-CM code -> (where it is stated, positive phrasings, negated phrasing); codes from the CMC label set
CMC_CODES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "786.2": ("history", ("Cough.", "Persistent cough.", "Cough for several days."), "No cough."),
    "780.6": ("history", ("Fever.", "Fever for two days.", "High fever."), "Afebrile."),
    "786.05": ("history", ("Shortness of breath.", "Difficulty breathing."), "No respiratory distress."),
    "786.07": ("history", ("Wheezing.", "Intermittent wheezing."), "No wheezing."),
    "599.0": ("history", ("Urinary tract infection.", "Febrile UTI."), "Urinalysis negative."),
    "V13.09": ("history", ("History of urinary tract infection.", "Prior UTIs."), "No prior infections."),
    "788.30": ("history", ("Daytime wetting.", "Urinary incontinence."), "Continent."),
    "791.0": ("history", ("Proteinuria.", "Protein in urine."), "No proteinuria."),
    "486": ("impression", ("Right lower lobe pneumonia.", "Left upper lobe infiltrate, consistent with pneumonia."),
            "No focal pneumonia."),
    "518.0": ("impression", ("Subsegmental atelectasis.", "Right middle lobe atelectasis."), "No atelectasis."),
    "493.90": ("impression", ("Peribronchial thickening, consistent with reactive airways disease or asthma.",),
               "Lungs are clear."),
    "593.70": ("impression", ("Grade II vesicoureteral reflux.", "Vesicoureteral reflux on the left."),
               "No vesicoureteral reflux."),
    "591": ("impression", ("Mild hydronephrosis.", "Moderate left hydronephrosis."), "No hydronephrosis."),
    "753.0": ("impression", ("Absent right kidney, renal agenesis.",), "Both kidneys are present."),
    "277.00": ("history", ("Cystic fibrosis.", "Known cystic fibrosis."), "No chronic lung disease."),
}
FILLER = ("Two views of the chest.", "Comparison is made to the prior study.", "Heart size is normal.",
          "Renal ultrasound.", "Voiding cystourethrogram.", "Osseous structures are unremarkable.")
COMPANIES = ("COMPANY1", "COMPANY2", "COMPANY3")


def write_cmc_file(path: Path, n_docs: int = 200, seed: int = 0) -> Path:
    """Write ``n_docs`` labelled reports in the CMC 2007 training-file format to ``path``; returns ``path``."""
    rng = random.Random(seed)
    codes = list(CMC_CODES)
    weights = [1.0 / (rank + 2) for rank in range(len(codes))]  # long-tailed, as in the challenge
    docs = []
    for i in range(n_docs):
        gold: list[str] = []
        n_codes = rng.choice((1, 1, 2, 2, 3))
        while len(gold) < n_codes:
            code = rng.choices(codes, weights)[0]
            if code not in gold:
                gold.append(code)
        history, impression = [], [rng.choice(FILLER)]
        for code in gold:
            where, positive, _ = CMC_CODES[code]
            (history if where == "history" else impression).append(rng.choice(positive))
        for code in rng.sample([c for c in codes if c not in gold], 2):  # pertinent negatives
            where, _, negated = CMC_CODES[code]
            (history if where == "history" else impression).append(negated)
        rng.shuffle(history)
        rng.shuffle(impression)
        coders = {"CMC_MAJORITY": gold}
        for company in COMPANIES:
            coders[company] = gold if rng.random() < 0.85 else [*gold[:-1], rng.choice(codes)]
        history_text = " ".join(history) or "Routine study."
        docs.append(cmc_report(str(97_630_000 + i), history_text, " ".join(impression), coders))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<docs>\n' + "\n".join(docs) + "\n</docs>\n")
    return path


def cmc_report(doc_id: str, history: str, impression: str, coders: dict[str, list[str]]) -> str:
    """One ``<doc>`` element: the coders' codes (origin → codes), then the history and impression texts."""
    codes = "".join(f'<code origin="{origin}" type="ICD-9-CM">{code}</code>'
                    for origin, listed in coders.items() for code in listed)  # fmt: skip
    return (f'<doc id="{doc_id}" type="RADIOLOGY_REPORT"><codes>{codes}</codes><texts>'
            f'<text origin="CCHMC_RADIOLOGY" type="CLINICAL_HISTORY">{escape(history)}</text>'
            f'<text origin="CCHMC_RADIOLOGY" type="IMPRESSION">{escape(impression)}</text></texts></doc>')
