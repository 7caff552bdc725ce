# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The fleet migration plan (plan schema 2): where every vfio-ap guest can go, bounded in size.

Per guest the plan lists up to ``limit`` ready destinations and up to ``limit`` destinations that
are ready after preparation (with the actions that prepare them), each with the full count, and
summarises the blocked destinations as a count per reason code plus the ``nearest`` few (fewest
blockers first, then fewest the destination role cannot fix) with their reasons. The size of a
plan therefore grows with the number of guests, not with guests × hosts; ``detail`` lifts the
bounds for named guests or source hosts and adds the full migration_check result per destination.

Every verdict comes from one ``_readiness.evaluate`` per guest over all destinations, or from the
evaluation the guest shares with the guests the rules cannot tell apart (``_readiness.shared_evaluation``:
the same verdicts, counts and findings, computed once per kind of guest; ``_Planner.shared_class``).
Entries share equal parts (lists, counts, findings): the plan is data to read, never to change in place.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._advice import nearest_text
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness as R
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import gap_text, gaps_text
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import host_name_problem, migrate_command, uri_address
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import facts_of, level_of, select_hosts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import (
    require_bool,
    require_count,
    require_host_names,
    require_mapping,
    require_rules,
)
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import BLOCKER_CODES, FIXABLE_CODES, ORDER, WARNING_CODES

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised when the controller lacks netaddr
    netaddr = None

try:
    import jmespath
except ImportError:  # pragma: no cover
    jmespath = None

SCHEMA = 2
DEFAULT_LIMIT = 10
DEFAULT_NEAREST = 5
_WINDOW = 32  # destinations compared when suggesting one
_WINDOW_BITS = 512  # positions() looks at this many low bits before it reads the whole set
_WINDOW_MASK = (1 << _WINDOW_BITS) - 1
_FAR_CODES = ("apqn_not_installed", "no_migration_support")


class MissingLibrary(Exception):
    """A controller library the requested feature needs (netaddr, jmespath) is not installed."""

    def __init__(self, library: str, purpose: str) -> None:
        super().__init__(library)
        self.library = library
        self.purpose = purpose


# --------------------------------------------------------------------------- inputs


def _host_list(value: Any, known: list[str], what: str) -> list[str]:
    """Return the sorted host names of ``value`` (all of ``known`` when None); ValueError for one not known."""
    if value is None:
        return list(known)
    value = require_host_names(value, what)
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"{what}: {', '.join(unknown)} not in facts_by_host")
    return sorted(set(value))


def _detail_selector(value: Any) -> bool | frozenset[str]:
    """Return True (every guest), False (none) or the names (guests, UUIDs, source hosts) given to ``detail``."""
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"detail: expected true/false or a list of guest names, UUIDs or source hosts, got {value!r}")
        return frozenset(v.strip().lower() if len(v) == 36 else v for v in value)
    return require_bool(value, "detail")


# --------------------------------------------------------------------------- bitsets


def positions(bits: int, n: int, start: int = 0) -> list[int]:
    """Return up to ``n`` set-bit positions of ``bits``, ascending from ``start`` and wrapping around."""
    out: list[int] = []
    if n <= 0 or not bits:
        return out
    for offset, part in ((start, bits >> start), (0, bits & ((1 << start) - 1) if start else 0)):
        if part and len(out) < n:
            # a window of the low bits first: a dense set has its first n there, whatever its length
            window = part & _WINDOW_MASK
            _collect(window, offset, n, out)
            if len(out) < n and part >> _WINDOW_BITS:
                _collect(part >> _WINDOW_BITS, offset + _WINDOW_BITS, n, out)
    return out


def _collect(part: int, offset: int, n: int, out: list[int]) -> None:
    """Append the positions (plus ``offset``) of the lowest set bits of ``part`` to ``out`` until it holds n."""
    text = bin(part)
    last = len(text) - 1
    at = len(text)
    while len(out) < n:
        at = text.rfind("1", 2, at)
        if at < 0:
            return
        out.append(offset + last - at)


def _bit_slices(bitsets: list[int]) -> list[int]:
    """Return the per-position counts of set bits over ``bitsets`` as binary slices (slice k = bit k of the count)."""
    slices: list[int] = []
    for bits in bitsets:
        carry = bits
        for k, current in enumerate(slices):
            if not carry:
                break
            slices[k], carry = current ^ carry, current & carry
        if carry:
            slices.append(carry)
    return slices


def _exactly(slices: list[int], n: int, universe: int) -> int:
    """Return the positions of ``universe`` whose count (bit slices) is exactly ``n``."""
    if n >> len(slices):
        return 0
    out = universe
    for k, current in enumerate(slices):
        out &= current if n >> k & 1 else ~current
    return out


