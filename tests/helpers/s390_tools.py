"""s390-tools' own lszcrypt, run against a simulated host (tests and the facts benchmark).

``tools/s390-tools.sh`` (run by ``make system-deps``) provides Debian's s390x lszcrypt under
qemu user-mode emulation in ``$S390_TOOLS_DIR`` (default ``~/.cache/s390x-vfio-ap/s390-tools``);
on an s390x machine with s390-tools installed the machine's own ``lszcrypt`` is used.
lszcrypt reads ``/sys/bus/ap`` and ``/sys/devices/ap`` with fixed paths, so it runs in the host's
private mount namespace (``apsim ns-exec``: the host's ``sys`` bound over ``/sys``).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from apsim.live import ns_exec_argv
from helpers.hang import HANG_GUARD
from helpers.needs import require

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "s390-tools.sh"


def tools_dir() -> Path:
    """Return the directory tools/s390-tools.sh fills (``bin/lszcrypt`` runs the tool)."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "s390x-vfio-ap" / "s390-tools"
    return Path(os.environ.get("S390_TOOLS_DIR") or default)


def lszcrypt_path() -> str | None:
    """Return the lszcrypt to run: the emulated one from tools_dir(), else the machine's own on s390x, else None."""
    wrapper = tools_dir() / "bin" / "lszcrypt"
    if os.access(wrapper, os.X_OK):
        return str(wrapper)
    if platform.machine() == "s390x":
        return shutil.which("lszcrypt")
    return None


def unavailable_reason() -> str | None:
    """Return why lszcrypt cannot be run against a simulated host here, or None when it can."""
    if lszcrypt_path() is None:
        return f"s390-tools' lszcrypt is not installed (run `make system-deps` or `bash {SCRIPT.relative_to(ROOT)}` as root)"
    if os.geteuid() != 0:
        return "lszcrypt runs in a private mount namespace (apsim ns-exec), which needs root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    return None


def require_lszcrypt() -> str:
    """Return the lszcrypt path; skip the test (fail it under CI=true) when lszcrypt cannot run here."""
    require(unavailable_reason())
    path = lszcrypt_path()
    assert path is not None
    return path


def lszcrypt_argv(host_dir: str | Path, args: list[str], lszcrypt: str | None = None) -> list[str]:
    """Return the argv that runs ``lszcrypt ARGS`` in host_dir's mount namespace."""
    tool = lszcrypt or lszcrypt_path()
    if tool is None:
        raise RuntimeError(unavailable_reason() or "lszcrypt is not available")
    return ns_exec_argv(host_dir, [tool, *args])


def run_lszcrypt(host_dir: str | Path, args: list[str], timeout: float = HANG_GUARD) -> subprocess.CompletedProcess:
    """Run ``lszcrypt ARGS`` against the simulated host at host_dir; return the completed process (text)."""
    return subprocess.run(lszcrypt_argv(host_dir, args), capture_output=True, text=True, timeout=timeout, check=False)
