# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The readiness rules: one evaluation of a source mdev against a set of destination hosts.

Destinations are numbered and indexed once (``DestinationIndex``): per APQN the hosts where the
queue exists, is not bound to vfio_ap, is unusable, is claimed by an mdev, and the hosts per
hardware-capability class and master-key pattern; per control domain and per mdev UUID the hosts
that have it. Every set of hosts is a Python integer used as a bitset (bit i = destination i).

``evaluate`` applies every rule once per source mdev over all destinations at the same time: each
rule marks the bitset of destinations it blocks or warns about, under a reason code of
``_reason_codes`` (whose ``scope`` restricts attribute-only and kernel-only codes to the
destinations where those rules apply). Each mark keeps the APQN and a detail, so the findings of
any one destination can be read back from the same evaluation (``Evaluation.findings``).
``check_pair`` (the ``migration_check`` filter) is that evaluation over one destination; the
fleet plan (``_migration_plan``) is the same evaluation over all of them.

Rule sets (``rules``): ``attribute`` (series v1/v2, validation: the destination mdev must hold
the source guest's APQN set), ``kernel`` (series v3+, restore: the source's control domains must
be in the destination's mask), ``strict`` (both), ``auto`` (each pair's hosts' level; ``strict``
with a warning when the two differ).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import facts_rules, incomplete_bits
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._destination_actions import destination_actions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._hw_compat import TAPQ_MASK, Word, bind_state, differences, word_problem
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_host_name, require_mapping, require_rules
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import BY_CODE, FIXABLE_CODES, ORDER

LEVELS = H.LEVELS

Detail = str | Callable[[int], str]


def finding(code: str, apqn: str | None, detail: str) -> dict[str, Any]:
    """Return one blocker or warning: {code, apqn, detail}."""
    return {"code": code, "apqn": apqn, "detail": detail}