def nearest_positions(ev: R.Evaluation, blocked: int, n: int) -> list[int]:
    """Return up to n blocked destinations with the fewest blocker codes, then the fewest unfixable ones."""
    if not n or not blocked:
        return []
    codes = list(ev.blockers.values())
    unfixable = [bits for code, bits in ev.blockers.items() if code not in FIXABLE_CODES]
    total_slices, hard_slices = _bit_slices(codes), _bit_slices(unfixable)
    out: list[int] = []
    for total in range(1, len(codes) + 1):
        with_total = _exactly(total_slices, total, blocked)
        for hard in range(1, total + 1):
            if not with_total:
                break
            chosen = _exactly(hard_slices, hard, with_total)
            if chosen:
                with_total &= ~chosen
                out += positions(chosen, n - len(out))
                if len(out) >= n:
                    return out
    return out


# --------------------------------------------------------------------------- the plan


def build_plan(
    facts_by_host: Any,
    sources: Any = None,
    destinations: Any = None,
    rules: str = "auto",
    migration_network: Any = None,
    mkvps: Any = None,
    migration_addresses: Any = None,
    detail: Any = False,
    limit: Any = None,
    nearest: Any = None,
    hosts: Any = None,
    migration_levels: Any = None,
) -> dict[str, Any]:
    """Return the migration plan of docs/plan-schema.md for the fleet; ValueError naming a bad argument.

    ``facts_by_host`` is ``{host: facts}`` (facts: ``ansible_facts.vfio_ap`` or the host's
    hostvars, which may also hold ``vfio_ap_migration_address`` and ``vfio_ap_migration_level``).
    ``hosts`` restricts it to the named hosts, each of which must be there with AP facts
    (``hostvars`` plus a host list); ``sources`` and ``destinations`` then default to them.
    ``migration_levels`` (``{host: level}``) overrides the hosts' ``vfio_ap_migration_level``.

    The cyclic garbage collector is paused while the plan is built: the plan allocates many
    acyclic objects on large fleets, and collections over that growing heap would make it superlinear.
    """
    if hosts is not None:
        facts_by_host = select_hosts(facts_by_host, hosts)
    paused = gc.isenabled()
    gc.disable()
    try:
        return _Planner(
            facts_by_host, sources, destinations, rules, migration_network, mkvps, migration_addresses, detail, limit, nearest,
            migration_levels,
        ).plan()  # fmt: skip
    finally:
        if paused:
            gc.enable()


