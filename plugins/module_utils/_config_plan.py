# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Planning AP configuration changes: from the current state and a desired one to ordered sysfs writes.

Pure functions, no I/O. The state is a small dict built from the facts of ``ap_facts``
(``state_from_facts``)::

    {"max_adapter_id": 255, "max_domain_id": 84,
     "apmask": [ids], "aqmask": [ids],            # IDs whose bits are set (host drivers)
     "vfio_ap_loaded": True, "ap_config": True,    # vfio_ap features offer the one-shot write
     "queues": [[adapter, domain], ...],           # queue devices that exist
     "mdevs": {uuid: {"adapters": [..], "domains": [..], "control_domains": [..],
                      "in_use": bool, "guest": str|None}}}

Pre-checks predict what the kernel would refuse (docs/kernel-interface.md: mask writes,
assignment rules, ap_config) and say it in AP terms, naming the APQN and the other mdev; the same functions explain a
kernel errno that comes anyway.
"""

import errno
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import (
    compress_ids,
    format_apqn,
    ids_to_mask,
    parse_apqn,
    parse_ids,
    relative_mask_update,
)

KINDS = ("adapters", "domains", "control_domains")
ATTR_OF_KIND = {"adapters": "adapter", "domains": "domain", "control_domains": "control_domain"}
MAX_NAMED = 8  # APQNs named in one message before "and N more"


class PlanError(ValueError):
    """A requested change the kernel (or ap-check) would refuse; errno is the kernel's answer, if any."""

    def __init__(self, message, code=None, conflicts=None):
        # type: (str, Optional[int], Optional[List[Dict[str, Any]]]) -> None
        ValueError.__init__(self, message)
        self.errno = code
        self.conflicts = conflicts or []


# --------------------------------------------------------------------------- state
def state_from_facts(facts):
    # type: (Dict[str, Any]) -> Dict[str, Any]
    """Return the planning state (see module docstring) from ``ansible_facts.vfio_ap`` (schema 1 or 2)."""
    bus = facts.get("bus") or {}
    vfio = facts.get("driver") or {}
    mdevs = {}
    for mdev in vfio.get("mdevs") or []:
        mdevs[mdev["uuid"]] = {
            "adapters": sorted(mdev.get("adapters") or []),
            "domains": sorted(mdev.get("domains") or []),
            "control_domains": sorted(mdev.get("control_domains") or []),
            "in_use": bool(mdev.get("in_use")),
            "guest": mdev.get("guest"),
            "migratable": mdev.get("migratable"),
        }
    queues = []
    for queue in facts.get("queues") or []:
        queues.append(list(parse_apqn(queue["apqn"])))
    return {
        "max_adapter_id": bus.get("max_adapter_id") if bus.get("max_adapter_id") is not None else 255,
        "max_domain_id": bus.get("max_domain_id") if bus.get("max_domain_id") is not None else 255,
        "apmask": parse_ids(bus.get("apmask"), "apmask", allow_mask=True) if bus.get("apmask") else [],
        "aqmask": parse_ids(bus.get("aqmask"), "aqmask", allow_mask=True) if bus.get("aqmask") else [],
        "bus_present": bool(bus.get("present")),
        "vfio_ap_loaded": bool(vfio.get("loaded")),
        "ap_config": "ap_config" in (vfio.get("features") or []),
        "migration": vfio.get("migration"),
        "queues": queues,
        "mdevs": mdevs,
    }


def host_owned(state, adapter, domain):
    # type: (Dict[str, Any], int, int) -> bool
    """Return True when the APQN belongs to the host drivers (its apmask and aqmask bits are set)."""
    return adapter in state["apmask"] and domain in state["aqmask"]


def mdev_config(state, uuid):
    # type: (Dict[str, Any], str) -> Optional[Dict[str, List[int]]]
    """Return the assigned configuration {adapters, domains, control_domains} of an mdev, or None."""
    mdev = state["mdevs"].get(uuid)
    if mdev is None:
        return None
    return {k: sorted(mdev[k]) for k in KINDS}


def _describe_mdev(state, uuid):
    # type: (Dict[str, Any], str) -> str
    guest = (state["mdevs"].get(uuid) or {}).get("guest")
    return "mdev {0}{1}".format(uuid, " (guest {0})".format(guest) if guest else "")


def _name_apqns(apqns):
    # type: (List[Tuple[int, int]]) -> str
    names = [format_apqn(a, d) for a, d in apqns[:MAX_NAMED]]
    more = len(apqns) - MAX_NAMED
    return ", ".join(names) + (" and {0} more".format(more) if more > 0 else "")