def sort_findings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return findings ordered by reason code (the rule table's order), then APQN and detail."""
    return sorted(items, key=lambda f: (ORDER.get(f["code"], 99), f["apqn"] or "", f["detail"]))


def host_support_problem(host: H.HostFacts) -> str | None:
    """Return why a host cannot take part in a vfio-ap live migration, or None when it can."""
    if not host.loaded:
        return f"vfio_ap is not loaded on {host.label}"
    if host.level == "none":
        return f"{host.label}'s kernel has no 'migratable' vfio_ap feature (no live-migration support)"
    return None


def resolve_rules(rules: str, source_level: str, destination_level: str) -> tuple[str, bool]:
    """Return (rule set applied, mixed) for a requested rule set and the two hosts' migration levels.

    ``auto`` takes the hosts' level; two different levels give ``strict`` with mixed True; a host
    whose level is ``series`` (the facts cannot tell attribute from kernel) gives ``strict`` with
    mixed False; a host without support does not vote (``kernel`` when neither does).
    """
    if require_rules(rules) != "auto":
        return rules, False
    if "series" in (source_level, destination_level):
        return "strict", False
    levels = {level for level in (source_level, destination_level) if level in ("attribute", "kernel")}
    if not levels:
        return "kernel", False
    if len(levels) == 2:
        return "strict", True
    return levels.pop(), False


def rule_scope(effective: str) -> tuple[bool, bool]:
    """Return (attribute checks apply, kernel checks apply) for a resolved rule set."""
    return effective in ("attribute", "strict"), effective in ("kernel", "strict")


# --------------------------------------------------------------------------- the destination index


def bitset(positions: list[int]) -> int:
    """Return the bitset with the bits at ``positions`` set (built in one pass: no int grows bit by bit)."""
    if not positions:
        return 0
    buffer = bytearray((max(positions) >> 3) + 1)
    for i in positions:
        buffer[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buffer, "little")


_POSITION_TABLES = ("level_bits", "identities", "claimed", "claimed_twice", "cdoms")  # DestinationIndex: {key: hosts}


class DestinationIndex:
    """Per-APQN, per-UUID, per-control-domain and per-identity bitsets over the destination hosts."""

    def __init__(self, hosts: list[H.HostFacts], apqns: set[str] | None = None) -> None:
        """Index the destinations; with ``apqns``, only those queues (the ones source guests use)."""
        self.hosts = hosts
        self.names: list[str] = [h.label for h in hosts]
        self.position = {h.name: i for i, h in enumerate(hosts)}
        self.all = (1 << len(hosts)) - 1
        self.level_bits: dict[str, int] = dict.fromkeys(LEVELS, 0)
        self.unsupported = 0
        self.installed: dict[str, int] = {}
        self.unbound: dict[str, int] = {}
        self.unusable: dict[str, int] = {}
        # per APQN: {word class: hosts}, of each queue's TAPQ word (restore) and card-cached word (validate)
        self.tapq: dict[str, dict[tuple, int]] = {}
        self.cached: dict[str, dict[tuple, int]] = {}
        self.bound_se: dict[str, int] = {}  # hosts where the queue's TAPQ word shows a bind state
        self.mkvp: dict[str, dict[Any, int]] = {}
        self.master_keys: dict[str, int] = {}
        self.claims: dict[str, dict[str, list[int]]] = {}  # per APQN and UUID: the positions of the hosts that claim it
        self.claimed: dict[str, int] = {}  # hosts where any mdev holds the APQN
        self.claimed_twice: dict[str, int] = {}  # hosts where two or more mdevs hold it
        self.cdoms: dict[int, int] = {}
        self.mdevs: dict[str, dict[int, H.HostFacts]] = {}
        self.identities: dict[tuple, int] = {}
        self._hw_memo: dict[tuple, list] = {}
        self._scope_memo: dict[tuple, tuple[int, int, int]] = {}
        # per APQN: host positions per queue traits; then the other tables' positions (bitsets built once from them)
        self._traits: dict[str, dict[H.QueueTraits, list[int]]] = {}
        self._at: dict[str, dict[Any, list[int]]] = {name: {} for name in _POSITION_TABLES}
        self._unsupported: list[int] = []
        for i, host in enumerate(hosts):
            self._add(i, host, apqns)
        for apqn, by_traits in self._traits.items():
            self._queue_tables(apqn, {traits: bitset(at) for traits, at in by_traits.items()})
        for name, by_key in self._at.items():
            getattr(self, name).update({key: bitset(at) for key, at in by_key.items()})
        self.unsupported = bitset(self._unsupported)
        del self._traits, self._at, self._unsupported
        self.incomplete = incomplete_bits(hosts)  # hosts whose facts have gaps (_audit_gaps)

    def _queue_tables(self, apqn: str, by_traits: dict[H.QueueTraits, int]) -> None:
        """Fill the per-APQN tables from the hosts grouped by the traits of their queue (in host order)."""
        tapq: dict[tuple, int] = {}
        cached: dict[tuple, int] = {}
        mkvp: dict[Any, int] = {}
        installed = unbound = unusable = bound_se = master_keys = 0
        for traits, bits in by_traits.items():
            installed |= bits
            if traits.unbound:
                unbound |= bits
            if traits.unusable:
                unusable |= bits
            tapq[traits.tapq_key] = tapq.get(traits.tapq_key, 0) | bits
            if bind_state(traits.tapq_key[0]):
                bound_se |= bits
            cached[traits.cached_key] = cached.get(traits.cached_key, 0) | bits
            if traits.master_keys:
                master_keys |= bits
            mkvp[traits.mkvps] = mkvp.get(traits.mkvps, 0) | bits
        self.installed[apqn], self.tapq[apqn], self.cached[apqn], self.mkvp[apqn] = installed, tapq, cached, mkvp
        for table, bits in ((self.unbound, unbound), (self.unusable, unusable), (self.bound_se, bound_se), (self.master_keys, master_keys)):
            if bits:
                table[apqn] = bits

    def _add(self, i: int, host: H.HostFacts, wanted: set[str] | None) -> None:
        """Note host i's position under every key of the tables (their bitsets are built once, from the positions)."""
        at = self._at
        at["level_bits"].setdefault(host.level, []).append(i)
        if host_support_problem(host):
            self._unsupported.append(i)
        if host.identity is not None:
            at["identities"].setdefault(host.identity, []).append(i)
        found = [(apqn, host.traits(apqn)) for apqn in host.queues] if wanted is None else host.selected_traits(wanted)
        for apqn, traits in found:
            if traits is None:  # (the host has every queue found)
                continue
            by_traits = self._traits.get(apqn)
            if by_traits is None:
                by_traits = self._traits[apqn] = {}
            positions = by_traits.get(traits)
            if positions is None:
                by_traits[traits] = [i]
            else:
                positions.append(i)
        for apqn, holders in host.claims.items():
            if wanted is not None and apqn not in wanted:
                continue
            at["claimed"].setdefault(apqn, []).append(i)
            if len(holders) > 1:
                at["claimed_twice"].setdefault(apqn, []).append(i)
            per_uuid = self.claims.setdefault(apqn, {})
            for uuid in holders:  # positions, not a bitset: most UUIDs are claimed on one host
                per_uuid.setdefault(uuid, []).append(i)
        for domain in host.control_domains or ():
            at["cdoms"].setdefault(domain, []).append(i)
        for uuid in host.mdevs:
            self.mdevs.setdefault(uuid, {})[i] = host

    def scope(self, rules: str, source_level: str) -> tuple[int, int, int]:
        """Return (attribute-check bits, kernel-check bits, mixed-level bits) over the destinations (memoised)."""
        key = (rules, source_level)
        found = self._scope_memo.get(key)
        if found is None:
            attribute = kernel = mixed = 0
            for level, bits in self.level_bits.items():
                effective, is_mixed = resolve_rules(rules, source_level, level)
                has_attribute, has_kernel = rule_scope(effective)
                attribute |= bits if has_attribute else 0
                kernel |= bits if has_kernel else 0
                mixed |= bits if is_mixed else 0
            found = self._scope_memo[key] = (attribute, kernel, mixed)
        return found

    def hardware(self, src_key: tuple, dst_key: tuple, design: str) -> list[tuple[str, str]]:
        """Return the hardware findings [(code, detail)] for two word classes under a design (memoised)."""
        pair = (src_key, dst_key, design)
        found = self._hw_memo.get(pair)
        if found is None:
            found = self._hw_memo[pair] = differences(Word(*src_key), Word(*dst_key), design)
        return found


# --------------------------------------------------------------------------- one evaluation


class Evaluation:
    """The rules applied to one source mdev over the candidate destinations of an index.

    ``blockers`` / ``warnings``: {code: bitset of destinations}. ``source_blockers`` /
    ``source_warnings``: the findings of the source side, which hold for every destination.
    """

    __slots__ = (
        "index",
        "source",
        "mdev",
        "rules",
        "candidates",
        "attribute",
        "kernel",
        "blockers",
        "warnings",
        "marks",
        "source_blockers",
        "source_warnings",
        "wanted",
        "memo",
        "action_domains",
        "source_traits",
        "copies",
    )

    def __init__(self, index: DestinationIndex, source: H.HostFacts, mdev: Mapping, rules: str, candidates: int) -> None:
        self.index = index
        self.source = source
        self.mdev = mdev
        self.rules = rules
        self.candidates = candidates
        self.attribute, self.kernel, _mixed = index.scope(rules, source.level)
        self.blockers: dict[str, int] = {}
        self.warnings: dict[str, int] = {}
        self.marks: list[tuple[str, str | None, int, Detail]] = []
        self.source_blockers: list[dict[str, Any]] = []
        self.source_warnings: list[dict[str, Any]] = []
        self.wanted = H.guest_queues(mdev)
        self.memo: dict[str, dict] | None = None  # per-destination results kept by a shared evaluation's views
        self.action_domains: list[int] | None = None  # the mdev's control domains as its actions give them (``actions``)
        self.source_traits: tuple[H.QueueTraits | None, ...] = ()  # the traits of ``wanted`` on the source (``source_rules``)
        self.copies: dict[int, list[dict[str, Any]]] = {}  # a view's actions per kept actions (``actions``)

    def mark(self, code: str, bits: int, apqn: str | None, detail: Detail) -> None:
        """Record ``code`` for the destinations in ``bits`` (limited to the candidates and the code's rule scope)."""
        scope = BY_CODE[code].scope
        bits &= self.candidates
        if scope == "attribute":
            bits &= self.attribute
        elif scope == "kernel":
            bits &= self.kernel
        if not bits:
            return
        table = self.blockers if BY_CODE[code].kind == "blocker" else self.warnings
        table[code] = table.get(code, 0) | bits
        self.marks.append((code, apqn, bits, detail))

    def mark_source(self, code: str, apqn: str | None, detail: str) -> None:
        """Record a source-side finding: it holds for every candidate destination."""
        table, found = (self.blockers, self.source_blockers) if BY_CODE[code].kind == "blocker" else (self.warnings, self.source_warnings)
        found.append(finding(code, apqn, detail))
        if self.candidates:
            table[code] = table.get(code, 0) | self.candidates

    def findings(self, i: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Return (blockers, warnings) of destination i, source-side findings included, each sorted."""
        blockers, warnings = list(self.source_blockers), list(self.source_warnings)
        for code, apqn, bits, detail in self.marks:
            if bits >> i & 1:
                item = finding(code, apqn, detail(i) if callable(detail) else detail)
                (blockers if BY_CODE[code].kind == "blocker" else warnings).append(item)
        return sort_findings(blockers), sort_findings(warnings)

    def apqns_by_code(self, i: int) -> dict[str, list[str]]:
        """Return {blocker code: [APQNs it names]} of destination i (source blockers included)."""
        out: dict[str, list[str]] = {}
        for item in self.source_blockers:
            out.setdefault(item["code"], [])
        for code, apqn, bits, _detail in self.marks:
            if bits >> i & 1 and BY_CODE[code].kind == "blocker":
                apqns = out.setdefault(code, [])
                if apqn is not None and apqn not in apqns:
                    apqns.append(apqn)
        return {code: sorted(out[code]) for code in sorted(out, key=ORDER.__getitem__)}

    def codes(self, i: int) -> set[str]:
        """Return every blocker and warning code of destination i."""
        kept = self.memo["codes"] if self.memo is not None else None
        found = kept.get(i) if kept is not None else None
        if found is None:
            bit = 1 << i
            found = {c for c, b in self.blockers.items() if b & bit} | {c for c, b in self.warnings.items() if b & bit}
            if kept is not None:
                kept[i] = found
        return found

    def actions(self, i: int) -> list[dict[str, Any]]:
        """Return the ordered actions that make destination i ready (reserve, then the mdev).

        A view of a shared evaluation keeps them per destination and control domains: its guests have
        no mdev on destination i (``shared_evaluation``), so theirs differ in the mdev's UUID only.
        Destinations that read alike (level of checks, codes, unbound APQNs) share them, and a view
        returns one list for them (its entry shares it; never changed).
        """
        uuid = self.mdev["uuid"]
        control_domains = self.action_domains
        if control_domains is None:
            control_domains = self.action_domains = sorted(self.mdev.get("control_domains") or [])
        key = (i, *control_domains)
        shared = self.memo
        kept = shared["actions"].get(key) if shared is not None else None
        if kept is None:
            host = self.index.hosts[i]
            bit = 1 << i
            unbound = [apqn for apqn in self.wanted if self.index.unbound.get(apqn, 0) & bit]
            attribute, codes = bool(self.attribute & bit), self.codes(i)
            if shared is None:
                return destination_actions(host, uuid, self.wanted, control_domains, attribute, unbound, codes)
            # what destination_actions reads of a destination without the UUID's mdev (as every one of a shared class)
            inputs = (attribute, frozenset(codes), *unbound, None, *control_domains)
            kept = shared["action_inputs"].get(inputs)
            if kept is None:
                kept = shared["action_inputs"][inputs] = destination_actions(
                    host, uuid, self.wanted, control_domains, attribute, unbound, codes
                )
                self.copies[id(kept)] = kept  # (this view's UUID)
            shared["actions"][key] = kept
        copy = self.copies.get(id(kept))
        if copy is None:
            copy = self.copies[id(kept)] = [{**action, "uuid": uuid} if action["type"] == "mdev" else action for action in kept]
        return copy


def evaluate(index: DestinationIndex, source: H.HostFacts, mdev: Mapping, rules: str, candidates: int) -> Evaluation:
    """Return the Evaluation of every rule for the source mdev over the candidate destinations."""
    ev = Evaluation(index, source, mdev, rules, candidates)
    source_rules(ev)
    _same_host_rule(ev)
    _mdev_rules(ev)
    _shared_rules(ev)
    return ev


def source_rules(ev: Evaluation) -> None:
    """Apply the rules of the source side (``mark_source``; with candidates 0 only those) and the facts' gaps."""
    _source_rules(ev)
    if ev.source.level == "series":
        ev.mark_source(
            "migration_level_unknown",
            None,
            f"{ev.source.label}'s facts do not show which interface of the migration series it runs: both rule sets are checked",
        )
    facts_rules(ev)


def _shared_rules(ev: Evaluation) -> None:
    """Apply the destination rules that read of the guest only its queues (and their traits on the source), its
    control domains and the source's migration level (``shared_evaluation``)."""
    _host_rules(ev)
    for apqn in ev.wanted:
        _queue_rules(ev, apqn)
    _control_domain_rules(ev)


def shared_evaluation(index: DestinationIndex, source: H.HostFacts, mdev: Mapping, rules: str, source_codes: list[str]) -> Evaluation:
    """Return the Evaluation over every destination that all guests alike in what the rules read share.

    Guests with the same queues, source traits of those queues (``QueueTraits``), checked control
    domains, source migration level and source-side finding codes (``source_codes``) are evaluated
    alike at every destination that holds no mdev of their UUID, no claim of their UUID and no twin
    of their source machine: there, this evaluation of ``mdev`` under a UUID no host has (so
    ``mdev_missing`` everywhere) is theirs. Its source-side findings carry the codes only.
    """
    ev = Evaluation(index, source, {**mdev, "uuid": None}, rules, index.all)
    for code in source_codes:
        ev.mark_source(code, None, "")
    facts_rules(ev)
    _mdev_rules(ev)
    _shared_rules(ev)
    return ev


def guest_control_domains(source: H.HostFacts, mdev: Mapping) -> list[int] | None:
    """Return the control domains the guest really has (the assigned ones in the source LPAR's mask), or None when unknown.

    The kernel gives the guest (and saves for the migration) the assignment filtered by the host's
    control-domain mask: an empty mask gives none. None when the assignment or the mask is not known.
    """
    assigned, mask = mdev.get("control_domains"), source.control_domains
    if assigned is None or mask is None:
        return None
    return sorted(d for d in assigned if d in mask)


def checked_control_domains(source: H.HostFacts, mdev: Mapping) -> tuple[list[int] | None, str]:
    """Return (control domains a destination must offer, why) for the guest of a source mdev.

    The guest's own when known; else every control domain it may have: the assignment when the
    LPAR's mask is unknown, the LPAR's mask when the assignment is unknown; None when neither is.
    """
    known = guest_control_domains(source, mdev)
    if known is not None:
        return known, ""
    assigned, mask = mdev.get("control_domains"), source.control_domains
    if assigned is not None:
        return sorted(assigned), " (the source LPAR's control-domain mask is unknown: every assigned control domain is checked)"
    if mask is not None:
        return sorted(mask), f" (the mdev's control domains are unknown: every control domain of the source LPAR {source.label} is checked)"
    return None, ""


def _control_domain_rules(ev: Evaluation) -> None:
    names, hosts = ev.index.names, ev.index.hosts
    domains, why = checked_control_domains(ev.source, ev.mdev)
    if domains is None:
        ev.mark(
            "control_domain_unavailable",
            ev.candidates,
            None,
            "the guest's control domains are unknown: neither the source mdev's control domains nor the source LPAR's "
            "control-domain mask could be read",
        )
        return

    def missing(domain: int) -> Callable[[int], str]:
        def detail(i: int) -> str:
            if hosts[i].control_domains is None:
                return f"{names[i]}'s control-domain mask is unknown: control domain {domain:04x} cannot be checked{why}"
            return f"control domain {domain:04x} not in {names[i]}'s control-domain mask{why}"

        return detail

    for domain in domains:
        ev.mark("control_domain_unavailable", ev.candidates & ~ev.index.cdoms.get(domain, 0), None, missing(domain))


def _source_rules(ev: Evaluation) -> None:
    source, mdev = ev.source, ev.mdev
    problem = host_support_problem(source)
    if problem:
        ev.mark_source("no_migration_support", None, "source: " + problem)
    guard = H.guard_entry(source, mdev["uuid"])
    if guard is not None and guard.get("migratable") is False:
        reason = guard.get("reason")
        ev.mark_source("migration_disabled", None, f"a migration guard is set on {source.label}{': ' + str(reason) if reason else ''}")
    if mdev.get("migratable") is False and source.facts["driver"]["migration"] == "attribute":  # the v1 file, not the guard
        ev.mark_source("migration_disabled", None, "the source mdev's migratable attribute is 0")
    assigned = mdev.get("apqns") or []
    extra = sorted(set(assigned) - set(ev.wanted)) if assigned != ev.wanted else []
    if extra:
        ev.mark_source("over_provisioned", None, "assigned but not in the guest matrix: " + ", ".join(extra))
    drift = H.definition_drift(mdev, source.definitions.get(mdev["uuid"]))
    if drift:
        ev.mark_source("drift", None, "source: " + drift)
    found = []
    for apqn in ev.wanted:
        traits = source.traits(apqn)
        found.append(traits)
        if traits is None:
            ev.mark_source(
                "hw_query_failed", apqn, f"source: queue {apqn} is not in the facts of {source.label} (were its queues gathered?)"
            )
            continue
        problem = word_problem(saved_word(source, traits))
        if problem:
            ev.mark_source("hw_query_failed", apqn, f"source: queue {apqn} on {source.label}: {problem}")
        if traits.master_keys and traits.mkvps is None:
            ev.mark_source("mkvp_unknown", apqn, "master-key verification pattern unknown on the source")
    ev.source_traits = tuple(found)


def saved_word(source: H.HostFacts, traits: H.QueueTraits) -> Word:
    """Return the word the source saves for a queue (its traits): the card-cached one on series v1/v2, else a fresh TAPQ's."""
    return traits.cached if source.level == "attribute" else traits.tapq


def _host_rules(ev: Evaluation) -> None:
    index, source = ev.index, ev.source
    hosts = index.hosts
    _attribute, _kernel, mixed = index.scope(ev.rules, source.level)
    ev.mark(
        "mixed_migration_levels",
        mixed,
        None,
        lambda i: f"source uses the {source.level} interface, destination {hosts[i].level}: checking both rule sets (strict)",
    )
    if ev.rules == "auto":
        ev.mark(
            "migration_level_unknown",
            index.level_bits.get("series", 0),
            None,
            lambda i: (
                f"{hosts[i].label} has no mdev that shows which interface of the migration series it runs (series v1/v2 "
                f"attribute or v3+ kernel): both rule sets are checked; set {H.LEVEL_VARIABLE} for it to check one"
            ),
        )
    ev.mark("no_migration_support", index.unsupported, None, lambda i: "destination: " + str(host_support_problem(hosts[i])))


def _same_host_rule(ev: Evaluation) -> None:
    index, source = ev.index, ev.source
    hosts = index.hosts
    same = index.identities.get(source.identity, 0) if source.identity is not None else 0
    if source.name is not None and source.name in index.position:
        same |= 1 << index.position[source.name]
    ev.mark(
        "same_host",
        same,
        None,
        lambda i: (
            f"{hosts[i].label} is the same LPAR as {source.label}"
            if hosts[i].name != source.name
            else "source and destination are the same host"
        ),
    )


def _mdev_rules(ev: Evaluation) -> None:
    uuid, mdev = ev.mdev["uuid"], ev.mdev
    wanted = H.guest_queues(mdev)
    have = 0
    for i, host in ev.index.mdevs.get(uuid, {}).items():
        bit = 1 << i
        have |= bit
        if not bit & ev.candidates:
            continue
        twin = host.mdevs[uuid]
        if twin.get("in_use") or twin.get("guest"):
            ev.mark("mdev_in_use", bit, None, f"mdev {uuid} on {host.label} is attached to guest {twin.get('guest') or '(unknown)'}")
        held = H.guest_queues(twin)  # series v1/v2 compare the guest matrices, not the assignments
        if held != wanted:
            missing, extra = sorted(set(wanted) - set(held)), sorted(set(held) - set(wanted))
            text = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"also holds {', '.join(extra)}"] if extra else [])
            ev.mark("apqn_set_mismatch", bit, None, "destination mdev " + " and ".join(text))
        if uuid not in host.definitions and not twin.get("defined"):
            ev.mark("not_persistent", bit, None, f"mdev {uuid} on {host.label} has no mdevctl definition")
        drift = H.definition_drift(twin, host.definitions.get(uuid))
        if drift:
            ev.mark("drift", bit, None, "destination: " + drift)
    names = ev.index.names
    ev.mark("mdev_missing", ~have, None, lambda i: f"no mdev {uuid} on {names[i]}")


