"""The reports' one rendering layer (plugin_utils/_render.py): escaping per format, tables, page, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._render import (
    Case,
    Cell,
    Raw,
    Row,
    Suite,
    html_attrs,
    html_page,
    html_table,
    json_text,
    junit,
    md_code,
    md_code_block,
    md_paragraph,
    md_table,
    md_text,
    plain,
    visible,
    xml_attr,
    xml_text,
)

VISIBLE = {
    "plain": ("web1", False, "web1"),
    "ANSI colours": ("\x1b[31mred\x1b[0m", False, "\\x1b[31mred\\x1b[0m"),
    "controls": ("a\x01b\x0bc\x7fd\x85", False, "a\\x01b\\x0bc\\x7fd\\x85"),
    "lone surrogate": ("x\udc80", False, "x\\udc80"),
    "bidi override": ("abc\u202edef", False, "abc\\u202edef"),
    "non-character": ("\uffff", False, "\\uffff"),
    "newline and tab, one line": ("a\nb\tc\r", False, "a b c\\x0d"),
    "newline and tab, lines": ("a\nb\tc", True, "a\nb\tc"),
    "none": (None, False, ""),
    "unicode stays": ("Grüße ✓", False, "Grüße ✓"),
}


@pytest.mark.parametrize("value, lines, expected", list(VISIBLE.values()), ids=list(VISIBLE))
def test_visible(value, lines, expected):
    assert visible(value, lines) == expected
    assert plain(value) == visible(value)


MARKDOWN = {
    "html": ("<b>x</b> & y", "&lt;b&gt;x&lt;/b&gt; &amp; y"),
    "table and emphasis": ("a|b *c* _d_ ~e~", "a\\|b \\*c\\* \\_d\\_ \\~e\\~"),
    "links and code": ("[x](y) `z`", "\\[x\\](y) \\`z\\`"),
    "backslash": ("a\\|", "a\\\\\\|"),
    "raw passes": (Raw("`x`"), "`x`"),
}


@pytest.mark.parametrize("value, expected", list(MARKDOWN.values()), ids=list(MARKDOWN))
def test_md_text(value, expected):
    assert md_text(value) == expected


@pytest.mark.parametrize(
    "value, expected", [("# x", "\\# x"), ("- x", "\\- x"), ("12. x", "12\\. x"), ("> x", "&gt; x"), ("x # y", "x # y")]
)
def test_md_paragraph(value, expected):
    assert md_paragraph(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("a", "`a`"), ("a`b", "``a`b``"), ("`a", "`` `a ``"), ("a|b", "`a\\|b`"), ("", "` `"), ("x\x1b", "`x\\x1b`")],
)
def test_md_code(value, expected):
    assert md_code(value) == expected


def test_md_code_block_outlasts_any_fence_inside():
    assert md_code_block(["a", "```", "````x"], "sh") == ["`````sh", "a", "```", "````x", "`````"]
    assert md_code_block(["x\ny"]) == ["```", "x y", "```"]


def test_md_table():
    assert md_table(["a", "n"], [["x|y", 3], ["", Raw("`c`")]], "lr") == ["| a | n |", "|---|---:|", "| x\\|y | 3 |", "|   | `c` |"]
    with pytest.raises(ValueError, match="2 cells under 3 headers"):
        md_table(["a", "b", "c"], [[1, 2]])


def test_html_table_and_page():
    lines = html_table(["h<1>"], [Row([Cell(Raw("<code>x</code>"), "th", {"data-x": '"q"'})], {"class": "ok"}), ["<b>"]], {"id": "t"})
    assert lines == [
        '<table id="t"><thead><tr><th>h&lt;1&gt;</th></tr></thead><tbody>',
        '<tr class="ok"><th data-x="&quot;q&quot;"><code>x</code></th></tr>',
        "<tr><td>&lt;b&gt;</td></tr>",
        "</tbody></table>",
    ]
    page = html_page("t<", lines, "p{}")
    assert page.startswith("<!DOCTYPE html>") and "<title>t&lt;</title>" in page and page.endswith("</body></html>\n")
    with pytest.raises(ValueError, match="attribute name"):
        html_attrs({"onclick x": 1})
    assert html_attrs({"a": None, "b": 2}) == ' b="2"'


def test_xml():
    assert xml_text("a<&>\x00\nb") == "a&lt;&amp;&gt;\\x00\nb"
    value = 'a"<&\n\x1b'
    assert ET.fromstring("<x a=" + xml_attr(value) + "/>").get("a") == 'a"<&\n\\x1b'


def test_junit_counts_and_parses():
    suites = [
        Suite(
            "s<1>",
            [
                Case("c", "ok", 1.0, output="fine"),
                Case("c", "bad\x1b", failure=("failed", "m\x00", "k\nl")),
                Case("c", "s", skipped="later"),
            ],
        ),
        Suite("empty", []),
    ]
    root = ET.fromstring(junit("all", suites))
    assert root.attrib == {"name": "all", "tests": "3", "failures": "1", "errors": "0", "skipped": "1"}
    first = root.find("testsuite")
    assert first.get("name") == "s<1>" and first.get("skipped") == "1"
    case = first.findall("testcase")[1]
    assert case.get("name") == "bad\\x1b" and case.find("failure").get("message") == "m\\x00" and case.find("failure").text == "k\nl"
    assert first.findall("testcase")[0].get("time") == "1.000"


def test_json_text_is_valid_utf8():
    text = json_text({"b": "x\udc80", "a": ["\x1b", {"k\ud800": 1}]})
    assert text.encode("utf-8") and json.loads(text) == {"a": ["\x1b", {"k\ufffd": 1}], "b": "x\ufffd"}
    assert text.index('"a"') < text.index('"b"') and text.endswith("}\n")
