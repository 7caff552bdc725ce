"""Every report parses and shows host-reported text as text, whatever the hosts report (hypothesis).

The readiness reports (readiness.json/.md/.html/.xml) and the drain reports (evacuation.json/.md/
.html/.xml) are rendered from the demo fleet's plan and a drain of kvm-a1; then every string a host
can put into them (CPC and LPAR names, guest names, titles, UUID-looking strings, blocker details,
libvirt's and a hook's output, kernel lines, the commands) is replaced by arbitrary unicode: HTML
and Markdown syntax, table pipes, backtick fences, terminal escapes, control characters, lone
surrogates, bidirectional overrides. Each file must then

- JSON: parse (``json``), as valid UTF-8;
- XML: parse (``xml.etree``), so AWX and Jenkins can read the JUnit file;
- HTML: parse (``html.parser``) into no element and no attribute the page itself does not use
  (no ``<script>``, no ``<img onerror=...>``);
- Markdown: keep every table row at its header's number of cells, every fenced block closed where
  the report closes it, and no raw ``<`` (HTML) or link/emphasis syntax outside code;
- all: hold no control character a terminal or an XML parser would act on.

``drain_messages`` (what the role prints to the job log) holds no terminal escape either.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import drain_messages, render_files
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._render import visible
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reports import readiness_report

DEMO = Path(__file__).resolve().parents[1] / "fleets" / "demo.yml"
WEB1, HSM1 = "6c1a0000-0000-4000-8000-00000000a101", "6c1a0000-0000-4000-8000-00000000a103"
# Keys whose values the collection itself chooses (verdicts, codes, modes, results): left as they are.
OWN = {"verdict", "rules", "mode", "result", "stage", "status", "code", "codes", "schema", "generator", "kind", "type"}
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "a | b || c",
    "```\n<b>x</b>\n```",
    "`` x ``",
    "\x1b[31mred\x1b[0m\x01\x0b\x0c",
    "\udc80\ud800 lone",
    "\u202egnp.exe",
    "[link](javascript:alert(1)) *em* _u_ ~~s~~ ![i](x)",
    "# heading\n- item\n> quote",
    "&amp; &lt; &#x3c; \\| \\",
    "]]> <!-- --> <?xml?>",
    "\r\n\t",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(migration plan of the demo fleet for kvm-a1, drain document of a drain of kvm-a1)."""
    facts = facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo"))
    plan = build_plan(facts, sources=["kvm-a1"], destinations=sorted(set(facts) - {"kvm-a1"}), limit=10)
    evacuation = evacuation_plan(plan, prepare=True)
    outcomes = {
        WEB1: {"result": "failed", "stage": "migrate", "codes": ["apqn_not_bound"], "message": "virsh said something",
               "duration": 1.5, "kernel": ["vfio_ap_mdev x: Queue 01.0004 not available"], "actual_destination": None},
        HSM1: {"result": "already_moved", "actual_destination": "kvm-b1", "cleaned": ["active mdev removed"]},
    }  # fmt: skip
    after = {"kvm-a1": {"driver": {"mdevs": [{"uuid": WEB1, "in_use": True, "guest": "web1"}]}}}
    return plan, drain_document(evacuation, Progress("execute", outcomes=outcomes), after, plan)


def poison(node, text, key=None):
    """Return a copy of a document with every string a host can report replaced by ``text``."""
    if isinstance(node, dict):
        return {k: poison(v, text, k) for k, v in node.items()}
    if isinstance(node, list):
        return [poison(v, text, key) for v in node]
    if isinstance(node, str) and key not in OWN:
        return text + node[-2:]  # the tail keeps names apart (two guests never share a name)
    return node


# --------------------------------------------------------------------------------- the checks


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs |= {name for name, _value in attrs}


def html_shape(text: str) -> tuple[set[str], set[str]]:
    page = Page()
    page.feed(text)
    page.close()
    return page.tags, page.attrs


FENCE = re.compile(r"^(`{3,})(.*)$")
CODE_SPAN = re.compile(r"(?<!\\)(`+)(.+?)(?<!`)\1(?!`)")