def _queue_rules(ev: Evaluation, apqn: str) -> None:
    index, source, uuid = ev.index, ev.source, ev.mdev["uuid"]
    hosts, names = index.hosts, index.names
    installed = index.installed.get(apqn, 0)
    ev.mark("apqn_not_installed", ~installed, apqn, lambda i: f"no queue device {apqn} on {names[i]}")
    ev.mark("apqn_not_bound", index.unbound.get(apqn, 0), apqn, lambda i: str(H.queue_binding_problem(hosts[i].existing_queue(apqn))))
    ev.mark(
        "queue_unusable",
        index.unusable.get(apqn, 0),
        apqn,
        lambda i: str(H.queue_unusable_problem(hosts[i], hosts[i].existing_queue(apqn))),
    )
    own = bitset(index.claims.get(apqn, {}).get(uuid, []))
    others = (index.claimed.get(apqn, 0) & ~own) | (index.claimed_twice.get(apqn, 0) & own)

    def claimed_by(i: int) -> str:
        holders = sorted((u, kind) for u, kind in hosts[i].claims.get(apqn, {}).items() if u != uuid)
        return "assigned to " + ", ".join(f"{kind} {u}" for u, kind in holders)

    ev.mark("apqn_in_use", others, apqn, claimed_by)
    source_queue = source.traits(apqn)
    if source_queue is not None:
        _hardware_rules(ev, apqn, source_queue)
    src_keys = source_queue is not None and source_queue.master_keys
    relevant = (installed if src_keys else index.master_keys.get(apqn, 0)) & ev.candidates
    src_mk = source_queue.mkvps if relevant and source_queue is not None else None
    if src_mk is None:  # unknown on the source: a source warning (_source_rules), not per destination
        return
    for pattern, bits in index.mkvp.get(apqn, {}).items():
        if not bits & relevant:
            continue
        if pattern is None:
            ev.mark("mkvp_unknown", bits & relevant, apqn, "master-key verification pattern unknown on the destination")
        else:
            diff = H.mkvp_difference(src_mk, pattern)
            if diff:
                ev.mark("mkvp_mismatch", bits & relevant, apqn, diff)


