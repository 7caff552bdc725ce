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

import operator
from collections.abc import Mapping
from itertools import compress
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import MODE_CCA, MODE_EP11, MODE_MASK, functions_of_capabilities
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import compress_ids, format_apqn, parse_apqn
from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import card_ap_type, expand_queue
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import host_gaps
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._facts_schema import plain_queue, require_facts, require_queue
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import LEVEL_VARIABLE
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._hw_compat import CACHED_MASK, TAPQ_MASK, Word

# The migration levels a host can have: none (no series), attribute (series v1/v2: validation), kernel
# (series v3+: restore), and "series": the series is there but the facts cannot tell which interface
# (a host without any mdev shows no per-mdev migratable file), so both rule sets apply.
LEVELS = ("none", "attribute", "kernel", "series")
_APQN_OF = operator.itemgetter("apqn")
_PLAIN_KEYS = frozenset(("apqn", "driver", "vfio_status"))  # a plain record (``plain_queue``) has no other key


class QueueTraits:
    """What the readiness rules read of one queue, computed once from its full record (``queue_traits``).

    Equal traits are one object (``queue_traits`` keeps them), so that they are compared and hashed by
    identity: the destination index groups a fleet's queues by them.
    """

    __slots__ = ("unbound", "unusable", "tapq", "cached", "tapq_key", "cached_key", "master_keys", "mkvps")

    def __init__(self, values: tuple) -> None:
        self.unbound: bool  # not bound to vfio_ap (queue_binding_problem)
        self.unusable: bool  # deconfigured, check-stopped or its card offline (queue_unusable_problem)
        self.tapq: Word  # tapq_word
        self.cached: Word  # cached_word
        self.tapq_key: tuple[int | None, int | None]  # tapq_key
        self.cached_key: tuple[int | None, int | None]  # cached_key
        self.master_keys: bool  # has_master_keys
        self.mkvps: tuple[tuple[str, str], ...] | None  # current_mkvps
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return "QueueTraits(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__) + ")"


_TRAITS: dict[tuple, QueueTraits] = {}  # every distinct QueueTraits, by value (bounded: see queue_traits)
_TRAITS_MAX = 1 << 16
# the traits of plain queue records by (driver, card facts): a fleet has few kinds of cards (bounded as _TRAITS)
_PLAIN_TRAITS: dict[tuple, QueueTraits] = {}


def _frozen(value: Any) -> Any:
    """Return a hashable copy of JSON-like data (dicts as sorted item tuples, lists as tuples)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _card_key(card: Any) -> Any:
    """Return a hashable key of a card's facts: equal for equal facts (``_frozen``; flat ones, the common case, quicker)."""
    if isinstance(card, dict):
        try:
            key = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v) for k, v in card.items()))
            hash(key)
            return key
        except TypeError:  # keys that do not sort, or values that do not hash: the general form
            pass
    return _frozen(card)


