"""Shared data of the drain's unit tests: the demo fleet's kvm-a1 drained, guests, mdevs and host results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._waves import order_waves

DEMO = Path(__file__).resolve().parents[1] / "fleets" / "demo.yml"
WEB1, HSM1 = "6c1a0000-0000-4000-8000-00000000a101", "6c1a0000-0000-4000-8000-00000000a103"


def planned_drain(facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (migration plan, evacuation plan with preparation) of draining kvm-a1 of the demo fleet."""
    plan = build_plan(facts, sources=["kvm-a1"], destinations=sorted(set(facts) - {"kvm-a1"}), limit=10)
    return plan, evacuation_plan(plan, prepare=True)


def entry(uuid: str, source: str, destination: str | None, status: str = "ready") -> dict[str, Any]:
    """Return an evacuation entry of guest ``g<last two digits>``."""
    return {"uuid": uuid, "guest": f"g{uuid[-2:]}", "source": source, "destination": destination, "status": status, "apqns": []}


def wave_of(planned: tuple[dict[str, Any], dict[str, Any]], *uuids: str, prepare: bool = True) -> list[dict[str, Any]]:
    """Return the guests ``uuids`` of the planned drain as order_waves gives them (two per source and destination)."""
    plan, evacuation = planned
    options = DrainOptions.of(prepare=prepare, per_source=2, per_destination=2)
    waves = order_waves({"guests": [g for g in evacuation["guests"] if g["uuid"] in uuids]}, plan, options)
    return [g for w in waves["waves"] for g in w["guests"]]


def mdev(uuid: str, in_use: bool, apqns: list[str]) -> dict[str, Any]:
    return {"uuid": uuid, "in_use": in_use, "guest_apqns": apqns}


def host(*mdevs: dict[str, Any]) -> dict[str, Any]:
    """Return the AP facts of a host with these active mdevs (all the drain's checks after a migration read)."""
    return {"driver": {"mdevs": list(mdevs)}}


def migrated(rc: int, stderr: str = "") -> list[dict[str, Any]]:
    """Return the registered results of a migrate loop that ran once, for WEB1."""
    return [{"ansible_loop_var": "it", "it": {"uuid": WEB1}, "rc": rc, "stderr": stderr, "delta": "0:00:02.000000"}]


def steps_for(action: str = "migrate") -> dict[str, Any]:
    """Return a just_in_time result of one guest (web1, kvm-a1 -> kvm-b1) whose action is ``action``."""
    step = {"uuid": WEB1, "guest": "web1", "source": "kvm-a1", "planned": "kvm-b1", "destination": "kvm-b1", "action": action,
            "rerouted": False, "codes": [], "message": "", "argv": ["virsh"], "check": {"apqns": ["01.0004"]}}  # fmt: skip
    return {"guests": [step], "hosts": ["kvm-a1", "kvm-b1"]}
