"""Fleets for testing the plan engine against itself: facts with seeded damage and variety.

``mutated_facts`` takes a fleet's facts (``{host: ansible_facts.vfio_ap}``, e.g. gathered from a
``apsim.generate.shaped_fleet``) and varies, on a few hosts each, every input the readiness rules
read: gaps in the facts, machine identities, control-domain masks, migration levels, mdevs, their
definitions and guards, queue records and cards. tests/bench/plan_identity.py compares the plans of
such fleets across engine versions; the unit tests compare the plan's shared evaluations with
evaluating every guest on its own.
"""

from __future__ import annotations

import copy
import random
from typing import Any


def mutated_facts(facts: dict[str, Any], seed: int) -> dict[str, Any]:
    """Return a copy of a fleet's facts with seeded damage and variety on some hosts (every input the rules read).

    Per host, with small probabilities: gaps in the facts, a twin LPAR identity, an unknown or partial
    control-domain mask, another migration level or no driver, mdevs with unknown control domains, a
    smaller guest matrix, migratable 0, idle or in use without a guest name, copies of another host's
    mdev (duplicate UUIDs, landing mdevs), missing, drifting and auto-start definitions, migration
    guards, queues unbound, deconfigured, check-stopped, with their own hardware words (bind states, no
    mode bit, unreadable, other facilities) or master-key patterns, and cards offline, deconfigured or older.
    """
    rng = random.Random(seed)
    names = sorted(facts)
    out: dict[str, Any] = {}
    for number, name in enumerate(names):
        f = copy.deepcopy(facts[name])
        f.pop("vfio_ap", None)  # the driver block under its schema-2 name only
        _mutate(f, rng, number, names, facts)
        out[name] = f
    return out


def _mutate(f: dict[str, Any], rng: Any, number: int, names: list[str], facts: dict[str, Any]) -> None:
    drv = f["driver"]
    mdevs = drv["mdevs"]
    roll = rng.random
    if roll() < 0.03:
        f["complete"], f["unread"], f["unread_count"] = (
            False,
            [{"what": "mdevs", "path": "/sys/x", "errno": "EACCES", "error": "denied"}],
            1,
        )
    if roll() < 0.02:
        f["gather_subset"] = ["bus", "cards", "queues", "mdevs", "guests"]
    if roll() < 0.02:
        f["complete"] = None
    if roll() < 0.03:
        f["unread"], f["unread_count"] = [{"what": "queue_functions", "path": "/sys/q", "errno": "EIO", "error": None}], 3
    if roll() < 0.04 and number:
        f["host"] = copy.deepcopy(facts[names[number - 1]]["host"])
    if roll() < 0.03:
        f["host"] = {"machine_id": facts[names[max(0, number - 2)]]["host"]["machine_id"]} if roll() < 0.5 else None
    if roll() < 0.04:
        f["bus"]["host_control_domains"] = None
    elif roll() < 0.05:
        doms = f["bus"].get("host_control_domains") or []
        f["bus"]["host_control_domains"] = [d for d in doms if d % 3]
    level = roll()
    if level < 0.05:
        drv["migration"] = "attribute"
    elif level < 0.08:
        drv["migration"] = "none"
    elif level < 0.09:
        drv["loaded"] = False
    elif level < 0.10 and not mdevs:
        drv["migration"] = "kernel"
    for mdev in list(mdevs):
        r = roll()
        if r < 0.03:
            mdev["control_domains"] = None
        elif r < 0.06 and len(mdev.get("apqns") or []) > 1:
            mdev["guest_apqns"] = mdev["apqns"][:-1]
        elif r < 0.08:
            mdev["migratable"] = False
        elif r < 0.10:
            mdev["guest"], mdev["in_use"] = None, True
        elif r < 0.13:
            mdev["guest"], mdev["in_use"] = None, False
        elif r < 0.15:
            mdev["guest_apqns"] = None
        elif r < 0.17:
            mdev["control_domains"] = sorted(set((mdev.get("control_domains") or []) + [rng.randrange(0, 85)]))
    if roll() < 0.06 and number:
        other = (facts[names[rng.randrange(0, len(names))]].get("driver") or {}).get("mdevs") or []
        if other:
            twin = copy.deepcopy(rng.choice(other))
            if roll() < 0.5:
                twin["guest"], twin["in_use"] = None, False
                if roll() < 0.5:
                    twin["adapters"], twin["domains"], twin["apqns"], twin["guest_apqns"] = [], [], [], []
            mdevs.append(twin)
    definitions = drv["definitions"]
    for definition in list(definitions):
        r = roll()
        if r < 0.03:
            definitions.remove(definition)
            for mdev in mdevs:
                if mdev["uuid"] == definition["uuid"]:
                    mdev["defined"] = False
        elif r < 0.05:
            definition["domains"] = sorted(set(definition.get("domains") or []) | {rng.randrange(0, 85)})
        elif r < 0.06:
            definition["start"] = "manual"
    if roll() < 0.04:
        apqns = [q["apqn"] for q in f["queues"][:40]]
        if apqns:
            a, d = apqns[rng.randrange(len(apqns))].split(".")
            definitions.append({"uuid": f"deadbeef-0000-4000-8000-{number:012x}", "adapters": [int(a, 16)], "domains": [int(d, 16)],
                                "control_domains": [], "start": "auto", "active": False})  # fmt: skip
    if roll() < 0.04 and mdevs:
        drv["migration_guard"] = {rng.choice(mdevs)["uuid"]: {"migratable": False, "reason": "maintenance window"}}
    if roll() < 0.15:
        queues = f["queues"] = [dict(q) for q in f["queues"]]
        used = {a for m in mdevs for a in (m.get("apqns") or [])}
        targets = [q for q in queues if q["apqn"] in used] or queues
        for queue in rng.sample(targets, min(len(targets), rng.randrange(1, 4))):
            _damage_queue(queue, rng)
        for queue in rng.sample(queues, min(len(queues), 3)):
            _damage_queue(queue, rng)
    if roll() < 0.06:
        cards = f["cards"] = [dict(c) for c in f["cards"]]
        card = rng.choice(cards)
        r = roll()
        if r < 0.3:
            card["online"] = False
        elif r < 0.5:
            card["config"] = False
        elif r < 0.6:
            card["chkstop"] = True
        elif r < 0.8:
            card["hwtype"] = card["raw_hwtype"] = 13
            card["type"] = "CEX7C"
        else:
            card["functions"], card["capabilities"] = "0x7a800000", None


def _damage_queue(queue: dict[str, Any], rng: Any) -> None:
    r = rng.random()
    if r < 0.15:
        queue["driver"] = None
        queue.pop("vfio_status", None)
    elif r < 0.3:
        queue["driver"] = "cex4queue"
        queue.pop("vfio_status", None)
    elif r < 0.4:
        queue["config"] = False
    elif r < 0.5:
        queue["chkstop"] = True
    elif r < 0.6:
        queue["functions"], queue["capabilities"] = "0x7280c000", None  # a bind state
    elif r < 0.7:
        queue["functions"], queue["capabilities"] = "0x00000000", None  # no mode bit
    elif r < 0.8:
        queue["functions"], queue["capabilities"] = None, None  # unreadable
    elif r < 0.9:
        queue["functions"], queue["capabilities"] = "0xf2800000", None  # APSC
    else:
        queue["mkvps"] = {"aes_cur": {"mkvp": rng.choice(("0xaa", "0xbb")), "state": "valid"}, "aes_new": None}
