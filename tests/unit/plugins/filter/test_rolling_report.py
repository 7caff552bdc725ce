"""rolling_report: the rolling plan as JSON, Markdown and HTML, with everything hosts report escaped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from ansible.errors import AnsibleFilterError
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.rolling_plan import rolling_plan
from ansible_collections.s390x.vfio_ap.plugins.filter.rolling_report import rolling_report

HOSTILE = "w|1<script>alert(1)</script>`x`*y*_z_[l](http://e)~~s~~\nnext"


@pytest.fixture(scope="module")
def plan(tmp_path_factory, demo_fleet_path):
    facts = facts_for_fleet(demo_fleet_path, tmp_path_factory.mktemp("rolling-report"))
    return rolling_plan(facts, hosts=sorted(facts))


def replaced(value, old: str, new: str):
    """Return value with every string equal to old (also as a part of a longer string) replaced by new."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [replaced(v, old, new) for v in value]
    if isinstance(value, dict):
        return {replaced(k, old, new): replaced(v, old, new) for k, v in value.items()}
    return value


def cells(line: str) -> int:
    """Return the number of cells of a Markdown table row (pipes not escaped by a backslash)."""
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def test_markdown_has_the_verdict_the_batches_and_the_stranded(plan):
    text = rolling_report(plan, "markdown", title="Demo")
    assert text.startswith("# Demo\n\n**11 of 15 vfio-ap guests")
    assert "### Batch 6: kvm-b1" in text and "| web1 | kvm-a1 | kvm-b1 | due later: moves again |" in text
    assert "| db1 | kvm-a1 | 5 | hw\\_type\\_older (1) |" in text
    assert "| web1 | kvm-a1 → kvm-b1 (batch 5) → kvm-a1 (batch 6) |" in text
    assert "## Orders tried" in text


@pytest.mark.parametrize("where", ["guest", "host"])
def test_markdown_escapes_what_hosts_report(plan, where):
    hostile = replaced(plan, "web1" if where == "guest" else "kvm-b1", HOSTILE)
    text = rolling_report(hostile, "markdown")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\\`x\\`" in text and "\\*y\\*" in text and "\\_z\\_" in text and "\\[l\\]" in text and "\\~\\~s" in text
    assert "s\\~\\~ next" in text  # the newline became a blank: the cell stays on its line
    # every row of a table has as many cells as its header
    table: int | None = None
    for line in text.splitlines():
        if line.startswith("|"):
            table = cells(line) if table is None else table
            assert cells(line) == table, line
        else:
            table = None


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("where", ["guest", "host"])
def test_html_is_one_page_and_escapes_what_hosts_report(plan, where):
    hostile = replaced(plan, "web1" if where == "guest" else "kvm-b1", HOSTILE)
    page = rolling_report(hostile, "html")
    parser = _Collect()
    parser.feed(page)
    assert "script" not in parser.tags and "a" not in parser.tags
    assert any("<script>alert(1)</script>" in t for t in parser.text)  # shown as text
    assert "<link" not in page and "src=" not in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_json_is_the_plan(plan):
    assert json.loads(rolling_report(plan, "json")) == json.loads(json.dumps(plan))


@pytest.mark.parametrize(
    ("value", "fmt", "words"),
    [
        ({"guests": []}, "markdown", "expected a rolling_plan result: hosts, batch_size"),
        ("text", "html", "expected a rolling_plan result (a dict), got str"),
        (None, "markdown", "got NoneType"),
    ],
)
def test_bad_input_is_one_message(value, fmt, words):
    with pytest.raises(AnsibleFilterError) as caught:
        rolling_report(value, fmt)
    assert str(caught.value).startswith("s390x.vfio_ap.rolling_report: ") and words in str(caught.value)


def test_unknown_format_and_schema(plan):
    with pytest.raises(AnsibleFilterError, match="format: expected one of json, markdown, html, got 'pdf'"):
        rolling_report(plan, "pdf")
    with pytest.raises(AnsibleFilterError, match="schema 7 is not supported"):
        rolling_report(dict(plan, schema=7), "markdown")
