# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The fleet migration plan: for every source mdev, which destinations are ready, which the
destination role can make ready, and why every other one is not.

Speed comes from indexes built once per fleet, never from comparing host pairs queue by queue:
destinations are numbered and every per-destination property is a Python integer used as a
bitset (bit i = destination i). Per APQN the index holds the destinations where the queue exists,
is not bound to vfio_ap, is unusable, is claimed by an mdev (per UUID), and the destinations per
hardware-capability class and per master-key pattern. A guest with n APQNs then costs O(n) bitset
operations plus one memoised capability comparison per capability class, whatever the fleet size.
Every predicate is the one of module_utils/_compat.py (the same functions migration_check uses),
so a cell of the plan always agrees with migration_check for that pair.
"""

from __future__ import annotations

import gc
import shlex
from collections import Counter
from collections.abc import Mapping
from itertools import compress
from typing import Any, cast

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _compat as C

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised when the controller lacks netaddr
    netaddr = None

try:
    import jmespath
except ImportError:  # pragma: no cover
    jmespath = None

SCHEMA = 1
_BITS = bytes.maketrans(b"01", b"\x00\x01")
_WINDOW = 32  # destinations compared when suggesting one


class MissingLibrary(Exception):
    """A controller library the requested feature needs (netaddr, jmespath) is not installed."""

    def __init__(self, library: str, purpose: str) -> None:
        super().__init__(library)
        self.library = library
        self.purpose = purpose


# --------------------------------------------------------------------------- inputs


def facts_of(value: Any, host: str) -> tuple[Mapping, str | None]:
    """Return (vfio_ap facts, migration address or None) of one facts_by_host value.

    Accepts the facts dict itself, or a hostvars-like mapping holding it under ``vfio_ap`` or
    ``ansible_facts.vfio_ap`` (then ``vfio_ap_migration_address`` comes from the same mapping).
    """
    what = f"facts_by_host[{host!r}]"
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected ansible_facts.vfio_ap or the host's hostvars, got {type(value).__name__}")
    if "queues" in value and "bus" in value:
        return value, None
    address = value.get("vfio_ap_migration_address")
    facts = value.get("vfio_ap")
    if not isinstance(facts, Mapping):
        ansible_facts = value.get("ansible_facts")
        facts = ansible_facts.get("vfio_ap") if isinstance(ansible_facts, Mapping) else None
    if not isinstance(facts, Mapping):
        raise ValueError(f"{what}: no vfio_ap facts (run s390x.vfio_ap.ap_facts on {host} first)")
    return facts, address


def _host_list(value: Any, known: list[str], what: str) -> list[str]:
    if value is None:
        return list(known)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what}: expected a list of host names")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"{what}: {', '.join(unknown)} not in facts_by_host")
    return sorted(set(value))


# --------------------------------------------------------------------------- the destination index


class DestinationIndex:
    """Per-APQN, per-UUID and per-control-domain bitsets over the destination hosts."""

    def __init__(self, hosts: list[C.HostFacts], apqns: set[str] | None = None) -> None:
        """Index the destinations; with ``apqns``, only those queues (the ones source guests use)."""
        self.hosts = hosts
        self.wanted = apqns
        self.names = cast("list[str]", [h.name for h in hosts])
        self.position = {h.name: i for i, h in enumerate(hosts)}
        self.all = (1 << len(hosts)) - 1
        self.level_bits: dict[str, int] = dict.fromkeys(C.LEVELS, 0)
        self.unsupported = 0
        self.installed: dict[str, int] = {}
        self.unbound: dict[str, int] = {}
        self.unusable: dict[str, int] = {}
        self.caps: dict[str, dict[Any, int]] = {}
        self.mkvp: dict[str, dict[Any, int]] = {}
        self.master_keys: dict[str, int] = {}
        self.claims: dict[str, dict[str, int]] = {}
        self.claimed: dict[str, int] = {}  # hosts where any mdev holds the APQN
        self.claimed_twice: dict[str, int] = {}  # hosts where two or more mdevs hold it
        self.cdoms: dict[int, int] = {}
        self.mdevs: dict[str, dict[int, Any]] = {}
        self._hw_memo: dict[tuple, list] = {}
        self._names: dict[int, list[str]] = {}
        self._scope_memo: dict[tuple, tuple[int, int, int]] = {}
        for i, host in enumerate(hosts):
            self._add(i, 1 << i, host)

    def _add(self, i: int, bit: int, host: C.HostFacts) -> None:
        self.level_bits[host.level] |= bit
        if C.host_support_problem(host):
            self.unsupported |= bit
        if self.wanted is None:
            queues = list(host.queues.items())
        else:
            queues = [(apqn, host.queues[apqn]) for apqn in self.wanted if apqn in host.queues]
        for apqn, queue in queues:
            self.installed[apqn] = self.installed.get(apqn, 0) | bit
            if C.queue_binding_problem(queue):
                self.unbound[apqn] = self.unbound.get(apqn, 0) | bit
            if C.queue_unusable_problem(host, queue):
                self.unusable[apqn] = self.unusable.get(apqn, 0) | bit
            caps = C.queue_capabilities(host, queue)
            key = C.caps_key(caps)
            by_key = self.caps.setdefault(apqn, {})
            by_key[key] = by_key.get(key, 0) | bit
            if C.has_master_keys(caps):
                self.master_keys[apqn] = self.master_keys.get(apqn, 0) | bit
            pattern = C.current_mkvps(host, queue)
            by_pattern = self.mkvp.setdefault(apqn, {})
            by_pattern[pattern] = by_pattern.get(pattern, 0) | bit
        for apqn, holders in host.claims.items():
            if self.wanted is not None and apqn not in self.wanted:
                continue
            self.claimed[apqn] = self.claimed.get(apqn, 0) | bit
            if len(holders) > 1:
                self.claimed_twice[apqn] = self.claimed_twice.get(apqn, 0) | bit
            per_uuid = self.claims.setdefault(apqn, {})
            for uuid in holders:
                per_uuid[uuid] = per_uuid.get(uuid, 0) | bit
        for domain in host.control_domains:
            self.cdoms[domain] = self.cdoms.get(domain, 0) | bit
        for uuid in host.mdevs:
            self.mdevs.setdefault(uuid, {})[i] = host

    def names_of(self, bits: int) -> list[str]:
        """Return the destination names of a bitset, in index (sorted) order.

        Long lists are cached and shared between guests with the same set (treat them as read-only).
        """
        if not bits:
            return []
        names = self._names.get(bits)
        if names is None:
            selectors = format(bits, f"0{len(self.names)}b")[::-1].encode().translate(_BITS)
            names = self._names[bits] = list(compress(self.names, selectors))
        return list(names) if len(names) < 64 else names

    def scope(self, rules: str, source_level: str) -> tuple[int, int, int]:
        """Return _scope_bits for a source level (memoised)."""
        key = (rules, source_level)
        found = self._scope_memo.get(key)
        if found is None:
            found = self._scope_memo[key] = _scope_bits(self, rules, source_level)
        return found

    def hardware(self, src_key: tuple, dst_key: tuple) -> list:
        """Return the hardware findings [(code, detail)] for two capability classes (memoised)."""
        pair = (src_key, dst_key)
        found = self._hw_memo.get(pair)
        if found is None:
            found = C.hardware_findings(C.caps_of_key(src_key), C.caps_of_key(dst_key))
            self._hw_memo[pair] = found
        return found


def _scope_bits(index: DestinationIndex, rules: str, source_level: str) -> tuple[int, int, int]:
    """Return (attribute-check bits, kernel-check bits, mixed-level bits) over the destinations."""
    attribute = kernel = mixed = 0
    for level, bits in index.level_bits.items():
        effective, is_mixed = C.resolve_rules(rules, source_level, level)
        has_attribute, has_kernel = C.rule_scope(effective)
        attribute |= bits if has_attribute else 0
        kernel |= bits if has_kernel else 0
        mixed |= bits if is_mixed else 0
    return attribute, kernel, mixed


def _or(codes: dict[str, int], code: str, bits: int) -> None:
    if bits:
        codes[code] = codes.get(code, 0) | bits


def guest_codes(
    index: DestinationIndex, source: C.HostFacts, mdev: Mapping, rules: str, candidates: int
) -> tuple[dict[str, int], dict[str, int], list, list]:
    """Return (blocker code -> bits, warning code -> bits, source blockers, source warnings) of one mdev."""
    uuid = mdev["uuid"]
    wanted = C.guest_queues(mdev)
    blockers: dict[str, int] = {}
    warnings: dict[str, int] = {}
    src_blockers, src_warnings = C.source_findings(source, mdev)
    for item in src_blockers:
        _or(blockers, item["code"], candidates)
    attribute, kernel, mixed = index.scope(rules, source.level)
    _or(warnings, "mixed_migration_levels", mixed & candidates)
    _or(blockers, "no_migration_support", index.unsupported & candidates)
    holders = index.mdevs.get(uuid, {})
    have = 0
    for i, host in holders.items():
        bit = 1 << i
        have |= bit
        if not bit & candidates:
            continue
        found, notes = C.destination_mdev_findings(host, uuid, wanted, bool(attribute & bit))
        for item in found:
            _or(blockers, item["code"], bit)
        for item in notes:
            _or(warnings, item["code"], bit)
    _or(blockers, "mdev_missing", candidates & ~have)
    for apqn in wanted:
        installed = index.installed.get(apqn, 0)
        _or(blockers, "apqn_not_installed", candidates & ~installed)
        _or(blockers, "apqn_not_bound", index.unbound.get(apqn, 0) & candidates)
        _or(blockers, "queue_unusable", index.unusable.get(apqn, 0) & candidates)
        own = index.claims.get(apqn, {}).get(uuid, 0)
        others = (index.claimed.get(apqn, 0) & ~own) | (index.claimed_twice.get(apqn, 0) & own)
        _or(blockers, "apqn_in_use", others & candidates)
        source_queue = source.queues.get(apqn)
        src_caps = C.queue_capabilities(source, source_queue) if source_queue else None
        if src_caps is not None:
            src_key = C.caps_key(src_caps)
            for dst_key, bits in index.caps.get(apqn, {}).items():
                if dst_key is None:
                    continue
                for code, _detail in index.hardware(cast(tuple, src_key), dst_key):
                    _or(blockers, code, bits & candidates)
        relevant = (installed if C.has_master_keys(src_caps) else index.master_keys.get(apqn, 0)) & candidates
        if relevant:
            src_mk = C.current_mkvps(source, source_queue) if source_queue else None
            if src_mk is None:  # unknown on the source: a source warning (source_findings), not per destination
                continue
            for pattern, bits in index.mkvp.get(apqn, {}).items():
                bits &= relevant
                if not bits:
                    continue
                if pattern is None:
                    _or(warnings, "mkvp_unknown", bits)
                elif C.mkvp_difference(src_mk, pattern):
                    _or(blockers, "mkvp_mismatch", bits)
    for domain in mdev.get("control_domains") or []:
        _or(blockers, "control_domain_unavailable", candidates & kernel & ~index.cdoms.get(domain, 0))
    return blockers, warnings, src_blockers, src_warnings


# --------------------------------------------------------------------------- commands


def _address(value: Any, host: str, network: Any) -> tuple[str | None, str | None]:
    """Return (URI host part, problem) of a migration address checked against the network."""
    if value is None:
        return None, f"{host} has no vfio_ap_migration_address"
    try:
        address = netaddr.IPAddress(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None, f"{host}: vfio_ap_migration_address {value!r} is not an IP address"
    if address not in network:
        return None, f"{host}: address {address} is not in migration_network {network}"
    return (f"[{address}]" if address.version == 6 else str(address)), None


def migrate_command(guest: str, destination: str, uri_host: str) -> str:
    """Return the virsh command that live-migrates ``guest`` to ``destination`` over ``uri_host``."""
    return (
        f"virsh migrate --live --persistent --undefinesource {shlex.quote(guest)} "
        f"qemu+ssh://{destination}/system --migrateuri tcp://{uri_host}"
    )


# --------------------------------------------------------------------------- the plan


def build_plan(
    facts_by_host: Any,
    sources: Any = None,
    destinations: Any = None,
    rules: str = "auto",
    migration_network: Any = None,
    mkvps: Any = None,
    migration_addresses: Any = None,
    detail: bool = False,
) -> dict[str, Any]:
    """Return the migration plan of docs/plan-schema.md for the fleet; ValueError naming a bad argument.

    The cyclic garbage collector is paused while the plan is built: the plan allocates millions of
    acyclic lists on large fleets, and generational collections over that growing heap would make
    the run superlinear.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _build_plan(facts_by_host, sources, destinations, rules, migration_network, mkvps, migration_addresses, detail)
    finally:
        if paused:
            gc.enable()