class _Planner:
    def __init__(
        self,
        facts_by_host: Any,
        sources: Any,
        destinations: Any,
        rules: Any,
        migration_network: Any,
        mkvps: Any,
        migration_addresses: Any,
        detail: Any,
        limit: Any,
        nearest: Any,
        migration_levels: Any = None,
    ) -> None:
        if not isinstance(facts_by_host, Mapping) or not facts_by_host:
            raise ValueError("facts_by_host: expected a non-empty mapping {host: facts}")
        require_rules(rules)
        if mkvps is not None and not isinstance(mkvps, Mapping):
            raise ValueError(f"mkvps: expected {{host: {{apqn: {{slot: pattern}}}}}}, got {type(mkvps).__name__}")
        if migration_addresses is not None and not isinstance(migration_addresses, Mapping):
            raise ValueError(f"migration_addresses: expected {{host: address}}, got {type(migration_addresses).__name__}")
        self.rules = rules
        self.limit = require_count(limit, "limit", 1, DEFAULT_LIMIT)
        self.nearest = require_count(nearest, "nearest", 0, DEFAULT_NEAREST)
        self.detail = _detail_selector(detail)
        names = sorted(str(name) for name in facts_by_host)
        self.source_names = _host_list(sources, names, "sources")
        self.destination_names = _host_list(destinations, names, "destinations")
        self.hosts: dict[str, H.HostFacts] = {}
        self.addresses: dict[str, Any] = {}
        mkvps = mkvps or {}
        levels = require_mapping(migration_levels, "migration_levels", "{host: attribute|kernel}")
        for name in sorted(set(self.source_names) | set(self.destination_names)):
            facts, address = facts_of(facts_by_host[name], name)
            level = levels.get(name, level_of(facts_by_host[name], facts))
            self.hosts[name] = H.HostFacts(facts, name, f"facts_by_host[{name!r}]", mkvps.get(name), level)
            self.addresses[name] = (migration_addresses or {}).get(name, address)
        self.network = None
        if migration_network is not None:
            if netaddr is None:
                raise MissingLibrary("netaddr", "migration_network")
            try:
                self.network = netaddr.IPNetwork(str(migration_network))
            except (netaddr.AddrFormatError, ValueError, TypeError):
                raise ValueError(f"migration_network: {migration_network!r} is not a CIDR network") from None
        needed = {apqn for name in self.source_names for mdev in self.hosts[name].mdevs.values() for apqn in H.guest_queues(mdev)}
        self.index = R.DestinationIndex([self.hosts[n] for n in self.destination_names], needed)
        self.load: list[int] = [0] * len(self.index.names)  # guests suggested per destination
        self.interned: dict[tuple, Any] = {}  # equal parts of the entries, kept once (intern)
        self.placed = 0  # guests given a suggestion so far (rotates the suggestion window)
        self.stranding: dict[str, dict[str, int]] = {}
        self.classes: dict[tuple, _SharedClass] = {}  # guests alike for the rules (shared_class)
        self.kinds: Counter[tuple] = Counter()  # guests per source level and queues (plan)
        self.no_findings: list[dict[str, Any]] = []  # the one empty list of findings the entries share
        self.no_hosts: list[str] = []  # the one empty list of other source hosts (also_on) the entries share

    def plan(self) -> dict[str, Any]:
        planned = self.sources()
        # guests of one source level and the same queues are usually of one kind (shared_class): counted first
        self.kinds = Counter(_kind(source, H.guest_queues(mdev)) for source, mdev, _others in planned)
        guests = [self.guest(source, mdev, others) for source, mdev, others in planned]
        return {
            "schema": SCHEMA,
            "rules": self.rules,
            "limit": self.limit,
            "nearest": self.nearest,
            "sources": self.source_names,
            "destinations": self.destination_names,
            "migration_network": str(self.network) if self.network is not None else None,
            "machines": {name: machine_label(self.hosts[name].facts.get("host")) for name in sorted(self.hosts)},
            "facts_gaps": {name: self.hosts[name].gaps for name in sorted(self.hosts) if self.hosts[name].gaps},
            "guests": guests,
            "summary": summarize(
                guests,
                self.source_names,
                self.stranding,
                self.machines_of_sources(),
                {n: self.hosts[n].gaps for n in self.source_names},
                {n: (self.hosts[n].level, R.host_support_problem(self.hosts[n])) for n in self.source_names},
            ),
        }

    def machines_of_sources(self) -> dict[str, str | None]:
        return {name: machine_label(self.hosts[name].facts.get("host")) for name in self.source_names}

    def sources(self) -> list[tuple[H.HostFacts, Mapping, list[tuple[str, Mapping]]]]:
        """Return (source host, mdev, [(other source host, its mdev)]) once per UUID, by source host then UUID.

        A UUID on several source hosts is planned once, from the host where a guest uses it (the
        first such host by name; the others are reported with ``duplicate_uuid``).
        """
        by_uuid: dict[str, list[tuple[str, Mapping]]] = {}
        for name in self.source_names:
            for uuid, mdev in self.hosts[name].mdevs.items():
                by_uuid.setdefault(uuid, []).append((name, mdev))
        out = []
        for name in self.source_names:
            for uuid in sorted(self.hosts[name].mdevs):
                holders = by_uuid[uuid]
                attached = [h for h, m in holders if m.get("guest") or m.get("in_use")]
                owner = attached[0] if attached else holders[0][0]
                if owner != name:
                    continue
                others = [(h, m) for h, m in holders if h != name]
                out.append((self.hosts[name], self.hosts[name].mdevs[uuid], others))
        return out

    def wants_detail(self, source: H.HostFacts, mdev: Mapping) -> bool:
        if isinstance(self.detail, bool):
            return self.detail
        return bool({source.name, mdev["uuid"], mdev.get("guest")} & self.detail)

    def guest(self, source: H.HostFacts, mdev: Mapping, others: list[tuple[str, Mapping]]) -> dict[str, Any]:
        index = self.index
        candidates = index.all
        position = index.position.get(source.name)
        if position is not None:
            candidates &= ~(1 << position)
        attached_elsewhere = [h for h, m in others if m.get("guest") or m.get("in_use")]
        duplicate = None
        if attached_elsewhere and (mdev.get("guest") or mdev.get("in_use")):
            duplicate = f"mdev {mdev['uuid']} is also attached to a guest on {', '.join(attached_elsewhere)}: planned from {source.name}"
        full = self.wants_detail(source, mdev)
        shared = None if full else self.shared_class(source, mdev, position, candidates, duplicate)
        if shared is None:
            ev = R.evaluate(index, source, mdev, self.rules, candidates)
            if duplicate:
                ev.mark_source("duplicate_uuid", None, duplicate)
            ready, after, blocked = R.verdict_bits(ev)
            n_ready, n_after, n_blocked = ready.bit_count(), after.bit_count(), blocked.bit_count()
            signatures = None
            reasons, warnings = reason_counts(ev, blocked), warning_counts(ev, ready | after)
            nearest = [
                {"host": index.names[i], "blockers": ev.apqns_by_code(i)}
                for i in nearest_positions(ev, blocked, n_blocked if full else self.nearest)
            ]
        else:
            found, ev = shared
            at = found.verdict_at(position)  # the shared verdicts but the source's own
            n_ready, n_after, n_blocked = found.counts_for(at)
            reasons, warnings, nearest = found.reasons_for(at, position), found.warnings_for(at, position), found.nearest_for(position)
            signatures = found.signatures() if n_after else None
        cap = len(index.names) if full else self.limit
        verdict = "ready" if n_ready else "ready_after" if n_after else "blocked"
        start = self.placed % len(index.names) if index.names else 0
        if shared is None:
            ready_pos = positions(ready, max(cap, _WINDOW), start)
            after_pos = positions(after, max(cap, _WINDOW), start) if n_after else []
        else:
            ready_pos = found.positions("ready", max(cap, _WINDOW), start, position)
            after_pos = found.positions("after", max(cap, _WINDOW), start, position) if n_after else []
        suggested = self.suggest(ready_pos or after_pos)
        ready_pos, after_pos = sorted(ready_pos[:cap]), sorted(after_pos[:cap])
        listed: dict[int, Any] = {}  # the actions of the listed preparations (the suggestion's may be among them)
        entry: dict[str, Any] = {
            "uuid": mdev["uuid"],
            "guest": mdev.get("guest"),
            # idle only when complete facts show that no guest uses it: no libvirt domain names it, its queues are not in use
            "idle": not (mdev.get("guest") or mdev.get("in_use") is not False or source.gaps),
            "source": source.name,
            "also_on": [h for h, _m in others] if others else self.no_hosts,
            "apqns": self.intern("apqns", ev.wanted),
            "control_domains": self.intern("domains", R.guest_control_domains(source, mdev)),
            "verdict": verdict,
            "ready": self.ready_part(n_ready, ready_pos),
            "ready_after": {
                "count": n_after,
                "preparations": self.preparations(ev, after_pos, listed, signatures),
            },
            "blocked": self.blocked_part(n_blocked, reasons, nearest),
            "warnings": warnings,
            "source_blockers": self.intern_findings(ev.source_blockers),
            "source_warnings": self.intern_findings(ev.source_warnings),
            "suggested": index.names[suggested] if suggested is not None else None,
            "actions": (listed.get(suggested) or ev.actions(suggested)) if suggested is not None else [],
            "command": None,
            "command_error": None,
        }
        if self.network is not None:
            entry["command"], entry["command_error"] = self.command(entry)
        if full:
            entry["destinations"] = {index.names[i]: self.cell(ev, i, ready, after) for i in positions(candidates, len(index.names))}
        if n_blocked and mdev.get("guest") and not (n_ready or n_after):
            self.stranding[mdev["uuid"]] = stranding_codes(ev, blocked if shared is None else found.blocked & candidates)
        return entry

    def shared_class(
        self, source: H.HostFacts, mdev: Mapping, position: int | None, candidates: int, duplicate: str | None
    ) -> tuple[_SharedClass, R.Evaluation] | None:
        """Return (the evaluation shared by the guests alike to this one, this guest's view of it), or None.

        None when the guest must be evaluated on its own: no candidates, a destination other than its
        source that holds an mdev or a claim of its UUID or shares its machine (the shared evaluation
        does not hold there), or the only guest of its source level and queues (``kinds``: sharing pays from the
        second guest of a kind on).
        The view has the guest's own source-side findings, mdev and candidates and the shared tables.
        """
        index = self.index
        uuid = mdev["uuid"]
        mine = 1 << position if position is not None else 0
        if not candidates or any(i != position for i in index.mdevs.get(uuid, ())):
            return None
        if source.identity is not None and index.identities.get(source.identity, 0) not in (0, mine):  # another host is it
            return None
        ev = R.Evaluation(index, source, mdev, self.rules, 0)
        if self.kinds[_kind(source, ev.wanted)] < 2:
            return None  # the only guest of its kind: an evaluation of its own costs less than a shared one
        for apqn in ev.wanted:
            if any(i != position for i in index.claims.get(apqn, {}).get(uuid, ())):
                return None
        R.source_rules(ev)  # the guest's own source-side findings (candidates 0: nothing else)
        if duplicate:
            ev.mark_source("duplicate_uuid", None, duplicate)
        domains, why = R.checked_control_domains(source, mdev)
        codes = sorted({f["code"] for f in ev.source_blockers} | {f["code"] for f in ev.source_warnings})
        key = (
            source.level,
            tuple(ev.wanted),
            ev.source_traits,
            None if domains is None else tuple(domains),
            why,
            tuple(codes),
        )
        found = self.classes.get(key)
        if found is None:
            found = self.classes[key] = _SharedClass(R.shared_evaluation(index, source, mdev, self.rules, codes), self.nearest)
        ev.candidates = candidates
        ev.blockers, ev.warnings, ev.marks, ev.memo = found.ev.blockers, found.ev.warnings, found.ev.marks, found.memo
        return found, ev

    def intern(self, kind: str, value: list | None) -> list | None:
        """Return ``value`` (a list of names or numbers, or None), or an equal list an earlier entry holds (entries
        share their equal parts; never changed)."""
        if value is None:
            return None
        key = (kind, *value)
        found = self.interned.get(key)
        if found is None:
            found = self.interned[key] = value
        return found

    def ready_part(self, count: int, chosen: list[int]) -> dict[str, Any]:
        """Return the entry's ``ready`` part {count, hosts} of the listed destinations, kept once for equal ones."""
        key = ("ready", count, *chosen)
        found = self.interned.get(key)
        if found is None:
            names = self.index.names
            found = self.interned[key] = {"count": count, "hosts": [names[i] for i in chosen]}
        return found

    def blocked_part(self, count: int, reasons: dict[str, int], nearest: list[dict[str, Any]]) -> dict[str, Any]:
        """Return the entry's ``blocked`` part {count, reasons, nearest}, kept once for the same count and parts
        (kept parts: by their identity, which the kept dict keeps theirs)."""
        key = ("blocked", count, id(reasons), id(nearest))
        found = self.interned.get(key)
        if found is None:
            found = self.interned[key] = {"count": count, "reasons": reasons, "nearest": nearest}
        return found

    def intern_findings(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return the findings sorted (``sort_findings``), each finding and the list kept once for equal ones."""
        if not findings:
            return self.no_findings
        if len(findings) == 1:
            f = findings[0]
            key = ("findings", f["code"], f["apqn"], f["detail"])
            found = self.interned.get(key)
            if found is None:
                found = self.interned[key] = [self.interned.setdefault(("finding", *key[1:]), f)]
            return found
        kept = R.sort_findings([self.interned.setdefault(("finding", f["code"], f["apqn"], f["detail"]), f) for f in findings])
        return self.interned.setdefault(("findings", *map(id, kept)), kept)  # the findings are kept: their ids stay theirs

    def suggest(self, pool: list[int]) -> int | None:
        """Return the least loaded destination of a window of the pool that rotates from guest to guest (spreads guests).

        ``pool`` lists positions from the rotating start on; the first of equally loaded ones wins.
        """
        if not pool:
            return None
        chosen = min(pool[:_WINDOW], key=self.load.__getitem__)
        self.load[chosen] += 1
        self.placed += 1
        return chosen

    def preparations(
        self,
        ev: R.Evaluation,
        chosen: list[int],
        listed: dict[int, Any] | None = None,
        signatures: Mapping[int, tuple[str, ...]] | None = None,
    ) -> list[dict[str, Any]]:
        """Return the listed ready-after destinations grouped by what prepares them: [{hosts, codes, actions}].

        Destinations with the same blocker and warning codes, the same unbound APQNs and no mdev of
        the UUID yet need the same actions: the chosen destinations are grouped by those (their
        signature) and the actions computed once per group; a destination that already has the mdev
        keeps a group of its own. ``listed`` receives {first destination of a group: its actions}.
        """
        key = tuple(chosen)
        memo = ev.memo["groups"] if ev.memo is not None else None
        skeleton = memo.get(key) if memo is not None else None
        if skeleton is None:
            skeleton = self.skeleton(ev, key, signatures)
            if memo is not None:
                memo[key] = skeleton
        out = []
        for hosts, codes, first in skeleton:
            actions = ev.actions(first)
            if listed is not None:
                listed[first] = actions
            out.append({"hosts": hosts, "codes": codes, "actions": actions})
        return out

    def skeleton(
        self, ev: R.Evaluation, chosen: tuple[int, ...], signatures: Mapping[int, tuple[str, ...]] | None = None
    ) -> list[tuple[list[str], list[str], int]]:
        """Return the groups of ``preparations`` without their actions: [(host names, blocker codes, first position)],
        ordered by first host name; ``chosen``: ascending positions; ``signatures``: theirs (``_signature``) when known."""
        if signatures is None:
            tables = signature_tables(ev)
            signatures = {i: _signature(tables, i) for i in chosen}
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in chosen:
            signature = signatures[i]
            group = groups.get(signature)
            if group is None:
                groups[signature] = [i]
            else:
                group.append(i)
        names = self.index.names
        out = []
        split = False  # a destination with the UUID's mdev is a group of its own: the order needs a sort then
        for signature, hosts in groups.items():
            codes = [c for c in signature if c in ev.blockers]
            if "mdev_missing" in signature:
                out.append(([names[i] for i in hosts], codes, hosts[0]))
            else:
                split = True
                out += [([names[i]], codes, i) for i in hosts]
        if split:
            out.sort(key=lambda group: group[0][0])
        return out

    def cell(self, ev: R.Evaluation, i: int, ready: int, after: int) -> dict[str, Any]:
        blockers, warnings = ev.findings(i)
        effective, _mixed = R.resolve_rules(self.rules, ev.source.level, self.index.hosts[i].level)
        bit = 1 << i
        return {
            "verdict": "ready" if ready & bit else "ready_after" if after & bit else "blocked",
            "rules": effective,
            "blockers": blockers,
            "warnings": warnings,
            "actions": ev.actions(i),
        }

    def command(self, entry: dict[str, Any]) -> tuple[str | None, str | None]:
        if not entry["guest"]:
            return None, "the mdev is not attached to a guest"
        if entry["suggested"] is None:
            closest = nearest_text(entry)
            return None, "no destination is ready or can be made ready" + (f" ({closest})" if closest else "")
        problem = host_name_problem(entry["suggested"])
        if problem:
            return None, problem
        _src, problem = uri_address(self.addresses.get(entry["source"]), entry["source"], self.network)
        if problem:
            return None, problem
        uri_host, problem = uri_address(self.addresses.get(entry["suggested"]), entry["suggested"], self.network)
        if problem:
            return None, problem
        try:
            return migrate_command(entry["guest"], entry["suggested"], uri_host), None
        except ValueError as exc:  # a guest name virsh cannot be given safely
            return None, str(exc)


def _kind(source: H.HostFacts, queues: list[str]) -> tuple[str, ...]:
    """Return what ``_Planner.kinds`` counts a guest by: its source's migration level and its queues."""
    return (source.level, *queues)


def signature_tables(ev: R.Evaluation) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Return what ``_signature`` reads of an evaluation: [(code, destinations)] of its blockers and warnings in
    the rule table's order, and [(APQN, destinations where it is not bound)] of the guest's APQNs."""
    codes = sorted([*ev.blockers.items(), *ev.warnings.items()], key=lambda item: ORDER[item[0]])
    unbound = ev.index.unbound
    return codes, [(apqn, unbound.get(apqn, 0)) for apqn in ev.wanted]


def signatures_over(tables: tuple[list[tuple[str, int]], list[tuple[str, int]]], bits: int) -> dict[int, tuple[str, ...]]:
    """Return {destination: its ``_signature``} for every destination of ``bits``.

    The destinations are split by each code's and each APQN's destinations into parts that read
    alike, and each part's signature is read once, of its first destination.
    """
    parts = [bits] if bits else []
    for _name, where in (*tables[0], *tables[1]):
        split: list[int] = []
        for part in parts:
            inside = part & where
            if inside and inside != part:
                split += (inside, part ^ inside)
            else:
                split.append(part)
        parts = split
    out: dict[int, tuple[str, ...]] = {}
    for part in parts:
        members = positions(part, part.bit_count())
        out.update(dict.fromkeys(members, _signature(tables, members[0])))
    return out


def _signature(tables: tuple[list[tuple[str, int]], list[tuple[str, int]]], i: int) -> tuple[str, ...]:
    """Return what prepares destination i (``signature_tables``): its blocker and warning codes in the rule table's
    order, then its unbound APQNs."""
    codes, unbound = tables
    return (*(code for code, bits in codes if bits >> i & 1), *(apqn for apqn, bits in unbound if bits >> i & 1))


def reason_counts(ev: R.Evaluation, blocked: int) -> dict[str, int]:
    """Return {blocker code: number of the blocked destinations it blocks}, in the rule table's order."""
    return {code: (ev.blockers[code] & blocked).bit_count() for code in BLOCKER_CODES if ev.blockers.get(code, 0) & blocked}


def warning_counts(ev: R.Evaluation, usable: int) -> dict[str, int]:
    """Return {warning code: number of the usable destinations (ready or after preparation) it warns about}."""
    return {code: (ev.warnings[code] & usable).bit_count() for code in WARNING_CODES if ev.warnings.get(code, 0) & usable}


class _SharedClass:
    """The plan's view of a shared evaluation (``_readiness.shared_evaluation``): verdicts, counts and nearest
    destinations over every destination, and each guest's figures without its source (``*_for``).

    A guest of the class differs from the shared evaluation at its source's position only (it is not
    its own candidate): its counts are the shared ones less what that position adds, its nearest
    destinations the shared ranking without it. Results are kept and handed to every guest alike (the
    plan's entries share them; they are read, never changed).
    """

    __slots__ = (
        "ev", "ready", "after", "blocked", "counts", "reasons", "warnings", "nearest", "ranking", "memo", "_memo", "_entries",
        "_signatures",
    )  # fmt: skip

    def __init__(self, ev: R.Evaluation, nearest: int) -> None:
        self.ev = ev
        self.ready, self.after, self.blocked = R.verdict_bits(ev)
        self.counts = (self.ready.bit_count(), self.after.bit_count(), self.blocked.bit_count())
        self.reasons = reason_counts(ev, self.blocked)
        self.warnings = warning_counts(ev, self.ready | self.after)
        self.nearest = nearest
        self.ranking = nearest_positions(ev, self.blocked, nearest + 1)  # one more: a guest's own source may be in it
        self._memo: dict[Any, Any] = {}
        self.memo: dict[str, dict] = {"codes": {}, "actions": {}, "action_inputs": {}, "groups": {}}  # the views' (Evaluation.memo)
        self._entries: dict[int, dict[str, Any]] = {}
        self._signatures: dict[int, tuple[str, ...]] | None = None

    def signatures(self) -> dict[int, tuple[str, ...]]:
        """Return {ready-after destination: its ``_signature``} (what prepares it), read once for the class."""
        if self._signatures is None:
            self._signatures = signatures_over(signature_tables(self.ev), self.after)
        return self._signatures

    def verdict_at(self, position: int | None) -> str | None:
        """Return the shared verdict ("ready", "after" or "blocked") at ``position``, None for None (not a destination)."""
        if position is None:
            return None
        if self.ready >> position & 1:
            return "ready"
        return "after" if self.after >> position & 1 else "blocked"

    def counts_for(self, at: str | None) -> tuple[int, int, int]:
        """Return the numbers of ready, ready-after and blocked destinations of a guest whose source's shared verdict
        is ``at`` (``verdict_at``): the shared ones without its source."""
        ready, after, blocked = self.counts
        return ready - (at == "ready"), after - (at == "after"), blocked - (at == "blocked")

    def reasons_for(self, at: str | None, position: int | None) -> dict[str, int]:
        """Return the blocker counts of a guest whose source is at ``position`` with the shared verdict ``at``."""
        if at != "blocked" or position is None:
            return self.reasons
        return self._without(self.reasons, self.ev.blockers, position)

    def warnings_for(self, at: str | None, position: int | None) -> dict[str, int]:
        """Return the warning counts of a guest whose source is at ``position`` with the shared verdict ``at``."""
        if position is None or at == "blocked":
            return self.warnings
        return self._without(self.warnings, self.ev.warnings, position)

    def _without(self, counts: dict[str, int], table: dict[str, int], position: int) -> dict[str, int]:
        at = ("at", id(table), position)  # the guests of a source host share its position
        here = self._memo.get(at)
        if here is None:
            here = self._memo[at] = frozenset(code for code, bits in table.items() if bits >> position & 1)
        key = (id(counts), here)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = {code: n - (code in here) for code, n in counts.items() if n - (code in here)}
        return found

    def positions(self, verdict: str, n: int, start: int, position: int | None) -> list[int]:
        """Return ``positions`` of a guest's ready (``verdict`` "ready") or ready-after destinations: the shared
        ones but its source's, up to n ascending from ``start`` and wrapping around."""
        ordered = self._memo.get(verdict)
        if ordered is None:
            bits = self.ready if verdict == "ready" else self.after
            ordered = self._memo[verdict] = positions(bits, bits.bit_count())
        k = bisect_left(ordered, start)
        window = ordered[k : k + n + 1]
        if len(window) <= n:
            window += ordered[: min(k, n + 1 - len(window))]
        if position is not None and position in window:
            window.remove(position)
        return window[:n]

    def nearest_for(self, position: int | None) -> list[dict[str, Any]]:
        """Return the nearest blocked destinations ({host, blockers}) of a guest whose source is at ``position``."""
        chosen = tuple(i for i in self.ranking if i != position)[: self.nearest]
        found = self._memo.get(chosen)
        if found is None:
            found = self._memo[chosen] = [self._entry(i) for i in chosen]
        return found

    def _entry(self, i: int) -> dict[str, Any]:
        found = self._entries.get(i)
        if found is None:
            found = self._entries[i] = {"host": self.ev.index.names[i], "blockers": self.ev.apqns_by_code(i)}
        return found


def stranding_codes(ev: R.Evaluation, blocked: int) -> dict[str, int]:
    """Return {unfixable blocker code: number of destinations} explaining why a guest has no destination.

    Counted over the "near" destinations (every guest APQN exists and the kernel supports
    migration) when there are any, else over every blocked destination: a guest stranded by an
    older card reports hw_type_older, not the hundreds of hosts that simply lack its APQNs.
    """
    far = 0
    for code in _FAR_CODES:
        far |= ev.blockers.get(code, 0)
    scope = (blocked & ~far) or blocked
    return {code: n for code, bits in ev.blockers.items() if code not in FIXABLE_CODES and (n := (bits & scope).bit_count())}


def machine_label(host: Any) -> str | None:
    """Return "CPC <name> (<type> <sequence>), LPAR <name> (<number>)" from the facts' host identity, or None."""
    if not isinstance(host, Mapping):
        return None
    cpc, lpar = H.part(host, "cpc"), H.part(host, "lpar")
    parts = []
    serial = " ".join(str(v) for v in (cpc.get("type"), str(cpc.get("sequence_code") or "").lstrip("0") or None) if v)
    if cpc.get("name") or serial:
        parts.append(f"CPC {cpc.get('name') or '?'}" + (f" ({serial})" if serial else ""))
    if lpar.get("name") or lpar.get("number") is not None:
        number = f" ({lpar.get('number')})" if lpar.get("number") is not None else ""
        parts.append(f"LPAR {lpar.get('name') or '?'}{number}")
    return ", ".join(parts) or None


def summarize(
    guests: list[dict[str, Any]],
    source_names: list[str],
    stranding: Mapping[str, Mapping[str, int]],
    machines: Mapping[str, Any],
    gaps: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    support: Mapping[str, tuple[str, str | None]] | None = None,
) -> dict[str, Any]:
    """Return the plan summary: counts of guests by verdict, stranded guests and per-host evacuation verdicts.

    Only mdevs a guest uses (or may use: not ``idle``) count; idle mdevs are planned but need not
    leave. A source host with ``gaps`` (``_audit_gaps``) is not fully audited: never evacuable.
    ``support``: {host: (migration level, why it cannot take part in a migration or None)}.
    """
    gaps = gaps or {}
    support = support or {}
    running = [g for g in guests if not g["idle"]]
    verdicts = Counter(g["verdict"] for g in running)
    top: Counter[str] = Counter()
    stranded = []
    for entry in running:
        if entry["verdict"] != "blocked":
            continue
        counts = stranding.get(entry["uuid"], {})
        codes = set(counts) | {b["code"] for b in entry["source_blockers"]}
        top.update(codes)
        ranked = sorted(codes, key=lambda c: (-counts.get(c, 1 << 30), ORDER[c]))
        stranded.append({"uuid": entry["uuid"], "guest": entry["guest"], "source": entry["source"], "top_blockers": ranked[:3]})
    per_host = {}
    by_source: dict[str, list] = {name: [] for name in source_names}
    for entry in running:
        by_source[entry["source"]].append(entry)
    for name in source_names:
        mine = by_source[name]
        count = Counter(g["verdict"] for g in mine)
        holes = list(gaps.get(name) or [])
        evacuable = count["ready"] == len(mine) and not holes
        after = count["ready"] + count["ready_after"] == len(mine) and not holes
        level, unsupported = support.get(name, (None, None))
        if holes:
            text = f"{name} is not fully audited: {gaps_text(holes)}"
        elif not mine:
            text = f"no vfio-ap guest runs on {name}: nothing to move"
        elif evacuable:
            text = f"every guest of {name} can leave"
        elif after:
            text = f"every guest of {name} can leave after preparation"
        else:
            text = f"{count['blocked']} of {len(mine)} guests of {name} cannot leave"
        per_host[name] = {
            "machine": machines.get(name),
            "guests": len(mine),
            "ready": count["ready"],
            "ready_after": count["ready_after"],
            "blocked": count["blocked"],
            "evacuable": evacuable,
            "evacuable_after_preparation": after,
            "audited": not holes,
            "gaps": [gap_text(item) for item in holes],
            "migration": level,
            "migration_support": unsupported,
            "verdict": text,
        }
    return {
        "guests": len(running),
        "idle_mdevs": len(guests) - len(running),
        "ready": verdicts["ready"],
        "ready_after": verdicts["ready_after"],
        "blocked": verdicts["blocked"],
        "top_blockers": [{"code": code, "guests": n} for code, n in sorted(top.items(), key=lambda kv: (-kv[1], ORDER[kv[0]]))],
        "stranded": stranded,
        "hosts": per_host,
    }


def apply_query(plan: dict[str, Any], query: Any) -> Any:
    """Return jmespath.search(query, plan); ValueError for a bad expression, MissingLibrary without jmespath."""
    if jmespath is None:
        raise MissingLibrary("jmespath", "query")
    if not isinstance(query, str):
        raise ValueError(f"query: expected a JMESPath expression string, got {query!r}")
    try:
        return jmespath.search(query, plan)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"query: {exc}") from exc