def markdown_problems(text: str, header_cells: dict[str, int]) -> list[str]:
    """Return what breaks a Markdown report: cell counts, unclosed fences, raw HTML or link syntax outside code."""
    problems = []
    fence = None
    cells = None
    for n, line in enumerate(text.split("\n"), 1):
        if fence is not None:
            closing = FENCE.match(line)
            if closing and len(closing.group(1)) >= len(fence) and not closing.group(2).strip():
                fence = None
            continue
        opening = FENCE.match(line)
        if opening:
            fence = opening.group(1)
            continue
        outside = CODE_SPAN.sub("", line)
        for char, what in (("<", "raw HTML"), ("[", "link syntax"), ("*", "emphasis")):
            if re.search(r"(?<!\\)" + re.escape(char), outside.replace("**Not audited (no vfio_ap facts):**", "")):
                problems.append(f"line {n}: {what}: {line!r}")
        if line.startswith("|"):
            count = len(re.findall(r"(?<!\\)\|", line)) - 1
            if cells is None:
                cells = count
            elif count != cells:
                problems.append(f"line {n}: {count} cells under a header of {cells}: {line!r}")
        else:
            cells = None
    if fence is not None:
        problems.append("a fenced block is never closed")
    return problems


def check_files(files: dict[str, str]) -> None:
    for name, text in files.items():
        assert not CONTROL.search(text), (name, CONTROL.search(text))
        text.encode("utf-8")  # valid UTF-8: no lone surrogate
        if name.endswith(".json"):
            json.loads(text)
        elif name.endswith(".xml"):
            root = ET.fromstring(text.encode("utf-8"))
            assert root.tag == "testsuites"
        elif name.endswith(".html"):
            tags, attrs = html_shape(text)
            assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead", "tbody", "tr",
                            "th", "td", "code", "br", "pre", "strong", "span", "ul", "li", "div", "h3", "details", "summary",
                            "input", "label"}, (name, tags)  # fmt: skip
            assert not {a for a in attrs if a.startswith("on") or a in ("src", "href")}, (name, attrs)
        elif name.endswith(".md"):
            assert markdown_problems(text, {}) == [], name


TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(codec=None, categories=None), min_size=1, max_size=30),
    st.lists(st.sampled_from(list("<>&|`*_[]()!#-\\\"'\n\r\t\x1b\x00\udc80\u202e ")), min_size=1, max_size=20).map("".join),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
@example(text=HOSTILE[0])
def test_readiness_reports_hold_anything_a_host_reports(demo, text):
    plan, _document = demo
    files = readiness_report(poison(plan, text), ["json", "markdown", "html", "junit"], text, not_audited=[text])
    check_files(files)
    assert json.loads(files["readiness.json"])["title"] == re.sub("[\ud800-\udfff]", "\ufffd", text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
@example(text=HOSTILE[1])
def test_drain_reports_hold_anything_a_host_reports(demo, text):
    _plan, document = demo
    poisoned = poison(document, text)
    check_files(render_files(poisoned))
    messages = drain_messages(poisoned, "/srv/reports")
    for line in [*messages["lines"], messages["failed"], messages["not_empty"]]:
        assert not CONTROL.search(line), line


@pytest.mark.parametrize("text", HOSTILE)
def test_markup_shows_as_text(demo, text):
    """The hostile string reads back as text: the JUnit case names are the guests' names (control characters as escapes)."""
    _plan, document = demo
    poisoned = poison(document, text)
    files = render_files(poisoned)
    root = ET.fromstring(files["evacuation.xml"].encode("utf-8"))
    names = sorted(case.get("name") for case in root.iter("testcase"))
    assert names == sorted(visible(g["guest"], lines=True) for g in poisoned["guests"])
    outside_code = re.sub(r"(?ms)^(`{3,}).*?^\1$", "", files["evacuation.md"])
    assert "<script>" not in files["evacuation.html"] and "<script>" not in outside_code