def _build_plan(
    facts_by_host: Any,
    sources: Any,
    destinations: Any,
    rules: str,
    migration_network: Any,
    mkvps: Any,
    migration_addresses: Any,
    detail: bool,
) -> dict[str, Any]:
    if not isinstance(facts_by_host, Mapping) or not facts_by_host:
        raise ValueError("facts_by_host: expected a non-empty mapping {host: facts}")
    if rules not in C.RULES:
        raise ValueError(f"rules: expected one of {', '.join(C.RULES)}, got {rules!r}")
    if mkvps is not None and not isinstance(mkvps, Mapping):
        raise ValueError("mkvps: expected {host: {apqn: {slot: pattern}}}")
    if migration_addresses is not None and not isinstance(migration_addresses, Mapping):
        raise ValueError("migration_addresses: expected {host: address}")
    mkvps = mkvps or {}
    names = sorted(str(name) for name in facts_by_host)
    source_names = _host_list(sources, names, "sources")
    destination_names = _host_list(destinations, names, "destinations")
    hosts: dict[str, C.HostFacts] = {}
    addresses: dict[str, Any] = {}
    for name in sorted(set(source_names) | set(destination_names)):
        facts, address = facts_of(facts_by_host[name], name)
        hosts[name] = C.HostFacts(facts, name, f"facts_by_host[{name!r}]", mkvps.get(name))
        addresses[name] = (migration_addresses or {}).get(name, address)
    network = None
    if migration_network is not None:
        if netaddr is None:
            raise MissingLibrary("netaddr", "migration_network")
        try:
            network = netaddr.IPNetwork(str(migration_network))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise ValueError(f"migration_network: {migration_network!r} is not a CIDR network") from None
    needed = {apqn for name in source_names for mdev in hosts[name].mdevs.values() for apqn in C.guest_queues(mdev)}
    index = DestinationIndex([hosts[n] for n in destination_names], needed)
    load: dict[Any, int] = dict.fromkeys(destination_names, 0)
    load[None] = 0  # guests placed so far (rotates the suggestion window); None is no host name
    guests: list[dict[str, Any]] = []
    for source_name in source_names:
        source = hosts[source_name]
        self_bit = 1 << index.position[source_name] if source_name in index.position else 0
        candidates = index.all & ~self_bit
        for uuid in sorted(source.mdevs):
            mdev = source.mdevs[uuid]
            guests.append(_plan_guest(index, hosts, source, mdev, rules, candidates, load, detail, network, addresses))
    plan: dict[str, Any] = {
        "schema": SCHEMA,
        "rules": rules,
        "sources": source_names,
        "destinations": destination_names,
        "migration_network": str(network) if network is not None else None,
        "guests": guests,
        "summary": summarize(guests, source_names, hosts),
    }
    return plan


