"""Generate fleet descriptions for scale tests and benchmarks (deterministic for a seed)."""

from __future__ import annotations

import random
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any


def big_host(adapters: int = 256, domains: int = 85) -> dict[str, Any]:
    """Return a fleet with one host holding ``adapters`` × ``domains`` queues (default 21,760)."""
    cards = [{"id": a, "type": ("CEX8C", "CEX8P", "CEX8A", "CEX7C")[a % 4], "domains": f"0-{domains - 1}"} for a in range(adapters)]
    half = adapters // 2
    return {
        "hosts": {
            "bighost": {
                "max_adapter_id": 255,
                "max_domain_id": max(84, domains - 1),
                "apmask": f"0-{half - 1}" if half else [],
                "aqmask": "0-255",
                "cards": cards,
                "mdevs": [
                    {
                        "uuid": str(uuidlib.UUID(int=0xB16 << 64 | i)),
                        "adapters": [half + i],
                        "domains": f"{i * 4}-{i * 4 + 3}",
                        "control_domains": f"{i * 4}-{i * 4 + 3}",
                        "guest": f"big-guest-{i}" if i % 2 == 0 else None,
                    }
                    for i in range(min(16, adapters - half, domains // 4))
                ],
            }
        }
    }


def scale_fleet(hosts: int, mdevs_per_host: int = 10, seed: int = 1) -> dict[str, Any]:
    """Return a fleet of ``hosts`` hosts with ``mdevs_per_host`` guests each.

    Hosts come in groups of four sharing one card layout (so guests have somewhere to go);
    each host reserves the upper half of its adapters for vfio_ap, and guests take one adapter
    and one to three domains each, with some variety in card generation and mode. Like a real
    LPAR, a host has 16 usage domains (queues exist only for those), more when many guests need them.
    """
    rng = random.Random(seed)
    fleet: dict[str, Any] = {}
    for h in range(hosts):
        group = h // 4
        grng = random.Random(seed * 7919 + group)
        n_cards = 16
        gens = [grng.choice(("CEX7", "CEX8")) for _unused in range(n_cards)]
        modes = [grng.choice("CCCPA") for _unused in range(n_cards)]
        if h % 4 == 3:  # one host of each group runs older cards
            gens = ["CEX7"] * n_cards
        last_domain = 15 if mdevs_per_host <= 16 else 84
        cards = [{"id": c, "type": f"{gens[c]}{modes[c]}", "domains": f"0-{last_domain}"} for c in range(n_cards)]
        mdevs = []
        taken: set[tuple[int, int]] = set()
        for m in range(mdevs_per_host):
            adapter = 8 + (m % 8)
            first = 2 + (m // 8) * 8 + rng.randrange(0, 3)
            doms = list(range(first, first + rng.randrange(1, 4)))
            if any((adapter, d) in taken for d in doms):
                continue
            taken.update((adapter, d) for d in doms)
            mdevs.append(
                {
                    "uuid": str(uuidlib.UUID(int=(h + 1) << 64 | (m + 1))),
                    "adapters": [adapter],
                    "domains": doms,
                    "control_domains": doms,
                    "guest": f"g{h:04d}-{m:02d}",
                    "start": "auto",
                }
            )
        fleet[f"kvm{h:04d}"] = {
            "migration": "kernel" if rng.random() > 0.05 else "none",
            "apmask": "0-7",
            "aqmask": "0-255",
            "cards": cards,
            "mdevs": mdevs,
        }
    return {"hosts": fleet}


@dataclass(frozen=True)
class HostShape:
    """What every host of a plan-benchmark fleet looks like, and where its guests' APQNs are (the placement).

    ``cards`` adapters of ``card_type`` with ``domains`` usage domains each (the LPAR's, all of
    them with a queue on every card); the upper half of the adapters serves guests. ``mdevs``
    guests per host, each on ``guest_adapters`` adapters and one domain. Placement: hosts fall
    into ``spread`` classes with disjoint queues (a guest's APQNs exist on every ``spread``-th
    host only; 1: on every host); ``landing``: each host also holds an idle mdev with the UUID of
    guest 0 of the host ``spread`` places before it (that destination is ready).
    """

    cards: int
    domains: int
    mdevs: int
    spread: int = 20
    guest_adapters: int = 1
    card_type: str = "CEX8C"
    landing: bool = True

    def problem(self) -> str | None:
        """Return why the shape cannot be generated (one line), or None."""
        vfio = self.cards - self.cards // 2
        if not (1 <= self.cards <= MAX_ADAPTERS and 1 <= self.domains <= MAX_DOMAINS and self.mdevs >= 0 and self.spread >= 1):
            return f"cards 1-{MAX_ADAPTERS}, domains 1-{MAX_DOMAINS}, mdevs >= 0 and spread >= 1 expected: {self}"
        if self.guest_adapters < 1 or vfio % self.guest_adapters:
            return f"guest_adapters must divide the {vfio} guest adapters of {self.cards} cards"
        if -(-self.mdevs * self.guest_adapters // vfio) >= self.domains:  # a domain stays free for the host
            return f"{self.mdevs} guests of {self.guest_adapters} adapter(s) need fewer than {vfio} adapters x {self.domains} domains"
        classes = (MAX_DOMAINS // self.domains) * (MAX_ADAPTERS // self.cards)
        if self.spread > classes:
            return (
                f"{self.cards} cards x {self.domains} domains leave room for {classes} classes of disjoint queues, not spread {self.spread}"
            )
        if self.card_type[:4] not in ("CEX4", "CEX5", "CEX6", "CEX7", "CEX8") or self.card_type[4:] not in ("A", "C", "P"):
            return f"card_type: expected CEX4-CEX8 and a mode letter A, C or P, got {self.card_type!r}"
        return None


MAX_ADAPTERS = 256  # adapter IDs 0-255 (ap_max_adapter_id 255)
MAX_DOMAINS = 85  # usage domains 0-84 (ap_max_domain_id 84, the simulator's default)

# The plan benchmark's host shapes (make bench BENCH=plan). "spread" is the fleet the benchmark
# used before it had shapes (spread_fleet), "modest" a modest real host (issue 23).
SHAPES: dict[str, HostShape] = {
    "small": HostShape(cards=4, domains=4, mdevs=4),
    "modest": HostShape(cards=10, domains=4, mdevs=10),
    "spread": HostShape(cards=16, domains=4, mdevs=10),
    "medium": HostShape(cards=16, domains=16, mdevs=10, guest_adapters=2),
    "large": HostShape(cards=16, domains=85, mdevs=20, spread=16),
}


def shaped_fleet(hosts: int, shape: HostShape) -> dict[str, Any]:
    """Return a fleet of ``hosts`` hosts of one shape, with a mix of destination verdicts (ValueError for a bad shape).

    Host h is in class h % spread, round k = h // spread. A class has its own block of usage
    domains and, when the domain blocks run out, its own block of adapters, so its queues exist
    on no host of another class; every domain is reserved for vfio_ap. A host's guests fill the
    guest adapters domain by domain ("rows"), from the row k % 4 on, so a destination of the class
    either has the guest's queues free (ready after creating the mdev), taken by its own guests
    (apqn_in_use) or, every fifth round, on older cards (hw_type_older); every seventh round keeps
    the domain after its guests' rows for the host (apqn_not_bound); one host in twenty lacks
    migration support; and each host holds an idle landing mdev for guest 0 of the host ``spread``
    places before it (that destination is ready). Rows turn with a period of four rounds (or the
    number of domains, when fewer), so a class has at most ten host layouts whatever its size.
    """
    problem = shape.problem()
    if problem:
        raise ValueError(f"host shape: {problem}")
    spread, n = shape.spread, shape.domains
    domain_blocks = MAX_DOMAINS // n
    vfio_first = shape.cards // 2
    vfio = shape.cards - vfio_first
    rows = -(-shape.mdevs * shape.guest_adapters // vfio)  # domains a host's guests take
    period = min(n, 4)
    newer, mode = shape.card_type[:4], shape.card_type[4:]
    older = "CEX7" if newer != "CEX7" else "CEX6"
    fleet: dict[str, Any] = {}
    for h in range(hosts):
        c, k = h % spread, h // spread
        domains = [n * (c % domain_blocks) + d for d in range(n)]
        first_adapter = shape.cards * (c // domain_blocks)
        generation = older if k % 5 == 4 else newer
        cards = [
            {"id": first_adapter + a, "type": f"{generation}{mode}", "domains": f"{domains[0]}-{domains[-1]}"} for a in range(shape.cards)
        ]
        host_domains = [domains[(k % period + rows) % n]] if k % 7 == 3 else []
        mdevs = []
        for m in range(shape.mdevs):
            slot = m * shape.guest_adapters
            apqn_domain = domains[(k % period + slot // vfio) % n]
            mdevs.append(
                {
                    "uuid": str(uuidlib.UUID(int=(h + 1) << 64 | (m + 1))),
                    "adapters": [first_adapter + vfio_first + (slot + g) % vfio for g in range(shape.guest_adapters)],
                    "domains": [apqn_domain],
                    "control_domains": [apqn_domain],
                    "guest": f"g{h:05d}-{m:02d}",
                    "start": "auto",
                }
            )
        if shape.landing and h >= spread:
            mdevs.append({"uuid": str(uuidlib.UUID(int=(h - spread + 1) << 64 | 1)), "adapters": [], "domains": [], "control_domains": []})
        fleet[f"kvm{h:05d}"] = {
            "migration": "none" if h % 20 == 19 else "kernel",
            "usage_domains": f"{domains[0]}-{domains[-1]}",
            "control_domains": f"{domains[0]}-{domains[-1]}",
            "aqmask": host_domains,
            "cards": cards,
            "mdevs": mdevs,
        }
    return {"hosts": fleet}


def spread_fleet(hosts: int, mdevs_per_host: int = 10, spread: int = 20) -> dict[str, Any]:
    """Return the plan benchmark's first fleet: 16 CEX8C cards x 4 domains, each guest's APQNs on every ``spread``-th host.

    ``shaped_fleet`` with the "spread" shape (see there): guests use adapters 8-15, a class's
    hosts the usage domains 4c..4c+3.
    """
    return shaped_fleet(hosts, HostShape(cards=16, domains=4, mdevs=mdevs_per_host, spread=spread))


def rolling_fleet(hosts: int, guests_per_host: int = 20, class_size: int = 10) -> dict[str, Any]:
    """Return a fleet for rolling maintenance: every host full of guests, each with somewhere else to go.

    Hosts come in classes of ``class_size`` mirrored LPARs (host h is in class h // class_size) that
    share eight usage domains (8c..8c+7) on sixteen cards; all are reserved for vfio_ap. Within a
    class, host k uses slot k % 3: its guests take one APQN each from adapters 5*slot..5*slot+4
    (domains 8c..8c+3, up to 20 guests), so a host can take the guests of a host of another slot
    (their APQNs are free there) but not of its own. Every tenth host of a class runs CEX7 cards:
    guests from a CEX8 host cannot go there (hw_type_older), its own guests can go anywhere. Every
    host holds idle mdevs for nothing else: the destination role creates the guest's mdev.
    """
    fleet: dict[str, Any] = {}
    for h in range(hosts):
        c, k = divmod(h, class_size)
        domains = [8 * c + d for d in range(8)]
        slot = k % 3
        generation = "CEX7" if k % 10 == 9 else "CEX8"
        cards = [{"id": a, "type": f"{generation}C", "domains": f"{domains[0]}-{domains[-1]}"} for a in range(16)]
        mdevs = []
        for m in range(min(guests_per_host, 20)):
            adapter, domain = 5 * slot + m % 5, domains[m // 5]
            mdevs.append(
                {
                    "uuid": str(uuidlib.UUID(int=(h + 1) << 64 | (m + 1))),
                    "adapters": [adapter],
                    "domains": [domain],
                    "control_domains": [domain],
                    "guest": f"r{h:04d}-{m:02d}",
                    "start": "auto",
                }
            )
        fleet[f"kvm{h:04d}"] = {
            "migration": "kernel",
            "max_domain_id": 255,
            "usage_domains": f"{domains[0]}-{domains[-1]}",
            "control_domains": f"{domains[0]}-{domains[-1]}",
            "aqmask": [d for d in range(256) if d not in domains],
            "cards": cards,
            "mdevs": mdevs,
        }
    return {"hosts": fleet}