def _hardware_rules(ev: Evaluation, apqn: str, source_queue: H.QueueTraits) -> None:
    """Mark the hardware findings of one guest queue: the restore design's comparison of fresh TAPQ words on
    destinations where the kernel rules apply, the validation design's comparison with card-cached words where
    the attribute rules apply; a destination word that cannot be compared is hw_query_failed."""
    index, names = ev.index, ev.index.names
    saved = saved_word(ev.source, source_queue)
    if word_problem(saved):
        return  # a source-side hw_query_failed (_source_rules): nothing to compare
    src_key = H.word_key(saved, TAPQ_MASK)
    for design, table, scope in (("restore", index.tapq, ev.kernel), ("validate", index.cached, ev.attribute)):
        for dst_key, bits in table.get(apqn, {}).items():
            part = bits & scope & ev.candidates
            if not part:
                continue
            problem = word_problem(Word(*dst_key))
            if problem:
                where = "its card's cached word" if design == "validate" else "a fresh TAPQ"
                ev.mark("hw_query_failed", part, apqn, _unreadable(names, apqn, f"({where}): {problem}"))
                continue
            for code, detail in index.hardware(src_key, dst_key, design):
                ev.mark(code, part, apqn, detail)
    # Card-cached words hide a bind state (a series v1/v2 source saves one, a v1/v2 destination compares one): the
    # kernel does not see it there, orchestration still refuses a queue bound to a Secure Execution guest.
    src_bs = bind_state(source_queue.tapq.fac)
    hidden = index.installed.get(apqn, 0) if src_bs and not bind_state(saved.fac) else 0
    bound = ev.candidates & (hidden | (index.bound_se.get(apqn, 0) & ev.attribute & ~ev.kernel))
    if bound:
        hosts = index.hosts
        ev.mark(
            "secure_execution",
            bound,
            apqn,
            lambda i: (
                f"bind/associate state source {src_bs}, destination "
                f"{bind_state(H.tapq_word(hosts[i], hosts[i].existing_queue(apqn)).fac)}: the queue is bound to a Secure Execution guest"
            ),
        )