class HostFacts:
    """The facts of one host, checked (``_facts_schema``) and indexed by APQN, UUID and ID."""

    __slots__ = (
        "name",
        "facts",
        "what",
        "level",
        "loaded",
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
        "_queues",
        "_some",
        "_selected",
        "_plain",
    )

    def __init__(self, facts: Any, name: str | None = None, what: str = "facts", mkvps: Any = None, level: Any = None) -> None:
        facts = require_facts(facts, what)
        vfio = facts["driver"]
        self.name = name
        self.facts = facts
        self.what = what
        self.loaded: bool = vfio["loaded"]
        self.level: str = migration_level(vfio, level, f"{what} {LEVEL_VARIABLE}")
        self._queues: dict[str, Mapping] | None = None  # every queue by APQN (``queues``), built when first needed
        self._some: dict[str, Mapping] = {}  # the records of the APQNs looked up by ``select``
        self._selected: frozenset[str] | set[str] = frozenset()
        self._plain: dict[tuple[str, Any], QueueTraits] = {}  # traits of plain records per (adapter, driver)
        self.cards: dict[int, Mapping] = {c["id"]: c for c in facts["cards"]}
        self.mdevs: dict[str, Mapping] = {m["uuid"]: m for m in vfio["mdevs"]}
        self.definitions: dict[str, Mapping] = {d["uuid"].lower(): d for d in vfio["definitions"]}
        self.claims = mdev_claims(vfio["mdevs"], vfio["definitions"])
        domains = facts["bus"].get("host_control_domains")
        # None: the LPAR's control-domain mask is not known; an empty set: the LPAR has none
        self.control_domains: set[int] | None = set(domains) if domains is not None else None
        self.guard: Mapping = vfio.get("migration_guard") or {}
        self.mkvps = normalize_mkvps_override(mkvps, what) if mkvps else {}
        self.identity = identity_of(facts.get("host"))
        self.gaps: list[dict[str, Any]] = host_gaps(facts)  # what the facts could not see (_audit_gaps)
        self._full: dict[str, Mapping] = {}

    @property
    def label(self) -> str:
        """Return the host name, or a neutral word when none was given."""
        return self.name or "the host"

    @property
    def queues(self) -> dict[str, Mapping]:
        """Return every queue record of the facts by APQN (compact or full, as the facts hold them)."""
        if self._queues is None:
            queues = self.facts["queues"]
            self._queues = dict(zip(map(_APQN_OF, queues), queues, strict=True))
        return self._queues

    def select(self, apqns: set[str]) -> list[str]:
        """Look up the records of ``apqns`` in one pass over the facts; return those the host has.

        The plan needs a few of a large LPAR's queues: this finds them without indexing every queue
        (``queues``). Later lookups of these APQNs (``record``, ``queue``, ``traits``) use what it found.
        """
        if apqns is not self._selected:
            if self._queues is not None:
                found = [self._queues[a] for a in apqns if a in self._queues]
            else:
                queues = self.facts["queues"]
                found = list(compress(queues, map(apqns.__contains__, map(_APQN_OF, queues))))
            self._some = {q["apqn"]: q for q in found}  # the last record of an APQN, as ``queues`` keeps it
            self._selected = apqns
        return list(self._some)

    def record(self, apqn: str) -> Mapping | None:
        """Return the facts' record of ``apqn`` as they hold it (not checked, compact or full), or None."""
        if apqn in self._selected:
            return self._some.get(apqn)
        return self.queues.get(apqn)

    def queue(self, apqn: str) -> Mapping | None:
        """Return the checked queue facts of ``apqn`` in their full form (every key), or None when the host has no such queue."""
        full = self._full.get(apqn)
        if full is None:
            queue = self.record(apqn)
            if queue is None:
                return None
            full = self._full[apqn] = self._expanded(apqn, queue)
        return full

    def _expanded(self, apqn: str, queue: Mapping) -> dict[str, Any]:
        require_queue(queue, self.what)
        return expand_queue(queue, self.cards.get(parse_apqn(apqn)[0]))

    def traits(self, apqn: str) -> QueueTraits | None:
        """Return what the rules read of the queue ``apqn`` (``queue_traits``), or None when the host has no such queue.

        A plain compact record (``plain_queue``) is its card's queue with a driver: its traits are
        computed once per adapter and driver.
        """
        queue = self.record(apqn)
        if queue is None:
            return None
        if not self.mkvps and plain_queue(queue):
            key = (apqn.partition(".")[0], queue.get("driver"))
            found = self._plain.get(key)
            if found is None:
                found = self._plain[key] = self._plain_traits(apqn, queue)
            return found
        full = self._full.get(apqn)
        return queue_traits(self, full if full is not None else self._expanded(apqn, queue))

    def _plain_traits(self, apqn: str, queue: Mapping) -> QueueTraits:
        """Return the traits of a plain record: its card's with its driver, the same on every host with such a card."""
        card = self.cards.get(parse_apqn(apqn)[0])
        key = (queue.get("driver"), _card_key(card))
        found = _PLAIN_TRAITS.get(key)
        if found is None:
            if len(_PLAIN_TRAITS) >= _TRAITS_MAX:
                _PLAIN_TRAITS.clear()
            found = _PLAIN_TRAITS[key] = queue_traits(self, self._expanded(apqn, queue))
        return found  # (a plain record is one require_queue accepts)

    def selected_traits(self, apqns: set[str]) -> list[tuple[str, QueueTraits]]:
        """Return [(APQN, traits)] of the queues of ``apqns`` the host has (``select``, then ``traits`` of each)."""
        self.select(apqns)
        out = []
        plain = self._plain
        for apqn, queue in self._some.items():
            # the common case of traits(): a plain record (its APQN is one of apqns, the guests' checked ones)
            driver = queue.get("driver")
            if self.mkvps or not queue.keys() <= _PLAIN_KEYS or not (driver is None or isinstance(driver, str)):
                found = self.traits(apqn)
            else:
                found = plain.get((apqn.partition(".")[0], driver))
                if found is None:
                    found = self.traits(apqn)
            out.append((apqn, found))
        return out  # type: ignore[return-value]

    def existing_queue(self, apqn: str) -> Mapping:
        """Return the checked queue facts of an APQN the host has (KeyError otherwise)."""
        queue = self.queue(apqn)
        if queue is None:
            raise KeyError(apqn)
        return queue


