"""``apsim ssh-serve`` / ``ssh-stop``: simulated hosts as SSH endpoints (no Ansible here).

What the playbook tests rely on: one server per host on 127.0.0.1 only, an inventory that logs in
with the generated key and checks the host keys, a login that sees the host's trees (after sudo)
and not the machine's, and servers that stop on ssh-stop, on unmount, when the mount dies and when
their lifetime is over. A rendered fleet (what the benchmarks serve) is seen the same way, read-only,
and its servers stop when its directory goes. Mistakes are one line naming what was wrong, and start nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from apsim import sshd
from apsim.fleet import build_fleet
from apsim.live import start, subprocess_env
from apsim.render import render_fleet
from helpers.needs import require
from helpers.ssh_fleet import ssh_unavailable_reason
from helpers.hang import HANG_GUARD

pytestmark = [pytest.mark.live, pytest.mark.ssh]

APSIM = [sys.executable, "-m", "apsim"]
FLEET = {
    "hosts": {
        "h1": {"cpc": {"type": "3931", "sequence": "11111", "name": "CPCA"}, "lpar": {"name": "LPA", "number": 1},
               "cards": [{"id": 3, "type": "CEX8C", "domains": "0-3"}]},
        "h2": {"cpc": {"type": "9175", "sequence": "22222", "name": "CPCB"}, "lpar": {"name": "LPB", "number": 7},
               "cards": [{"id": 5, "type": "CEX7P", "domains": "0-1"}]},
    }
}  # fmt: skip


@pytest.fixture
def mounted(tmp_path):
    require(ssh_unavailable_reason())
    live = start(FLEET, tmp_path / "mnt")
    try:
        yield live
    finally:
        if os.path.ismount(live.root):
            live.unmount()


def apsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*APSIM, *args], capture_output=True, text=True, env=subprocess_env(), check=False, timeout=HANG_GUARD)


def login(hostvars: dict, command: str) -> subprocess.CompletedProcess:
    argv = ["ssh", "-i", hostvars["ansible_ssh_private_key_file"], "-p", str(hostvars["ansible_port"]),
            *hostvars["ansible_ssh_common_args"].split(), "-o", "BatchMode=yes",
            f"{hostvars['ansible_user']}@{hostvars['ansible_host']}", command]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=HANG_GUARD, check=False)


def listeners(port: int) -> list[str]:
    """Return the local addresses listening on TCP port (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:
                found.append(address)
    return found


def server_pids(mount: Path) -> list[int]:
    return [s["pid"] for s in sshd.running(mount).values()]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], seconds: float) -> bool:
    limit = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < limit:
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def test_serve_login_and_stop(mounted, tmp_path):
    inventory = tmp_path / "inventory.yml"
    python = sys.executable  # any interpreter path: it is only written to the inventory
    result = apsim("ssh-serve", str(mounted.root), "--inventory", str(inventory), "--python", python)
    assert result.returncode == 0, result.stderr
    try:
        hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
        assert sorted(hosts) == ["h1", "h2"]
        ports = {hosts[h]["ansible_port"] for h in hosts}
        assert len(ports) == 2
        for name, hostvars in hosts.items():
            assert hostvars["ansible_host"] == "127.0.0.1" and hostvars["ansible_user"] == sshd.SSH_USER
            assert hostvars["ansible_python_interpreter"] == python
            assert "StrictHostKeyChecking=yes" in hostvars["ansible_ssh_common_args"]
            assert listeners(hostvars["ansible_port"]) == ["0100007F"], name  # 127.0.0.1 only
        h1 = login(hosts["h1"], "id -un; sudo -n sh -c 'cat /proc/sysinfo /etc/machine-id; ls /sys/bus/ap/devices'")
        assert h1.returncode == 0, h1.stderr
        assert h1.stdout.startswith(f"{sshd.SSH_USER}\n")
        assert "LPAR Name:            LPA" in h1.stdout and "card03" in h1.stdout and "card05" not in h1.stdout
        assert (mounted.host_dir("h1") / "etc/machine-id").read_text().strip() in h1.stdout
        h2 = login(hosts["h2"], "sudo -n sh -c 'cat /proc/sysinfo; ls /sys/bus/ap/devices; ls -d /proc/self/fd'")
        assert "LPAR Number:          7" in h2.stdout and "card05" in h2.stdout and "/proc/self/fd" in h2.stdout
        # the login user, unprivileged, does not see the host's sysfs (the simulator serves root only)
        assert login(hosts["h1"], "ls /sys/bus/ap").returncode != 0
        again = apsim("ssh-serve", str(mounted.root), "--inventory", str(inventory))
        assert again.returncode == 1 and "already has SSH servers" in again.stderr
    finally:
        pids = server_pids(mounted.root)
        stopped = apsim("ssh-stop", str(mounted.root))
    assert stopped.returncode == 0, stopped.stderr
    assert pids and wait_gone(pids, 5)
    assert not sshd.state_dir(mounted.root).exists()
    assert all(listeners(p) == [] for p in ports)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hosts", "h1,nosuch"], "no host 'nosuch'"),
        (["--python", "/nonexistent/python3"], "--python /nonexistent/python3 is not an executable file"),
        (["--lifetime", "0"], "--lifetime must be a positive number of seconds"),
    ],
)
def test_mistakes_are_one_line_and_start_nothing(mounted, tmp_path, args, message):
    result = apsim("ssh-serve", str(mounted.root), "--inventory", str(tmp_path / "inv.yml"), *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"apsim: ssh-serve: {message}"), lines
    assert not (tmp_path / "inv.yml").exists() and not sshd.state_dir(mounted.root).exists()


