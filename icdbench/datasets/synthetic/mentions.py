"""From a code title to the ways a clinician writes it.

A title is cleaned of coder boilerplate, then varied: synonyms and abbreviations from the lexicon, "X of Y"
reordered to "Y X", a trailing ", qualifier" moved to the front, an occasional dropped word. The qualifier
that separates a code from its siblings (laterality, acuity, stage, type, severity, approach) is kept apart
so a mention can move it away from the head words ("systolic CHF ... felt to be acute on chronic").
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from icdbench.datasets.synthetic import lexicon

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_LETTERS = re.compile(r"[A-Za-z]+")
_DROPPABLE = {"primary", "native", "unilateral", "specified", "localized", "generalized", "nonautologous",
              "simple"}


@dataclass(frozen=True)
class MentionForms:
    """The surface forms of one code.

    ``inline`` are complete mentions; ``core`` the same mentions without the sibling-separating
    ``qualifier`` (of ``kind`` laterality/acuity/...), which ``render`` may place elsewhere in the phrase.
    """

    inline: tuple[str, ...]
    core: tuple[str, ...] = ()
    qualifier: str | None = None
    kind: str | None = None
    procedure: bool = False

    def render(self, rng: random.Random, displace: float = 0.5) -> str:
        templates = (lexicon.DISPLACED_PROC if self.procedure else lexicon.DISPLACED).get(self.kind)
        if self.qualifier and self.core and templates and rng.random() < displace:
            template = rng.choice(templates)
            return template.format(core=rng.choice(self.core), q=_qualifier_variant(self, rng),
                                   n=f"{rng.uniform(1.2, 3.4):.1f}")
        return rng.choice(self.inline)


def _qualifier_variant(forms: MentionForms, rng: random.Random) -> str:
    q = forms.qualifier
    if forms.kind == "laterality" and q in lexicon.LATERAL_SHORT and rng.random() < 0.3:
        return rng.choice(lexicon.LATERAL_SHORT[q])
    if forms.kind == "approach":
        return q.replace(" approach", "") if rng.random() < 0.5 else q
    return q


def clean_title(title: str) -> str:
    """Lower-case a title and strip coder boilerplate ("unspecified", "initial encounter", parentheses)."""
    # keep acronyms ("ST", "HIV", "II"); lower-case every other word
    text = _LETTERS.sub(lambda m: m.group(0) if len(m.group(0)) > 1 and m.group(0).isupper() else m.group(0).lower(),
                        title)
    for pattern, repl in lexicon.TITLE_REWRITES_RE:
        text = pattern.sub(repl, text)
    return text.strip() or title.lower()


def _find_qualifier(text: str) -> tuple[str, str, int, int] | None:
    """The first qualifier outside a protected disease name: ``(kind, text, start, end)``."""
    protected = [(m.start(), m.end()) for p in lexicon.PROTECTED for m in re.finditer(re.escape(p), text)]
    for kind, pattern in lexicon.QUALIFIERS:
        for match in pattern.finditer(text):
            if not any(s <= match.start() < e for s, e in protected):
                return kind, match.group(1), match.start(), match.end()  # "right side" -> "right"
    return None


def _tidy(text: str) -> str:
    text = re.sub(r"\s+,", ",", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\b(of|with|and|or|into|to|in)\s*(,|$)", r"\2", text)
    text = re.sub(r"\s{2,}", " ", text)
    return text.strip(" ,")


def _substitute(text: str, rng: random.Random, keep: float) -> str:
    def pick(match: re.Match) -> str:
        if rng.random() < keep:
            return match.group(0)
        return rng.choice(lexicon.PHRASE_SYNONYMS[match.group(0).lower()])

    return lexicon.SYNONYM_RE.sub(pick, text)


def _reorder(text: str) -> str | None:
    """'cellulitis of lower limb' -> 'lower limb cellulitis'; 'ckd, stage 4' -> 'stage 4 ckd'."""
    if "," in text:
        head, _, tail = text.rpartition(",")
        tail = tail.strip()
        if tail.endswith(" approach") and len(tail.split()) <= 3:
            return f"{tail.removesuffix(' approach')} {head}"
        head, _, tail = text.partition(",")
        tail = tail.strip()
        if 0 < len(tail.split()) <= 3 and "," not in tail:
            return f"{tail} {head}"
        return None
    parts = text.split(" of ")
    if (len(parts) == 2 and len(parts[0].split()) <= 2 and len(parts[1].split()) <= 3
            and not re.search(r"\b(with|without|w/o?|due|and|or)\b", parts[1])):
        return f"{parts[1]} {parts[0]}"
    return None


def _drop_word(text: str, rng: random.Random) -> str | None:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if w in _DROPPABLE]
    if not candidates:
        return None
    i = rng.choice(candidates)
    return " ".join(words[:i] + words[i + 1 :])


def _variants(text: str, rng: random.Random, n: int) -> tuple[str, ...]:
    """Up to ``n`` distinct forms of ``text`` (the text itself first)."""
    forms = [text]
    reordered = _reorder(text)
    if reordered:
        forms.append(reordered)
    for _ in range(4 * n):
        if len(forms) >= n:
            break
        base = rng.choice(forms[:2])
        variant = _substitute(base, rng, keep=0.35)
        if rng.random() < 0.15:
            variant = _drop_word(variant, rng) or variant
        variant = _tidy(variant)
        if variant and variant not in forms:
            forms.append(variant)
    return tuple(forms)


def build_forms(code: str, title: str, *, overrides: tuple[str, ...] | None = None,
                short_title: str | None = None, n: int = 6, procedure: bool = False) -> MentionForms:
    """All surface forms of ``code``. Deterministic in ``code`` (its own seeded generator)."""
    if overrides:
        return MentionForms(inline=tuple(overrides))
    rng = random.Random(f"forms:{code}")
    base = _tidy(clean_title(title))
    inline = list(_variants(base, rng, n))
    if short_title:
        short = _tidy(clean_title(short_title))
        if short and short not in inline and len(short) >= 4:
            inline.append(short)
    found = _find_qualifier(base)
    if not found:
        return MentionForms(inline=tuple(inline))
    kind, qualifier, start, end = found
    core_text = _tidy(base[:start] + base[end:])
    if len(_WORD.findall(core_text)) < 1:
        return MentionForms(inline=tuple(inline))
    core = _variants(core_text, rng, max(2, n // 2))
    return MentionForms(inline=tuple(inline), core=core, qualifier=qualifier, kind=kind, procedure=procedure)
