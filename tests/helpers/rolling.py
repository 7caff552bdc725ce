"""Rolling maintenance runs on the live simulator: fleets whose reservations are persistent, inventories and variables."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

from helpers.ansible_run import ROOT, local_inventory

PLAYBOOK = ROOT / "playbooks" / "rolling_maintenance.yml"
REBOOT_TASKS = ROOT / "tests" / "apsim" / "reboot_tasks.yml"


def persistent(fleet: dict[str, Any]) -> dict[str, Any]:
    """Return the fleet with every host's reservation persistent, as a site keeps it (chzdev --persistent): its
    masks in 41-ap.rules (``persistent_masks``), so that a reboot gives them back."""
    data = copy.deepcopy(fleet)
    for spec in data["hosts"].values():
        masks = {name: spec[name] for name in ("apmask", "aqmask") if name in spec}
        if masks and "persistent_masks" not in spec:
            spec["persistent_masks"] = masks
    return data


def inventory(live: Any, path: Path, hosts: list[str] | None = None) -> Path:
    """Write the inventory of the live fleet's hosts (local connections, each with its sysroot) and return it."""
    names = hosts or sorted(p.name for p in live.root.iterdir() if p.name != ".apsim")
    return local_inventory({h: {"vfio_ap_sysroot": str(live.host_dir(h))} for h in names}, path)


def extra_vars(live: Any, report_dir: Path, hosts: list[str], **more: Any) -> dict[str, Any]:
    """Return the variables of a rolling run of ``hosts`` on the live mount: the simulator's virsh and reboot."""
    return {
        "vfio_ap_maintenance_hosts": hosts,
        "vfio_ap_maintenance_report_dir": str(report_dir),
        "vfio_ap_maintenance_reboot_tasks": str(REBOOT_TASKS),
        "vfio_ap_maintenance_settle_timeout": 5,
        "apsim_mount": str(live.root),
        "apsim_python": sys.executable,
        "apsim_pythonpath": os.pathsep.join([str(ROOT / ".collections"), str(ROOT / "tests")]),
        "vfio_ap_maintenance_environment": {
            "APSIM_MOUNT": str(live.root),
            "APSIM_HOST": "{{ inventory_hostname }}",
            "PATH": f"{ROOT / 'tests' / 'apsim' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        },
        **more,
    }


def run_report(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "rolling-run.json").read_text())
