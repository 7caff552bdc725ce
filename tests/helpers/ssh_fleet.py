"""Simulated hosts reached over SSH for the tests: a live mount plus ``apsim ssh-serve``.

The module-side Python follows the controller's ansible-core, as on real fleets: 2.16 manages
RHEL 8 / SLES 15 hosts (platform Python 3.6), 2.19 RHEL 9 (3.9), 2.20 and later 3.12 (the oldest
target Python those releases support is 3.8/3.9; RHEL 9's 3.12 stream). The interpreter is taken
from pyenv; ``VFIO_AP_SSH_PYTHON=X.Y`` overrides the choice.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.needs import require
from helpers.hang import HANG_GUARD

PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))
# (oldest ansible-core of the row, target Python) - the newest row whose core is <= the controller's.
TARGETS = (((2, 16), "3.6"), ((2, 19), "3.9"), ((2, 20), "3.12"))


def core_version() -> tuple[int, int]:
    """Return the controller's ansible-core (major, minor)."""
    from ansible.release import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def target_version(core: tuple[int, int] | None = None) -> str:
    """Return the target Python version (X.Y) the tests use with this ansible-core."""
    if os.environ.get("VFIO_AP_SSH_PYTHON"):
        return os.environ["VFIO_AP_SSH_PYTHON"]
    core = core or core_version()
    chosen = TARGETS[0][1]
    for oldest, version in TARGETS:
        if core >= oldest:
            chosen = version
    return chosen


def target_python(version: str) -> str | None:
    """Return the pyenv interpreter for version X.Y, or None when it is not installed."""
    found = sorted(glob.glob(str(PYENV / "versions" / f"{version}.*" / "bin" / f"python{version}")))
    return found[-1] if found else None


def ssh_unavailable_reason() -> str | None:
    """Return why simulated hosts cannot be served over SSH here, or None when they can."""
    from conftest import live_unavailable_reason

    reason = live_unavailable_reason()
    if reason:
        return reason
    if os.geteuid() != 0:
        return "ssh-serve needs root"
    for tool, package in (("/usr/sbin/sshd", "openssh-server"), ("/usr/bin/sudo", "sudo")):
        if not os.access(tool, os.X_OK):
            return f"{tool} is not installed (Debian package {package})"
    return None


@dataclass
class SshFleet:
    """A live mount with an SSH server per host and the inventory ssh-serve wrote."""

    live: Any  # apsim.live.LiveFleet
    inventory: Path
    python: str | None

    def hostvars(self) -> dict[str, dict[str, Any]]:
        return yaml.safe_load(self.inventory.read_text())["all"]["hosts"]

    def inventory_with(self, path: Path, extra: Callable[[str, int], dict[str, Any]] | None = None,
                       drop: tuple[str, ...] = ()) -> Path:  # fmt: skip
        """Write a copy of the inventory with extra(host, index) added to each host's vars."""
        hosts = {}
        for index, (name, hostvars) in enumerate(self.hostvars().items()):
            merged = {k: v for k, v in hostvars.items() if k not in drop}
            merged.update(extra(name, index) if extra else {})
            hosts[name] = merged
        path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))
        return path


def ssh_fleet_fixture(fleet: str | Path, python_version: str | None = None, lifetime: int = 3 * HANG_GUARD):
    """Return a module-scoped fixture yielding an SshFleet of a fleet file (its hosts over SSH).

    python_version None: the target Python of the controller's ansible-core (target_version()).
    """

    @pytest.fixture(scope="module")
    def _ssh(tmp_path_factory) -> Iterator[SshFleet]:
        require(ssh_unavailable_reason())
        version = python_version or target_version()
        python = target_python(version)
        require(None if python else f"Python {version} is not installed under {PYENV}/versions")
        from apsim import sshd
        from apsim.live import LiveError, start

        work = tmp_path_factory.mktemp("ssh")
        live = start(fleet, work / "mnt")
        device = os.stat(live.root).st_dev
        try:
            inventory = work / "inventory.yml"
            sshd.serve(live.root, inventory, python=python, lifetime=lifetime)
            yield SshFleet(live, inventory, python)
        finally:
            try:
                live.unmount()  # stops the SSH servers first
            except LiveError as exc:
                # On a loaded machine the FUSE server may take longer than unmount's wait to see the
                # last bind go; give it more (a hang guard), then say who still holds the mount.
                limit = time.monotonic() + HANG_GUARD / 12
                while Path(f"/proc/{live.pid}").exists() and time.monotonic() < limit:
                    time.sleep(0.2)
                if Path(f"/proc/{live.pid}").exists():
                    raise AssertionError(f"{exc}; still holding the mount: {holders(device)}") from exc

    return _ssh


def holders(device: int) -> list[str]:
    """Return the processes whose mount namespace still has the FUSE device mounted (diagnostics)."""
    wanted = f" {os.major(device)}:{os.minor(device)} "
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if wanted in Path(f"/proc/{entry}/mountinfo").read_text():
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry} {os.readlink(f'/proc/{entry}/ns/mnt')} {cmd[:120]}")
        except OSError:
            continue
    return found
