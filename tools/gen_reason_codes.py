#!/usr/bin/env python
"""Write docs/reason-codes.md from the rule table (plugins/plugin_utils/_reason_codes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / ".collections")]

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import render_markdown  # noqa: E402

if __name__ == "__main__":
    (ROOT / "docs" / "reason-codes.md").write_text(render_markdown())
    print("docs/reason-codes.md written")
