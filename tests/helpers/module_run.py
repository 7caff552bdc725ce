"""Run a collection module directly (python -m, args file), as Ansible would on the host: fast and parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from helpers.hang import HANG_GUARD, hung

ROOT = Path(__file__).resolve().parents[2]


# Shell set-ups run in a private mount namespace before the module (``$1`` is the directory):
READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"'
FULL = 'mount -t tmpfs -o size=16k tmpfs "$1" && (dd if=/dev/zero of="$1/.fill" bs=4k 2>/dev/null; true)'


def start(
    module: str, args: dict[str, Any], umask: int | None = None, check: bool = False, fault: tuple[str, Path] | None = None
) -> subprocess.Popen:
    """Start s390x.vfio_ap.<module> with args (``_ansible_check_mode`` when check); return the process.

    fault is (READ_ONLY or FULL, directory): the module runs in a private mount namespace where that
    directory is read-only (EROFS) or a full file system (ENOSPC).
    """
    payload = dict(args)
    if check:
        payload["_ansible_check_mode"] = True
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    env = dict(os.environ, PYTHONPATH=f"{ROOT / '.collections'}:{ROOT / 'tests'}")

    def preexec() -> None:
        if umask is not None:
            os.umask(umask)

    prefix: list[str] = []
    if fault is not None:
        setup, directory = fault
        prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", setup + ' && shift && exec "$@"', "sh", str(directory)]
    proc = subprocess.Popen(
        prefix + [sys.executable, "-m", f"ansible_collections.s390x.vfio_ap.plugins.modules.{module}", handle.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=preexec,
    )
    proc.args_file = handle.name  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen) -> dict[str, Any]:
    """Wait for a started module; return its JSON result plus ``_rc`` and ``_stderr``."""
    try:
        out, err = proc.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        raise hung(exc) from None
    os.unlink(proc.args_file)  # type: ignore[attr-defined]
    try:
        data = json.loads(out)
    except ValueError:
        data = {"failed": True, "msg": "not JSON", "_stdout": out}
    data["_rc"] = proc.returncode
    data["_stderr"] = err
    return data


def run_module(
    module: str, args: dict[str, Any], umask: int | None = None, check: bool = False, fault: tuple[str, Path] | None = None
) -> dict[str, Any]:
    """Run s390x.vfio_ap.<module> once; return its result (see finish and start)."""
    return finish(start(module, args, umask, check, fault))


def run_parallel(module: str, many: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the module once per args dict, all at the same time; return the results in order."""
    procs = [start(module, args) for args in many]
    return [finish(p) for p in procs]
