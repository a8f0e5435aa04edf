"""``index.html``: the leaderboard as one static page — sortable tables (click a header; a few lines of inline
JavaScript, no server, no CDN) and the plots, which sit beside it in ``plots/``."""

from __future__ import annotations

import re
from html import escape

from icdbench.metrics.keys import METRICS
from icdbench.results.board import HOW_TO_CITE, PLOT_CAPTIONS, PLOT_KINDS, anchor, hidden_text, plot_name, split_line
from icdbench.results.cells import STOP_LEGEND, Grid, Section, provenance_section, table_sections
from icdbench.results.leaderboard import EVIDENCE, HEADLINE, OFFICIAL

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 3px 6px; }
th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
td.num { text-align: right; white-space: nowrap; }
td small { color: #666; display: block; }
.wrap { overflow-x: auto; } img { max-width: 100%; } caption { text-align: left; font-size: 0.9em; }
p.footnote { font-size: 0.85em; margin: -1em 0 1.5em; color: #444; }
"""

# Click a header to sort by its column (numbers by data-v, the rest as text); click again to reverse.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var descending = !th.classList.contains("sorted-desc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(descending ? "sorted-desc" : "sorted-asc");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var v = row.cells[column].getAttribute("data-v");
        if (v === null || v === "") { return null; }
        var n = Number(v);
        return isNaN(n) ? v.toLowerCase() : n;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return (x === null) - (y === null); }
        if (x === y) { return 0; }
        return (x < y ? -1 : 1) * (descending ? -1 : 1);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def grid_html(grid: Grid, caption: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in grid.header)
    body = []
    for row in grid.rows:
        cells = []
        for cell, numeric in zip(row, grid.numeric):
            value = "" if cell.sort is None else escape(str(cell.sort), quote=True)
            note = f"<small>{escape(cell.note)}</small>" if cell.note else ""
            css = ' class="num"' if numeric else ""
            cells.append(f'<td{css} data-v="{value}">{escape(cell.text)}{note}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    notes = "".join(f'<p class="footnote">{escape(note)}</p>\n' for note in grid.notes)
    return (f'<div class="wrap"><table class="sortable">{cap}<thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(body) + "\n</tbody></table></div>\n" + notes)  # fmt: skip


def section_html(section: Section) -> str:
    grids = [grid_html(grid, caption) for caption, grid in section.grids]
    return "\n".join([f"<h3>{escape(section.title)}</h3>", *grids])


def _markdown_section(text: str) -> str:
    """The few Markdown constructs of the generated prose sections (heading, bullets, paragraphs) as HTML."""

    def inline(line: str) -> str:
        line = escape(line)
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", line)
        line = re.sub(r"\*(.+?)\*", r"<i>\1</i>", line)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", line)

    out = []
    for block in text.strip().split("\n\n"):
        if block.startswith("## "):
            out.append(f"<h2>{inline(block[3:].strip())}</h2>")
        elif block.startswith("- "):
            items = [" ".join(item.split()) for item in block[2:].split("\n- ")]
            out.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>")
        else:
            out.append(f"<p>{inline(' '.join(block.split()))}</p>")
    return "\n".join(out)


def html_page(board, plots: dict[str, str]) -> str:
    parts = [f"<h1>{escape(board.title)}</h1>", f"<p>{escape(board.intro)}</p>",
             "<p>Cells: mean ± std over a row's runs; below, the 95% interval (t over runs, or bootstrap over test "
             "documents for a single run). Click a column header to sort.</p>",
             f"<p>{escape(STOP_LEGEND.replace('`', ''))}</p>"]  # fmt: skip
    if board.hidden:
        parts.append(f"<p>{escape(hidden_text(board).replace('`', ''))}</p>")
    parts.append("<ul>" + "".join(f'<li><a href="#{anchor(t)}">{escape(t.split)} — {escape(t.profile)}</a></li>'
                                  for t in board.tables) + "</ul>")  # fmt: skip
    for table in board.tables:
        parts.append(f'<h2 id="{anchor(table)}">{escape(table.split)} — {escape(table.profile)} profile</h2>')
        parts.append(f"<p>{escape(split_line(table).replace('`', ''))}</p>")
        parts += [section_html(section) for section in table_sections(table, board.references.get(table.split, []))]
        for kind in PLOT_KINDS:
            name = plot_name(table, kind)
            if name in plots:
                parts.append(f'<figure><img src="{escape(name)}" alt="{escape(kind)}">'
                             f"<figcaption>{escape(PLOT_CAPTIONS[kind])}</figcaption></figure>")  # fmt: skip
        parts.append(section_html(provenance_section(table)))
    parts.append("<h2>Metrics</h2><ul>" + "".join(
        f"<li><b>{escape(label)}</b> (<code>{escape(key)}</code>): {escape(METRICS[key].definition)}</li>"
        for key, label in OFFICIAL + HEADLINE + EVIDENCE) + "</ul>")  # fmt: skip
    parts.append(_markdown_section(HOW_TO_CITE))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(board.title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")  # fmt: skip
