# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The reports' one rendering layer: escaping per format, tables, the HTML page and JUnit XML.

Every string a report shows may come from a host (CPC and LPAR names, guest names, libvirt's and
the kernel's words, a hook's output) and is treated as hostile: whatever it holds, a report parses
in its format and shows the string as text, never as markup.

- :func:`visible`: control characters, lone surrogates, bidirectional overrides and
  non-characters become ``\\xNN`` / ``\\uNNNN`` text (a hook's ANSI colours show as ``\\x1b[31m``,
  never colour a terminal or break XML);
- Markdown: :func:`md_text` (HTML and table syntax, emphasis, links and code escaped), :func:`md_paragraph`,
  :func:`md_code`, :func:`md_code_block`, :func:`md_table`;
- HTML: :func:`html_text`, :func:`html_attr`, :func:`html_table`, :func:`html_page`;
- XML (JUnit): :func:`xml_text`, :func:`xml_attr`, :func:`junit`;
- JSON: :func:`json_text` (lone surrogates replaced, so that the file is valid UTF-8 JSON).

Report files (``_reports.py``, ``_drain_report.py``, ``_rolling_report.py``) keep only their content.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

# Characters shown as escapes: C0 controls but tab/newline (handled per context), DEL and C1
# controls, lone surrogates, the bidirectional embedding/override/isolate controls (they reorder
# what a reader sees), and the non-characters XML forbids.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]")
_BREAKS = re.compile("[\t\n]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, lines: bool = False) -> str:
    """Return ``str(value)`` with every hidden or control character as a visible ``\\xNN``/``\\uNNNN`` escape.

    ``lines``: keep newlines and tabs (a block of text); otherwise they become spaces (one line).
    ``None`` gives ``""``.
    """
    text = "" if value is None else str(value)
    text = _HIDDEN.sub(_escape_char, text)
    return text if lines else _BREAKS.sub(" ", text)


def plain(value: Any) -> str:
    """Return one line of plain text for a terminal or a log: :func:`visible`, one line."""
    return visible(value)


class Raw(str):
    """Text already rendered for the target format (a code span, a link, a cell's markup): not escaped again."""


# ----------------------------------------------------------------------------------- Markdown

_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
_MD_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_BLOCK_START = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))")


def md_text(value: Any) -> str:
    """Return a value as one line of Markdown text inside a line (a table cell, after a heading's ``#``):
    HTML, table pipes, emphasis, links and code escaped. A :class:`Raw` value is returned as it is.
    """
    if isinstance(value, Raw):
        return str(value)
    text = _MD_INLINE.sub(r"\\\1", visible(value))
    return re.sub("[&<>]", lambda m: _MD_HTML[m.group()], text)


def md_paragraph(value: Any) -> str:
    """Return a value as a one-line Markdown paragraph: :func:`md_text`, and a leading ``#``, ``>``, list or
    setext marker escaped so that the line stays a paragraph."""
    return _MD_BLOCK_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), md_text(value))


