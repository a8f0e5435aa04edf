"""ICD-10-CM from `simple_icd_10_cm` (the CDC tabular list): chapter -> block -> category -> subcategories.

The package parses its XML on import (a few seconds), so it is imported here, inside the loader, never at
`import icdbench.codes`.
"""

from __future__ import annotations

from icdbench.codes.hierarchy import Hierarchy


def load() -> Hierarchy:
    # heavy: the ICD-10-CM tables load on first use
    import simple_icd_10_cm as cm

    hierarchy = Hierarchy()
    # (name, parent id, whether the name is read as a block): a few names are both a block and the one
    # category inside it ("P84"); such one-category blocks are skipped so each id is one node.
    chapters = [code for code in cm.get_all_codes() if cm.is_chapter(code)]
    stack: list[tuple[str, str | None, bool]] = [(ch, None, True) for ch in reversed(chapters)]
    while stack:
        name, parent, as_block = stack.pop()
        children = cm.get_children(name, prioritize_blocks=as_block)
        if as_block and cm.is_chapter(name):
            hierarchy.add(name, "chapter", parent, cm.get_description(name, prioritize_blocks=True))
        elif as_block and cm.is_block(name):
            if children == [name]:  # a block holding only the same-named category
                stack.append((name, parent, False))
                continue
            hierarchy.add(name, "group", parent, cm.get_description(name, prioritize_blocks=True))
        else:
            hierarchy.add(name, "code", parent, cm.get_description(name))
        # Below a category every child is a code; only chapters and blocks hold blocks.
        for child in reversed(children):
            stack.append((child, name, as_block and child != name and cm.is_block(child)))
    return hierarchy.finish()

