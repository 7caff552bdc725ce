# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The roles' messages for inputs that name something that is not there.

Each message names the variable and the wrong value, suggests the fix (the nearest existing name, or
where the guest really runs) and says nothing about the values that were fine. An empty text means
there is nothing to say.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

SHOWN = 8  # names listed as "its hosts: ..." before "..."


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean X?)`` for the nearest of ``choices`` (difflib ratio 0.6 or more), else ""."""
    scored = [(difflib.SequenceMatcher(None, value, c).ratio(), c) for c in sorted(set(choices))]
    best = max((score for score, _c in scored), default=0.0)
    nearest = [c for score, c in scored if score == best and score >= 0.6]
    return f" (did you mean {nearest[0]}?)" if nearest else ""


def _some(names: Iterable[str]) -> str:
    names = sorted(set(names))
    return ", ".join(names[:SHOWN]) + (f", ... ({len(names)} in all)" if len(names) > SHOWN else "")


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def unknown_hosts(variable: str, names: Any, known: Iterable[str], where: str = "this play") -> str:
    """Return the message for host names of ``variable`` that are not among ``known`` (the hosts of ``where``), else ""."""
    known = [str(k) for k in known]
    if names is None or names == "" or names == []:
        return f"{variable} is empty: name the hosts (inventory hosts of {where})"
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return f"{variable}: expected a list of host names, got {_shown(names)}"
    wrong = [n for n in dict.fromkeys(names) if n not in known]
    if not wrong:
        return ""
    each = "; ".join(f"{n!r} is not a host of {where}{did_you_mean(n, known)}" for n in wrong)
    return f"{variable}: {each}; its hosts: {_some(known) or 'none'}"


def selection_errors(selection: Mapping[str, Any], source: str, uuids_variable: str, guests_variable: str) -> list[str]:
    """Return one message per UUID or guest of an ``mdev_selection`` result that ``source`` does not have.

    A value that is not a UUID is said to be so; a guest or mdev another host has names that host
    (it has moved, or the source is the wrong one); any other guest gets the nearest name ``source`` runs.
    """
    elsewhere = selection.get("elsewhere") or {}
    not_uuids = set(selection.get("not_uuids") or [])
    out = []
    for uuid in selection.get("unknown_uuids") or []:
        if uuid in not_uuids:
            out.append(f"{uuids_variable}: {uuid!r} is not an mdev UUID (8-4-4-4-12 hexadecimal digits, as 'mdevctl list' shows)")
        elif uuid in elsewhere:
            out.append(f"{uuids_variable}: mdev {uuid} is on {', '.join(elsewhere[uuid])}, not on {source}")
        else:
            out.append(f"{uuids_variable}: no vfio_ap mdev {uuid} is on {source} (nor on any other host with AP facts)")
    for guest in selection.get("unknown_guests") or []:
        if guest in elsewhere:
            out.append(f"{guests_variable}: {guest} runs on {', '.join(elsewhere[guest])} now, not on {source}")
        else:
            here = selection.get("guests_here") or []
            out.append(
                f"{guests_variable}: no vfio-ap guest named {guest!r} runs on {source}{did_you_mean(guest, here)}"
                f" (vfio-ap guests there: {_some(here) or 'none'})"
            )
    return out