def _unreadable(names: list[str], apqn: str, why: str) -> Callable[[int], str]:
    """Return the detail of a destination-side hw_query_failed for destination i."""
    return lambda i: f"destination: queue {apqn} on {names[i]} {why}"


def verdict_bits(ev: Evaluation) -> tuple[int, int, int]:
    """Return (ready, ready after preparation, blocked) destination bitsets of an evaluation."""
    any_blocker = unfixable = 0
    for code, bits in ev.blockers.items():
        any_blocker |= bits
        if code not in FIXABLE_CODES:
            unfixable |= bits
    return ev.candidates & ~any_blocker, any_blocker & ~unfixable, unfixable


# --------------------------------------------------------------------------- one pair


def find_source_mdev(source: H.HostFacts, uuid: Any) -> Mapping:
    """Return the source mdev with ``uuid``; ValueError naming the UUID and the source's mdevs otherwise."""
    if not isinstance(uuid, str):
        raise ValueError(f"uuid: expected an mdev UUID string, got {type(uuid).__name__}")
    mdev = source.mdevs.get(uuid.strip().lower())
    if mdev is None:
        known = ", ".join(sorted(source.mdevs)) or "none"
        raise ValueError(f"uuid: {uuid} is not an mdev of the source (its mdevs: {known})")
    return mdev


