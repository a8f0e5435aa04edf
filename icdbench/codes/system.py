"""`CodeSystem`: one API over the four ICD systems; the table loads on first use and is cached."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Literal

from icdbench.codes.hierarchy import Hierarchy, Node

CodeKind = Literal["dx", "proc"]


class CodeSystem:
    """An ICD code system: normalisation, titles, hierarchy, roll-ups.

    Every lookup accepts any input form (dotted or not, any case, whitespace) and reports unknown codes with
    None / [] / False instead of raising. Chapters and blocks (ICD-10-CM "9", "I30-I5A"; ICD-9 "390-459";
    PCS sections "0") have titles and children but are not codes: `is_valid` is False for them.
    """

    def __init__(
        self,
        name: str,
        kind: CodeKind,
        description: str,
        normalizer: Callable[[object], str],
        loader: Callable[[], Hierarchy],
        e_code_offset: bool = False,
    ) -> None:
        self.name = name
        self.kind: CodeKind = kind
        self.description = description
        self._normalizer = normalizer
        self._loader = loader
        # ICD-9-CM E codes have a 4-character category (E888), so their roll-ups count one character more.
        self._e_code_offset = e_code_offset

    def __repr__(self) -> str:
        return f"CodeSystem({self.name!r}, kind={self.kind!r})"

    @cached_property
    def hierarchy(self) -> Hierarchy:
        """The full table (loaded from the package data on first access, then kept)."""
        return self._loader()

    def _node(self, code: object) -> Node | None:
        return self.hierarchy.nodes.get(self.normalize(code))

    # --- forms -------------------------------------------------------------------------------------------
    def normalize(self, code: object) -> str:
        """Canonical form: "i5021" -> "I50.21", "4280" -> "428.0", "0dtj4zz" -> "0DTJ4ZZ". Never validates."""
        return self._normalizer(code)

    def rollup(self, code: object, n_chars: int) -> str:
        """The first `n_chars` characters (dot not counted) in canonical form: ("I50.21", 3) -> "I50".

        A code shorter than `n_chars` is returned whole. ICD-9-CM E codes count from their 4-character
        category, so ("E888.9", 3) -> "E888". The result need not be a code (PCS "0DTJ" is an axis prefix).
        """
        if n_chars < 1:
            raise ValueError(f"n_chars must be at least 1, got {n_chars}")
        canonical = self.normalize(code)
        if "-" in canonical:
            return canonical
        bare = canonical.replace(".", "")
        if self._e_code_offset and bare.startswith("E"):
            n_chars += 1
        return self.normalize(bare[:n_chars])

    # --- membership --------------------------------------------------------------------------------------
    def is_valid(self, code: object) -> bool:
        """True for codes of the classification (categories to billable leaves), False otherwise."""
        node = self._node(code)
        return node is not None and node.kind == "code"

    def is_leaf(self, code: object) -> bool:
        """True for a code with no children (billable in ICD-10-CM and ICD-9-CM)."""
        node = self._node(code)
        return node is not None and node.kind == "code" and node.is_leaf

    def codes(self, leaf_only: bool = True) -> list[str]:
        """All codes, sorted: the leaves (billable codes) or, with leaf_only=False, categories as well."""
        return self.hierarchy.codes(leaf_only)

    # --- titles ------------------------------------------------------------------------------------------
    def title(self, code: object) -> str | None:
        """The long title of a code, chapter or block; None when unknown or the source has none."""
        node = self._node(code)
        return None if node is None else node.title

    def short_title(self, code: object) -> str | None:
        """The short (abbreviated) title where the source has one (ICD-9-CM), else None."""
        node = self._node(code)
        return None if node is None else node.short_title

    # --- hierarchy ---------------------------------------------------------------------------------------
    def parent(self, code: object) -> str | None:
        node = self._node(code)
        return None if node is None else node.parent

    def ancestors(self, code: object) -> list[str]:
        """Nearest first, ending with the chapter: "I50.21" -> ["I50.2", "I50", "I30-I5A", "9"]."""
        canonical = self.normalize(code)
        return self.hierarchy.ancestors(canonical) if canonical in self.hierarchy.nodes else []

    def children(self, code: object) -> list[str]:
        node = self._node(code)
        return [] if node is None else list(node.children)

    def siblings(self, code: object) -> list[str]:
        """The other children of the same parent, sorted (the codes a qualifier tells apart)."""
        node = self._node(code)
        if node is None or node.parent is None:
            return []
        return [c for c in self.hierarchy.nodes[node.parent].children if c != node.code]

    def chapter(self, code: object) -> str | None:
        """The chapter (PCS: section) id; a chapter is its own chapter; None when unknown."""
        node = self._node(code)
        if node is None:
            return None
        if node.kind == "chapter":
            return node.code
        ancestors = self.hierarchy.ancestors(node.code)
        return ancestors[-1] if ancestors else None