def _plan_guest(
    index: DestinationIndex,
    hosts: dict[str, C.HostFacts],
    source: C.HostFacts,
    mdev: Mapping,
    rules: str,
    candidates: int,
    load: dict[Any, int],
    detail: bool,
    network: Any,
    addresses: dict[str, Any],
) -> dict[str, Any]:
    blockers, warnings, src_blockers, src_warnings = guest_codes(index, source, mdev, rules, candidates)
    any_blocker = unfixable = 0
    for code, bits in blockers.items():
        any_blocker |= bits
        if code not in C.FIXABLE_CODES:
            unfixable |= bits
    ready_bits = candidates & ~any_blocker
    after_bits = any_blocker & ~unfixable
    ready, ready_after = index.names_of(ready_bits), index.names_of(after_bits)
    verdict = "ready" if ready else "ready_after" if ready_after else "blocked"
    pool = ready or ready_after
    suggested = None
    if pool:
        # the least loaded of a window of the pool that rotates from guest to guest: spreads guests
        # over destinations in O(window), exact least-loaded choice for pools up to the window size
        start, size = load[None] % len(pool), len(pool)
        window = [pool[(start + k) % size] for k in range(min(_WINDOW, size))]
        suggested = min(window, key=load.__getitem__)
        load[None] += 1
    actions: list = []
    if suggested is not None:
        load[suggested] += 1
        bit = 1 << index.position[suggested]
        codes = {code for code, bits in blockers.items() if bits & bit}
        codes |= {code for code, bits in warnings.items() if bits & bit}
        wanted = C.guest_queues(mdev)
        unbound = [apqn for apqn in wanted if index.unbound.get(apqn, 0) & bit]
        attribute_checks, _kernel = C.rule_scope(C.resolve_rules(rules, source.level, hosts[suggested].level)[0])
        actions = C.destination_actions(
            hosts[suggested], mdev["uuid"], wanted, sorted(mdev.get("control_domains") or []), attribute_checks, unbound, codes
        )
    entry: dict[str, Any] = {
        "uuid": mdev["uuid"],
        "guest": mdev.get("guest"),
        "source": source.name,
        "apqns": C.guest_queues(mdev),
        "control_domains": sorted(mdev.get("control_domains") or []),
        "verdict": verdict,
        "ready": ready,
        "ready_after": ready_after,
        "blocked": index.names_of(unfixable),
        "reasons": {code: index.names_of(blockers[code]) for code in C.BLOCKER_CODES if code in blockers},
        "warnings": {code: index.names_of(warnings[code]) for code in C.WARNING_CODES if code in warnings},
        "source_blockers": src_blockers,
        "source_warnings": src_warnings,
        "suggested": suggested,
        "actions": actions,
        "command": None,
        "command_error": None,
    }
    if network is not None:
        entry["command"], entry["command_error"] = _command(entry, network, addresses)
    if detail:
        entry["destinations"] = _destinations(index, hosts, source, mdev, rules, candidates)
    return entry


