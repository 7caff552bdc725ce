"""Simulated hosts reached over SSH for the tests and benchmarks: a live mount or a rendered fleet plus ``apsim ssh-serve``.

``served_fleet(fleet, workdir, backing)`` serves a fleet from a live mount (``"live"``: the
kernel's behaviour, writes included; one FUSE process serves every host) or from rendered plain
files bound read-only (``"rendered"``: reads cost what they cost on a real file system; for
read-only work and benchmarks). ``ssh_fleet_fixture`` is the live one as a module-scoped fixture.

The module-side Python follows the controller's ansible-core, as on real fleets: 2.16 manages
RHEL 8 / SLES 15 hosts (platform Python 3.6), 2.19 RHEL 9 (3.9), 2.20 and later 3.12 (the oldest
target Python those releases support is 3.8/3.9; RHEL 9's 3.12 stream). The interpreter is taken
from pyenv; ``VFIO_AP_SSH_PYTHON=X.Y`` overrides the choice.
"""

from __future__ import annotations

import contextlib
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
    """Simulated hosts with an SSH server each and the inventory ssh-serve wrote."""

    live: Any  # apsim.live.LiveFleet; None when the hosts are rendered files
    inventory: Path
    python: str | None
    root: Path | None = None  # the live mount or the rendered fleet's directory
    backing: str = "live"  # apsim.sshd.LIVE or RENDERED

    def host_dir(self, name: str) -> Path:
        """Return the directory holding a host's trees (its local sysroot)."""
        if self.live is not None:
            return self.live.host_dir(name)
        assert self.root is not None
        return self.root / name

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
        with served_fleet(fleet, tmp_path_factory.mktemp("ssh"), "live", python, lifetime) as served:
            yield served

    return _ssh


@contextlib.contextmanager
def served_fleet(fleet: str | Path | dict[str, Any], workdir: Path, backing: str = "live", python: str | None = None,
                 lifetime: int = 1800) -> Iterator[SshFleet]:  # fmt: skip
    """Serve every host of a fleet (file or data) over SSH from ``backing`` (live or rendered); stop it all afterwards.

    Raises apsim's LiveError (one line) when the servers or the mount cannot start, ValueError
    for an unknown backing.
    """
    from apsim import sshd

    inventory = workdir / "inventory.yml"
    if backing == sshd.RENDERED:
        from apsim.fleet import build_fleet, load_fleet
        from apsim.render import render_fleet

        root = workdir / "rendered"
        render_fleet(build_fleet(fleet) if isinstance(fleet, dict) else load_fleet(fleet), root)
        sshd.serve(root, inventory, python=python, lifetime=lifetime)
        try:
            yield SshFleet(None, inventory, python, root, backing)
        finally:
            sshd.stop(root)
        return
    if backing != sshd.LIVE:
        raise ValueError(f"backing: expected {sshd.LIVE} or {sshd.RENDERED}, got {backing!r}")
    from apsim.live import LiveError, start

    live = start(fleet, workdir / "mnt")
    device = os.stat(live.root).st_dev
    try:
        sshd.serve(live.root, inventory, python=python, lifetime=lifetime)
        yield SshFleet(live, inventory, python, live.root, backing)
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