# --------------------------------------------------------------------------- desired mdev config
def parse_config(state, adapters, domains, control_domains, current=None):
    # type: (Dict[str, Any], Any, Any, Any, Optional[Dict[str, List[int]]]) -> Dict[str, List[int]]
    """Return the desired {adapters, domains, control_domains} (sorted int lists).

    An option that is None keeps the current value (or is empty for a new mdev). Raises
    PlanError for IDs that are not IDs, above 255 or above the host maximum (the kernel's ENODEV),
    and for control domains without any usage domain (ap-check refuses such a definition).
    """
    wanted = {}  # type: Dict[str, List[int]]
    for kind, value in zip(KINDS, (adapters, domains, control_domains)):
        if value is None:
            wanted[kind] = list((current or {}).get(kind) or [])
            continue
        try:
            wanted[kind] = parse_ids(value, kind)
        except ValueError as exc:
            raise PlanError(str(exc)) from exc
    limits = (
        ("adapters", state["max_adapter_id"], "adapter"),
        ("domains", state["max_domain_id"], "domain"),
        ("control_domains", state["max_domain_id"], "domain"),
    )
    for kind, limit, noun in limits:
        over = [i for i in wanted[kind] if i > limit]
        if over:
            raise PlanError(
                "{0}: ID {1} is above this host's maximum {2} ID {3} (ap_max_{2}_id); the kernel would refuse it with ENODEV".format(
                    kind, over[0], noun, limit
                ),
                errno.ENODEV,
            )
    if wanted["control_domains"] and not wanted["domains"]:
        raise PlanError(
            "control_domains {0} given without any usage domain: ap-check refuses such a definition "
            "('At least one usage domain must be specified'); add domains".format(compress_ids(wanted["control_domains"]))
        )
    return wanted


def conflicts(state, uuid, config):
    # type: (Dict[str, Any], str, Dict[str, List[int]]) -> List[Dict[str, Any]]
    """Return what the kernel would refuse in giving mdev uuid this configuration, in its check order.

    Each entry is {errno, apqn, mdev, message}: EADDRNOTAVAIL for APQNs still owned by the host
    drivers, EADDRINUSE for APQNs assigned to another mdev, ENODEV for IDs above the host maximum.
    """
    found = []  # type: List[Dict[str, Any]]
    apqns = [(a, d) for a in config["adapters"] for d in config["domains"]]
    owned = [(a, d) for a, d in apqns if host_owned(state, a, d)]
    if owned:
        found.append(
            {
                "errno": "EADDRNOTAVAIL",
                "apqn": format_apqn(*owned[0]),
                "mdev": None,
                "message": "APQN {0} {1} still reserved for the host drivers (apmask/aqmask bits set), so the kernel "
                "would refuse the assignment with EADDRNOTAVAIL; reserve {2} for vfio_ap first with "
                "s390x.vfio_ap.ap_mask".format(_name_apqns(owned), "is" if len(owned) == 1 else "are", "it" if len(owned) == 1 else "them"),
            }
        )
    wanted = set(apqns)
    for other in sorted(state["mdevs"]):
        if other == uuid:
            continue
        theirs = state["mdevs"][other]
        shared = sorted(wanted & {(a, d) for a in theirs["adapters"] for d in theirs["domains"]})
        if shared:
            found.append(
                {
                    "errno": "EADDRINUSE",
                    "apqn": format_apqn(*shared[0]),
                    "mdev": other,
                    "message": "APQN {0} {1} already assigned to {2}; the kernel would refuse the assignment with EADDRINUSE".format(
                        _name_apqns(shared), "is" if len(shared) == 1 else "are", _describe_mdev(state, other)
                    ),
                }
            )
    for kind, limit in (
        ("adapters", state["max_adapter_id"]),
        ("domains", state["max_domain_id"]),
        ("control_domains", state["max_domain_id"]),
    ):
        over = [i for i in config[kind] if i > limit]
        if over:
            found.append(
                {
                    "errno": "ENODEV",
                    "apqn": None,
                    "mdev": None,
                    "message": "{0} {1} above the host maximum {2}; the kernel would refuse it with ENODEV".format(
                        kind, compress_ids(over), limit
                    ),
                }
            )
    return found