def _command(entry: dict[str, Any], network: Any, addresses: dict[str, Any]) -> tuple[str | None, str | None]:
    if not entry["guest"]:
        return None, "the mdev is not attached to a guest"
    if entry["suggested"] is None:
        return None, "no destination is ready or can be made ready"
    _src, problem = _address(addresses.get(entry["source"]), entry["source"], network)
    if problem:
        return None, problem
    uri_host, problem = _address(addresses.get(entry["suggested"]), entry["suggested"], network)
    if problem:
        return None, problem
    return migrate_command(entry["guest"], entry["suggested"], cast(str, uri_host)), None


def _destinations(
    index: DestinationIndex, hosts: dict[str, C.HostFacts], source: C.HostFacts, mdev: Mapping, rules: str, candidates: int
) -> dict[str, Any]:
    out = {}
    for name in index.names_of(candidates):
        result = C.check_migration(source, hosts[name], mdev["uuid"], rules)
        verdict = "ready" if result["ready"] else "ready_after" if result["ready_after"] else "blocked"
        out[name] = {
            "verdict": verdict,
            "rules": result["rules"],
            "blockers": result["blockers"],
            "warnings": result["warnings"],
            "actions": result["actions"],
        }
    return out


def stranding_codes(entry: dict[str, Any]) -> dict[str, int]:
    """Return {blocker code: number of destinations} explaining why a guest has no destination.

    Counts only blockers the destination role cannot fix, over the "near" destinations (those
    where every guest APQN exists and the kernel supports migration) when there are any, else
    over every destination: a guest stranded by an older card reports hw_type_older, not the
    dozens of hosts that simply lack its APQNs.
    """
    reasons = entry["reasons"]
    far = set(reasons.get("apqn_not_installed", ())) | set(reasons.get("no_migration_support", ()))
    near = set(entry["blocked"]) - far
    scope = near or set(entry["blocked"])
    counts = {}
    for code, names in reasons.items():
        if code in C.FIXABLE_CODES:
            continue
        n = len(scope.intersection(names))
        if n:
            counts[code] = n
    return counts


