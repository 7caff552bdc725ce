# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The actions that make a destination ready for a guest: reserve its APQNs, then create or set up its mdev.

A ``migration_check`` result lists them in ``actions`` (docs/plan-schema.md); the ``destination``
role runs them with ``ap_mask`` and ``mdev``, and ``_undo`` reverses what they changed.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_apqn
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H

# Codes an mdev action is needed for even when the mdev exists.
MDEV_ACTION_CODES = frozenset(("apqn_set_mismatch", "not_persistent"))


def reservation_action(apqns: list[str]) -> dict[str, Any] | None:
    """Return the ap_mask action that hands ``apqns`` (existing, host-owned) to vfio_ap, or None for none.

    Clearing a domain's aqmask bit frees that domain on every adapter, which is always enough; the
    action reserves the domains and leaves apmask alone, the layout of sites that give each LPAR its
    own domains (and the one that keeps mirrored LPARs on two CPCs alike).
    """
    if not apqns:
        return None
    domains = sorted({parse_apqn(a)[1] for a in apqns})
    return {"type": "ap_mask", "adapters": [], "domains": domains, "state": "reserved", "persistent": True}


def mdev_action(
    destination: H.HostFacts, uuid: str, wanted: list[str], control_domains: list[int], attribute_checks: bool, codes: set[str]
) -> dict[str, Any] | None:
    """Return the mdev action for the destination (create, assign, persist), or None when nothing is needed."""
    existing = destination.mdevs.get(uuid)
    if existing is not None and not (MDEV_ACTION_CODES & codes):
        return None
    if attribute_checks or "apqn_set_mismatch" in codes:
        pairs = [parse_apqn(a) for a in wanted]
        adapters = sorted({a for a, _unused in pairs})
        domains = sorted({d for _unused, d in pairs})
        cdoms = sorted(control_domains)
    elif existing is not None:
        if any(existing.get(key) is None for key in ("adapters", "domains", "control_domains")):
            return None  # its configuration is not known: persisting it would write a guess
        adapters = sorted(existing["adapters"])
        domains = sorted(existing["domains"])
        cdoms = sorted(existing["control_domains"])
    else:
        adapters, domains, cdoms = [], [], []
    return {
        "type": "mdev",
        "uuid": uuid,
        "state": "present",
        "adapters": adapters,
        "domains": domains,
        "control_domains": cdoms,
        "persistent": True,
        "start": "auto",
    }


def destination_actions(
    destination: H.HostFacts,
    uuid: str,
    wanted: list[str],
    control_domains: list[int],
    attribute_checks: bool,
    unbound: list[str],
    codes: set[str],
) -> list[dict[str, Any]]:
    """Return the ordered actions that make the destination ready: reserve ``unbound`` APQNs, then the mdev."""
    actions = []
    reserve = reservation_action(sorted(unbound))
    if reserve:
        actions.append(reserve)
    create = mdev_action(destination, uuid, wanted, control_domains, attribute_checks, codes)
    if create:
        actions.append(create)
    return actions
