# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""Undoing a destination's preparation, from what the modules reported they changed.

The ``destination`` role registers the results of ``ap_mask`` and ``mdev``; :func:`undo_actions`
turns them into the actions that put the destination back as it was: the mdevs it created are
removed (with their definition when the role created that too), an mdev it reconfigured gets its
previous assignment back, and the IDs it reserved for vfio_ap are released to the host drivers —
in the persistent masks too, and when the preparation created the persistent mask rule
(41-ap.rules), the rule is removed again (``remove_rule``), so the host boots as it did before.
Actions have the shape of ``migration_check`` actions (docs/plan-schema.md) so the same tasks run
them; mdevs are undone before the masks (the reverse order of the preparation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _ran(results: Any) -> list[Mapping[str, Any]]:
    """Return the loop results that ran and changed something (a registered loop or a list of results)."""
    if isinstance(results, Mapping):
        results = results.get("results") or []
    if not isinstance(results, list):
        raise ValueError(f"expected registered module results (a list or {{results: [...]}}), got {type(results).__name__}")
    return [r for r in results if isinstance(r, Mapping) and r.get("changed") and not r.get("skipped") and not r.get("failed")]


def undo_actions(ap_mask_results: Any, mdev_results: Any, earlier: Any = None) -> list[dict[str, Any]]:
    """Return the actions reversing the given ``ap_mask`` and ``mdev`` results, mdevs first (latest first),
    then the ``earlier`` actions (an earlier preparation's, not repeated)."""
    if earlier is None:
        earlier = []
    if not isinstance(earlier, list) or not all(isinstance(a, Mapping) and a.get("type") in ("ap_mask", "mdev") for a in earlier):
        raise ValueError(f"earlier: expected the undo actions of an earlier preparation (types ap_mask and mdev), got {earlier!r:.80}")
    actions: list[dict[str, Any]] = []
    for result in reversed(_ran(mdev_results)):
        uuid = result.get("uuid")
        definition = result.get("definition") or {}
        before = result.get("before")
        if result.get("created"):
            actions.append(
                {
                    "type": "mdev",
                    "uuid": uuid,
                    "state": "absent",
                    "persistent": definition.get("before") is None and definition.get("after") is not None,
                }
            )
        elif isinstance(before, Mapping):
            action = {
                "type": "mdev",
                "uuid": uuid,
                "state": "present",
                "force": False,
                **{k: list(before.get(k) or []) for k in ("adapters", "domains", "control_domains")},
            }
            old = definition.get("before")
            action["persistent"] = False
            if isinstance(old, Mapping) and definition.get("after") != old:
                action.update(persistent=True, start=old.get("start") or "auto")
            actions.append(action)
    for result in reversed(_ran(ap_mask_results)):
        reserved = result.get("reserved") or {}
        adapters, domains = list(reserved.get("adapters") or []), list(reserved.get("domains") or [])
        if adapters or domains:
            persistent = result.get("persistent") or {}
            created = result.get("persisted_with") is not None and persistent.get("created") is True
            actions.append(
                {
                    "type": "ap_mask",
                    "state": "released",
                    "adapters": adapters,
                    "domains": domains,
                    # a rule the preparation created goes again; a rule it changed gets its bits back
                    "persistent": result.get("persisted_with") is not None and not created,
                    "remove_rule": created,
                }
            )
    return actions + [dict(a) for a in earlier if a not in actions]
