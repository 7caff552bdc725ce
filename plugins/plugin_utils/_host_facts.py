# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""One host's AP facts as the readiness rules read them: checked once, indexed by APQN and UUID.

Besides the index (``HostFacts``) this holds the per-queue and per-mdev facts the rules ask for:
a queue's hardware capabilities, whether it is bound to vfio_ap and usable, its master-key
patterns, an mdev's guest APQNs and drift from its definition, and the host's machine identity.
Each returns data; none decides readiness (``_readiness.py`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import capabilities
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import compress_ids, format_apqn, parse_apqn
from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import card_ap_type, expand_queue
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import host_gaps
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._facts_schema import check_facts, check_queue

CAPS_NAMES = ("mode", "apsc", "mex4k", "crt4k", "apxa", "slcf", "native", "stateless", "bs", "hwtype")


class HostFacts:
    """The facts of one host, checked (``_facts_schema``) and indexed by APQN, UUID and ID."""

    __slots__ = (
        "name",
        "facts",
        "what",
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
        "identity",
        "gaps",
        "_full",
    )

    def __init__(self, facts: Any, name: str | None = None, what: str = "facts", mkvps: Any = None) -> None:
        check_facts(facts, what)
        vfio = facts["vfio_ap"]
        self.name = name
        self.facts = facts
        self.what = what
        self.loaded: bool = vfio["loaded"]
        self.level: str = vfio["migration"]
        self.queues: dict[str, Mapping] = {q["apqn"]: q for q in facts["queues"]}
        self.cards: dict[int, Mapping] = {c["id"]: c for c in facts["cards"]}
        self.mdevs: dict[str, Mapping] = {m["uuid"]: m for m in vfio["mdevs"]}
        self.definitions: dict[str, Mapping] = {d["uuid"].lower(): d for d in vfio["definitions"]}
        self.claims = mdev_claims(vfio["mdevs"], vfio["definitions"])
        self.control_domains: set[int] = set(facts["bus"].get("host_control_domains") or [])
        self.guard: Mapping = vfio.get("migration_guard") or {}
        self.mkvps = normalize_mkvps_override(mkvps, what) if mkvps else {}
        self.identity = identity_of(facts.get("host"))
        self.gaps: list[dict[str, Any]] = host_gaps(facts)  # what the facts could not see (_audit_gaps)
        self._full: dict[str, Mapping] = {}

    @property
    def label(self) -> str:
        """Return the host name, or a neutral word when none was given."""
        return self.name or "the host"

    def queue(self, apqn: str) -> Mapping | None:
        """Return the checked queue facts of ``apqn`` in their full form (every key), or None when the host has no such queue."""
        full = self._full.get(apqn)
        if full is None:
            queue = self.queues.get(apqn)
            if queue is None:
                return None
            check_queue(queue, self.what)
            full = self._full[apqn] = expand_queue(queue, self.cards.get(parse_apqn(apqn)[0]))
        return full

    def existing_queue(self, apqn: str) -> Mapping:
        """Return the checked queue facts of an APQN the host has (KeyError otherwise)."""
        queue = self.queue(apqn)
        if queue is None:
            raise KeyError(apqn)
        return queue


def part(facts: Mapping, key: str) -> Mapping:
    """Return ``facts[key]`` when it is a mapping, else an empty one."""
    value = facts.get(key)
    return value if isinstance(value, Mapping) else {}


def identity_of(host: Any) -> tuple | None:
    """Return what identifies the machine behind a host's facts, or None when the facts do not say.

    The LPAR (CPC type and sequence code plus LPAR number, from /proc/sysinfo) when known: two
    inventory names reaching one LPAR share it, while LPARs installed from one image may share a
    machine-id. Otherwise the machine-id.
    """
    if not isinstance(host, Mapping):
        return None
    cpc, lpar = part(host, "cpc"), part(host, "lpar")
    sequence, number = cpc.get("sequence_code"), lpar.get("number")
    if sequence is not None and number is not None:
        return ("lpar", str(cpc.get("type") or ""), str(sequence).lower(), str(number).lower())
    machine_id = host.get("machine_id")
    if isinstance(machine_id, str) and machine_id.strip():
        return ("machine-id", machine_id.strip().lower())
    return None


def mdev_claims(mdevs: list, definitions: list) -> dict[str, dict[str, str]]:
    """Return, per APQN, the mdev UUIDs holding it: {apqn: {uuid: "active mdev"|"auto-start definition"}}.

    Active mdevs hold their assigned APQNs now; inactive definitions with ``start: auto`` will
    claim theirs at the next boot or mdevctl start.
    """
    claims: dict[str, dict[str, str]] = {}
    for mdev in mdevs:
        for apqn in mdev.get("apqns") or []:
            claims.setdefault(apqn, {})[mdev["uuid"]] = "active mdev"
    for definition in definitions:
        if definition.get("active") or definition.get("start") != "auto":
            continue
        for adapter in definition.get("adapters") or []:
            for domain in definition.get("domains") or []:
                claims.setdefault(format_apqn(adapter, domain), {}).setdefault(definition["uuid"].lower(), "auto-start definition")
    return claims


# --------------------------------------------------------------------------- per queue


def queue_capabilities(host: HostFacts, queue: Mapping) -> dict[str, Any] | None:
    """Return a queue's hardware capabilities (facts, else decoded from its ap_functions); None if unknown.

    ``hwtype`` is the raw AP type (the kernel compares TAPQ's AT field), taken from the card when
    the queue's capabilities do not carry it.
    """
    caps = queue.get("capabilities")
    card = host.cards.get(queue.get("adapter", -1))
    card_type = card_ap_type(card)
    if not caps:
        text = queue.get("functions") or (card or {}).get("functions")
        if not text:
            return None
        try:
            word = int(str(text), 16)
        except ValueError:
            raise ValueError(
                f"{host.what}: card {queue.get('adapter')}: functions: expected the ap_functions text ('0x...'), got {text!r}"
            ) from None
        return capabilities(word, card_type)
    if caps.get("hwtype") is None and card_type is not None:
        return dict(caps, hwtype=card_type)
    return dict(caps)


def caps_key(caps: Mapping | None) -> tuple | None:
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


def caps_of_key(key: tuple) -> dict[str, Any]:
    """Return the capabilities dict a caps_key() stands for."""
    return dict(zip(CAPS_NAMES, key, strict=True))


def queue_binding_problem(queue: Mapping) -> str | None:
    """Return why an existing queue is not available to vfio_ap, or None when it is bound to vfio_ap."""
    driver = queue.get("driver")
    if driver == "vfio_ap":
        return None
    if driver is None:
        return "queue is not bound to any driver"
    return f"queue is bound to {driver} (apmask/aqmask or driver_override give it to the host)"


def queue_unusable_problem(host: HostFacts, queue: Mapping) -> str | None:
    """Return why a queue cannot serve a guest (deconfigured, check-stopped, card offline), or None."""
    problems = []
    if queue.get("config") is False:
        problems.append("queue is not configured")
    if queue.get("chkstop"):
        problems.append("queue is check-stopped")
    card = host.cards.get(queue.get("adapter", -1)) or {}
    if card.get("config") is False:
        problems.append(f"card {queue['adapter']:02x} is not configured")
    if card.get("chkstop"):
        problems.append(f"card {queue['adapter']:02x} is check-stopped")
    if card.get("online") is False:
        problems.append(f"card {queue['adapter']:02x} is offline")
    return "; ".join(problems) or None


def normalize_mkvps_override(value: Any, what: str) -> dict[str, Any]:
    """Return {apqn: {slot: pattern}} from a user's known master-key verification patterns; ValueError otherwise."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} mkvps: expected {{apqn: {{slot: pattern}}}}, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for apqn, slots in value.items():
        adapter, domain = parse_apqn(str(apqn))
        if not isinstance(slots, Mapping):
            raise ValueError(f"{what} mkvps[{apqn}]: expected {{slot: pattern}}")
        out[format_apqn(adapter, domain)] = slots
    return out


def current_mkvps(host: HostFacts, queue: Mapping) -> tuple[tuple[str, str], ...] | None:
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


def mkvp_difference(source: tuple, destination: tuple) -> str | None:
    """Return which current master keys differ between two known pattern sets, or None when they agree."""
    dst = dict(destination)
    differ = [slot for slot, pattern in source if slot in dst and dst[slot] != pattern]
    if not differ:
        return None
    return "current master key verification patterns differ: " + ", ".join(sorted(differ))


def has_master_keys(caps: Mapping | None) -> bool:
    """Return True for coprocessor queues (CCA, EP11), the ones that hold master keys."""
    return caps is not None and caps.get("mode") in ("cca", "ep11")


# --------------------------------------------------------------------------- per mdev


def guest_queues(mdev: Mapping) -> list[str]:
    """Return the APQNs the guest really has (guest_apqns; the assignment when unknown), sorted."""
    apqns = mdev.get("guest_apqns")
    if apqns is None:
        apqns = mdev.get("apqns") or []
    return sorted(apqns)


def definition_drift(mdev: Mapping, definition: Mapping | None) -> str | None:
    """Return how an active mdev differs from its mdevctl definition, or None (also when it has none)."""
    if not definition:
        return None
    parts = []
    for key, label in (("adapters", "adapters"), ("domains", "domains"), ("control_domains", "control domains")):
        active, defined = sorted(mdev.get(key) or []), sorted(definition.get(key) or [])
        if active != defined:
            parts.append(f"{label} {compress_ids(active) or 'none'} active, {compress_ids(defined) or 'none'} defined")
    return "; ".join(parts) or None


def guard_entry(host: HostFacts, uuid: str) -> Mapping | None:
    """Return the host's migration-guard entry for an mdev, or None."""
    entry = host.guard.get(uuid) if isinstance(host.guard, Mapping) else None
    return entry if isinstance(entry, Mapping) else None


def full_queues(facts: Any, apqns: Any = None) -> list[dict[str, Any]]:
    """Return the full records of a host's queues (all, sorted, or those of ``apqns`` it has, in that order).

    ValueError naming the key for facts that are not AP facts or an APQN that is not one.
    """
    host = HostFacts(facts, what="facts")
    if apqns is None:
        wanted = sorted(host.queues)
    elif isinstance(apqns, (list, tuple)):
        wanted = []
        for item in apqns:
            try:
                adapter, domain = parse_apqn(str(item))
            except ValueError as exc:
                raise ValueError(f"apqns: {exc}") from None
            wanted.append(format_apqn(adapter, domain))
    else:
        raise ValueError(f"apqns: expected a list of APQNs ('05.0004'), got {type(apqns).__name__}")
    return [dict(full) for full in map(host.queue, wanted) if full is not None]