def md_code(value: Any) -> Raw:
    """Return a value as a Markdown code span (one line; pipes escaped for tables, fence longer than any backtick run)."""
    text = visible(value).replace("|", "\\|")
    if not text:
        return Raw("` `")
    runs = [len(r) for r in re.findall("`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return Raw(f"{fence}{pad}{text}{pad}{fence}")


def md_code_block(lines: Iterable[Any], info: str = "") -> list[str]:
    """Return the lines of a fenced code block holding ``lines`` (each one line, as text; the fence outlasts any backtick run)."""
    body = [visible(line) for line in lines]
    runs = [len(r) for line in body for r in re.findall("`{3,}", line)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [fence + info, *body, fence]


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """Return the lines of a Markdown table; every cell escaped with :func:`md_text` (a :class:`Raw` cell as it is).

    ``align``: one letter per column, ``l`` (default) or ``r``.
    """
    marks = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(headers))]
    out = ["| " + " | ".join(md_text(h) for h in headers) + " |", "|" + "|".join(marks) + "|"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row of {len(row)} cells under {len(headers)} headers")
        out.append("| " + " | ".join(md_text(cell) if str(cell) else " " for cell in row) + " |")
    return out


# --------------------------------------------------------------------------------------- HTML


def html_text(value: Any, lines: bool = False) -> str:
    """Return a value as HTML text (``lines``: newlines kept, for ``<pre>``); a :class:`Raw` value as it is."""
    if isinstance(value, Raw):
        return str(value)
    return html.escape(visible(value, lines), quote=True)


def html_attr(value: Any) -> str:
    """Return a value for a double-quoted HTML attribute (one line, escaped)."""
    return html.escape(visible(value), quote=True)


def html_attrs(attrs: Mapping[str, Any] | None) -> str:
    """Return `` name="value"`` pairs (values escaped; None values left out; names must be plain)."""
    out = []
    for name, value in (attrs or {}).items():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise ValueError(f"bad HTML attribute name {name!r}")
        if value is not None:
            out.append(f' {name}="{html_attr(value)}"')
    return "".join(out)


@dataclass(frozen=True)
class Cell:
    """An HTML table cell: content (escaped unless :class:`Raw`), its tag and attributes."""

    content: Any
    tag: str = "td"
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        return f"<{self.tag}{html_attrs(self.attrs)}>{html_text(self.content)}</{self.tag}>"


@dataclass(frozen=True)
class Row:
    """An HTML table row: its cells (values or :class:`Cell`) and the row's attributes."""

    cells: Sequence[Any]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        cells = "".join(c.render() if isinstance(c, Cell) else f"<td>{html_text(c)}</td>" for c in self.cells)
        return f"<tr{html_attrs(self.attrs)}>{cells}</tr>"


def html_table(headers: Sequence[Any], rows: Iterable[Any], attrs: Mapping[str, Any] | None = None) -> list[str]:
    """Return the lines of an HTML table: a header row (values or :class:`Cell`) and body rows (sequences or :class:`Row`)."""
    head = "".join(h.render() if isinstance(h, Cell) else f"<th>{html_text(h)}</th>" for h in headers)
    out = [f"<table{html_attrs(attrs)}><thead><tr>{head}</tr></thead><tbody>"]
    out += [(r if isinstance(r, Row) else Row(r)).render() for r in rows]
    out.append("</tbody></table>")
    return out


def html_page(title: Any, body: Iterable[str], css: str) -> str:
    """Return a self-contained HTML page (inline CSS, no scripts or external assets); ``body`` is rendered markup."""
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{html_text(title)}</title>",
                f"<style>{css}</style></head><body>",
                *body,
                "</body></html>",
            ]
        )
        + "\n"
    )


# ---------------------------------------------------------------------------------------- XML


def xml_text(value: Any) -> str:
    """Return a value as XML character data (newlines kept; characters XML cannot hold shown as escapes)."""
    return html.escape(visible(value, lines=True), quote=False)


def xml_attr(value: Any) -> str:
    """Return a value as a quoted XML attribute (with its quotes; newlines kept as character references)."""
    return quoteattr(visible(value, lines=True))


@dataclass(frozen=True)
class Case:
    """A JUnit test case: ``failure`` (type, message, text), ``skipped`` (message) or ``output`` (system-out)."""

    classname: str
    name: str
    time: float | None = None
    failure: tuple[str, str, str] | None = None
    skipped: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class Suite:
    """A JUnit test suite: a name and its cases."""

    name: str
    cases: Sequence[Case]


def junit(name: str, suites: Iterable[Suite]) -> str:
    """Return a JUnit XML document (``testsuites``) with the counts of every suite computed from its cases."""
    suites = list(suites)

    def counts(cases: Sequence[Case]) -> str:
        failures = sum(c.failure is not None for c in cases)
        skipped = sum(c.failure is None and c.skipped is not None for c in cases)
        return f'tests="{len(cases)}" failures="{failures}" errors="0" skipped="{skipped}"'

    every = [c for s in suites for c in s.cases]
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<testsuites name={xml_attr(name)} {counts(every)}>"]
    for suite in suites:
        out.append(f"  <testsuite name={xml_attr(suite.name)} {counts(suite.cases)}>")
        for case in suite.cases:
            time = f' time="{float(case.time):.3f}"' if case.time is not None else ""
            out.append(f"    <testcase classname={xml_attr(case.classname)} name={xml_attr(case.name)}{time}>")
            if case.failure is not None:
                kind, message, text = case.failure
                out.append(f"      <failure type={xml_attr(kind)} message={xml_attr(message)}>{xml_text(text)}</failure>")
            elif case.skipped is not None:
                out.append(f"      <skipped message={xml_attr(case.skipped)}/>")
            if case.output is not None:
                out.append(f"      <system-out>{xml_text(case.output)}</system-out>")
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------- JSON

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(value: Any) -> Any:
    """Return a JSON-ready copy of a document: lone surrogates in strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def json_text(document: Any) -> str:
    """Return a document as JSON text: sorted keys, two-space indent, newline-terminated, valid UTF-8 (stable for idempotence)."""
    return json.dumps(json_safe(document), indent=2, sort_keys=True) + "\n"
