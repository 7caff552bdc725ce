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

Every verdict comes from one ``_readiness.evaluate`` per guest over all destinations.
"""

from __future__ import annotations

import gc
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
        self.load: Counter[int] = Counter()
        self.placed = 0  # guests given a suggestion so far (rotates the suggestion window)
        self.stranding: dict[str, dict[str, int]] = {}

    def plan(self) -> dict[str, Any]:
        guests = [self.guest(source, mdev, others) for source, mdev, others in self.sources()]
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
        if source.name in index.position:
            candidates &= ~(1 << index.position[source.name])
        ev = R.evaluate(index, source, mdev, self.rules, candidates)
        attached_elsewhere = [h for h, m in others if m.get("guest") or m.get("in_use")]
        if attached_elsewhere and (mdev.get("guest") or mdev.get("in_use")):
            ev.mark_source(
                "duplicate_uuid",
                None,
                f"mdev {mdev['uuid']} is also attached to a guest on {', '.join(attached_elsewhere)}: planned from {source.name}",
            )
        ready, after, blocked = R.verdict_bits(ev)
        full = self.wants_detail(source, mdev)
        cap = len(index.names) if full else self.limit
        verdict = "ready" if ready else "ready_after" if after else "blocked"
        start = self.placed % len(index.names) if index.names else 0
        ready_pos = positions(ready, max(cap, _WINDOW), start)
        after_pos = positions(after, max(cap, _WINDOW), start) if after else []
        suggested = self.suggest(ready_pos or after_pos)
        ready_pos, after_pos = sorted(ready_pos[:cap]), sorted(after_pos[:cap])
        usable = ready | after
        entry: dict[str, Any] = {
            "uuid": mdev["uuid"],
            "guest": mdev.get("guest"),
            # idle only when complete facts show that no guest uses it: no libvirt domain names it, its queues are not in use
            "idle": not (mdev.get("guest") or mdev.get("in_use") is not False or source.gaps),
            "source": source.name,
            "also_on": [h for h, _m in others],
            "apqns": H.guest_queues(mdev),
            "control_domains": R.guest_control_domains(source, mdev),
            "verdict": verdict,
            "ready": {"count": ready.bit_count(), "hosts": [index.names[i] for i in ready_pos]},
            "ready_after": {"count": after.bit_count(), "preparations": self.preparations(ev, after_pos)},
            "blocked": {
                "count": blocked.bit_count(),
                "reasons": {
                    code: (ev.blockers[code] & blocked).bit_count() for code in BLOCKER_CODES if ev.blockers.get(code, 0) & blocked
                },
                "nearest": [
                    {"host": index.names[i], "blockers": ev.apqns_by_code(i)}
                    for i in nearest_positions(ev, blocked, blocked.bit_count() if full else self.nearest)
                ],
            },
            "warnings": {code: (ev.warnings[code] & usable).bit_count() for code in WARNING_CODES if ev.warnings.get(code, 0) & usable},
            "source_blockers": R.sort_findings(ev.source_blockers),
            "source_warnings": R.sort_findings(ev.source_warnings),
            "suggested": index.names[suggested] if suggested is not None else None,
            "actions": ev.actions(suggested) if suggested is not None else [],
            "command": None,
            "command_error": None,
        }
        if self.network is not None:
            entry["command"], entry["command_error"] = self.command(entry)
        if full:
            entry["destinations"] = {index.names[i]: self.cell(ev, i, ready, after) for i in positions(candidates, len(index.names))}
        if blocked and mdev.get("guest") and not usable:
            self.stranding[mdev["uuid"]] = stranding_codes(ev, blocked)
        return entry

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

    def preparations(self, ev: R.Evaluation, chosen: list[int]) -> list[dict[str, Any]]:
        """Return the listed ready-after destinations grouped by what prepares them: [{hosts, codes, actions}].

        Destinations with the same blocker and warning codes, the same unbound APQNs and no mdev of
        the UUID yet need the same actions: the chosen set is split by each code's bitset (a few
        bitset operations per code, whatever the number of destinations) and the actions computed
        once per group; a destination that already has the mdev keeps a group of its own.
        """
        if not chosen:
            return []
        mask = 0
        for i in chosen:
            mask |= 1 << i
        splits = list(ev.blockers.items()) + list(ev.warnings.items())
        splits += [(apqn, self.index.unbound.get(apqn, 0)) for apqn in ev.wanted]
        groups: list[tuple[int, tuple[str, ...]]] = [(mask, ())]
        for label, bits in splits:
            if not bits & mask:
                continue
            split: list[tuple[int, tuple[str, ...]]] = []
            for members, signature in groups:
                inside, outside = members & bits, members & ~bits
                if inside:
                    split.append((inside, (*signature, label)))
                if outside:
                    split.append((outside, signature))
            groups = split
        out: list[dict[str, Any]] = []
        for members, signature in groups:
            hosts = sorted(positions(members, len(chosen)))
            subgroups = [hosts] if "mdev_missing" in signature else [[i] for i in hosts]
            for part in subgroups:
                codes = sorted((c for c in signature if c in ev.blockers), key=ORDER.__getitem__)
                out.append({"hosts": [self.index.names[i] for i in part], "codes": codes, "actions": ev.actions(part[0])})
        out.sort(key=lambda group: group["hosts"][0])
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
