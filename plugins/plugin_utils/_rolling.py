# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""The rolling maintenance plan: in which batches to take the hosts down, and where each guest goes.

Given the hosts to maintain and a batch size, :func:`rolling_plan` chooses an order of batches
and, per batch, a destination for every running vfio-ap guest of the batch's hosts, so that no
guest is stranded at any step and guests move as few times as possible. Destinations are taken,
in this order of preference, from hosts not due for maintenance, from hosts already maintained
(both final: the guest never moves again) and, only when neither has room, from hosts due later
(the guest moves again when that host's batch comes). Hosts in ``avoid`` are never destinations.

Every verdict comes from the readiness engine (``_readiness.evaluate`` and ``verdict_bits``, one
evaluation per guest and host it runs on). What the engine cannot know from the facts is the
state the plan itself creates, which is tracked here across steps:

- the APQNs a guest takes on a destination are no longer free for another guest (``apqn_in_use``),
  in the same step and afterwards (the mdev stays on the host, also after the guest moves on);
- a destination gets at most ``available_instances`` new mdevs over the whole plan;
- a guest that moved is evaluated again from the host it landed on (its queues there are the
  source of the next migration), with the mdev the migration left there;
- the mdevs of the guests the plan moves are idle once their guest has left, so a guest may come
  back to a host it left (its own mdev is there).

Orders tried: ``planned`` (batches chosen step by step, see :class:`_Run`) and ``given`` (the
hosts in the order given, ``batch_size`` at a time). The result is the better of those asked for;
a guest stranded in every order tried is reported as ``unavoidable``, with its blockers.

Cost: one engine evaluation per guest (and per guest that moves again), then per step a pass over
the guests of the hosts not yet maintained; destinations are bitsets over the hosts (as in the
engine), so choosing one reads a window of candidates, not every host.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_apqn
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _host_facts as H
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness as R
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._fleet import facts_of
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import require_bool, require_count, require_names, require_rules
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import positions, stranding_codes
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reason_codes import ORDER

SCHEMA = 1
ORDERS = ("planned", "given")
TIERS = ("outside", "maintained", "later")  # destination not due for maintenance, already maintained, due later
_WINDOW = 32  # candidates compared when choosing a destination in one tier
_LOOKAHEAD = 4  # a guest with at most this many hosts due later to go to: check it could leave them again


# --------------------------------------------------------------------------- inputs


def _known(names: list[str], known: Mapping[str, Any], what: str) -> list[str]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{what}: {', '.join(unknown)} not in facts_by_host (not inventory hosts)")
    return names


@dataclass
class _Guest:
    """A running guest of a host to maintain, as the plan moves it."""

    uuid: str
    guest: str
    home: str
    host: str
    mdev: Mapping[str, Any]
    moves: list[dict[str, Any]] = field(default_factory=list)
    stranded: dict[str, Any] | None = None


@dataclass
class _Verdict:
    """The engine's answer for one guest from one host: destination bitsets and the evaluation."""

    ev: R.Evaluation
    ready: int
    after: int
    blocked: int


# --------------------------------------------------------------------------- the planner


class _Planner:
    """The fleet, the engine's index over the destinations and the evaluations shared by the orders tried."""

    def __init__(
        self,
        facts_by_host: Any,
        hosts: Any,
        batch_size: Any,
        avoid: Any,
        destinations: Any,
        rules: Any,
        prepare: Any,
        enable_migration: Any,
        mkvps: Any,
        maintained: Any = None,
    ) -> None:
        if not isinstance(facts_by_host, Mapping) or not facts_by_host:
            raise ValueError("facts_by_host: expected a non-empty mapping {host: facts} (for example hostvars)")
        self.rules = require_rules(rules)
        self.batch_size = require_count(batch_size, "batch_size", 1)
        self.prepare = require_bool(prepare, "prepare")
        self.enable_migration = require_bool(enable_migration, "enable_migration")
        if mkvps is not None and not isinstance(mkvps, Mapping):
            raise ValueError(f"mkvps: expected {{host: {{apqn: {{slot: pattern}}}}}}, got {type(mkvps).__name__}")
        mkvps = mkvps or {}
        self.maintain = _known(require_names(hosts, "hosts"), facts_by_host, "hosts")
        if not self.maintain:
            raise ValueError("hosts: expected at least one host to maintain, got none")
        self.avoid = sorted(set(_known(require_names(avoid, "avoid"), facts_by_host, "avoid")))
        facts: dict[str, Mapping] = {}
        without = []
        names = require_names(destinations, "destinations") if destinations is not None else sorted(str(n) for n in facts_by_host)
        _known(names, facts_by_host, "destinations")
        for name in sorted(set(names) | set(self.maintain)):
            try:
                facts[name] = facts_of(facts_by_host[name], name)[0]
            except ValueError:
                if name in self.maintain:
                    raise ValueError(
                        f"hosts: {name} has no vfio_ap facts (run s390x.vfio_ap.ap_facts there first): "
                        "a host whose guests are unknown cannot be planned"
                    ) from None
                without.append(name)  # not audited: never a destination
        self.not_audited = without
        # hosts maintained already (an earlier part of the same rolling maintenance): final destinations, second choice
        self.maintained = sorted(set(_known(require_names(maintained, "maintained"), facts_by_host, "maintained")) - set(self.maintain))
        # the running guests of the hosts to maintain, once per UUID (first host by name)
        self.guests: list[_Guest] = []
        self.warnings: list[str] = []
        seen: dict[str, str] = {}
        for name in sorted(self.maintain):
            for mdev in facts[name]["driver"].get("mdevs") or []:
                if not isinstance(mdev, Mapping) or not mdev.get("guest"):
                    continue
                uuid = str(mdev.get("uuid"))
                if uuid in seen:
                    self.warnings.append(f"mdev {uuid} is attached to a guest on {seen[uuid]} and on {name}: planned from {seen[uuid]}")
                    continue
                seen[uuid] = name
                self.guests.append(_Guest(uuid, str(mdev["guest"]), name, name, mdev))
        moving = set(seen)
        # Sources as they are; destinations with the moving guests' mdevs idle (they are, once the guest left).
        self.sources = {name: H.HostFacts(facts[name], name, f"facts_by_host[{name!r}]", mkvps.get(name)) for name in self.maintain}
        dest_names = [n for n in sorted(set(names) | set(self.maintain)) if n in facts]
        dest_hosts = [
            H.HostFacts(_idle(facts[n], moving) if n in self.maintain else facts[n], n, f"facts_by_host[{n!r}]", mkvps.get(n))
            for n in dest_names
        ]
        needed = {apqn for g in self.guests for apqn in H.guest_queues(g.mdev)}
        self.index = R.DestinationIndex(dest_hosts, needed)
        pos = self.index.position
        self.bit = {name: 1 << i for name, i in pos.items()}
        self.maintain_bits = _bits(pos, self.maintain)
        self.avoid_bits = _bits(pos, self.avoid)
        self.maintained_bits = _bits(pos, self.maintained)
        self.capacity = {i: h.facts["driver"].get("available_instances") for i, h in enumerate(dest_hosts)}
        # running guests per host as gathered (the index's copies of the hosts to maintain have theirs idle)
        self.residents: Counter[Any] = Counter()
        for name, host_facts in facts.items():
            running = sum(1 for m in host_facts["driver"].get("mdevs") or [] if isinstance(m, Mapping) and m.get("guest"))
            self.residents[pos.get(name, name)] = running
        self.verdicts: dict[tuple, _Verdict] = {}

    def verdict(self, g: _Guest) -> _Verdict:
        """Return the engine's verdict for guest g from the host it is on now (memoised per guest and host)."""
        key = (g.uuid, g.host, tuple(g.mdev.get("control_domains") or ()), g.mdev.get("migratable"))
        found = self.verdicts.get(key)
        if found is None:
            candidates = self.index.all & ~self.bit.get(g.host, 0)
            ev = R.evaluate(self.index, self.source_of(g), g.mdev, self.rules, candidates)
            if self.enable_migration:  # the run enables migration on the source before the guest leaves
                ev.blockers.pop("migration_disabled", None)
            ready, after, blocked = R.verdict_bits(ev)
            found = self.verdicts[key] = _Verdict(ev, ready, after, blocked)
        return found

    def usable(self, g: _Guest) -> int:
        v = self.verdict(g)
        return v.ready | (v.after if self.prepare else 0)

    def source_of(self, g: _Guest) -> H.HostFacts:
        """Return the facts of the host g runs on now (its home as gathered, else the destination it landed on)."""
        return self.sources[g.host] if g.host == g.home else self.index.hosts[self.index.position[g.host]]

    def way_out(self, g: _Guest, i: int) -> bool:
        """Return whether g, once moved to destination i, could leave i again (it has a destination from there)."""
        name = self.index.names[i]
        moved = _Guest(g.uuid, g.guest, g.home, name, landed_mdev(g.mdev, self.source_of(g), self.index.hosts[i]))
        return bool(self.usable(moved) & ~self.avoid_bits & ~(1 << i))


def _bits(position: Mapping[Any, int], names: Any) -> int:
    out = 0
    for name in names:
        if name in position:
            out |= 1 << position[name]
    return out


def _idle(facts: Mapping[str, Any], uuids: set[str]) -> dict[str, Any]:
    """Return facts in which the mdevs ``uuids`` no longer have a guest (the guest has moved away)."""
    vfio = facts["driver"]
    mdevs = [dict(m, guest=None, in_use=False) if isinstance(m, Mapping) and m.get("uuid") in uuids else m for m in vfio.get("mdevs") or []]
    return {**facts, "driver": {**vfio, "mdevs": mdevs}}


def landed_mdev(mdev: Mapping[str, Any], source: H.HostFacts, destination: H.HostFacts) -> dict[str, Any]:
    """Return the mdev a migration leaves on the destination: the guest's APQNs and control domains, in use.

    The restore design (series v3+) assigns the source guest's matrix and control domains; the
    validation design (v1/v2) needs the destination mdev to hold the same APQN set already. On a
    series v1 destination the mdev's ``migratable`` attribute is the one of the mdev that was there,
    else 0 (its value when the preparation creates it): the guest cannot leave again until it is enabled.
    """
    wanted = H.guest_queues(mdev)
    pairs = [parse_apqn(a) for a in wanted]
    there = destination.mdevs.get(mdev["uuid"]) or {}
    migratable = there.get("migratable", False) if destination.level == "attribute" else None
    return {
        "uuid": mdev["uuid"],
        "guest": mdev.get("guest"),
        "adapters": sorted({a for a, _d in pairs}),
        "domains": sorted({d for _a, d in pairs}),
        "control_domains": R.guest_control_domains(source, mdev),
        "apqns": wanted,
        "guest_apqns": wanted,
        "in_use": True,
        "migratable": migratable,
        "defined": True,
        "start": "auto",
    }


# --------------------------------------------------------------------------- one order


class _Run:
    """One simulation of the rolling maintenance in one order: the batches, the moves, the stranded guests.

    ``planned`` builds each batch a host at a time (``_choose``), draining each host as it joins:
    first the hosts whose guests the batch would strand least, then those whose guests have a
    final destination with room (not due for maintenance, or maintained already), then those whose
    guests would not find one by waiting for the batch, then those the guests of other hosts want
    most as destinations, then those with fewest guests. ``given``
    takes the hosts in the order given. Within a host the guests with fewest destinations go first.
    """

    def __init__(self, planner: _Planner, order: str) -> None:
        self.p = planner
        self.order = order
        self.guests = [_Guest(g.uuid, g.guest, g.home, g.host, g.mdev) for g in planner.guests]
        self.on: dict[str, list[_Guest]] = {}
        for g in self.guests:
            self.on.setdefault(g.host, []).append(g)
        self.done: list[str] = []
        self.done_bits = planner.maintained_bits
        self.taken: dict[int, dict[str, str]] = {}  # destination -> {apqn: uuid} taken by the plan
        self.new_mdevs: Counter[int] = Counter()
        self.created: set[tuple[str, int]] = set()
        self.residents: Counter[Any] = Counter(planner.residents)
        self.batches: list[dict[str, Any]] = []
        self.turn = 0  # rotates the candidate window from guest to guest
        self.demand = self._demand() if order == "planned" else Counter()
        # a final destination with room per guest ("planned" only), and who relies on which room
        self.room: dict[str, int | None] = {}
        self.room_users: dict[tuple[int, str | None], set[str]] = {}

    # ------------------------------------------------------------------ choosing the batches

    def _demand(self) -> Counter[str]:
        """Return {host to maintain: guests of other such hosts with no destination outside them that can use it}."""
        p = self.p
        names = p.index.names
        outside = p.index.all & ~p.maintain_bits & ~p.avoid_bits
        demand: Counter[str] = Counter()
        for g in self.guests:
            usable = p.usable(g) & ~p.avoid_bits
            if usable & outside:
                continue
            for i in positions(usable & p.maintain_bits, usable.bit_count()):
                demand[names[i]] += 1
        return demand

    def _choose(self, remaining: list[str], batch: list[str], receivers: set[str]) -> str | None:
        """Return the next host of the batch being built (``planned``), or None when none may join it.

        Hosts that took guests of this batch (``receivers``) may not join it, nor a host that would
        strand guests once the batch has a host (it waits: the next batch has more destinations).
        Key, smallest first:
        guests it would strand (including those whose only hosts to go to are due later and none
        could be left again, and, when the hosts left after the batch go down together, theirs),
        guests with no final destination with room (they move again), guests that would have one in
        the next batch among this batch's hosts (better wait), demand, guests, name.
        """
        p = self.p
        members = _bits(p.index.position, batch)
        out_base = members | p.avoid_bits
        final = self._final_bits()
        best, best_key = None, None
        for host in remaining:
            if host in batch or host in receivers:
                continue
            out = out_base | p.bit.get(host, 0)
            stranded = again = regret = 0
            for g in self.on.get(host, []):
                usable = p.usable(g) & ~p.avoid_bits
                if not usable:
                    continue  # stranded in any order: does not decide the order
                if self._room(g) is not None:
                    continue  # a final destination with room
                avail = usable & ~out
                if not self._room_among(g, avail) or self._trapped(g, avail, final):
                    stranded += 1
                else:
                    again += 1
                    if self._room_among(g, usable & members):
                        regret += 1  # in the next batch this guest would have a final destination
            if 0 < len(remaining) - len(batch) - 1 <= p.batch_size:  # the hosts left after this batch go down together
                stranded += self._tail([h for h in remaining if h not in batch and h != host])
            key = (stranded, again, regret, -self.demand[host], len(self.on.get(host, [])), host)
            if best_key is None or key < best_key:
                best, best_key = host, key
        if batch and best_key is not None and best_key[0]:
            return None  # it would strand guests now: it waits for the next batch, when this one is maintained
        return best

    def _final_bits(self) -> int:
        """Return the destinations a guest never has to leave: not due for maintenance, or maintained already."""
        p = self.p
        return ((p.index.all & ~p.maintain_bits) | self.done_bits) & ~p.avoid_bits

    def _room(self, g: _Guest) -> int | None:
        """Return a final destination with room for g in the plan's state (memoised until that room is taken), or None."""
        if g.uuid in self.room:
            return self.room[g.uuid]
        p = self.p
        v = p.verdict(g)
        apqns = H.guest_queues(g.mdev)
        bits = p.usable(g) & self._final_bits()
        found = None
        while bits and found is None:
            window = positions(bits, _WINDOW)
            found = next((i for i in window if self._fits(g, i, apqns, v) is None), None)
            for i in window:
                bits &= ~(1 << i)
        self.room[g.uuid] = found
        if found is not None:
            for a in apqns:
                self.room_users.setdefault((found, a), set()).add(g.uuid)
            self.room_users.setdefault((found, None), set()).add(g.uuid)
        return found

    def _room_among(self, g: _Guest, bits: int) -> bool:
        """Return whether one of the destinations ``bits`` has room for g now (the first window of them is read)."""
        v = self.p.verdict(g)
        apqns = H.guest_queues(g.mdev)
        return any(self._fits(g, i, apqns, v) is None for i in positions(bits, _WINDOW))

    def _forget_room(self, i: int, apqns: list[str]) -> None:
        """Forget the final room found on destination i for the guests a placement there may have taken it from."""
        keys: list[tuple[int, str | None]] = [(i, a) for a in apqns]
        limit = self.p.capacity.get(i)
        if limit is not None and self.new_mdevs[i] >= int(limit):
            keys.append((i, None))
        for key in keys:
            for uuid in self.room_users.pop(key, ()):
                self.room.pop(uuid, None)

    def _tail(self, rest: list[str]) -> int:
        """Return how many guests of the hosts ``rest`` could only go to one another (the last batch strands them)."""
        p = self.p
        rest_bits = _bits(p.index.position, rest)
        return sum(1 for h in rest for g in self.on.get(h, []) if (u := p.usable(g) & ~p.avoid_bits) and not u & ~rest_bits)

    def _trapped(self, g: _Guest, usable: int, final: int) -> bool:
        """Return True when g could only go to a few hosts due later, none of which it could leave again."""
        if usable & final:
            return False
        later = usable & ~final
        if later.bit_count() > _LOOKAHEAD:
            return False  # many choices: one of them has a way out (not checked, to stay linear)
        return not any(self.p.way_out(g, i) for i in positions(later, _LOOKAHEAD))

    # ------------------------------------------------------------------ one step

    def run(self) -> _Run:
        """Take every host down, a batch at a time; return self (the batches, moves and stranded guests)."""
        p = self.p
        remaining = list(p.maintain)
        while remaining:
            given = remaining[: p.batch_size] if self.order == "given" else None
            entry: dict[str, Any] = {"index": len(self.batches) + 1, "hosts": [], "moves": [], "stranded": [], "prepare": {}}
            receivers: set[str] = set()
            while len(entry["hosts"]) < min(p.batch_size, len(remaining)):
                host = given[len(entry["hosts"])] if given else self._choose(remaining, entry["hosts"], receivers)
                if host is None:
                    break  # every host left took guests of this batch: they go down in the next one
                entry["hosts"].append(host)
                members = given or entry["hosts"]
                self._drain(host, members, [h for h in remaining if h not in members], entry, receivers)
            remaining = [h for h in remaining if h not in entry["hosts"]]
            self.done += entry["hosts"]
            self.done_bits |= _bits(p.index.position, entry["hosts"])
            for uuid in [u for u, found in self.room.items() if found is None]:  # more final destinations now
                del self.room[uuid]
            entry["prepare"] = {h: sorted(u) for h, u in sorted(entry["prepare"].items())}
            self.batches.append(entry)
        return self

    def _drain(self, host: str, members: list[str], later: list[str], entry: dict[str, Any], receivers: set[str]) -> None:
        """Find a destination for every guest on host (a member of the batch ``members``), fewest options first."""
        p = self.p
        batch_bits = _bits(p.index.position, members)
        later_bits = _bits(p.index.position, later) & ~p.avoid_bits
        tiers = (
            ("outside", p.index.all & ~p.maintain_bits & ~p.maintained_bits & ~p.avoid_bits),
            ("maintained", self.done_bits & ~p.avoid_bits),
            ("later", later_bits),
        )
        leaving = sorted(self.on.get(host, []), key=lambda g: ((p.usable(g) & ~batch_bits & ~p.avoid_bits).bit_count(), g.home, g.uuid))
        for g in leaving:
            landed = self._place(g, tiers, batch_bits, entry)
            if landed is not None and landed in later:
                receivers.add(landed)
        self.on[host] = [g for g in self.on.get(host, []) if g.host == host]  # the stranded stay (and never move)

    def _place(self, g: _Guest, tiers: tuple, batch_bits: int, entry: dict[str, Any]) -> str | None:
        """Move g to the best destination with room (tier, then ready, then fewest guests); return it, None when stranded."""
        p = self.p
        v = p.verdict(g)
        usable = p.usable(g)
        apqns = H.guest_queues(g.mdev)
        conflicted = full = 0
        for tier, tier_bits in tiers:
            bits = usable & tier_bits
            if not bits:
                continue
            start = self.turn % len(p.index.names)
            while bits:
                window = positions(bits, _WINDOW, start)
                fitting = []
                for i in window:
                    problem = self._fits(g, i, apqns, v)
                    if problem == "apqn_in_use":
                        conflicted += 1
                    elif problem == "no_free_instances":
                        full += 1
                    else:
                        fitting.append(i)
                if fitting:
                    fitting.sort(key=lambda i: (not v.ready >> i & 1, self.residents[i], i))
                    chosen = fitting[0]
                    if tier == "later":  # a host the guest can leave again, when one of them is
                        chosen = next((i for i in fitting[:_LOOKAHEAD] if p.way_out(g, i)), chosen)
                    self.turn += 1
                    self._move(g, chosen, tier, v, apqns, entry)
                    return p.index.names[chosen]
                for i in window:
                    bits &= ~(1 << i)
        self._strand(g, v, usable, batch_bits, conflicted, full, entry)
        return None

    def _fits(self, g: _Guest, i: int, apqns: list[str], v: _Verdict) -> str | None:
        """Return why destination i has no room for g in the plan's state (None when it has)."""
        taken = self.taken.get(i)
        if taken and any(taken.get(a, g.uuid) != g.uuid for a in apqns):
            return "apqn_in_use"
        limit = self.p.capacity.get(i)
        if limit is not None and self._needs_mdev(g, i, v) and self.new_mdevs[i] >= int(limit):
            return "no_free_instances"
        return None

    def _needs_mdev(self, g: _Guest, i: int, v: _Verdict) -> bool:
        return bool(v.ev.blockers.get("mdev_missing", 0) >> i & 1) and (g.uuid, i) not in self.created

    def _move(self, g: _Guest, i: int, tier: str, v: _Verdict, apqns: list[str], entry: dict[str, Any]) -> None:
        p = self.p
        dest = p.index.names[i]
        prepare = not v.ready >> i & 1
        move = {
            "batch": entry["index"],
            "guest": g.guest,
            "uuid": g.uuid,
            "from": g.host,
            "to": dest,
            "tier": tier,
            "prepare": prepare,
            "codes": [c for c in v.ev.apqns_by_code(i) if v.ev.blockers.get(c, 0) >> i & 1] if prepare else [],
            "enable_migration": p.enable_migration and any(b["code"] == "migration_disabled" for b in v.ev.source_blockers),
            "again": tier == "later",
        }
        if tier == "later" and p.index.hosts[i].level == "attribute":
            move["note"] = f"{dest} has the v1 interface: the guest's mdev there must be migratable before the guest leaves again"
        entry["moves"].append(move)
        if prepare:
            entry["prepare"].setdefault(dest, set()).add(g.uuid)
        g.moves.append(move)
        self.taken.setdefault(i, {}).update(dict.fromkeys(apqns, g.uuid))
        if self._needs_mdev(g, i, v):
            self.new_mdevs[i] += 1
            self.created.add((g.uuid, i))
        self._forget_room(i, apqns)
        self.room.pop(g.uuid, None)
        self.residents[i] += 1
        self.residents[p.index.position.get(g.host, g.host)] -= 1
        g.mdev = landed_mdev(g.mdev, p.source_of(g), p.index.hosts[i])
        g.host = dest
        if tier == "later":  # it moves again when dest goes down
            self.on.setdefault(dest, []).append(g)

    def _strand(self, g: _Guest, v: _Verdict, usable: int, batch_bits: int, conflicted: int, full: int, entry: dict[str, Any]) -> None:
        p = self.p
        unavailable = {
            "same_batch": (usable & batch_bits).bit_count(),
            "avoid": (usable & p.avoid_bits & ~batch_bits).bit_count(),
            "apqn_in_use": conflicted,
            "no_free_instances": full,
            "needs_preparation": 0 if p.prepare else (v.after & ~v.ready & ~batch_bits & ~p.avoid_bits).bit_count(),
        }
        item = {
            "batch": entry["index"],
            "guest": g.guest,
            "uuid": g.uuid,
            "host": g.host,
            "home": g.home,
            "apqns": H.guest_queues(g.mdev),
            "destinations": usable.bit_count(),
            "blockers": blocker_counts(v),
            "source_blockers": R.sort_findings(v.ev.source_blockers),
            "unavailable": {k: n for k, n in unavailable.items() if n},
        }
        entry["stranded"].append(item)
        g.stranded = item

    # ------------------------------------------------------------------ the answer

    def figures(self) -> dict[str, int]:
        moves = sum(len(g.moves) for g in self.guests)
        moved = sum(1 for g in self.guests if g.moves)
        return {
            "guests": len(self.guests),
            "batches": len(self.batches),
            "moves": moves,
            "moved": moved,
            "moved_again": sum(1 for g in self.guests if len(g.moves) > 1),
            "extra_moves": moves - moved,
            "stranded": sum(1 for g in self.guests if g.stranded),
            "prepare": sum(1 for g in self.guests for m in g.moves if m["prepare"]),
        }

    def key(self) -> tuple:
        f = self.figures()
        return (f["stranded"], f["moves"], f["moved_again"], ORDERS.index(self.order))


def blocker_counts(v: _Verdict) -> dict[str, int]:
    """Return {unfixable blocker code: destinations} for a guest, as the fleet plan explains a stranded guest."""
    counts = stranding_codes(v.ev, v.blocked) if v.blocked else {}
    return {code: counts[code] for code in sorted(counts, key=ORDER.__getitem__)}


# --------------------------------------------------------------------------- the plan


def rolling_plan(
    facts_by_host: Any,
    hosts: Any,
    batch_size: Any = 1,
    avoid: Any = None,
    destinations: Any = None,
    rules: str = "auto",
    prepare: Any = True,
    enable_migration: Any = False,
    order: Any = "planned",
    mkvps: Any = None,
    maintained: Any = None,
) -> dict[str, Any]:
    """Return the rolling maintenance plan of ``hosts`` (schema in docs/rolling-maintenance.md); ValueError naming a bad argument.

    ``facts_by_host`` is ``{host: facts}`` (``ansible_facts.vfio_ap`` or the host's hostvars, for
    example ``hostvars``); ``hosts`` the hosts to maintain (a list or one comma-separated string,
    in the order to use with ``order: given``); ``avoid`` hosts never to use as destinations;
    ``destinations`` the hosts that may take guests (default every host of ``facts_by_host`` with
    facts; the hosts to maintain always may, once maintained or while due later); ``prepare``:
    destinations the destination role can make ready count; ``enable_migration``: a guest whose
    migration is disabled counts as movable (the run enables it); ``order``: ``planned`` tries the
    planned and the given order and keeps the better, ``given`` keeps the given order; ``maintained``:
    hosts maintained already in the same rolling maintenance (destinations after those not due for
    maintenance, as the plan's own earlier batches; used when a rolling run plans its next batch).
    """
    if order not in ORDERS:
        raise ValueError(f"order: expected one of {', '.join(ORDERS)}, got {order!r}")
    paused = gc.isenabled()
    gc.disable()
    try:
        planner = _Planner(facts_by_host, hosts, batch_size, avoid, destinations, rules, prepare, enable_migration, mkvps, maintained)
        tried = [_Run(planner, name).run() for name in (ORDERS if order == "planned" else ("given",))]
        chosen = min(tried, key=_Run.key)
        return _result(planner, chosen, tried)
    finally:
        if paused:
            gc.enable()


def _result(planner: _Planner, chosen: _Run, tried: list[_Run]) -> dict[str, Any]:
    stranded_everywhere = set.intersection(*({g.uuid for g in run.guests if g.stranded} for run in tried))
    figures = chosen.figures()
    unavoidable = [dict(g.stranded) for g in chosen.guests if g.uuid in stranded_everywhere and g.stranded]
    names = ", ".join(planner.maintain)
    if not figures["stranded"]:
        verdict = (
            f"every vfio-ap guest of {names} has a destination at every step: {figures['moves']} migrations in "
            f"{figures['batches']} batches" + (f", {figures['moved_again']} guests move twice or more" if figures["moved_again"] else "")
        )
    else:
        verdict = f"{figures['stranded']} of {figures['guests']} vfio-ap guests of {names} would be stranded"
        if len(unavoidable) == figures["stranded"]:
            verdict += " in every order tried"
        elif unavoidable:
            verdict += f" ({len(unavoidable)} in every order tried)"
    return {
        "schema": SCHEMA,
        "hosts": list(planner.maintain),
        "batch_size": planner.batch_size,
        "order": chosen.order,
        "avoid": planner.avoid,
        "maintained": planner.maintained,
        "destinations": list(planner.index.names),
        "not_audited": planner.not_audited,
        "rules": planner.rules,
        "prepare": planner.prepare,
        "enable_migration": planner.enable_migration,
        "feasible": not figures["stranded"],
        "verdict": verdict,
        "summary": {"hosts": len(planner.maintain), "unavoidable": len(unavoidable), **figures},
        "batches": chosen.batches,
        "guests": [
            {
                "guest": g.guest,
                "uuid": g.uuid,
                "home": g.home,
                "moves": [{"batch": m["batch"], "from": m["from"], "to": m["to"]} for m in g.moves],
                "final": None if g.stranded else g.host,
                "stranded": g.stranded["batch"] if g.stranded else None,
            }
            for g in sorted(chosen.guests, key=lambda g: (g.home, g.guest, g.uuid))
        ],
        "stranded": [dict(g.stranded) for g in chosen.guests if g.stranded],
        "unavoidable": unavoidable,
        "orders": [
            {
                "order": run.order,
                "batches": [b["hosts"] for b in run.batches],
                **{k: run.figures()[k] for k in ("moves", "moved_again", "stranded")},
            }
            for run in tried
        ],
        "warnings": planner.warnings,
    }
