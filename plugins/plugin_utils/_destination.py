# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The decisions of the ``destination`` role, as pure functions over two hosts' AP facts.

The role runs the steps (gather facts, reserve, create, set migration control, verify); between
them it asks:

- :func:`destination_checks`: the ``migration_check`` of every mdev against this destination,
  those preparation cannot fix, and the actions that prepare the rest, by type, in order;
- :func:`destination_result`: what the role reports per mdev (before, actions, the check again
  with the facts gathered after the preparation);
- :func:`blocker_summary`: the one-line text naming each guest that is not ready and why.

Every verdict is ``_readiness``'s; nothing here decides readiness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_host_name, require_mapping, require_names, require_rules
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import check_pair
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import FIXABLE_CODES

# The action types the destination role runs, in the order it runs them.
ACTION_TYPES = ("ap_mask", "mdev", "migratable")


def _hosts(
    source_facts: Any, destination_facts: Any, source: Any, destination: Any, migration_levels: Any = None
) -> tuple[H.HostFacts, H.HostFacts]:
    """Return the checked facts of both ends (levels from ``{host: level}``); ValueError naming a bad argument."""
    require_host_name(source, "source")
    require_host_name(destination, "destination")
    levels = require_mapping(migration_levels, "migration_levels", "{host: attribute|kernel}")
    return (
        H.HostFacts(source_facts, source, "source_facts", level=levels.get(source) if source else None),
        H.HostFacts(destination_facts, destination, "destination_facts", level=levels.get(destination) if destination else None),
    )


def destination_checks(
    source_facts: Any,
    destination_facts: Any,
    uuids: Any,
    rules: str = "auto",
    source: Any = None,
    destination: Any = None,
    migration_levels: Any = None,
) -> dict[str, Any]:
    """Return the readiness of each source mdev on the destination and what would prepare it.

    ``uuids``: the source mdevs (a list or one comma-separated string). Result ``{checks,
    unfixable, actions}``: ``checks`` one ``migration_check`` result per UUID in the given order,
    ``unfixable`` those neither ready nor ready after preparation, ``actions`` ``{ap_mask: [...],
    mdev: [...], migratable: [...]}`` - every check's actions once, in order, by type. Raises
    ValueError for an unknown UUID and for an action of a type the role does not run.
    """
    rules = require_rules(rules)
    wanted = list(dict.fromkeys(require_names(uuids, "uuids", lower=True)))
    if not wanted:
        raise ValueError("uuids: expected at least one mdev UUID of the source")
    src, dst = _hosts(source_facts, destination_facts, source, destination, migration_levels)
    checks = [check_pair(src, dst, uuid, rules) for uuid in wanted]
    actions: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ACTION_TYPES}
    for check in checks:
        for action in check["actions"]:
            kind = action.get("type") if isinstance(action, Mapping) else None
            if kind not in actions:
                raise ValueError(f"migration_check returned an action of unknown type: {action!r}")
            if action not in actions[kind]:
                actions[kind].append(action)
    return {
        "checks": checks,
        "unfixable": [c for c in checks if not c["ready"] and not c["ready_after"]],
        "actions": actions,
    }


def destination_result(
    checks: Iterable[Mapping[str, Any]],
    source_facts: Any,
    destination_facts: Any = None,
    rules: str = "auto",
    source: Any = None,
    destination: Any = None,
    migration_levels: Any = None,
) -> list[dict[str, Any]]:
    """Return the role's result per mdev: ``{uuid, guest, source, destination, before, actions, after}``.

    ``checks``: the ``migration_check`` results before the preparation; ``before`` is ``ready`` or
    ``ready_after`` from them. ``after`` is the check again with ``destination_facts`` (gathered
    after the preparation), or None without them (no verification, or check mode).
    """
    rules = require_rules(rules)
    checks = list(checks)
    if not all(isinstance(c, Mapping) and "uuid" in c for c in checks):
        raise ValueError("checks: expected migration_check results")
    pair = _hosts(source_facts, destination_facts, source, destination, migration_levels) if destination_facts is not None else None
    return [
        {
            "uuid": check["uuid"],
            "guest": check.get("guest"),
            "source": source,
            "destination": destination,
            "before": "ready" if check.get("ready") else "ready_after",
            "actions": check.get("actions"),
            "after": check_pair(pair[0], pair[1], check["uuid"], rules) if pair is not None else None,
        }
        for check in checks
    ]


def blocker_summary(checks: Iterable[Any]) -> str:
    """Return ``guest (code APQN, ...; code); guest (code)`` for migration_check results: what no preparation can fix.

    Each guest (or UUID) with the codes of its blockers that the destination role cannot fix, once each
    in the check's order, with the APQNs they name; a guest whose blockers are all fixable keeps them all
    (then preparation failed to fix them). ValueError for anything but mappings.
    """
    parts = []
    for check in checks:
        if not isinstance(check, Mapping):
            raise ValueError(f"expected migration_check results, got {type(check).__name__}")
        blockers = [b for b in check.get("blockers") or [] if isinstance(b, Mapping)]
        real = [b for b in blockers if b.get("code") not in FIXABLE_CODES] or blockers
        apqns: dict[str, list[str]] = {}
        for b in real:
            named = apqns.setdefault(str(b.get("code")), [])
            if b.get("apqn") and str(b["apqn"]) not in named:
                named.append(str(b["apqn"]))
        codes = "; ".join(f"{code} {', '.join(named)}" if named else code for code, named in apqns.items())
        parts.append(f"{check.get('guest') or check.get('uuid')} ({codes})")
    return "; ".join(parts)
