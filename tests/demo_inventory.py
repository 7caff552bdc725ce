"""Print each rendered host's AP inventory (cards, queues by driver, mdevs) from its sysfs tree."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return "?"


def main(root: str) -> None:
    for host in sorted(os.listdir(root)):
        sys_dir = Path(root, host, "sys")
        print(f"{host}: features: {read(sys_dir / 'devices/vfio_ap/matrix/features')}")
        cards = sys_dir / "devices/ap"
        for card in sorted(p for p in cards.glob("card*")):
            drivers: dict[str, int] = {}
            for queue in card.glob("??.????"):
                drv = os.path.basename(os.readlink(queue / "driver")) if (queue / "driver").is_symlink() else "none"
                drivers[drv] = drivers.get(drv, 0) + 1
            summary = ", ".join(f"{n} {d}" for d, n in sorted(drivers.items()))
            print(f"  {card.name}  {read(card / 'type'):6}  {summary}")
        for mdev in sorted((sys_dir / "bus/mdev/devices").glob("*")):
            apqns = read(mdev / "guest_matrix").split()
            print(f"  mdev {mdev.name}  guest APQNs: {' '.join(apqns) or '-'}")


if __name__ == "__main__":
    main(sys.argv[1])
