"""Mounting, unmounting and concurrent writers of the live simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apsim.live import CONTROL_DIR, subprocess_env
from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import
from simulator.simfleets import BUSY_FLEET, BUSY_UUIDS, SYSFS_FLEET
from helpers.hang import HANG_GUARD

pytestmark = pytest.mark.live

APSIM = [sys.executable, "-m", "apsim"]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_background_mount_and_unmount(tmp_path, demo_fleet_path):
    from conftest import require_live

    require_live()
    mnt, pidfile = tmp_path / "mnt", tmp_path / "server.pid"
    env = subprocess_env()
    result = subprocess.run([*APSIM, "mount", str(demo_fleet_path), str(mnt), "--background", "--pidfile", str(pidfile)],
                            capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    pid = int(pidfile.read_text())
    try:
        assert os.path.ismount(mnt)  # live when the command returns
        assert sorted(os.listdir(mnt)) == [CONTROL_DIR, "kvm-a1", "kvm-a2", "kvm-a3", "kvm-b1", "kvm-b2", "kvm-b3"]
        assert int((mnt / CONTROL_DIR / "pid").read_text()) == pid
        assert (mnt / "kvm-a1/etc/mdevctl.d/matrix/6c1a0000-0000-4000-8000-00000000a101").is_file()
        again = subprocess.run([*APSIM, "mount", str(demo_fleet_path), str(mnt), "--background"],
                               capture_output=True, text=True, env=env, check=False)  # fmt: skip
        assert again.returncode == 1 and "already a mount point" in again.stderr
    finally:
        done = subprocess.run([*APSIM, "unmount", str(mnt)], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert not os.path.ismount(mnt) and not _alive(pid)  # unmount waits for the server to exit
    gone = subprocess.run([*APSIM, "unmount", str(mnt)], capture_output=True, text=True, env=env, check=False)
    assert gone.returncode == 1 and gone.stderr.strip().endswith("is not mounted")


def test_mount_without_fuse_is_one_clear_line(tmp_path, demo_fleet_path):
    env = subprocess_env()
    env["PATH"] = str(tmp_path)  # no fusermount3 on PATH
    result = subprocess.run([*APSIM, "mount", str(demo_fleet_path), str(tmp_path / "mnt"), "--background"],
                            capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "apsim: FUSE is unusable here: fusermount3 is not installed (Debian package fuse3)\n"


def test_state_channel_is_json_of_the_model(fresh_live_fleet):  # noqa: F811
    live = fresh_live_fleet(SYSFS_FLEET)
    raw = json.loads((live.root / CONTROL_DIR / "mask" / "state").read_text())
    assert set(raw) == {"state", "writes", "log", "boots"}
    assert raw["state"]["mdevs"]["20000000-0000-4000-8000-000000000001"]["domains"] == [3]
    assert raw["writes"] == 0 and raw["log"] == [] and raw["boots"] == []


WORKER = r"""
import errno, json, os, sys
root, role, uuid, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def w(rel, text):
    try:
        fd = os.open(os.path.join(root, rel), os.O_WRONLY)
    except OSError as exc:
        return exc.errno
    try:
        os.write(fd, text.encode())
        return 0
    except OSError as exc:
        return exc.errno
    finally:
        os.close(fd)
results = []
for k in range(rounds):
    if role == "mask":
        results.append(w("sys/bus/ap/apmask", "+5"))
        results.append(w("sys/bus/ap/apmask", "-5"))
    else:
        m = "sys/devices/vfio_ap/matrix/" + uuid + "/"
        d = str((k + int(role)) % 6)
        rc = w(m + "assign_domain", d)
        results.append(rc)
        results.append(w(m + "unassign_domain", d))
        results.append(w(m + "ap_config", open(os.path.join(root, m + "ap_config")).read()))