def check_pair(source: H.HostFacts, destination: H.HostFacts, uuid: Any, rules: str = "auto") -> dict[str, Any]:
    """Return the readiness of the source mdev ``uuid`` on the destination (the migration_check result).

    Result: {uuid, guest, source, destination, rules, ready, ready_after, apqns, control_domains,
    blockers, warnings, actions}; see docs/plan-schema.md.
    """
    mdev = find_source_mdev(source, uuid)
    effective, _mixed = resolve_rules(rules, source.level, destination.level)
    wanted = H.guest_queues(mdev)
    index = DestinationIndex([destination], set(wanted))
    ev = evaluate(index, source, mdev, rules, 1)
    if destination is source:  # one facts dict for both ends, no names: still the same host
        ev.mark("same_host", 1, None, "source and destination are the same host")
    blockers, warnings = ev.findings(0)
    codes = {f["code"] for f in blockers}
    return {
        "uuid": mdev["uuid"],
        "guest": mdev.get("guest"),
        "source": source.name,
        "destination": destination.name,
        "rules": effective,
        "ready": not blockers,
        "ready_after": bool(blockers) and codes <= FIXABLE_CODES,
        "apqns": wanted,
        "control_domains": guest_control_domains(source, mdev),
        "blockers": blockers,
        "warnings": warnings,
        "actions": ev.actions(0),
    }


