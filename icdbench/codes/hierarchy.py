"""A code hierarchy as plain dictionaries: the one structure every code system is loaded into.

Nodes are identified by their canonical string (the form `CodeSystem.normalize` returns). Three node kinds:
- ``chapter``: the top level (ICD-10-CM chapter "9", ICD-9 chapter "390-459", PCS section "0");
- ``group``: levels between chapter and codes that are not themselves codes (ICD-10-CM blocks, ICD-9 sections,
  ICD-10-PCS axis prefixes such as "0DT");
- ``code``: a code of the classification (categories, subcategories and billable leaves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NodeKind = Literal["chapter", "group", "code"]


@dataclass(slots=True)
class Node:
    code: str
    kind: NodeKind
    parent: str | None
    title: str | None = None
    short_title: str | None = None
    children: list[str] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return not self.children


class Hierarchy:
    """Nodes keyed by canonical code; built once by a loader, then read-only."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._codes: dict[bool, tuple[str, ...]] = {}

    def add(
        self,
        code: str,
        kind: NodeKind,
        parent: str | None,
        title: str | None = None,
        short_title: str | None = None,
    ) -> Node:
        """Add a node, or fill in missing titles of an existing one. Parents must be added before children."""
        node = self.nodes.get(code)
        if node is not None:
            node.title = node.title or title
            node.short_title = node.short_title or short_title
            return node
        if parent is not None and parent not in self.nodes:
            raise KeyError(f"parent {parent!r} of {code!r} is not in the hierarchy")
        node = Node(code, kind, parent, title, short_title)
        self.nodes[code] = node
        if parent is not None:
            self.nodes[parent].children.append(code)
        return node

    def finish(self) -> Hierarchy:
        """Sort every child list so that every answer is deterministic."""
        for node in self.nodes.values():
            node.children.sort()
        return self

    def ancestors(self, code: str) -> list[str]:
        out: list[str] = []
        node = self.nodes.get(code)
        while node is not None and node.parent is not None:
            out.append(node.parent)
            node = self.nodes[node.parent]
        return out

    def codes(self, leaf_only: bool) -> list[str]:
        if leaf_only not in self._codes:  # computed once: callers may ask per document
            nodes = self.nodes.values()
            wanted = (n.code for n in nodes if n.kind == "code" and (n.is_leaf or not leaf_only))
            self._codes[leaf_only] = tuple(sorted(wanted))
        return list(self._codes[leaf_only])
