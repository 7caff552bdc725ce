"""Generate fleet descriptions for scale tests and benchmarks (deterministic for a seed)."""

from __future__ import annotations

import random
import uuid as uuidlib
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


def spread_fleet(hosts: int, mdevs_per_host: int = 10, spread: int = 20) -> dict[str, Any]:
    """Return a fleet where each guest's APQNs exist on every ``spread``-th host (the plan benchmark's fleet).

    Host h belongs to class h % spread, whose LPARs have the usage domains 4c..4c+3 (and only
    those) on sixteen cards (guests use adapters 8-15): a guest's queues exist only in its
    class; every domain is reserved for vfio_ap. Inside a class, hosts use the four domains in turn, so a destination of the class either
    has the guest's queues free (ready after creating the mdev), taken by its own guests
    (apqn_in_use) or, every fifth host, on older cards (hw_type_older); every seventh host keeps one
    of its class's domains for the host (apqn_not_bound); one host in twenty lacks migration support;
    and each host holds an idle landing mdev for guest 0 of the host ``spread`` places before it
    (that destination is ready).
    """
    fleet: dict[str, Any] = {}
    for h in range(hosts):
        c, k = h % spread, h // spread
        domains = [4 * c + d for d in range(4)]
        generation = "CEX7" if k % 5 == 4 else "CEX8"
        cards = [{"id": a, "type": f"{generation}C", "domains": f"{domains[0]}-{domains[-1]}"} for a in range(16)]
        host_domains = [domains[(k + 2) % 4]] if k % 7 == 3 else []
        mdevs = []
        for m in range(mdevs_per_host):
            apqn_domain = domains[(k + m // 8) % 4]
            mdevs.append(
                {
                    "uuid": str(uuidlib.UUID(int=(h + 1) << 64 | (m + 1))),
                    "adapters": [8 + m % 8],
                    "domains": [apqn_domain],
                    "control_domains": [apqn_domain],
                    "guest": f"g{h:05d}-{m:02d}",
                    "start": "auto",
                }
            )
        if h >= spread:
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