def migration_check(
    source_facts: Any,
    destination_facts: Any,
    uuid: Any,
    rules: str = "auto",
    source: Any = None,
    destination: Any = None,
    mkvps: Any = None,
    migration_levels: Any = None,
) -> dict[str, Any]:
    """Return the readiness of mdev ``uuid`` from source_facts' host to destination_facts' host.

    ``mkvps`` ({host: {apqn: {slot: pattern}}}) adds known master-key verification patterns and
    ``migration_levels`` ({host: attribute|kernel}) the migration level of a host whose facts cannot
    show it, both for the hosts named ``source``/``destination``. Raises ValueError naming the bad argument.
    """
    mkvps = require_mapping(mkvps, "mkvps", "{host: {apqn: {slot: pattern}}}")
    levels = require_mapping(migration_levels, "migration_levels", "{host: attribute|kernel}")
    require_host_name(source, "source")
    require_host_name(destination, "destination")
    require_rules(rules)
    src = H.HostFacts(source_facts, source, "source_facts", mkvps.get(source) if source else None, levels.get(source) if source else None)
    if destination_facts is source_facts and (destination is None or destination == source):
        dst = src
    else:
        dst = H.HostFacts(
            destination_facts,
            destination,
            "destination_facts",
            mkvps.get(destination) if destination else None,
            levels.get(destination) if destination else None,
        )
    return check_pair(src, dst, uuid, rules)
