"""The guides' commands run as written: docs/try-it.md from top to bottom, and the README's quick start.

A guide is a list of ``sh`` blocks run in order in one bash (so its exports carry on), each maybe
followed by a ``text`` block: the output a reader should see. Every non-empty line shown must appear,
in order, in that block's output (as a substring: a line may be shown shorter than printed, never
different); ``(server pid N)`` stands for any process ID and ``/tmp/try-it`` for the mount the test uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import require_live
from helpers.doc_blocks import check_block
from helpers.hang import hung

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>\w*)\n(?P<body>.*?)^(?P=fence)[ \t]*\n(?P<after>\s*)", re.M | re.S)
MARK = "@@@ guide step {} @@@"
# "make test" is the suite this test is part of; "make demo-rolling" rolls the demo fleet, which
# tests/system/test_playbook_rolling_maintenance.py does with the same playbook and fleet.
NOT_RUN = {"make test", "make demo-rolling"}
HANG_GUARD = 1800


def steps(markdown: str) -> list[tuple[str, str | None]]:
    """Return [(sh block, the text block right after it or None)] of a guide, in order."""
    found = list(FENCE.finditer(markdown))
    out = []
    for i, block in enumerate(found):
        if block["lang"] != "sh":
            continue
        follows = found[i + 1] if i + 1 < len(found) else None
        adjacent = follows is not None and follows.start() == block.end() and follows["lang"] == "text"
        out.append((block["body"], follows["body"] if adjacent else None))
    return out


def _run(script: str, env: dict[str, str]) -> str:
    try:
        proc = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=HANG_GUARD, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise hung(exc) from None
    assert proc.returncode == 0, f"the guide's commands failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def _shown_in_order(shown: str, output: str, substitutions: dict[str, str]) -> None:
    lines = output.splitlines()
    at = 0
    for want in shown.splitlines():
        if not want.strip():
            continue
        for old, new in substitutions.items():
            want = want.replace(old, new)
        pattern = re.compile(re.escape(want).replace(re.escape("(server pid 4242)"), r"\(server pid \d+\)"))
        for index in range(at, len(lines)):
            if pattern.search(lines[index]):
                at = index + 1
                break
        else:
            raise AssertionError(f"the guide shows {want!r}, the run printed (from line {at}):\n" + "\n".join(lines[at:][:80]))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def test_try_it_runs_as_written(tmp_path: Path):
    require_live()
    guide = steps((ROOT / "docs" / "try-it.md").read_text())
    assert len(guide) >= 6 and sum(1 for _sh, text in guide if text) >= 6, "the guide lost its commands or outputs"
    mount = tmp_path / "try-it"
    script = "\n".join(f"echo '{MARK.format(i)}'\n{sh}" for i, (sh, _text) in enumerate(guide))
    try:
        output = _run(script, _env(TRY_IT=str(mount)))
    finally:
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), "-m", "apsim", "unmount", str(mount)],
            cwd=ROOT, env=_env(PYTHONPATH=f"{ROOT}/tests"), capture_output=True, check=False,
        )  # fmt: skip
    parts = re.split(r"^@@@ guide step (\d+) @@@\n", output, flags=re.M)
    by_step = {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    assert sorted(by_step) == list(range(len(guide))), "a step did not run"
    for i, (_sh, text) in enumerate(guide):
        if text:
            _shown_in_order(text, by_step[i], {"/tmp/try-it": str(mount)})
    assert not mount.exists() or not any(mount.iterdir()), "the guide's clean-up left the mount"


def _durations(text: str) -> str:
    return re.sub(r"\| \d+\.\d s \|", "| N s |", text)


def test_readme_quick_start_runs_as_written():
    """The README's quick start runs; what it writes is the example the guides show (docs/audit.md, docs/maintenance.md)."""
    require_live()
    readme = (ROOT / "README.md").read_text()
    first = steps(readme)[0][0]
    commands = [line.split("#", 1)[0].strip() for line in first.splitlines()]
    commands = [c for c in commands if c]
    assert commands[:2] == ["make demo", "make demo-maintenance"], commands
    output = _run("\n".join(c for c in commands if c not in NOT_RUN), _env())
    assert "reports:" in output and "HTML report:" in output
    assert "# Evacuation of kvm-a1 (execute)" in output
    summary = json.loads((ROOT / "tests/output/demo/reports/readiness.json").read_text())["summary"]
    check_block(ROOT / "docs/audit.md", "make-demo-summary", yaml.safe_dump(summary, sort_keys=False, width=110))
    evacuation = (ROOT / "tests/output/demo-maintenance/reports/evacuation.md").read_text()
    check_block(ROOT / "docs/maintenance.md", "make-demo-maintenance", evacuation, normalize=_durations)
    help_text = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    check_block(ROOT / "README.md", "make-help", help_text)


def _help_targets() -> list[str]:
    proc = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()]


def test_every_make_target_the_docs_name_is_in_make_help():
    """``make help`` is generated from the Makefiles' ``## `` comments; the guides may only name targets it lists."""
    listed = set(_help_targets())
    assert {"demo", "demo-maintenance", "test", "bench", "stress", "sanity", "lint", "docs", "build", "test-matrix"} <= listed
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "roles").glob("*/README.md"))]
    command = re.compile(r"(?:`|^\s*)make ([a-z][a-z-]+)\b", re.M)  # in a code span, or a line of a code block
    named = {(path.relative_to(ROOT).as_posix(), m) for path in texts for m in command.findall(path.read_text())}
    unknown = sorted((where, target) for where, target in named if target not in listed)
    assert unknown == [], f"the docs name make targets that make help does not list: {unknown}"
