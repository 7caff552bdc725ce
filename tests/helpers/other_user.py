"""Running code as another, unprivileged user (uid 65534) wherever the checkout was cloned.

Tests that need a user other than root (a module that may not read root-only directories, the
stress suite's EACCES case) run as ``nobody``. That user can read nothing below a private (0700)
directory, and a clone in a home directory is exactly that: neither the checkout, nor its venv,
nor a pyenv Python below /root. So what runs as that user is copied where it can read it, as
Ansible itself copies a module to the host (``payload``), and the interpreter is one that user
can start (``python_for``); without one, the test is skipped (failed under CI).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ansible

from helpers.hang import HANG_GUARD

OTHER_UID = 65534
ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / ".collections" / "ansible_collections" / "s390x" / "vfio_ap"
_ANSIBLE = Path(ansible.__file__).resolve().parent


def drop_to(uid: int = OTHER_UID) -> list[str]:
    """Return the command prefix that runs a program as ``uid`` (its group the same number, no other groups)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def shared_dir(prefix: str) -> Path:
    """Return a new directory below the system temporary directory that every user can read (0755)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    path.chmod(0o755)
    return path


@functools.cache
def python_for(uid: int = OTHER_UID) -> str | None:
    """Return a Python 3.8+ interpreter that ``uid`` can start and that can run the collection's modules, or None.

    Tried in order: this interpreter, the one its venv is built on, python3 on PATH, /usr/bin/python3.
    """
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return None
    candidates = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", ""), shutil.which("python3") or "",
                  "/usr/bin/python3"]  # fmt: skip
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            proc = subprocess.run([*drop_to(uid), candidate, "-I", "-c", "import sys; assert sys.version_info >= (3, 8)"],
                                  capture_output=True, timeout=HANG_GUARD, check=False)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0:
            return candidate
    return None


def why_not(uid: int = OTHER_UID) -> str | None:
    """Return why code cannot run as ``uid`` here, or None when it can."""
    if os.geteuid() != 0:
        return "running as another user needs root (setpriv)"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed (Debian package util-linux)"
    if python_for(uid) is None:
        return f"no Python 3.8+ interpreter that uid {uid} can start (all are below a private directory)"
    return None


def payload(dest: Path, extra: tuple[Path, ...] = ()) -> Path:
    """Copy what a module run needs into ``dest`` (readable by everyone) and return ``dest``: the
    ``ansible`` package's module_utils (with the package's own ``__init__``), the collection's
    ``plugins/modules`` and ``plugins/module_utils``, and ``extra`` files (at the top of dest).

    ``dest`` then goes first on PYTHONPATH; a module is ``dest/ansible_collections/s390x/vfio_ap/plugins/modules/<name>.py``.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    package = dest / "ansible"
    package.mkdir(parents=True, exist_ok=True)
    for name in ("__init__.py", "release.py"):
        shutil.copy2(_ANSIBLE / name, package / name)
    for name in ("module_utils", "_vendor"):
        if (_ANSIBLE / name).is_dir():
            shutil.copytree(_ANSIBLE / name, package / name, ignore=ignore, dirs_exist_ok=True)
    plugins = dest / "ansible_collections" / "s390x" / "vfio_ap" / "plugins"
    for name in ("modules", "module_utils"):
        shutil.copytree(COLLECTION / "plugins" / name, plugins / name, ignore=ignore, dirs_exist_ok=True)
    for path in extra:
        shutil.copy2(path, dest / path.name)
    for dirpath, _dirnames, filenames in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return dest


def module_path(dest: Path, module: str) -> Path:
    """Return the path of a collection module inside a payload."""
    return dest / "ansible_collections" / "s390x" / "vfio_ap" / "plugins" / "modules" / f"{module}.py"


def interpreter_wrapper(dest: Path, uid: int = OTHER_UID) -> Path:
    """Write ``dest/python-as-<uid>``: an ``ansible_python_interpreter`` that runs the module as ``uid``.

    With pipelining (ANSIBLE_PIPELINING=1) Ansible sends the module on stdin, so that user needs to
    read no file of the controller's.
    """
    python = python_for(uid)
    if python is None:
        raise RuntimeError(why_not(uid) or "no interpreter")
    wrapper = dest / f"python-as-{uid}"
    wrapper.write_text(f'#!/bin/sh\nexec {" ".join(drop_to(uid))} {python} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper
