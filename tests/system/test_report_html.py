"""readiness.html in a real browser: headless Chromium loads the page, the test reads the DOM the
browser built and checks the screenshot shows the matrix colours.

The page is rendered from the demo fleet's plan (the same plan the audit role computes). The
screenshot is kept as a test artefact in tests/output/artifacts/readiness-matrix.png.
Without Chromium (Debian package chromium) the test is skipped with that reason, and fails under
CI=true.
"""

from __future__ import annotations

import shutil
import struct
from collections import Counter
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers.fleet_facts import facts_for_fleet
from helpers.needs import require
from helpers.hang import HANG_GUARD

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reports import readiness_report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "output" / "artifacts"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"
COLOURS = {"ready": (0x2E, 0x7D, 0x32), "ready_after": (0xF9, 0xA8, 0x25), "blocked": (0xC6, 0x28, 0x28)}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    require("headless browser unavailable: install the Debian package chromium (tools/bootstrap-system.sh)")


def run_browser(browser: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={cwd / 'profile'}",
        *args,
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=HANG_GUARD, cwd=cwd)


class Cells(HTMLParser):
    """Collect the matrix: {(row uuid, host): attributes of the cell}, and the external references."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], dict[str, str]] = {}
        self.hosts: list[str] = []
        self.evacuation: dict[str, str] = {}
        self.external: list[str] = []
        self._row: str | None = None
        self._in_matrix = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "link", "img", "iframe") or (a.get("src") or a.get("href", "")).startswith(("http", "//")):
            self.external.append(tag)
        if tag == "table":
            self._in_matrix = a.get("id") == "matrix"
        if tag == "tr" and "data-host" in a and "data-evacuation" in a:
            self.evacuation[a["data-host"]] = a["data-evacuation"]
        if not self._in_matrix:
            return
        if tag == "th" and "data-host" in a:
            self.hosts.append(a["data-host"])
        elif tag == "tr" and "data-uuid" in a:
            self._row = a["data-uuid"]
        elif tag == "td" and "data-verdict" in a and self._row:
            self.cells[(self._row, a["data-host"])] = a


def png_pixels(data: bytes) -> tuple[int, int, Counter[tuple[int, int, int]]]:
    """Decode an 8-bit RGB/RGBA PNG; return (width, height, {RGB colour: number of pixels})."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    colours: Counter[tuple[int, int, int]] = Counter()
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for x in range(stride):
            left = row[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                row[x] = (row[x] + left) & 0xFF
            elif kind == 2:
                row[x] = (row[x] + up) & 0xFF
            elif kind == 3:
                row[x] = (row[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[x] = (row[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        colours.update(tuple(row[i : i + 3]) for i in range(0, stride, channels))
        previous = row
    return width, height, colours


@pytest.fixture(scope="module")
def page(tmp_path_factory, demo_fleet_path) -> Path:
    work = tmp_path_factory.mktemp("html")
    plan = build_plan(facts_for_fleet(demo_fleet_path, work / "hosts"))
    reports = readiness_report(plan, ["html"], "demo fleet readiness", not_audited=["kvm-x9"])
    path = work / "readiness.html"
    path.write_text(reports["readiness.html"])
    return path


def test_browser_dom_holds_the_matrix(page):
    browser = chromium()
    result = run_browser(browser, "--dump-dom", page.as_uri(), cwd=page.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Cells()
    dom.feed(result.stdout)
    assert dom.external == []  # self-contained: no scripts, stylesheets, images or remote links
    assert dom.hosts == ["kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3"]
    guests = {row for row, _unused in dom.cells}
    assert len(guests) == 15  # one row per guest, idle mdevs excluded
    hsm1_b1 = dom.cells[(HSM1, "kvm-b1")]
    assert hsm1_b1["data-verdict"] == "ready_after" and "ready_after" in hsm1_b1["class"]
    assert set(hsm1_b1["data-codes"].split()) == {"apqn_not_bound", "mdev_missing"}
    assert "apqn_not_bound" in hsm1_b1["title"]  # what the hover shows
    assert dom.cells[(HSM1, "kvm-a1")]["data-verdict"] == "source"
    assert dom.cells[("6c1a0000-0000-4000-8000-00000000a101", "kvm-b1")]["data-verdict"] == "ready"
    assert "hw_type_older" in dom.cells[("6c1a0000-0000-4000-8000-00000000a102", "kvm-b1")]["title"]
    assert dom.evacuation["kvm-a3"] == "blocked"


def test_screenshot_shows_the_coloured_matrix(page):
    browser = chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "readiness-matrix.png"
    shot.unlink(missing_ok=True)
    result = run_browser(browser, f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri(), cwd=page.parent)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    width, height, colours = png_pixels(shot.read_bytes())
    assert (width, height) == (1100, 1600)
    missing = [verdict for verdict, rgb in COLOURS.items() if rgb not in colours]
    assert missing == [], f"cell colours not painted: {missing}"


@pytest.mark.parametrize(("shown", "hidden"), [("blocked", "ready"), ("ready", "blocked")])
def test_verdict_filter_hides_the_other_rows_in_a_real_browser(page, shown, hidden):
    """The matrix's "Show:" radio buttons filter rows by verdict with CSS alone (no script): with one checked,
    fewer cells of the other colour are painted (only the legend and the host table keep that colour)."""
    browser = chromium()
    counts = {}
    for choice in ("all", shown):
        html = (
            page.read_text()
            .replace('id="show-all" checked', 'id="show-all"')
            .replace(f'id="show-{choice}"', f'id="show-{choice}" checked', 1)
        )
        variant = page.parent / f"filter-{choice}.html"
        variant.write_text(html)
        shot = page.parent / f"filter-{choice}.png"
        result = run_browser(browser, f"--screenshot={shot}", "--window-size=1400,1400", variant.as_uri(), cwd=page.parent)
        assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
        counts[choice] = png_pixels(shot.read_bytes())[2][COLOURS[hidden]]
    assert 0 < counts[shown] < counts["all"], counts


def test_a_report_of_500_guests_stays_readable(tmp_path):
    """500 guests on 50 hosts: the browser builds every row; headers stay on screen (sticky), every stranded guest is in a
    collapsible section of its host with what blocks it and what to do."""
    from apsim.generate import scale_fleet

    plan = build_plan(facts_for_fleet(scale_fleet(50, 10), tmp_path / "hosts"))
    html = readiness_report(plan, ["html"], "500 guests")["readiness.html"]
    page = tmp_path / "readiness.html"
    page.write_text(html)
    result = run_browser(chromium(), "--dump-dom", page.as_uri(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Cells()
    dom.feed(result.stdout)
    assert len({row for row, _unused in dom.cells}) == plan["summary"]["guests"] == 500
    assert "position:sticky" in html
    stranded = [g for g in plan["guests"] if g["verdict"] == "blocked" and g.get("guest")]
    assert stranded and result.stdout.count('class="advice"') == len(stranded)
    assert result.stdout.count("<details") == len({g["source"] for g in stranded})
