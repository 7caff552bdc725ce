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
