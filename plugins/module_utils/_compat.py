# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Migration readiness of one vfio-ap mdev from a source host to a destination host.

Input is the ``ansible_facts.vfio_ap`` dict (facts schema 1) of both hosts. The rules are the ones
the 2026 live-migration series applies on the destination (kernel-interface spec §4.6 and §4.2) plus
what orchestration must guarantee (same-UUID mdev, reserved queues, frozen configuration, master
keys). Everything here is a pure function: facts in, findings out. ``migration_check`` answers for
one pair; the fleet plan (plugin_utils/_plan.py) reuses the per-queue, per-mdev and per-host
predicates below on indexes so that both always agree.

Rule sets:

* ``attribute`` (series v1/v2, validation only): the destination mdev with the same UUID must hold
  exactly the source guest's APQN set; the source mdev's ``migratable`` must be 1.
* ``kernel`` (series v3+, restore): the destination mdev with the same UUID may be empty; the
  source guest's queues must be bound to vfio_ap there and free of other mdevs; the source's
  control domains must be in the destination host's control-domain mask.
* ``strict``: both. ``auto``: each host's ``vfio_ap.migration``; the stricter ``strict`` when the
  two differ (warning ``mixed_migration_levels``).

Checks common to every rule set: migration support on both hosts, the mdev on the destination,
queues installed, bound, usable and free, hardware compatibility, Secure Execution state, the
source's migration switch, master-key verification patterns.
"""

from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Set, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import capabilities, compare_capabilities
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import compress_ids, format_apqn, parse_apqn

RULES = ("auto", "attribute", "kernel", "strict")
LEVELS = ("none", "attribute", "kernel")

BLOCKER_CODES = (
    "same_host",
    "no_migration_support",
    "migration_disabled",
    "mdev_missing",
    "mdev_in_use",
    "apqn_not_installed",
    "apqn_not_bound",
    "apqn_in_use",
    "apqn_set_mismatch",
    "control_domain_unavailable",
    "queue_unusable",
    "hw_mode_mismatch",
    "hw_facility_mismatch",
    "hw_type_older",
    "hw_class_incompatible",
    "secure_execution",
    "mkvp_mismatch",
)
WARNING_CODES = (
    "mixed_migration_levels",
    "over_provisioned",
    "drift",
    "not_persistent",
    "mkvp_unknown",
)
# Blockers the destination role removes with the actions: reserve, create, assign.
FIXABLE_CODES = frozenset(("mdev_missing", "apqn_not_bound", "apqn_set_mismatch"))
# Codes checked only under one rule family.
ATTRIBUTE_ONLY_CODES = frozenset(("apqn_set_mismatch",))
KERNEL_ONLY_CODES = frozenset(("control_domain_unavailable",))
_CODE_ORDER = {code: i for i, code in enumerate(BLOCKER_CODES + WARNING_CODES)}

_FACTS_KEYS = (
    ("bus", dict),
    ("cards", list),
    ("queues", list),
    ("vfio_ap", dict),
)
_VFIO_KEYS = (("loaded", bool), ("features", list), ("migration", str), ("mdevs", list), ("definitions", list))
_FACILITY_NAMES = {"apsc": "APSC", "mex4k": "AP4KM", "crt4k": "AP4KC", "apxa": "APXA", "slcf": "SLCF"}


def finding(code, apqn, detail):
    # type: (str, Optional[str], str) -> Dict[str, Any]
    """Return one blocker or warning: {code, apqn, detail}."""
    return {"code": code, "apqn": apqn, "detail": detail}


def sort_findings(items):
    # type: (List[Dict[str, Any]]) -> List[Dict[str, Any]]
    """Return findings ordered by reason code (the order of BLOCKER_CODES/WARNING_CODES), then APQN."""
    return sorted(items, key=lambda f: (_CODE_ORDER.get(f["code"], 99), f["apqn"] or "", f["detail"]))


# --------------------------------------------------------------------------- facts access


class HostFacts:
    """The facts of one host, indexed for lookups by APQN, UUID and ID (built once per host)."""

    __slots__ = (
        "name",
        "facts",
        "level",
        "loaded",
        "queues",
        "cards",
        "mdevs",
        "definitions",
        "claims",
        "control_domains",
        "guard",
        "mkvps",
    )

    def __init__(self, facts, name=None, what="facts", mkvps=None):
        # type: (Any, Optional[str], str, Optional[Dict[str, Any]]) -> None
        validate_facts(facts, what)
        vfio = facts["vfio_ap"]
        self.name = name  # type: Optional[str]
        self.facts = facts  # type: Dict[str, Any]
        self.loaded = bool(vfio["loaded"])  # type: bool
        self.level = vfio["migration"] if vfio["migration"] in LEVELS else "none"  # type: str
        try:
            self.queues = {q["apqn"]: q for q in facts["queues"]}  # type: Dict[str, Dict[str, Any]]
        except (KeyError, TypeError):
            raise ValueError("{0}: every item of 'queues' must be a dict with an 'apqn'".format(what)) from None
        self.cards = {c["id"]: c for c in facts["cards"]}  # type: Dict[int, Dict[str, Any]]
        self.mdevs = {m["uuid"]: m for m in vfio["mdevs"]}  # type: Dict[str, Dict[str, Any]]
        self.definitions = {d["uuid"]: d for d in vfio["definitions"]}  # type: Dict[str, Dict[str, Any]]
        self.claims = mdev_claims(vfio["mdevs"], vfio["definitions"])  # type: Dict[str, Dict[str, str]]
        self.control_domains = set(facts["bus"].get("host_control_domains") or [])  # type: Set[int]
        self.guard = vfio.get("migration_guard") or {}  # type: Dict[str, Any]
        self.mkvps = normalize_mkvps_override(mkvps, what) if mkvps else {}  # type: Dict[str, Any]

    @property
    def label(self):
        # type: () -> str
        """Return the host name, or a neutral word when none was given."""
        return self.name or "the host"


def validate_facts(facts, what):
    # type: (Any, str) -> None
    """Raise ValueError naming ``what`` and the first missing or mistyped key of a vfio_ap facts dict."""
    if not isinstance(facts, Mapping):
        raise ValueError("{0}: expected the ansible_facts.vfio_ap dict, got {1}".format(what, type(facts).__name__))
    for key, kind in _FACTS_KEYS:
        if not isinstance(facts.get(key), Mapping if kind is dict else kind):
            raise ValueError(
                "{0}: key '{1}' missing or not a {2} (expected ansible_facts.vfio_ap, schema 1)".format(what, key, kind.__name__)
            )
    for key, vfio_kind in _VFIO_KEYS:
        if not isinstance(facts["vfio_ap"].get(key), vfio_kind):  # bool, list, str
            raise ValueError("{0}: key 'vfio_ap.{1}' missing or not a {2}".format(what, key, vfio_kind.__name__))
    for index, mdev in enumerate(facts["vfio_ap"]["mdevs"]):
        if not isinstance(mdev, Mapping) or not isinstance(mdev.get("uuid"), str):
            raise ValueError("{0}: vfio_ap.mdevs[{1}] has no 'uuid'".format(what, index))


def mdev_claims(mdevs, definitions):
    # type: (List[Dict[str, Any]], List[Dict[str, Any]]) -> Dict[str, Dict[str, str]]
    """Return, per APQN, the mdev UUIDs holding it: {apqn: {uuid: "active mdev"|"auto-start definition"}}.

    Active mdevs hold their assigned APQNs now; inactive definitions with ``start: auto`` will
    claim theirs at the next boot or mdevctl start.
    """
    claims = {}  # type: Dict[str, Dict[str, str]]
    for mdev in mdevs:
        for apqn in mdev.get("apqns") or []:
            claims.setdefault(apqn, {})[mdev["uuid"]] = "active mdev"
    for definition in definitions:
        if definition.get("active") or definition.get("start") != "auto":
            continue
        for adapter in definition.get("adapters") or []:
            for domain in definition.get("domains") or []:
                claims.setdefault(format_apqn(adapter, domain), {}).setdefault(definition["uuid"], "auto-start definition")
    return claims


def host_support_problem(host):
    # type: (HostFacts) -> Optional[str]
    """Return why a host cannot take part in a vfio-ap live migration, or None when it can."""
    if not host.loaded:
        return "vfio_ap is not loaded on {0}".format(host.label)
    if host.level == "none":
        return "{0}'s kernel has no 'migratable' vfio_ap feature (no live-migration support)".format(host.label)
    return None


def resolve_rules(rules, source_level, destination_level):
    # type: (str, str, str) -> Tuple[str, bool]
    """Return (rule set applied, mixed) for a requested rule set and the two hosts' migration levels.

    ``auto`` takes the hosts' level; two different levels give ``strict`` with mixed True; a host
    without support does not vote (``kernel`` when neither does).
    """
    if rules not in RULES:
        raise ValueError("rules: expected one of {0}, got {1!r}".format(", ".join(RULES), rules))
    if rules != "auto":
        return rules, False
    levels = {level for level in (source_level, destination_level) if level in ("attribute", "kernel")}
    if not levels:
        return "kernel", False
    if len(levels) == 2:
        return "strict", True
    return levels.pop(), False


def rule_scope(effective):
    # type: (str) -> Tuple[bool, bool]
    """Return (attribute checks apply, kernel checks apply) for a resolved rule set."""
    return effective in ("attribute", "strict"), effective in ("kernel", "strict")


# --------------------------------------------------------------------------- per queue


def queue_capabilities(host, queue):
    # type: (HostFacts, Dict[str, Any]) -> Optional[Dict[str, Any]]
    """Return a queue's hardware capabilities (facts, else decoded from its ap_functions); None if unknown.

    ``hwtype`` is the raw AP type (the kernel compares TAPQ's AT field), taken from the card when
    the queue's capabilities do not carry it.
    """
    caps = queue.get("capabilities")
    card = host.cards.get(queue.get("adapter", -1))
    card_type = None
    if card is not None:
        card_type = card.get("raw_hwtype") if card.get("raw_hwtype") is not None else card.get("hwtype")
    if not caps:
        text = queue.get("functions") or (card or {}).get("functions")
        if not text:
            return None
        caps = capabilities(int(str(text), 16), card_type)
    elif caps.get("hwtype") is None and card_type is not None:
        caps = dict(caps, hwtype=card_type)
    return caps


def caps_key(caps):
    # type: (Optional[Dict[str, Any]]) -> Optional[Tuple[Any, ...]]
    """Return a hashable key of the capabilities that decide compatibility (None for unknown)."""
    if caps is None:
        return None
    return (
        caps.get("mode"),
        bool(caps.get("apsc")),
        bool(caps.get("mex4k")),
        bool(caps.get("crt4k")),
        bool(caps.get("apxa")),
        bool(caps.get("slcf")),
        bool(caps.get("native")),
        bool(caps.get("stateless")),
        int(caps.get("bs") or 0),
        caps.get("hwtype"),
    )


def caps_of_key(key):
    # type: (Tuple[Any, ...]) -> Dict[str, Any]
    """Return the capabilities dict a caps_key() stands for."""
    names = ("mode", "apsc", "mex4k", "crt4k", "apxa", "slcf", "native", "stateless", "bs", "hwtype")
    return dict(zip(names, key))


def _type_text(caps):
    # type: (Dict[str, Any]) -> str
    hwtype = caps.get("hwtype")
    return "AP type {0}".format(hwtype) if hwtype is not None else "unknown AP type"


def hardware_findings(source_caps, destination_caps):
    # type: (Dict[str, Any], Dict[str, Any]) -> List[Tuple[str, str]]
    """Return [(code, detail)] for a source queue's capabilities against a destination queue's.

    The comparison is _hwinfo.compare_capabilities (the kernel's destination check); this adds
    one AP-terms detail per code, naming every differing property.
    """
    by_code = {}  # type: Dict[str, List[str]]
    for item in compare_capabilities(source_caps, destination_caps):
        code, prop = item["code"], item["property"]
        if code == "hw_facility_mismatch":
            text = "{0} {1} on the source, {2} on the destination".format(
                _FACILITY_NAMES.get(prop, prop), "installed" if item["source"] else "missing", "installed" if item["target"] else "missing"
            )
        elif code == "hw_mode_mismatch":
            text = "source queue is {0}, destination {1}".format(item["source"], item["target"])
        elif code == "hw_type_older":
            text = "destination card is older ({0}) than the source's ({1})".format(_type_text(destination_caps), _type_text(source_caps))
        elif code == "hw_class_incompatible":
            text = "source has full native card function, destination only stateless functions"
        else:
            text = "bind/associate state source {0}, destination {1}; both must be 0".format(
                int(source_caps.get("bs") or 0), int(destination_caps.get("bs") or 0)
            )
        by_code.setdefault(code, []).append(text)
    return [(code, "; ".join(texts)) for code, texts in sorted(by_code.items(), key=lambda kv: _CODE_ORDER[kv[0]])]


def queue_binding_problem(queue):
    # type: (Dict[str, Any]) -> Optional[str]
    """Return why an existing queue is not available to vfio_ap, or None when it is bound to vfio_ap."""
    driver = queue.get("driver")
    if driver == "vfio_ap":
        return None
    if driver is None:
        return "queue is not bound to any driver"
    return "queue is bound to {0} (apmask/aqmask give it to the host)".format(driver)


def queue_unusable_problem(host, queue):
    # type: (HostFacts, Dict[str, Any]) -> Optional[str]
    """Return why a queue cannot serve a guest (deconfigured, check-stopped, card offline), or None."""
    problems = []
    if queue.get("config") is False:
        problems.append("queue is not configured")
    if queue.get("chkstop"):
        problems.append("queue is check-stopped")
    card = host.cards.get(queue.get("adapter", -1)) or {}
    if card.get("config") is False:
        problems.append("card {0:02x} is not configured".format(queue["adapter"]))
    if card.get("chkstop"):
        problems.append("card {0:02x} is check-stopped".format(queue["adapter"]))
    if card.get("online") is False:
        problems.append("card {0:02x} is offline".format(queue["adapter"]))
    return "; ".join(problems) or None


def normalize_mkvps_override(value, what):
    # type: (Any, str) -> Dict[str, Any]
    """Return {apqn: {slot: pattern}} from a user's known master-key verification patterns; ValueError otherwise."""
    if not isinstance(value, Mapping):
        raise ValueError("{0} mkvps: expected {{apqn: {{slot: pattern}}}}, got {1}".format(what, type(value).__name__))
    out = {}  # type: Dict[str, Any]
    for apqn, slots in value.items():
        adapter, domain = parse_apqn(str(apqn))
        if not isinstance(slots, Mapping):
            raise ValueError("{0} mkvps[{1}]: expected {{slot: pattern}}".format(what, apqn))
        out[format_apqn(adapter, domain)] = slots
    return out


def current_mkvps(host, queue):
    # type: (HostFacts, Dict[str, Any]) -> Optional[Tuple[Tuple[str, str], ...]]
    """Return the queue's current master-key verification patterns as ((slot, pattern), ...), or None.

    Only ``*_cur`` slots with a known pattern count; user-supplied patterns (HostFacts.mkvps)
    override the facts, which carry mkvps only for queues bound to cex4queue.
    """
    source = host.mkvps.get(queue["apqn"]) if host.mkvps else None
    if source is None:
        source = queue.get("mkvps")
    if not source:
        return None
    found = []
    for slot, value in source.items():
        if not str(slot).endswith("_cur"):
            continue
        pattern = value.get("mkvp") if isinstance(value, Mapping) else value
        if isinstance(value, Mapping) and value.get("state") not in (None, "valid"):
            pattern = None
        if pattern:
            found.append((str(slot), str(pattern).lower()))
    return tuple(sorted(found)) or None


def mkvp_difference(source, destination):
    # type: (Tuple[Tuple[str, str], ...], Tuple[Tuple[str, str], ...]) -> Optional[str]
    """Return which current master keys differ between two known pattern sets, or None when they agree."""
    dst = dict(destination)
    differ = [slot for slot, pattern in source if slot in dst and dst[slot] != pattern]
    if not differ:
        return None
    return "current master key verification patterns differ: {0}".format(", ".join(sorted(differ)))


def has_master_keys(caps):
    # type: (Optional[Dict[str, Any]]) -> bool
    """Return True for coprocessor queues (CCA, EP11), the ones that hold master keys."""
    if not caps:
        return False
    return caps.get("mode") in ("cca", "ep11")


# --------------------------------------------------------------------------- per mdev


def guest_queues(mdev):
    # type: (Mapping[str, Any]) -> List[str]
    """Return the APQNs the guest really has (guest_apqns; the assignment when unknown), sorted."""
    apqns = mdev.get("guest_apqns")
    if apqns is None:
        apqns = mdev.get("apqns") or []
    return sorted(apqns)


def source_findings(host, mdev):
    # type: (HostFacts, Mapping[str, Any]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]
    """Return (blockers, warnings) of the source side of an mdev, the same for every destination.

    Blockers: no_migration_support (source host), migration_disabled (``migratable`` 0 or a
    migration guard). Warnings: over_provisioned (assigned APQNs filtered out of the guest matrix),
    drift (the active configuration differs from its mdevctl definition), mkvp_unknown (a
    coprocessor queue of the guest whose current master-key patterns are not known).
    """
    blockers = []  # type: List[Dict[str, Any]]
    warnings = []  # type: List[Dict[str, Any]]
    problem = host_support_problem(host)
    if problem:
        blockers.append(finding("no_migration_support", None, "source: " + problem))
    guard = host.guard.get(mdev["uuid"]) if isinstance(host.guard, Mapping) else None
    if isinstance(guard, Mapping) and guard.get("migratable") is False:
        reason = guard.get("reason")
        blockers.append(
            finding("migration_disabled", None, "a migration guard is set on {0}{1}".format(host.label, ": " + reason if reason else ""))
        )
    elif mdev.get("migratable") is False:
        blockers.append(finding("migration_disabled", None, "the source mdev's migratable attribute is 0"))
    extra = sorted(set(mdev.get("apqns") or []) - set(guest_queues(mdev)))
    if extra:
        warnings.append(finding("over_provisioned", None, "assigned but not in the guest matrix: {0}".format(", ".join(extra))))
    drift = definition_drift(mdev, host.definitions.get(mdev["uuid"]))
    if drift:
        warnings.append(finding("drift", None, "source: " + drift))
    for apqn in guest_queues(mdev):
        queue = host.queues.get(apqn)
        if queue is not None and has_master_keys(queue_capabilities(host, queue)) and current_mkvps(host, queue) is None:
            warnings.append(finding("mkvp_unknown", apqn, "master-key verification pattern unknown on the source"))
    return blockers, warnings


def definition_drift(mdev, definition):
    # type: (Mapping[str, Any], Optional[Dict[str, Any]]) -> Optional[str]
    """Return how an active mdev differs from its mdevctl definition, or None (also when it has none)."""
    if not definition:
        return None
    parts = []
    for key, label in (("adapters", "adapters"), ("domains", "domains"), ("control_domains", "control domains")):
        active, defined = sorted(mdev.get(key) or []), sorted(definition.get(key) or [])
        if active != defined:
            parts.append("{0} {1} active, {2} defined".format(label, compress_ids(active) or "none", compress_ids(defined) or "none"))
    return "; ".join(parts) or None


def destination_mdev_findings(host, uuid, wanted, attribute_checks):
    # type: (HostFacts, str, List[str], bool) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]
    """Return (blockers, warnings) about the destination mdev with the source's UUID.

    Blockers: mdev_missing; mdev_in_use (the destination mdev is attached to a running guest);
    apqn_set_mismatch (attribute checks: the mdev's assigned APQNs must be
    exactly ``wanted``). Warnings: not_persistent (no mdevctl definition), drift.
    """
    mdev = host.mdevs.get(uuid)
    if mdev is None:
        return [finding("mdev_missing", None, "no mdev {0} on {1}".format(uuid, host.label))], []
    blockers = []  # type: List[Dict[str, Any]]
    warnings = []  # type: List[Dict[str, Any]]
    if mdev.get("in_use") or mdev.get("guest"):
        blockers.append(
            finding(
                "mdev_in_use", None, "mdev {0} on {1} is attached to guest {2}".format(uuid, host.label, mdev.get("guest") or "(unknown)")
            )
        )
    if attribute_checks:
        held = sorted(mdev.get("apqns") or [])
        if held != sorted(wanted):
            missing = sorted(set(wanted) - set(held))
            extra = sorted(set(held) - set(wanted))
            text = []
            if missing:
                text.append("lacks {0}".format(", ".join(missing)))
            if extra:
                text.append("also holds {0}".format(", ".join(extra)))
            blockers.append(finding("apqn_set_mismatch", None, "destination mdev {0}".format(" and ".join(text))))
    if uuid not in host.definitions and not mdev.get("defined"):
        warnings.append(finding("not_persistent", None, "mdev {0} on {1} has no mdevctl definition".format(uuid, host.label)))
    drift = definition_drift(mdev, host.definitions.get(uuid))
    if drift:
        warnings.append(finding("drift", None, "destination: " + drift))
    return blockers, warnings


def queue_findings(source, destination, uuid, apqn):
    # type: (HostFacts, HostFacts, str, str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]
    """Return (blockers, warnings) for one source guest APQN on the destination host."""
    queue = destination.queues.get(apqn)
    if queue is None:
        return [finding("apqn_not_installed", apqn, "no queue device {0} on {1}".format(apqn, destination.label))], []
    blockers = []  # type: List[Dict[str, Any]]
    warnings = []  # type: List[Dict[str, Any]]
    binding = queue_binding_problem(queue)
    if binding:
        blockers.append(finding("apqn_not_bound", apqn, binding))
    others = sorted((u, kind) for u, kind in destination.claims.get(apqn, {}).items() if u != uuid)
    if others:
        blockers.append(finding("apqn_in_use", apqn, "assigned to {0}".format(", ".join("{0} {1}".format(kind, u) for u, kind in others))))
    unusable = queue_unusable_problem(destination, queue)
    if unusable:
        blockers.append(finding("queue_unusable", apqn, unusable))
    source_queue = source.queues.get(apqn)
    src_caps = queue_capabilities(source, source_queue) if source_queue else None
    dst_caps = queue_capabilities(destination, queue)
    if src_caps is not None and dst_caps is not None:
        for code, detail in hardware_findings(src_caps, dst_caps):
            blockers.append(finding(code, apqn, detail))
    src_mk = current_mkvps(source, source_queue) if source_queue else None
    if src_mk is not None and (has_master_keys(src_caps) or has_master_keys(dst_caps)):
        # an unknown source pattern is a source warning (source_findings)
        dst_mk = current_mkvps(destination, queue)
        if dst_mk is None:
            warnings.append(finding("mkvp_unknown", apqn, "master-key verification pattern unknown on the destination"))
        else:
            diff = mkvp_difference(src_mk, dst_mk)
            if diff:
                blockers.append(finding("mkvp_mismatch", apqn, diff))
    return blockers, warnings


def control_domain_findings(destination, control_domains):
    # type: (HostFacts, List[int]) -> List[Dict[str, Any]]
    """Return control_domain_unavailable for source control domains outside the destination's ADM."""
    missing = [d for d in control_domains if d not in destination.control_domains]
    if not missing:
        return []
    return [
        finding(
            "control_domain_unavailable",
            None,
            "control domain(s) {0} not in {1}'s control-domain mask".format(
                ", ".join("{0:04x}".format(d) for d in missing), destination.label
            ),
        )
    ]


# --------------------------------------------------------------------------- actions


def reservation_action(apqns):
    # type: (List[str]) -> Optional[Dict[str, Any]]
    """Return the ap_mask action that hands ``apqns`` (existing, host-owned) to vfio_ap, or None for none.

    Clearing a domain's aqmask bit frees that domain on every adapter, which is always enough; the
    action reserves the domains and leaves apmask alone, the layout of sites that give each LPAR its
    own domains (and the one that keeps mirrored LPARs on two CPCs alike).
    """
    if not apqns:
        return None
    domains = sorted({parse_apqn(a)[1] for a in apqns})
    return {"type": "ap_mask", "adapters": [], "domains": domains, "state": "reserved", "persistent": True}


def mdev_action(destination, uuid, wanted, control_domains, attribute_checks, codes):
    # type: (HostFacts, str, List[str], List[int], bool, Set[str]) -> Optional[Dict[str, Any]]
    """Return the mdev action for the destination (create, assign, persist), or None when nothing is needed.

    ``codes`` are the pair's blocker and warning codes.
    """
    existing = destination.mdevs.get(uuid)
    if existing is not None and not ({"apqn_set_mismatch", "not_persistent"} & codes):
        return None
    if attribute_checks or "apqn_set_mismatch" in codes:
        pairs = [parse_apqn(a) for a in wanted]
        adapters = sorted({a for a, _unused in pairs})
        domains = sorted({d for _unused, d in pairs})
        cdoms = sorted(control_domains)
    elif existing is not None:
        adapters = sorted(existing.get("adapters") or [])
        domains = sorted(existing.get("domains") or [])
        cdoms = sorted(existing.get("control_domains") or [])
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


def destination_actions(destination, uuid, wanted, control_domains, attribute_checks, unbound, codes):
    # type: (HostFacts, str, List[str], List[int], bool, List[str], Set[str]) -> List[Dict[str, Any]]
    """Return the ordered actions that make the destination ready: reserve ``unbound`` APQNs, then the mdev."""
    actions = []  # type: List[Dict[str, Any]]
    reserve = reservation_action(sorted(unbound))
    if reserve:
        actions.append(reserve)
    create = mdev_action(destination, uuid, wanted, control_domains, attribute_checks, codes)
    if create:
        actions.append(create)
    return actions


# --------------------------------------------------------------------------- one pair


def find_source_mdev(source, uuid):
    # type: (HostFacts, Any) -> Dict[str, Any]
    """Return the source mdev with ``uuid``; ValueError naming the UUID and the source's mdevs otherwise."""
    if not isinstance(uuid, str):
        raise ValueError("uuid: expected an mdev UUID string, got {0}".format(type(uuid).__name__))
    mdev = source.mdevs.get(uuid.strip().lower())
    if mdev is None:
        known = ", ".join(sorted(source.mdevs)) or "none"
        raise ValueError("uuid: {0} is not an mdev of the source (its mdevs: {1})".format(uuid, known))
    return mdev


def check_migration(source, destination, uuid, rules="auto"):
    # type: (HostFacts, HostFacts, str, str) -> Dict[str, Any]
    """Return the readiness of the source mdev ``uuid`` on the destination (the migration_check result).

    Result: {uuid, guest, source, destination, rules, ready, ready_after, apqns, control_domains,
    blockers, warnings, actions}; see docs/plan-schema.md.
    """
    mdev = find_source_mdev(source, uuid)
    uuid = mdev["uuid"]
    effective, mixed = resolve_rules(rules, source.level, destination.level)
    attribute_checks, kernel_checks = rule_scope(effective)
    wanted = guest_queues(mdev)
    cdoms = sorted(mdev.get("control_domains") or [])
    blockers, warnings = source_findings(source, mdev)
    if mixed:
        warnings.append(
            finding(
                "mixed_migration_levels",
                None,
                "source uses the {0} interface, destination {1}: checking both rule sets (strict)".format(source.level, destination.level),
            )
        )
    if destination is source or (source.name is not None and source.name == destination.name):
        blockers.append(finding("same_host", None, "source and destination are the same host"))
    problem = host_support_problem(destination)
    if problem:
        blockers.append(finding("no_migration_support", None, "destination: " + problem))
    mdev_blockers, mdev_warnings = destination_mdev_findings(destination, uuid, wanted, attribute_checks)
    blockers.extend(mdev_blockers)
    warnings.extend(mdev_warnings)
    for apqn in wanted:
        queue_blockers, queue_warnings = queue_findings(source, destination, uuid, apqn)
        blockers.extend(queue_blockers)
        warnings.extend(queue_warnings)
    if kernel_checks:
        blockers.extend(control_domain_findings(destination, cdoms))
    blockers = sort_findings(blockers)
    warnings = sort_findings(warnings)
    codes = {f["code"] for f in blockers}
    unbound = {f["apqn"] for f in blockers if f["code"] == "apqn_not_bound"}
    actions = destination_actions(
        destination, uuid, wanted, cdoms, attribute_checks, sorted(unbound), codes | {f["code"] for f in warnings}
    )
    return {
        "uuid": uuid,
        "guest": mdev.get("guest"),
        "source": source.name,
        "destination": destination.name,
        "rules": effective,
        "ready": not blockers,
        "ready_after": bool(blockers) and codes <= FIXABLE_CODES,
        "apqns": wanted,
        "control_domains": cdoms,
        "blockers": blockers,
        "warnings": warnings,
        "actions": actions,
    }


def migration_check(source_facts, destination_facts, uuid, rules="auto", source=None, destination=None, mkvps=None):
    # type: (Any, Any, Any, str, Optional[str], Optional[str], Optional[Dict[str, Any]]) -> Dict[str, Any]
    """Return the readiness of mdev ``uuid`` from source_facts' host to destination_facts' host.

    ``mkvps`` ({host: {apqn: {slot: pattern}}}) adds known master-key verification patterns for the
    hosts named ``source``/``destination``. Raises ValueError naming the bad argument.
    """
    if mkvps is not None and not isinstance(mkvps, Mapping):
        raise ValueError("mkvps: expected {host: {apqn: {slot: pattern}}}, got " + type(mkvps).__name__)
    for name, value in (("source", source), ("destination", destination)):
        if value is not None and not isinstance(value, str):
            raise ValueError("{0}: expected a host name, got {1}".format(name, type(value).__name__))
    mkvps = mkvps or {}
    src = HostFacts(source_facts, source, "source_facts", mkvps.get(source) if source else None)
    if destination_facts is source_facts and (destination is None or destination == source):
        dst = src
    else:
        dst = HostFacts(destination_facts, destination, "destination_facts", mkvps.get(destination) if destination else None)
    return check_migration(src, dst, uuid, rules)