def test_not_a_mount_nor_a_rendered_fleet(tmp_path):
    require(ssh_unavailable_reason())
    result = apsim("ssh-serve", str(tmp_path), "--inventory", str(tmp_path / "inv.yml"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"apsim: {tmp_path} is neither a live apsim mount nor a rendered fleet (apsim render)"
    assert not (tmp_path / "inv.yml").exists() and not sshd.state_dir(tmp_path).exists()


@pytest.fixture
def rendered(tmp_path):
    require(ssh_unavailable_reason())
    root = tmp_path / "fleet"
    render_fleet(build_fleet(FLEET), root)
    try:
        yield root
    finally:
        sshd.stop(root)


def test_serve_rendered_fleet_read_only(rendered, tmp_path):
    """A rendered fleet is served like a live mount, from plain files bound read-only: writes are refused, nothing changes."""
    inventory = tmp_path / "inventory.yml"
    result = apsim("ssh-serve", str(rendered), "--inventory", str(inventory))
    assert result.returncode == 0, result.stderr
    assert "from the rendered files, read-only" in result.stdout
    assert sshd.backing(rendered) == sshd.RENDERED
    apmask = rendered / "h1" / "sys" / "bus" / "ap" / "apmask"
    before = apmask.read_text()
    try:
        hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
        assert sorted(hosts) == ["h1", "h2"]
        h1 = login(hosts["h1"], "sudo -n sh -c 'cat /proc/sysinfo /etc/machine-id; ls /sys/bus/ap/devices'")
        assert h1.returncode == 0, h1.stderr
        assert "LPAR Name:            LPA" in h1.stdout and "card03" in h1.stdout and "card05" not in h1.stdout
        assert (rendered / "h1" / "etc" / "machine-id").read_text().strip() in h1.stdout
        h2 = login(hosts["h2"], "sudo -n sh -c 'cat /proc/sysinfo; ls /sys/bus/ap/devices'")
        assert "LPAR Number:          7" in h2.stdout and "card05" in h2.stdout
        for command in ("echo 0x0 > /sys/bus/ap/apmask", "touch /etc/mdevctl.d/new", "echo x > /etc/machine-id"):
            refused = login(hosts["h1"], f"sudo -n sh -c '{command}'")
            assert refused.returncode != 0 and "Read-only file system" in refused.stderr, (command, refused.stderr)
        assert apmask.read_text() == before and not (rendered / "h1" / "etc" / "mdevctl.d" / "new").exists()
    finally:
        pids = server_pids(rendered)
        stopped = apsim("ssh-stop", str(rendered))
    assert stopped.returncode == 0, stopped.stderr
    assert pids and wait_gone(pids, 5)
    assert not sshd.state_dir(rendered).exists() and sshd.backing(rendered) is None


def test_rendered_servers_stop_when_the_fleet_directory_goes(rendered, tmp_path):
    sshd.serve(rendered, tmp_path / "inv.yml", hosts=["h2"])
    pids = server_pids(rendered)
    assert list(sshd.running(rendered)) == ["h2"] and pids
    shutil.rmtree(rendered)
    assert wait_gone(pids, 15)


def test_servers_stop_with_the_mount_and_after_their_lifetime(tmp_path):
    require(ssh_unavailable_reason())
    # unmount stops them first
    live = start(FLEET, tmp_path / "a")
    sshd.serve(live.root, tmp_path / "a.yml", hosts=["h2"])
    pids = server_pids(live.root)
    assert list(sshd.running(live.root)) == ["h2"]
    live.unmount()
    assert wait_gone(pids, 5) and not sshd.state_dir(live.root).exists()

    # the mount's server dies: the servers follow
    live = start(FLEET, tmp_path / "b")
    sshd.serve(live.root, tmp_path / "b.yml")
    pids = server_pids(live.root)
    os.kill(live.pid, signal.SIGKILL)
    try:
        assert wait_gone(pids, 15)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(live.root)], capture_output=True, check=False)
        sshd.stop(live.root)

    # the lifetime is over: they stop by themselves, the mount stays
    live = start(FLEET, tmp_path / "c")
    try:
        sshd.serve(live.root, tmp_path / "c.yml", lifetime=2)
        pids = server_pids(live.root)
        assert wait_gone(pids, 15)
        assert os.path.ismount(live.root)
    finally:
        live.unmount()
