"""Render simulated hosts as plain files and symlinks (read-only use: facts, audit, demo)."""

from __future__ import annotations

import os
from pathlib import Path

from .model import Host
from .view import Dir, File, HostView, Link


def render_host(host: Host, dest: str | Path) -> int:
    """Write host's tree under dest (``sys/``, ``etc/``, ``run/``); return the number of entries written.

    An attribute whose read fails in the kernel (EIO) is left out of a rendered tree.
    """
    dest = Path(dest)
    count = 0
    with host.lock:
        count += _render_dir(HostView(host).root(), str(dest / "sys"))
        count += write_host_files(host, dest)
    return count


# Directories every simulated host has outside sys/, even when empty.
HOST_DIRS = ("etc/mdevctl.d/matrix", "run/lock", "etc/udev/rules.d", "etc/libvirt/qemu", "run/libvirt/qemu")


def write_host_files(host: Host, dest: str | Path) -> int:
    """Write host's files outside ``sys/`` (mdevctl definitions, libvirt XML) and its empty directories
    under dest; return the number of files written. Shared by render and the live mount's backing tree.
    """
    dest = Path(dest)
    count = 0
    for rel, text in sorted(host.etc_files.items()):
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        count += 1
    for rel in HOST_DIRS:
        (dest / rel).mkdir(parents=True, exist_ok=True)
    return count


def _render_dir(node: Dir, path: str) -> int:
    os.makedirs(path, exist_ok=True)
    count = 0
    for name in node.names():
        child = node.child(name)
        target = os.path.join(path, name)
        if isinstance(child, Dir):
            count += _render_dir(child, target)
        elif isinstance(child, Link):
            os.symlink(child.target, target)
            count += 1
        elif isinstance(child, File):
            text = ""
            if child.show is not None:
                try:
                    text = child.show()
                except OSError:
                    continue
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, child.mode)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
            os.chmod(target, child.mode)
            count += 1
    return count


def render_fleet(hosts: dict[str, Host], dest: str | Path) -> dict[str, int]:
    """Render every host under ``dest/<host>/``; return entries written per host.

    A host directory that already exists is replaced.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, host in hosts.items():
        target = dest / name
        if target.exists() or target.is_symlink():
            _remove_tree(target)
        written[name] = render_host(host, target)
    return written


def _remove_tree(path: Path) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for f in files:
            os.unlink(os.path.join(root, f))
        for d in dirs:
            full = os.path.join(root, d)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.rmdir(full)
    os.rmdir(path)
