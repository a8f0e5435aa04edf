"""Canonical code strings: upper case, no whitespace, the dot where the system puts one.

ICD-9-CM diagnoses ("428.0", "V58.61", "E888.9"), ICD-9-CM procedures ("36.15") and ICD-10-CM ("I50.21") keep
the dot; ICD-10-PCS ("0DTJ4ZZ") has none. Any input form is accepted: dotted or not, any case, surrounding or
inner whitespace, an int from a CSV read without dtypes. Range ids of chapters and blocks ("I30-I5A") keep
their dash. Normalising never validates; `CodeSystem.is_valid` does.
"""

from __future__ import annotations

import re

_DROP = re.compile(r"[\s.]+")


def _bare(code: object) -> str:
    """Upper case with whitespace and dots removed."""
    return _DROP.sub("", str(code)).upper()


def _dot_after(bare: str, position: int) -> str:
    if "-" in bare or len(bare) <= position:
        return bare
    return f"{bare[:position]}.{bare[position:]}"


def undotted(code: object) -> str:
    """The bare form used in MIMIC tables and by some packages: "I50.21" -> "I5021"."""
    return _bare(code)


def icd10cm(code: object) -> str:
    return _dot_after(_bare(code), 3)


def icd10pcs(code: object) -> str:
    return _bare(code)


def icd9cm(code: object) -> str:
    """ICD-9-CM diagnoses: the dot after the 3-character category, or after 4 for E codes ("E888.9")."""
    bare = _bare(code)
    return _dot_after(bare, 4 if bare.startswith("E") else 3)


def icd9proc(code: object) -> str:
    """ICD-9-CM volume 3 procedures: the dot after the 2-digit category ("36.15")."""
    return _dot_after(_bare(code), 2)