def summarize(guests: list[dict[str, Any]], source_names: list[str], hosts: dict[str, C.HostFacts]) -> dict[str, Any]:
    """Return the plan summary: counts of guests by verdict, stranded guests and per-host evacuation verdicts.

    Only mdevs attached to a guest count; idle mdevs are planned but need not leave.
    """
    running = [g for g in guests if g["guest"]]
    verdicts = Counter(g["verdict"] for g in running)
    top: Counter[str] = Counter()
    stranded = []
    for entry in running:
        if entry["verdict"] != "blocked":
            continue
        counts = stranding_codes(entry)
        top.update(counts.keys())
        ranked = [code for code, _n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        stranded.append({"uuid": entry["uuid"], "guest": entry["guest"], "source": entry["source"], "top_blockers": ranked[:3]})
    per_host = {}
    by_source: dict[str, list] = {name: [] for name in source_names}
    for entry in running:
        by_source[entry["source"]].append(entry)
    for name in source_names:
        mine = by_source[name]
        count = Counter(g["verdict"] for g in mine)
        evacuable = count["ready"] == len(mine)
        after = count["ready"] + count["ready_after"] == len(mine)
        if evacuable:
            text = f"every guest of {name} can leave"
        elif after:
            text = f"every guest of {name} can leave after preparation"
        else:
            text = f"{count['blocked']} of {len(mine)} guests of {name} cannot leave"
        per_host[name] = {
            "guests": len(mine),
            "ready": count["ready"],
            "ready_after": count["ready_after"],
            "blocked": count["blocked"],
            "evacuable": evacuable,
            "evacuable_after_preparation": after,
            "verdict": text,
        }
    return {
        "guests": len(running),
        "idle_mdevs": len(guests) - len(running),
        "ready": verdicts["ready"],
        "ready_after": verdicts["ready_after"],
        "blocked": verdicts["blocked"],
        "top_blockers": [{"code": code, "guests": n} for code, n in sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))],
        "stranded": stranded,
        "hosts": per_host,
    }


def apply_query(plan: dict[str, Any], query: Any) -> Any:
    """Return jmespath.search(query, plan); ValueError for a bad expression, MissingLibrary without jmespath."""
    if jmespath is None:
        raise MissingLibrary("jmespath", "query")
    if not isinstance(query, str):
        raise ValueError("query: expected a JMESPath expression string")
    try:
        return jmespath.search(query, plan)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"query: {exc}") from exc
