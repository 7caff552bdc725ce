"""The repository paths the make files and the tools' scripts name exist (a moved script must not break a make target)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# files a make target runs, and the scripts in tools/ they call
SCRIPTS = sorted([ROOT / "Makefile", *(ROOT / "mk").glob("*.mk"), *(ROOT / "tools").glob("*.sh"), *(ROOT / "tools").glob("*.py")])
# a repository path (alone, or after $PWD/ or $(CURDIR)/): a top-level tree, then a file name with a suffix
_TREES = "tests|tools|playbooks|roles|docs|plugins|changelogs|meta"
PATH = re.compile(
    r"(?:(?<=\$PWD/)|(?<=\$\(CURDIR\)/)|(?<![\w./$-]))"
    r"((?:" + _TREES + r")/[\w./-]*\w\.(?:py|sh|yml|yaml|md|json|txt))\b"
)


def named_paths(text: str) -> list[str]:
    """Return the repository paths in ``text`` (those holding a make or shell variable are left out)."""
    return sorted({m.group(1) for m in PATH.finditer(text) if "$" not in m.group(1)})


@pytest.mark.parametrize(
    "text, paths",
    [
        ("bash tools/demo_rolling.sh", ["tools/demo_rolling.sh"]),
        ('.venv/bin/python tools/demo_inventory.py "$mnt"', ["tools/demo_inventory.py"]),
        ('open("tests/fleets/demo.yml")', ["tests/fleets/demo.yml"]),
        ('"$PWD/tests/apsim/reboot_tasks.yml"', ["tests/apsim/reboot_tasks.yml"]),
        ("$(out)/tests/x.py and $OUT/tools/y.sh", []),
        ("the tests/ tree and tools/", []),
    ],
)
def test_named_paths(text, paths):
    assert named_paths(text) == paths


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_paths_a_script_names_exist(script):
    missing = [p for p in named_paths(script.read_text()) if not (ROOT / p).exists() and not p.startswith("tests/output/")]
    assert missing == [], f"{script.relative_to(ROOT)} names paths that do not exist: {missing}"