print(json.dumps(results))
"""


def test_concurrent_writers_keep_the_model_consistent(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(BUSY_FLEET)
    root = str(live.host_dir("busy"))
    rounds = 40
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    roles = [(str(i), u) for i, u in enumerate(BUSY_UUIDS)] + [("mask", "-")]
    procs = [subprocess.Popen([sys.executable, str(script), root, role, uuid, str(rounds)], stdout=subprocess.PIPE, text=True)
             for role, uuid in roles]  # fmt: skip
    outputs = [json.loads(p.communicate(timeout=HANG_GUARD)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)

    import errno

    allowed = {0, errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EBUSY}
    codes = [rc for out in outputs for rc in out]
    assert set(codes) <= allowed
    assert codes.count(0) > len(codes) // 4  # the workers did make progress
    assert live.writes("busy") == len(codes)  # every write reached the model exactly once

    state = live.state("busy")
    apmask, aqmask = set(state["apmask"]), set(state["aqmask"])
    assert apmask == {0, 1, 2, 3}  # the mask worker ends with -5
    held: dict[tuple[int, int], str] = {}
    for uuid, m in state["mdevs"].items():
        assert m["adapters"] == [5] and m["domains"] == []  # each worker unassigned what it assigned
        for a in m["adapters"]:
            for d in m["domains"]:
                assert not (a in apmask and d in aqmask)
                assert (a, d) not in held
                held[(a, d)] = uuid
    # the refusals were real contention: the mask worker was refused while an mdev held 05.xxxx
    assert errno.EBUSY in outputs[-1] or errno.EADDRNOTAVAIL in [rc for out in outputs[:-1] for rc in out]


def test_python_api_reports_fleet_mistake_as_fleet_error(tmp_path):
    from apsim.fleet import FleetError
    from apsim.live import mounted

    with pytest.raises(FleetError) as info, mounted({"hosts": {"x": {"colour": "blue"}}}, tmp_path / "mnt"):
        pass
    assert "host x: host: unknown key 'colour'" in str(info.value) and "\n" not in str(info.value)
    assert not os.path.ismount(tmp_path / "mnt")


def test_unmount_clears_a_dead_mount_whose_server_was_killed(tmp_path, demo_fleet_path):
    """kill -9 of the server leaves a mount answering ENOTCONN; apsim unmount detaches it lazily."""
    import errno
    import signal

    from conftest import require_live

    require_live()
    mnt, pidfile = tmp_path / "mnt", tmp_path / "server.pid"
    env = subprocess_env()
    result = subprocess.run([*APSIM, "mount", str(demo_fleet_path), str(mnt), "--background", "--pidfile", str(pidfile)],
                            capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    for _attempt in range(100):
        try:
            os.lstat(mnt / "kvm-a1")
        except OSError as exc:
            if exc.errno == errno.ENOTCONN:
                break
        __import__("time").sleep(0.05)
    with pytest.raises(OSError) as info:
        os.listdir(mnt)
    assert info.value.errno == errno.ENOTCONN
    done = subprocess.run([*APSIM, "unmount", str(mnt)], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert os.listdir(mnt) == [] and not os.path.ismount(mnt)


def test_sweep_detaches_dead_mounts_and_leaves_live_ones(tmp_path, demo_fleet_path):
    """What the test session sweeps at its start: a killed server's mount goes, a running one stays."""
    import signal

    from apsim.live import is_dead_mount, sweep_dead_mounts
    from conftest import require_live

    require_live()
    env = subprocess_env()
    pids = {}
    for name in ("killed", "running"):
        pidfile = tmp_path / f"{name}.pid"
        result = subprocess.run([*APSIM, "mount", str(demo_fleet_path), str(tmp_path / name), "--background", "--pidfile", str(pidfile)],
                                capture_output=True, text=True, env=env, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        pids[name] = int(pidfile.read_text())
    try:
        os.kill(pids["killed"], signal.SIGKILL)
        for _attempt in range(200):
            if is_dead_mount(tmp_path / "killed"):
                break
            __import__("time").sleep(0.05)
        assert sweep_dead_mounts(tmp_path) == [str(tmp_path / "killed")]
        assert os.listdir(tmp_path / "killed") == [] and not os.path.ismount(tmp_path / "killed")
        assert os.path.ismount(tmp_path / "running") and "kvm-a1" in os.listdir(tmp_path / "running")
        assert sweep_dead_mounts(tmp_path) == []
    finally:
        subprocess.run([*APSIM, "unmount", str(tmp_path / "running")], capture_output=True, text=True, env=env, check=False)
    assert not _alive(pids["running"])
