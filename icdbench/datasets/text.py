"""Text cleaning, word tokens and sentence offsets.

Cleaning is that of the published MIMIC settings (Edin et al. 2023, after Mullenbach et al. 2018): lower case,
every character outside ``[a-z0-9]`` becomes a space, tokens made only of digits are dropped, whitespace is
collapsed to single spaces and stripped. Accented and other non-ASCII letters count as non-alphanumeric, as in
their regular expression. `clean_with_offsets` gives the same text plus where each raw character went, so that
evidence spans on raw text can be moved into cleaned text exactly.
"""

from __future__ import annotations

import re

import numpy as np

# Bump on any change that alters the output of clean_text or tokenize (it keys cached word2vec models).
TOKENIZER_VERSION = "edin2023-1"

# A maximal run of [a-z0-9] holding a letter: exactly the tokens that survive cleaning. (Matching starts at a
# run's first character and extends greedily to its end; a run of digits only never matches.)
_KEPT_TOKEN = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*")


def clean_text(text: str) -> str:
    """The published MIMIC cleaning: "Pt. had CHF (EF 35%), on 2.5mg" -> "pt had chf ef on 5mg"."""
    return " ".join(_KEPT_TOKEN.findall(text.lower()))


def tokenize(text: str) -> list[str]:
    """Word tokens of the cleaned text (cleaning cleaned text changes nothing, so either may be passed)."""
    return clean_text(text).split()


def _lower_with_origin(text: str) -> tuple[str, np.ndarray]:
    """`text.lower()` and, for each of its characters, the raw offset it came from ([len(lowered)] int64).

    Lowering keeps the length except for a few characters ("İ" -> "i" + combining dot); only then is the
    text walked character by character.
    """
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered, np.arange(len(text), dtype=np.int64)
    pieces = [char.lower() for char in text]
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    return "".join(pieces), np.repeat(np.arange(len(text), dtype=np.int64), lengths)


