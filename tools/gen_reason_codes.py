#!/usr/bin/env python
"""Write docs/reason-codes.md from the rule table (plugins/plugin_utils/_reason_codes.py).

Docs tooling, not part of the collection: ``render_markdown`` renders the table; the unit tests
check that docs/reason-codes.md is what it renders (``python tools/gen_reason_codes.py`` rewrites it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / ".collections") not in sys.path:
    sys.path[:0] = [str(ROOT / ".collections")]

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import (  # noqa: E402
    BLOCKER,
    BLOCKER_CODES,
    CODES,
    FIXABLE_CODES,
    WARNING,
)

OUTPUT = ROOT / "docs" / "reason-codes.md"


def render_markdown() -> str:
    """Return the text of docs/reason-codes.md, rendered from CODES."""
    fixable = ", ".join(f"`{c}`" for c in BLOCKER_CODES if c in FIXABLE_CODES)
    scope_text = {"both": "all", "attribute": "attribute, strict", "kernel": "kernel, strict", "source": "all (source side)"}
    enforcer_text = {
        "kernel": "the destination kernel",
        "libvirt": "libvirt / QEMU",
        "hook": "the collection's hook (v2+), the kernel (v1)",
        "nobody": "nobody: orchestration only",
    }
    lines = [
        "# Readiness reason codes",
        "",
        "<!-- Generated from plugins/plugin_utils/_reason_codes.py by tools/gen_reason_codes.py; edit the table there. -->",
        "",
        '`s390x.vfio_ap.migration_check` and `s390x.vfio_ap.migration_plan` explain every "no" with a',
        "stable, lowercase reason code. A **blocker** makes a destination not ready; a **warning** never",
        "does. Each finding is `{code, apqn, detail}`: `apqn` names the queue (`AA.DDDD`) when the reason is",
        "about one queue, and `detail` says what was found, in AP terms.",
        "",
        "Some blockers are *fixable*: the `destination` role removes them by running the check's `actions`",
        "(see [plan-schema.md](plan-schema.md)). A destination whose blockers are all fixable is",
        f'`ready_after` ("ready after preparation"): {fixable}.',
        "",
        '"Stopped by" says what refuses a migration that is started anyway: the destination kernel (the',
        "live-migration series' checks when the migration data arrive), libvirt or QEMU before any data move,",
        "the collection's libvirt hook, or nobody. Codes stopped by nobody are orchestration-only: the",
        "migration would succeed and the guest would be worse off (keys that do not work, an mdev that does",
        "not survive a reboot). The message column is what would be logged instead of the check's answer:",
        "the check exists so that you see the reason on the controller before `virsh migrate` starts.",
        "",
        "## Blockers",
        "",
        "| code | rules | stopped by | meaning (AP terms) | message it prevents | remedy |",
        "|---|---|---|---|---|---|",
    ]
    for c in CODES:
        if c.kind != BLOCKER:
            continue
        name = f"`{c.code}` *(fixable)*" if c.fixable else f"`{c.code}`"
        lines.append(f"| {name} | {scope_text[c.scope]} | {enforcer_text[c.enforced_by]} | {c.meaning} | {c.message} | {c.remedy} |")
    lines += ["", "## Warnings", "", "| code | rules | meaning | what to do |", "|---|---|---|---|"]
    for c in CODES:
        if c.kind == WARNING:
            lines.append(f"| `{c.code}` | {scope_text[c.scope]} | {c.meaning} | {c.remedy} |")
    orchestration = ", ".join(f"`{c.code}`" for c in CODES if c.kind == BLOCKER and c.enforced_by in ("nobody", "hook"))
    lines += [
        "",
        "## What only this collection checks",
        "",
        f"The kernel never checks {orchestration}, persistence (`not_persistent`, `drift`) or master keys",
        "(`mkvp_unknown`): a migration started without this collection's checks goes through and leaves the",
        "problem behind. The migration guard (`migration_disabled` on series v2+ hosts) is enforced by the",
        "collection's libvirt hook, installed by the `migratable` role.",
        "",
        "## Rule sets",
        "",
        "| rules | series | what differs |",
        "|---|---|---|",
        "| `attribute` | v1/v2 (validation only) | `apqn_set_mismatch` checked; control domains not compared "
        "(v1/v2 do not migrate them). |",
        "| `kernel` | v3+ (restore) | `control_domain_unavailable` checked; the destination mdev may be empty "
        "(its configuration is overwritten). |",
        "| `strict` | both | both. |",
        "| `auto` (default) | from each host's `vfio_ap.driver.migration` | the hosts' common level; `strict` plus "
        "`mixed_migration_levels` when they differ; `strict` plus `migration_level_unknown` for a host whose facts "
        "cannot show its level (no mdev yet) and that `vfio_ap_migration_level` does not name. |",
        "",
        'Codes whose rules column says "all" apply under every rule set.',
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    OUTPUT.write_text(render_markdown())
    print("docs/reason-codes.md written")