def migration_level(vfio: Mapping, override: Any, what: str) -> str:
    """Return the migration level the rules use for a host (LEVELS) from its facts and an inventory override.

    The facts decide where they can: ``none`` (no ``migratable`` feature token) and ``attribute``
    (an mdev has the series v1 ``migratable`` file) stand. ``kernel`` means the token without such a
    file, which a series v1 host without any mdev (and any series v2 host) also shows: there the
    override (``attribute`` or ``kernel``) decides, and without one a host with no mdev is
    ``series`` (either). ValueError naming ``what`` for an override that is not a level.
    """
    if override is not None and override not in ("attribute", "kernel"):
        raise ValueError(f"{what}: expected attribute (series v1/v2) or kernel (series v3 and later), got {override!r}")
    reported = vfio["migration"]
    if reported != "kernel":
        return reported
    if override is not None:
        return str(override)
    return "kernel" if vfio.get("mdevs") else "series"


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


def tapq_word(host: HostFacts, queue: Mapping) -> Word:
    """Return the queue's hardware as a fresh TAPQ gives it (the restore design): its own word and AP type.

    A compact queue record without its own ``functions`` has its card's word (the facts found them
    equal); ``functions: null`` (the read failed) gives ``fac`` None. Facts without the word text
    fall back to the ``capabilities`` dict. The AP type is the card's raw type (TAPQ's AT field).
    """
    return Word(_word(host, queue.get("functions"), queue.get("capabilities")), _ap_type(host, queue))


def cached_word(host: HostFacts, queue: Mapping) -> Word:
    """Return the hardware word the series v1/v2 compare for a queue: its card's word as cached at probe."""
    card = host.cards.get(queue.get("adapter", -1)) or {}
    fac = _word(host, card.get("functions"), card.get("capabilities"))
    return Word(fac & CACHED_MASK if fac is not None else None, _ap_type(host, queue))


def _word(host: HostFacts, text: Any, caps: Any) -> int | None:
    """Return a facility word from its ap_functions text, else from a capabilities dict; None when neither is known."""
    if text is None:
        return functions_of_capabilities(dict(caps)) if isinstance(caps, Mapping) and caps else None
    try:
        return int(str(text), 16) & 0xFFFFFFFF
    except ValueError:
        raise ValueError(f"{host.what}: functions: expected the ap_functions text ('0x...'), got {text!r}") from None


def _ap_type(host: HostFacts, queue: Mapping) -> int | None:
    card_type = card_ap_type(host.cards.get(queue.get("adapter", -1)))
    if card_type is not None:
        return card_type
    caps = queue.get("capabilities")
    return caps.get("hwtype") if isinstance(caps, Mapping) else None


def word_key(word: Word, mask: int) -> tuple[int | None, int | None]:
    """Return the hashable class of a word: the bits a design compares (mask) and the AP type."""
    return (word.fac & mask if word.fac is not None else None, word.at)


def tapq_key(host: HostFacts, queue: Mapping) -> tuple[int | None, int | None]:
    """Return the class of a queue's TAPQ word (word_key with TAPQ_MASK)."""
    return word_key(tapq_word(host, queue), TAPQ_MASK)


def cached_key(host: HostFacts, queue: Mapping) -> tuple[int | None, int | None]:
    """Return the class of a queue's card-cached word (word_key with CACHED_MASK)."""
    return word_key(cached_word(host, queue), CACHED_MASK)


def queue_traits(host: HostFacts, queue: Mapping) -> QueueTraits:
    """Return what the readiness rules read of a queue (its checked full record on ``host``): one object per value."""
    tapq, cached = tapq_word(host, queue), cached_word(host, queue)
    values = (
        queue_binding_problem(queue) is not None,
        queue_unusable_problem(host, queue) is not None,
        tapq,
        cached,
        word_key(tapq, TAPQ_MASK),
        word_key(cached, CACHED_MASK),
        has_master_keys(host, queue),
        current_mkvps(host, queue),
    )
    found = _TRAITS.get(values)
    if found is None:
        if len(_TRAITS) >= _TRAITS_MAX:  # hostile facts with ever new master-key patterns: start afresh
            _TRAITS.clear()
        found = _TRAITS[values] = QueueTraits(values)
    return found


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


def has_master_keys(host: HostFacts, queue: Mapping) -> bool:
    """Return True for coprocessor queues (CCA, EP11), the ones that hold master keys.

    Decided by the card's word, else the queue's, else the card type.
    """
    for word in (cached_word(host, queue), tapq_word(host, queue)):
        if word.fac is not None and word.fac & MODE_MASK:
            return bool(word.fac & (MODE_CCA | MODE_EP11))
    card = host.cards.get(queue.get("adapter", -1)) or {}
    return card.get("mode") in ("cca", "ep11")


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
        if mdev.get(key) is None or definition.get(key) is None:
            continue  # not known on one side: no claim either way
        if mdev[key] == definition[key]:
            continue
        active, defined = sorted(mdev[key]), sorted(definition[key])
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