def explain_errno(state, uuid, config, code):
    # type: (Dict[str, Any], str, Dict[str, List[int]], int) -> Optional[str]
    """Return an AP-terms explanation of a kernel errno for mdev uuid and config (from a fresh state), or None."""
    name = errno.errorcode.get(code)
    for entry in conflicts(state, uuid, config):
        if entry["errno"] == name:
            return entry["message"]
    return None


def require_config(state, uuid, config):
    # type: (Dict[str, Any], str, Dict[str, List[int]]) -> None
    """Raise PlanError (all conflicts in one message) when the kernel would refuse config; returns None."""
    found = conflicts(state, uuid, config)
    if found:
        raise PlanError("; ".join(c["message"] for c in found), getattr(errno, found[0]["errno"]), found)


# --------------------------------------------------------------------------- writes for an mdev
def ap_config_value(config):
    # type: (Dict[str, List[int]]) -> str
    """Return the ``ap_config`` text for a configuration (three 0x+64-hex masks, comma-separated)."""
    return ",".join(ids_to_mask(config[k]) for k in KINDS)


def plan_writes(current, desired, use_ap_config):
    # type: (Dict[str, List[int]], Dict[str, List[int]], bool) -> List[Tuple[str, str]]
    """Return the ordered (attribute, value) writes that turn current into desired; [] when equal.

    With use_ap_config one atomic ``ap_config`` write. Otherwise unassignments first (control
    domains, domains, adapters), then assignments (adapters, domains, control domains), values in
    decimal: every intermediate matrix is then a subset of current or of desired, so when both
    are valid no step can be refused for reservation or sharing.
    """
    if all(sorted(current[k]) == sorted(desired[k]) for k in KINDS):
        return []
    if use_ap_config:
        return [("ap_config", ap_config_value(desired))]
    writes = []  # type: List[Tuple[str, str]]
    for kind in ("control_domains", "domains", "adapters"):
        for item in sorted(set(current[kind]) - set(desired[kind])):
            writes.append(("unassign_" + ATTR_OF_KIND[kind], str(item)))
    for kind in KINDS:
        for item in sorted(set(desired[kind]) - set(current[kind])):
            writes.append(("assign_" + ATTR_OF_KIND[kind], str(item)))
    return writes


def config_diff(before, after):
    # type: (Optional[Dict[str, List[int]]], Optional[Dict[str, List[int]]]) -> Dict[str, Dict[str, List[int]]]
    """Return {kind: {added: [...], removed: [...]}} between two configurations (None = no mdev)."""
    out = {}
    for kind in KINDS:
        old = set((before or {}).get(kind) or [])
        new = set((after or {}).get(kind) or [])
        out[kind] = {"added": sorted(new - old), "removed": sorted(old - new)}
    return out


# --------------------------------------------------------------------------- masks (ap_mask)
def plan_mask(state, adapters, domains, reserve):
    # type: (Dict[str, Any], Any, Any, bool) -> Dict[str, Any]
    """Return the change that reserves (clears bits) or releases (sets bits) adapters and domains.

    Result: {"apmask": relative write or None, "aqmask": relative write or None,
    "adapters": [changed IDs], "domains": [changed IDs], "before": {apmask, aqmask},
    "after": {apmask, aqmask} (texts), "moved_queues": [{apqn, from, to}]}.
    Raises PlanError for bad IDs.
    """
    try:
        want_a = parse_ids(adapters, "adapters")
        want_d = parse_ids(domains, "domains")
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    for kind, ids, limit, noun in (
        ("adapters", want_a, state["max_adapter_id"], "adapter"),
        ("domains", want_d, state["max_domain_id"], "domain"),
    ):
        over = [i for i in ids if i > limit]
        if over:
            raise PlanError("{0}: ID {1} is above this host's maximum {2} ID {3} (ap_max_{2}_id)".format(kind, over[0], noun, limit))
    apmask, aqmask = set(state["apmask"]), set(state["aqmask"])
    if reserve:
        change_a = sorted(set(want_a) & apmask)
        change_d = sorted(set(want_d) & aqmask)
        new_ap, new_aq = apmask - set(change_a), aqmask - set(change_d)
        ap_write = relative_mask_update([], change_a)
        aq_write = relative_mask_update([], change_d)
    else:
        change_a = sorted(set(want_a) - apmask)
        change_d = sorted(set(want_d) - aqmask)
        new_ap, new_aq = apmask | set(change_a), aqmask | set(change_d)
        ap_write = relative_mask_update(change_a, [])
        aq_write = relative_mask_update(change_d, [])
    moved = []
    for a, d in sorted(tuple(q) for q in state["queues"]):
        was = a in apmask and d in aqmask
        now = a in new_ap and d in new_aq
        if was != now:
            vfio = "vfio_ap" if state["vfio_ap_loaded"] else None
            moved.append({"apqn": format_apqn(a, d), "from": "cex4queue" if was else vfio, "to": "cex4queue" if now else vfio})
    return {
        "apmask": ap_write,
        "aqmask": aq_write,
        "adapters": change_a,
        "domains": change_d,
        "before": {"apmask": ids_to_mask(apmask), "aqmask": ids_to_mask(aqmask)},
        "after": {"apmask": ids_to_mask(new_ap), "aqmask": ids_to_mask(new_aq)},
        "new_apmask": sorted(new_ap),
        "new_aqmask": sorted(new_aq),
        "moved_queues": moved,
    }


