# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""A queue's facts in the compact form ``ap_facts`` returns (schema 2) and in their full form.

A large LPAR has 21,760 queues (256 adapters x 85 domains), nearly all alike. The compact record
of a queue keeps its ``apqn`` and ``driver`` (and ``vfio_status`` when bound to vfio_ap) and any
other key only when its value is not the usual one (``usual_value``): the hardware word of its
card, configured, not check-stopped, online when a host driver holds it, no driver_override, no
master-key patterns known. The full form has every key of schema 1 (docs/facts.md). Both forms
are read by ``expand_queue``, so facts of schema 1 (a fact cache from an older collection) and
schema 2 are read alike.
"""

from typing import Any, Dict, Mapping, Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import capabilities
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_apqn

VFIO_AP_DRIVER = "vfio_ap"
# The keys of a full queue record, in the order facts show them.
QUEUE_KEYS = (
    "apqn",
    "adapter",
    "domain",
    "driver",
    "functions",
    "capabilities",
    "config",
    "chkstop",
    "online",
    "vfio_status",
    "driver_override",
    "mkvps",
)
# Keys a compact record always has; "vfio_status" too when the driver is vfio_ap.
ALWAYS = ("apqn", "driver")
# Keys a compact record leaves out when they hold the usual value.
SPARSE = ("config", "chkstop", "online", "driver_override", "mkvps")


def usual_value(key, driver):
    # type: (str, Optional[str]) -> Any
    """Return the value of ``key`` a compact record leaves out for a queue bound to ``driver``.

    ``config`` true, ``chkstop`` false, ``online`` true under a host driver (``cex4queue``) and
    null under vfio_ap or no driver (the attribute belongs to the host driver), ``driver_override``
    and ``mkvps`` null.
    """
    if key == "config":
        return True
    if key == "chkstop":
        return False
    if key == "online":
        return True if driver not in (None, VFIO_AP_DRIVER) else None
    return None


def card_capabilities(card):
    # type: (Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]
    """Return the capabilities of a card's ap_functions word (with its raw AP type), None if unknown."""
    if not card:
        return None
    caps = card.get("capabilities")
    if isinstance(caps, Mapping):
        return dict(caps)
    text = card.get("functions")
    if not isinstance(text, str):
        return None
    try:
        word = int(text, 16)
    except ValueError:
        return None
    return capabilities(word, card_ap_type(card))


def card_ap_type(card):
    # type: (Optional[Mapping[str, Any]]) -> Optional[int]
    """Return the AP type the migration rules compare for a card: its raw type, else its compatible type."""
    if not card:
        return None
    return card.get("raw_hwtype") if card.get("raw_hwtype") is not None else card.get("hwtype")


def compact_queue(queue, card_functions):
    # type: (Mapping[str, Any], Optional[str]) -> Dict[str, Any]
    """Return the compact record of a full queue record whose card's ap_functions text is ``card_functions``.

    ``functions`` and ``capabilities`` are kept when the queue's word differs from the card's
    (a Secure Execution bind state, a failed query: ``null``).
    """
    driver = queue.get("driver")
    out = {"apqn": queue["apqn"], "driver": driver}  # type: Dict[str, Any]
    if driver == VFIO_AP_DRIVER:
        out["vfio_status"] = queue.get("vfio_status")
    if queue.get("functions") != card_functions:
        out["functions"] = queue.get("functions")
        out["capabilities"] = queue.get("capabilities")
    for key in SPARSE:
        value = queue.get(key)
        if value != usual_value(key, driver):
            out[key] = value
    return out


def expand_queue(queue, card):
    # type: (Mapping[str, Any], Optional[Mapping[str, Any]]) -> Dict[str, Any]
    """Return the full record (every key of QUEUE_KEYS) of a compact or full queue record on ``card``.

    ``card`` is the queue's card facts (None when unknown); a queue without its own
    ``functions`` has its card's word and capabilities. Raises ValueError for an ``apqn`` that is
    not one.
    """
    adapter, domain = parse_apqn(str(queue["apqn"]))
    driver = queue.get("driver")
    full = {"apqn": queue["apqn"], "adapter": adapter, "domain": domain, "driver": driver}  # type: Dict[str, Any]
    if "functions" in queue:
        full["functions"] = queue["functions"]
        full["capabilities"] = queue.get("capabilities")
    else:
        full["functions"] = card.get("functions") if card else None
        full["capabilities"] = card_capabilities(card)
    for key in ("config", "chkstop", "online"):
        full[key] = queue[key] if key in queue else usual_value(key, driver)
    full["vfio_status"] = queue.get("vfio_status")
    full["driver_override"] = queue.get("driver_override")
    full["mkvps"] = queue.get("mkvps")
    return full
