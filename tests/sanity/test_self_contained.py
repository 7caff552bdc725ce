# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing in the repository refers to documents outside it.

The design notes and research specifications the project started from are not part of the
repository or the Galaxy artifact; what users and contributors need from them lives in docs/
(docs/kernel-interface.md, docs/facts.md, tests/apsim/README.md). This test fails, naming file
and line, when a file refers to the outside documents again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".collections", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis",
             "build", "output", "node_modules"}  # fmt: skip
SKIP_SUFFIXES = {".tar.gz", ".png", ".jpg", ".gif", ".pyc"}
# What a reference to the outside documents looks like (built from pieces so that this file does
# not match itself).
_SHARED = "sha" + "red"
FORBIDDEN = [
    (re.compile(r"\.\./" + _SHARED + r"\b"), "the parent directory's shared documents"),
    (re.compile(_SHARED + r"/(spec|DESIGN)"), "a shared design or spec file"),
    (re.compile(r"\bDESI" + r"GN(\.md)?\b"), "the design document"),
    (re.compile(r"\bspec/[\w.-]+\.md\b"), "a spec file"),
    (re.compile(r"\bspec\s+§|kernel-interface spec\b"), "a section of the kernel-interface spec"),
    (re.compile(r"\b(ansible-conventions|peers)\.md\b"), "a shared spec file"),
]
# Files another branch is rewriting: (path, the text that may remain until it lands).
PENDING = {
    "plugins/module_utils/_compat.py": "kernel-interface spec §4.6 and §4.2",
}


def references(root: Path) -> list[str]:
    """Return ``path:line: what`` for every line under root that refers to the outside documents."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS or part.startswith(".venv") for part in rel.parts[:-1]):
            continue
        if not path.is_file() or path.is_symlink() or any(str(rel).endswith(s) for s in SKIP_SUFFIXES):
            continue
        if rel == Path(__file__).resolve().relative_to(ROOT) and root == ROOT:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, what in FORBIDDEN:
                if pattern.search(line) and not (PENDING.get(str(rel)) and PENDING[str(rel)] in line):
                    found.append(f"{rel}:{number}: refers to {what}: {line.strip()[:100]}")
    return found


def test_repository_is_self_contained():
    assert references(ROOT) == []


@pytest.mark.parametrize("path, text", sorted(PENDING.items()))
def test_pending_exemptions_are_still_needed(path, text):
    """An exemption whose text is gone must be removed, so that it cannot hide a new reference."""
    assert text in (ROOT / path).read_text(), f"{path} no longer says {text!r}: remove it from PENDING"


@pytest.mark.parametrize(
    "line, caught",
    [
        ("see ../" + _SHARED + "/DESI" + "GN.md §7", True),
        ("Formats: " + _SHARED + "/spec/kernel-interface.md §1.2", True),
        ("the facts of DESI" + "GN §4", True),
        ("(spec §4.6)", True),
        ("read spec/ansible-conventions.md", True),
        ("Formats: docs/kernel-interface.md (the AP bus)", False),
        ("a shared mdev is refused; the kernel-interface doc says so", False),
    ],
)
def test_references_are_found(tmp_path, line, caught):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("intro\n" + line + "\n")
    found = references(tmp_path)
    assert bool(found) is caught
    if caught:
        assert found[0].startswith("docs/page.md:2: refers to ")