def _kept_words(lowered: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The tokens that survive cleaning, with their [start, end) offsets in `lowered` ([K] int64 each)."""
    words = _KEPT_TOKEN.findall(lowered)
    starts = np.fromiter((m.start() for m in _KEPT_TOKEN.finditer(lowered)), dtype=np.int64, count=len(words))
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return words, starts, starts + lengths


def tokenize_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Tokens of the cleaned text with their raw [start, end) offsets: text[start:end].lower() == token
    (for ASCII text)."""
    lowered, origin = _lower_with_origin(text)
    words, starts, ends = _kept_words(lowered)
    return [(w, int(origin[s]), int(origin[e - 1]) + 1) for w, s, e in zip(words, starts, ends)]


def clean_with_offsets(text: str) -> tuple[str, np.ndarray]:
    """`clean_text(text)` and the offset map: for each raw character ([len(text)] int64), the offset of the
    same (lower-cased) character in the cleaned text, or -1 where cleaning dropped it (punctuation,
    whitespace, all-digit tokens). One Python step per kept token, not per character; about as fast as
    tokenising, several times slower than `clean_text`.
    """
    lowered, origin = _lower_with_origin(text)
    words, starts, ends = _kept_words(lowered)
    offset_map = np.full(len(text), -1, dtype=np.int64)
    if not words:
        return "", offset_map
    lengths = ends - starts
    clean_starts = np.zeros(len(words), dtype=np.int64)
    clean_starts[1:] = np.cumsum(lengths[:-1] + 1)  # one space between tokens
    # Every kept character: its offset in `lowered` and in the cleaned text (a ramp within each token).
    within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    offset_map[origin[np.repeat(starts, lengths) + within]] = np.repeat(clean_starts, lengths) + within
    return " ".join(words), offset_map


def map_span(offset_map: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """Move a raw [start, end) span into cleaned text: from its first kept character to just after its last.

    A span with no kept character (e.g. the evidence "2.5") becomes the empty span (p, p) at the cleaned
    offset of the next kept character (or the end of the cleaned text); callers can test start == end.
    """
    kept = offset_map[start:end]
    kept = kept[kept >= 0]
    if kept.size:
        return int(kept[0]), int(kept[-1]) + 1
    after = offset_map[end:]
    after = after[after >= 0]
    if after.size:
        return int(after[0]), int(after[0])
    before = offset_map[:start]
    before = before[before >= 0]
    position = int(before[-1]) + 1 if before.size else 0
    return position, position


# --- sentences ---------------------------------------------------------------------------------------------
# Words whose period is not a sentence end (lower case, without the period). Dotted forms ("b.i.d", "e.g")
# and single letters are recognised by shape. Units are not listed: "given 5 mg." often ends a sentence.
ABBREVIATIONS = frozenset(
    ["dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "vs", "approx", "dept", "est", "fig", "hosp", "pt"]
)
_DOTTED = re.compile(r"[a-z]+(?:\.[a-z]+)+")
_TERMINAL = re.compile(r"[.?!]+[\"')\]]*(?=\s|$)")
_LINE_BREAK = re.compile(r"\n[ \t\r\f\v]*(\n\s*)?")
_HEADER = re.compile(r"^[ \t]*[A-Za-z][A-Za-z/&'()-]*(?:[ \t]+[A-Za-z/&'()-]+){0,5}[ \t]*:", re.MULTILINE)
_WORD_BEFORE = re.compile(r"(\S+)$")


def _period_is_abbreviation(text: str, position: int) -> bool:
    """Whether the period at `position` closes an abbreviation ("Dr.", "b.i.d.", "J."), not a sentence."""
    match = _WORD_BEFORE.search(text, max(0, position - 40), position)
    word = match.group(1).lower().lstrip("([\"'") if match else ""
    single_letter = len(word) == 1 and word.isalpha()
    return single_letter or word in ABBREVIATIONS or _DOTTED.fullmatch(word) is not None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence [start, end) offsets on raw text, trimmed of surrounding whitespace, in order, non-empty.

    A sentence ends at:
    1. ``.``, ``?`` or ``!`` (a run of them, with closing quotes/brackets) followed by whitespace or the end.
       A period does not end one after an abbreviation: a listed word (ABBREVIATIONS: "Dr.", "approx."), a
       single letter ("J."), or a dotted form ("b.i.d.", "e.g."); nor does a period or an ellipsis followed by
       a word in lower case. A period inside a token ("3.5", "p.o") never ends one: no whitespace follows it.
    2. a blank line, always; a single line break unless the next line starts with a lower-case letter (a
       hard-wrapped sentence going on).
    3. a section header: at a line start, one to six words ending with ":" ("HISTORY OF PRESENT ILLNESS:",
       "Chief Complaint:") form a sentence of their own; the text after them starts the next one.
    """
    cuts: set[int] = {0, len(text)}
    for match in _TERMINAL.finditer(text):
        periods = match.group().rstrip("\"')]")
        if set(periods) == {"."}:
            next_char = text[match.end() : match.end() + 40].lstrip()[:1]
            if next_char.islower() or periods == "." and _period_is_abbreviation(text, match.start()):
                continue
        cuts.add(match.end())
    for match in _LINE_BREAK.finditer(text):
        following = text[match.end() : match.end() + 1]
        if match.group(1) is not None or not following.islower():
            cuts.add(match.start())
    for match in _HEADER.finditer(text):
        cuts.update((match.start(), match.end()))
    spans: list[tuple[int, int]] = []
    bounds = sorted(cuts)
    for start, end in zip(bounds[:-1], bounds[1:]):
        segment = text[start:end]
        stripped = segment.strip()
        if stripped:
            lead = len(segment) - len(segment.lstrip())
            spans.append((start + lead, start + lead + len(stripped)))
    return spans


def clean_sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of raw ``text`` (:func:`split_sentences`) as [start, end) offsets into ``clean_text(text)``.

    Cleaning drops the punctuation and line breaks that mark sentence ends, so the boundaries are found on the
    raw text and carried over: a sentence is the run of kept words whose first character lies in it, from its
    first word's start to its last word's end in the cleaned text. Sentences left without a word are dropped.
    No sentence cut falls inside a word (every cut is next to whitespace or punctuation), so the sentences tile
    the cleaned text's words in order: joined with single spaces they are the cleaned text.
    """
    lowered, origin = _lower_with_origin(text)
    words, starts, ends = _kept_words(lowered)
    if not words:
        return []
    lengths = ends - starts
    clean_starts = np.zeros(len(words), dtype=np.int64)
    clean_starts[1:] = np.cumsum(lengths[:-1] + 1)
    raw_starts = origin[starts]
    bounds = np.asarray(split_sentences(text), dtype=np.int64).reshape(-1, 2)
    first, after = np.searchsorted(raw_starts, bounds[:, 0]), np.searchsorted(raw_starts, bounds[:, 1])
    kept = after > first
    first, last = first[kept], after[kept] - 1
    return list(zip(clean_starts[first].tolist(), (clean_starts[last] + lengths[last]).tolist()))
