"""The code pool of a synthetic corpus: the curated head plus a long tail drawn from the real code tables.

Every code gets a theme (a latent condition cluster: cardiac, renal, ...), a role (principal, acute, chronic,
status, symptom, proc), a frequency weight (share of admissions per 100; Zipf-like for the tail) and its
surface forms. Tail codes are drawn by whole sibling groups so that qualifiers must separate them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import cache

from icdbench.codes import get_system
from icdbench.datasets.synthetic import concepts
from icdbench.datasets.synthetic.mentions import MentionForms, build_forms

SYSTEMS = {"icd10": ("icd10cm", "icd10pcs"), "icd9": ("icd9cm", "icd9proc")}
# Share of the tail per theme (roughly the spread of inpatient diagnoses).
THEME_SHARE = {"infection": 8, "oncology": 9, "heme": 4, "metabolic": 7, "psych": 4, "neuro": 8, "cardiac": 9,
               "vascular": 5, "respiratory": 8, "digestive": 9, "liver": 3, "renal": 6, "musculoskeletal": 8,
               "injury": 8, "general": 4}
# Titles a general inpatient corpus leaves out (follow-up encounters, obstetrics, perinatal, intent coding).
_EXCLUDED_WORDS = ("subsequent encounter", "sequela", "encounter for", "newborn", "neonat", "perinatal", "pregnan",
                   "childbirth", "puerper", "fetus", "fetal", "congenital", "family history", "screening",
                   "undetermined", "assault", "legal intervention", "war operations", "terrorism", "underdosing",
                   "adverse effect", "in utero", "maternal", "obstetric", "delivery", "abortion", "gestation",
                   "infant", "juvenile")
_FEMALE = re.compile(r"\b(female|ovar\w*|uter\w*|cervi\w*|vagin\w*|vulv\w*|endometri\w*|fallopian)\b", re.I)
_MALE = re.compile(r"\b(male|prostat\w*|testi\w*|scrot\w*|penis|penile|seminal|epididym\w*)\b", re.I)


@dataclass(frozen=True)
class PoolCode:
    code: str
    kind: str  # "dx" | "proc"
    theme: str
    role: str
    weight: float
    parent: str
    sex: str | None  # "F"/"M" when the code applies to one sex only
    forms: MentionForms


class Sampler:
    """Draw one code by weight (``random.choices`` over precomputed cumulative weights)."""

    def __init__(self, codes: list[PoolCode]):
        self.codes = codes
        total, self.cum = 0.0, []
        for c in codes:
            total += c.weight
            self.cum.append(total)

    def __bool__(self) -> bool:
        return bool(self.codes)

    def draw(self, rng: random.Random) -> PoolCode:
        return rng.choices(self.codes, cum_weights=self.cum)[0]


@dataclass
class CodePool:
    system: str  # "icd10" | "icd9"
    codes: dict[str, PoolCode]
    samplers: dict[tuple[str, str], Sampler] = field(default_factory=dict)  # (role, theme or "*")
    siblings: dict[str, list[str]] = field(default_factory=dict)  # parent -> pool codes

    def __post_init__(self) -> None:
        groups: dict[tuple[str, str], list[PoolCode]] = {}
        for c in self.codes.values():
            groups.setdefault((c.role, c.theme), []).append(c)
            groups.setdefault((c.role, "*"), []).append(c)
            self.siblings.setdefault(c.parent, []).append(c.code)
        self.samplers = {key: Sampler(group) for key, group in groups.items()}

    def sampler(self, role: str, theme: str = "*") -> Sampler | None:
        return self.samplers.get((role, theme))

    def sibling_codes(self, code: str) -> list[str]:
        return [c for c in self.siblings.get(self.codes[code].parent, ()) if c != code]


def theme_of(system_name: str, code: str) -> str:
    """Latent cluster of a code from its chapter / body system."""
    if system_name == "icd10cm":
        letter, num = code[0], code[1:3]
        ranges = {"A": "infection", "B": "infection", "C": "oncology", "E": "metabolic", "F": "psych",
                  "G": "neuro", "H": "general", "J": "respiratory", "L": "general", "M": "musculoskeletal",
                  "N": "renal", "R": "general", "S": "injury", "T": "injury", "Z": "general"}
        if letter == "D":
            return "oncology" if num < "50" else "heme"
        if letter == "I":
            return "neuro" if "60" <= num <= "69" else "vascular" if num >= "70" else "cardiac"
        if letter == "K":
            return "liver" if "70" <= num <= "77" else "digestive"
        return ranges.get(letter, "general")
    if system_name == "icd9cm":
        if code[0] in "VE":
            return "general" if code[0] == "V" else "injury"
        n = int(code[:3])
        bounds = ((139, "infection"), (239, "oncology"), (279, "metabolic"), (289, "heme"), (319, "psych"),
                  (359, "neuro"), (389, "general"), (429, "cardiac"), (438, "neuro"), (459, "vascular"),
                  (519, "respiratory"), (569, "digestive"), (573, "liver"), (579, "digestive"), (629, "renal"),
                  (709, "general"), (739, "musculoskeletal"), (799, "general"), (999, "injury"))
        return next(theme for bound, theme in bounds if n <= bound)
    if system_name == "icd10pcs":
        body = code[1] if code[0] == "0" else ""
        systems = {"0": "neuro", "1": "neuro", "2": "cardiac", "3": "vascular", "4": "vascular", "5": "vascular",
                   "6": "vascular", "7": "heme", "B": "respiratory", "D": "digestive", "F": "liver",
                   "G": "metabolic", "T": "renal", "Q": "musculoskeletal", "R": "musculoskeletal",
                   "S": "musculoskeletal", "P": "musculoskeletal", "K": "musculoskeletal", "L": "musculoskeletal"}
        return systems.get(body, "general")
    n = int(code[:2])  # icd9proc
    bounds = ((5, "neuro"), (7, "metabolic"), (34, "respiratory"), (37, "cardiac"), (39, "vascular"),
              (41, "heme"), (49, "digestive"), (51, "liver"), (54, "digestive"), (59, "renal"),
              (75, "general"), (84, "musculoskeletal"), (99, "general"))
    return next(theme for bound, theme in bounds if n <= bound)


def _sex_of(title: str) -> str | None:
    if _FEMALE.search(title):
        return "F"
    if _MALE.search(title):
        return "M"
    return None


def _tail_role(kind: str, theme: str, title: str, rng: random.Random) -> str:
    low = title.lower()
    if kind == "proc":
        return "proc"
    if theme == "injury" or "acute" in low:
        return "principal" if rng.random() < 0.6 else "acute"
    if theme == "oncology" or "chronic" in low:
        return "chronic"
    return rng.choice(("principal", "acute", "chronic", "chronic"))


def _eligible(system_name: str, code: str, title: str) -> bool:
    if system_name == "icd10cm":
        ok = code[0] not in "OPQUVWXYZ" and not (code[0] in "ST" and not code.endswith("A"))
    elif system_name == "icd9cm":
        ok = code[0] not in "VE" and not (630 <= int(code[:3]) <= 679 or 740 <= int(code[:3]) <= 779)
    else:
        ok = code[0] == "0" if system_name == "icd10pcs" else True
    if not ok or not title:
        return False
    low = title.lower()
    return not any(word in low for word in _EXCLUDED_WORDS)


def _draw_tail(system, system_name: str, n: int, exclude: set[str], rng: random.Random) -> list[str]:
    """``n`` tail codes drawn by sibling groups, spread over themes by ``THEME_SHARE``."""
    by_theme: dict[str, dict[str, list[str]]] = {}
    nodes = system.hierarchy.nodes  # bulk read: one pass over the table's leaves
    for code in system.codes(leaf_only=True):
        node = nodes[code]
        if code in exclude or not _eligible(system_name, code, node.title or ""):
            continue
        by_theme.setdefault(theme_of(system_name, code), {}).setdefault(node.parent or code, []).append(code)
    total_share = sum(THEME_SHARE[t] for t in by_theme if t in THEME_SHARE)
    chosen: list[str] = []
    for theme in sorted(by_theme):
        groups = by_theme[theme]
        quota = round(n * THEME_SHARE.get(theme, 0) / total_share)
        parents = sorted(groups)
        rng.shuffle(parents)
        taken = 0
        for parent in parents:
            if taken >= quota:
                break
            members = groups[parent]
            k = min(len(members), quota - taken, 1 + min(3, int(rng.expovariate(0.9))))
            chosen.extend(sorted(rng.sample(members, k)))
            taken += k
    return chosen


def build_pool(system: str, *, n_tail_dx: int, n_tail_proc: int, seed: int, zipf: float = 0.75,
               tail_top_weight: float = 0.25, head_filter=None) -> CodePool:
    """The code pool for ``system`` ("icd10" or "icd9"). ``head_filter(code, theme, role)`` trims the head."""
    dx_name, proc_name = SYSTEMS[system]
    dx_sys, proc_sys = get_system(dx_name), get_system(proc_name)
    rng = random.Random(f"pool:{system}:{seed}")
    codes: dict[str, PoolCode] = {}
    head = concepts.parse_head(concepts.HEAD_ICD10 if system == "icd10" else concepts.HEAD_ICD9)
    for code, theme, role, weight in head:
        if head_filter is not None and not head_filter(code, theme, role):
            continue
        kind = "proc" if role == "proc" else "dx"
        codes[code] = _make(code, kind, theme, role, weight, proc_sys if kind == "proc" else dx_sys)
    tails = ((dx_sys, dx_name, "dx", n_tail_dx), (proc_sys, proc_name, "proc", n_tail_proc))
    for sys_, name, kind, n in tails:
        if n <= 0:
            continue
        tail = _draw_tail(sys_, name, n, set(codes), rng)
        rng.shuffle(tail)  # frequency rank is independent of the table order
        for rank, code in enumerate(tail, start=1):
            weight = tail_top_weight * rank ** -zipf
            theme = theme_of(name, code)
            role = _tail_role(kind, theme, sys_.title(code), rng)
            codes[code] = _make(code, kind, theme, role, weight, sys_)
    return CodePool(system, codes)


def _make(code: str, kind: str, theme: str, role: str, weight: float, system) -> PoolCode:
    title = system.title(code)
    if title is None:
        raise ValueError(f"{code} is not in the {system.name} tables")
    return PoolCode(code, kind, theme, role, weight, system.parent(code) or code, _sex_of(title),
                    _forms(code, title, kind == "proc"))


@cache
def _forms(code: str, title: str, procedure: bool = False) -> MentionForms:
    return build_forms(code, title, overrides=concepts.SURFACE_OVERRIDES.get(code), procedure=procedure)
