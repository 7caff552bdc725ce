"""``virsh start`` on a simulated host (apsim.domains): a defined guest starts when its mdevs are there and free.

A guest stopped by a reboot starts again on the mdev mdevctl brought back; libvirt's refusals
(no definition, already running, mdev missing, mdev used by another guest) change nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from apsim import domains
from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
VIRSH = ROOT / "tests" / "apsim" / "bin" / "virsh"
U1 = "81000000-0000-4000-8000-000000000001"
U2 = "81000000-0000-4000-8000-000000000002"
CARDS = [{"id": 1, "type": "CEX8C", "domains": "0-15"}]


def fleet() -> dict:
    """One host whose reservation of domains 4-15 is persistent, with a guest on an auto-start mdev and one on a transient mdev."""
    return {
        "hosts": {
            "h": {
                "cards": CARDS,
                "aqmask": "0-3,16-255",
                "persistent_masks": {"aqmask": "0-3,16-255"},
                "mdevs": [
                    {"uuid": U1, "adapters": [1], "domains": [4], "guest": "web", "start": "auto"},
                    {"uuid": U2, "adapters": [1], "domains": [5], "guest": "tmp guest"},
                ],
            }
        }
    }


def virsh(live, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "APSIM_MOUNT": str(live.root), "APSIM_HOST": "h"}
    return subprocess.run([str(VIRSH), *args], capture_output=True, text=True, env=env, check=False, timeout=600)


def test_start_after_reboot(fresh_live_fleet):  # noqa: F811
    live = fresh_live_fleet(fleet())
    refused = virsh(live, "start", "web")
    assert refused.returncode == 1 and "domain is already running" in refused.stderr

    live.reboot("h")
    assert virsh(live, "domstate", "web").stdout.strip() == "shut off"
    before = live.state("h")
    assert before["mdevs"][U1]["guest"] is None and U2 not in before["mdevs"]

    started = virsh(live, "start", "web")
    assert started.returncode == 0, started.stderr
    assert "Domain 'web' started" in started.stdout
    assert virsh(live, "domstate", "web").stdout.strip() == "running"
    assert live.state("h")["mdevs"][U1]["guest"] == "web"
    status = (live.host_dir("h") / "run/libvirt/qemu/web.xml").read_text()
    assert status.startswith('<domstatus state="running"') and U1 in status

    # the transient mdev did not come back: libvirt cannot find it, nothing changes
    state = live.state("h")
    gone = virsh(live, "start", "tmp guest")
    assert gone.returncode == 1 and f"mediated device '{U2}' not found" in gone.stderr
    assert live.state("h") == state and not (live.host_dir("h") / "run/libvirt/qemu/tmp guest.xml").exists()

    nowhere = virsh(live, "start", "nosuch")
    assert nowhere.returncode == 1 and "failed to get domain 'nosuch'" in nowhere.stderr
    records = live.root / ".apsim" / domains.RECORDS
    assert [r["result"] for r in json.loads(records.read_text())] == ["refused", "started", "refused", "refused"]


def test_an_mdev_used_by_another_guest_is_refused(fresh_live_fleet):  # noqa: F811
    live = fresh_live_fleet(fleet())
    live.reboot("h")
    other = live.host_dir("h") / "etc/libvirt/qemu/other.xml"
    other.write_text((live.host_dir("h") / "etc/libvirt/qemu/web.xml").read_text().replace("<name>web</name>", "<name>other</name>"))
    assert virsh(live, "start", "other").returncode == 0
    busy = virsh(live, "start", "web")
    assert busy.returncode == 1
    assert f"mediated device /sys/bus/mdev/devices/{U1} is in use by driver QEMU, domain other" in busy.stderr
    assert live.state("h")["mdevs"][U1]["guest"] == "other"
