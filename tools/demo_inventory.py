"""Write the Ansible inventory of a rendered simulated fleet: one local-connection host per directory.

Usage: ``demo_inventory.py RENDERED_DIR INVENTORY.yml`` — every ``RENDERED_DIR/<host>/`` becomes a
host with ``ansible_connection: local`` and ``vfio_ap_sysroot: RENDERED_DIR/<host>``, in the group
``kvm_hosts``; ``vfio_ap_migration_address`` is a documentation address per host (192.0.2.x).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def inventory(rendered: Path, python: str) -> dict:
    """Return the inventory (YAML-ready dict) of the hosts rendered under ``rendered``."""
    hosts = {}
    for index, host_dir in enumerate(sorted(p for p in rendered.iterdir() if (p / "sys").is_dir())):
        hosts[host_dir.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": python,
            "vfio_ap_sysroot": str(host_dir.resolve()),
            "vfio_ap_migration_address": f"192.0.2.{10 + index}",
        }
    return {"all": {"children": {"kvm_hosts": {"hosts": hosts}}}}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: demo_inventory.py RENDERED_DIR INVENTORY.yml", file=sys.stderr)
        return 2
    data = inventory(Path(argv[1]), sys.executable)
    Path(argv[2]).write_text(yaml.safe_dump(data, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