def release_conflicts(state, new_apmask, new_aqmask):
    # type: (Dict[str, Any], Iterable[int], Iterable[int]) -> List[Dict[str, Any]]
    """Return the mdev-held APQNs that new masks would hand back to the host drivers (the kernel's EBUSY).

    Each entry is {errno: "EBUSY", apqn, mdev, message}, one per mdev.
    """
    old_ap, old_aq = set(state["apmask"]), set(state["aqmask"])
    new_ap, new_aq = set(new_apmask), set(new_aqmask)
    found = []
    for uuid in sorted(state["mdevs"]):
        mdev = state["mdevs"][uuid]
        held = [
            (a, d) for a in mdev["adapters"] for d in mdev["domains"] if a in new_ap and d in new_aq and not (a in old_ap and d in old_aq)
        ]
        if held:
            found.append(
                {
                    "errno": "EBUSY",
                    "apqn": format_apqn(*held[0]),
                    "mdev": uuid,
                    "message": "releasing would hand APQN {0} back to the host drivers, but {1} {2} assigned to {3}; "
                    "the kernel would refuse with EBUSY; unassign {4} from the mdev first".format(
                        _name_apqns(held),
                        "it" if len(held) == 1 else "they",
                        "is" if len(held) == 1 else "are",
                        _describe_mdev(state, uuid),
                        "it" if len(held) == 1 else "them",
                    ),
                }
            )
    return found


def definition_conflicts(definitions, uuid, config, persistent_apmask, persistent_aqmask):
    # type: (List[Dict[str, Any]], str, Dict[str, List[int]], Iterable[int], Iterable[int]) -> List[Dict[str, Any]]
    """Return what ap-check refuses in an auto-start definition of mdev uuid with config (as it checks at define).

    definitions are the facts' ``driver.definitions``; the persistent masks are those of
    41-ap.rules (live masks where the file sets none). Entries are {check, apqn, mdev, message}:
    ``autostart`` for APQNs another auto-start definition holds, ``persistent_mask`` for APQNs the
    persistent AP masks give to the host drivers (the mdev could not start at boot).
    """
    found = []  # type: List[Dict[str, Any]]
    wanted = [(a, d) for a in config["adapters"] for d in config["domains"]]
    for other in sorted(definitions, key=lambda entry: entry["uuid"]):
        if other["uuid"] == uuid or other.get("start") != "auto":
            continue
        theirs = {(a, d) for a in other.get("adapters") or [] for d in other.get("domains") or []}
        shared = [apqn for apqn in wanted if apqn in theirs]
        if shared:
            found.append({
                "check": "autostart", "apqn": format_apqn(*shared[0]), "mdev": other["uuid"],
                "message": "APQN {0} {1} defined for autostart by {2}; ap-check refuses a second auto-start "
                           "definition of {3}".format(_name_apqns(shared), "is" if len(shared) == 1 else "are",
                                                      other["uuid"], "it" if len(shared) == 1 else "them"),
            })  # fmt: skip
    ap, aq = set(persistent_apmask), set(persistent_aqmask)
    owned = [(a, d) for a, d in wanted if a in ap and d in aq]
    if owned:
        found.append({
            "check": "persistent_mask", "apqn": format_apqn(*owned[0]), "mdev": None,
            "message": "APQN {0} {1} not reserved for vfio_ap by the persistent AP masks (41-ap.rules), so the mdev "
                       "could not start at boot and ap-check refuses the auto-start definition; reserve {2} with "
                       "s390x.vfio_ap.ap_mask persistent: true".format(
                           _name_apqns(owned), "is" if len(owned) == 1 else "are", "it" if len(owned) == 1 else "them"),
        })  # fmt: skip
    return found
