# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""The migration guard record: which mdevs must not migrate, on hosts without a per-mdev control.

File ``<sysroot>/etc/vfio_ap/migration-guard.json``::

    {"schema": 1, "mdevs": {"<uuid>": {"migratable": false, "reason": "...", "guest": "...",
                                       "changed": "2026-11-25T12:00:00Z"}}}

An mdev without an entry is not guarded. Read by ap_facts and the libvirt hook, written by the
migratable module.
"""

import json
import re
from typing import Any, Dict

GUARD_PATH = "etc/vfio_ap/migration-guard.json"
SCHEMA = 1
# Its own copy of _ids.UUID_RE: the libvirt hook loads this file alone (roles/migratable).
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ENTRY_KEYS = ("migratable", "reason", "guest", "changed")


def parse_guard(text):
    # type: (str) -> Dict[str, Dict[str, Any]]
    """Return the guard entries by mdev UUID; ValueError naming the problem for a malformed record."""
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError("migration guard is not valid JSON: {0}".format(exc)) from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("mdevs"), dict):
        raise ValueError('migration guard: expected {"schema": 1, "mdevs": {...}}')
    entries = {}  # type: Dict[str, Dict[str, Any]]
    for uuid, entry in doc["mdevs"].items():
        if not UUID_RE.match(str(uuid)) or not isinstance(entry, dict):
            raise ValueError("migration guard: bad entry for {0!r}".format(uuid))
        if not isinstance(entry.get("migratable"), bool):
            raise ValueError("migration guard: entry {0} needs a boolean 'migratable'".format(uuid))
        entries[uuid] = {k: entry.get(k) for k in _ENTRY_KEYS}
    return entries


def render_guard(entries):
    # type: (Dict[str, Dict[str, Any]]) -> str
    """Return the guard file text for entries (sorted, stable, newline-terminated)."""
    doc = {
        "schema": SCHEMA,
        "mdevs": {u: {k: entries[u].get(k) for k in _ENTRY_KEYS} for u in sorted(entries)},
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def is_guarded(entries, uuid):
    # type: (Dict[str, Dict[str, Any]], str) -> bool
    """Return True when the guard forbids migrating the mdev uuid."""
    entry = entries.get(uuid)
    if not entry:
        return False
    return entry.get("migratable") is False
