"""Examples in the guides that are generated from real runs, between marker comments.

A generated example is ``<!-- generated: NAME (by WHAT) -->``, a fenced block, ``<!-- end: NAME -->``.
``check_block`` compares the block with what a run produced; with ``UPDATE_DOC_EXAMPLES=1`` it
rewrites the block instead, so regenerating is running the test once with that variable set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated: {re.escape(name)} [^\n]*-->\n)(?P<fence>`{{3,}})(?P<lang>\w*)\n(?P<body>.*?)(?P=fence)\n"
        rf"(<!-- end: {re.escape(name)} -->)",
        re.S,
    )


def read_block(path: Path, name: str) -> str:
    """Return the body of the generated block NAME of a guide; AssertionError when it is not there."""
    found = _pattern(name).search(path.read_text())
    assert found, f"{path.name}: no generated block {name!r} (<!-- generated: {name} ... --> ... <!-- end: {name} -->)"
    return found["body"]


def check_block(path: Path, name: str, produced: str, normalize=lambda text: text) -> None:
    """Assert that block NAME of ``path`` is ``produced`` (both through ``normalize``), or rewrite it under UPDATE_DOC_EXAMPLES=1."""
    produced = produced.rstrip("\n") + "\n"
    if os.environ.get("UPDATE_DOC_EXAMPLES") == "1":
        text = path.read_text()
        pattern = _pattern(name)
        assert pattern.search(text), f"{path.name}: no generated block {name!r}"
        path.write_text(pattern.sub(lambda m: f"{m[1]}{m['fence']}{m['lang']}\n{produced}{m['fence']}\n{m[5]}", text, count=1))
        return
    shown = read_block(path, name)
    assert normalize(shown) == normalize(produced), (
        f"{path.name}: the example {name!r} differs from what the run produced; regenerate it with "
        f"UPDATE_DOC_EXAMPLES=1 and check the diff.\n--- shown\n{shown}\n--- produced\n{produced}"
    )
