"""The live face of the AP host simulator: every host of a fleet served through one FUSE mount.

Layout of a mount point ``DIR``::

    DIR/<host>/sys/...           the host's sysfs (HostView nodes) with the kernel's write semantics
    DIR/<host>/etc, DIR/<host>/run
                                 ordinary writable directories (a per-host backing directory),
                                 pre-populated like a rendered host; mdevctl, chzdev, libvirt and the
                                 collection's modules write here
    DIR/<host>/var               an ordinary writable directory too; var/log/kern.log gets every kernel
                                 message of the host (Host.klog), one syslog line each
    DIR/.apsim/pid               the server's process id (read-only)
    DIR/.apsim/control           write ``migrate SOURCE DEST UUID [ID]``: migrate a running guest's mdev
                                 between two hosts (apsim.migration); the errno of the write is the
                                 refusal's, 0 when the guest moved
    DIR/.apsim/migrations        read: JSON list of every migration attempt's record (with its ID)
                                 ``start HOST ID GUEST_HEX`` on the same control file starts a defined
                                 guest as libvirt does (apsim.domains); DIR/.apsim/starts lists them
    DIR/.apsim/<host>/control    write one Host.control command, e.g. ``attach UUID GUEST``,
                                 ``detach UUID``, ``migrating UUID 1``, ``reset-writes``, or
                                 ``reboot`` (apsim.boot); a refused command fails the write with
                                 EINVAL or ENODEV
    DIR/.apsim/<host>/state      read: JSON ``{"state": Host.dump_state(), "writes": N, "log": [...],
                                 "boots": [boot records]}``

sysfs fidelity (docs/kernel-interface.md, general rules): attributes report st_size 4096 and the
node's mode; ``open()`` refuses a wrong-direction access with EACCES (kernfs checks the mode bits
itself, even for root); each ``write()`` call is one store and returns the store's errno; writes
with or without a trailing newline and ``O_TRUNC``/``truncate`` on attributes are accepted; reads
are served with direct_io and the text is computed afresh whenever a read starts at offset 0.
All model access happens under the host's lock (the FUSE server is multithreaded).

Command line (``python -m apsim``): ``mount FLEET DIR [--background --pidfile F] [--backing B]``,
``unmount DIR``, ``ns-exec DIR/<host> -- CMD ...``. Python API: ``mounted()``, ``start()``,
``LiveFleet`` and ``unmount()``; tests use them through ``apsim.testing``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from . import boot, domains, migration
from .fleet import FleetError, load_fleet
from .model import Host
from .render import write_host_files
from .view import Dir, File, HostView, Link

CONTROL_DIR = ".apsim"
MOUNT_FILES = ("pid", "control", migration.RECORDS, domains.RECORDS)  # DIR/.apsim/<name>
PASS_DIRS = ("etc", "proc", "run", "var")  # ordinary directories of a host (backing tree)
KERN_LOG = "var/log/kern.log"
ATTR_SIZE = 4096
ENTRY_TIMEOUT = 1.0  # seconds a name lookup is cached; see SimFS.init_with_config
# Waits for a server to come up: hang guards (a loaded machine is slow, never a failure), not limits.
START_TIMEOUT = 300.0
STOP_TIMEOUT = 60.0  # seconds unmount waits for the server to exit (a loaded 2-core CI machine needs more than 20)
TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = TESTS_DIR.parent
# Directories mdevctl 1.2 (Debian) insists on below /etc/mdevctl.d (its environment self-check).
MDEVCTL_DIRS = ("etc/mdevctl.d/scripts.d/callouts", "etc/mdevctl.d/scripts.d/notifiers")
# What ns-exec binds over the real system: (path below the host dir, absolute target).
NS_BINDS = (
    ("sys", "/sys"),
    ("etc/mdevctl.d", "/etc/mdevctl.d"),
    ("etc/udev/rules.d", "/etc/udev/rules.d"),
    ("run/lock", "/run/lock"),
)


class LiveError(RuntimeError):
    """The live simulator cannot do what was asked; the message is one line."""


def fuse_unavailable() -> str | None:
    """Return why a FUSE mount cannot work on this machine, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian package fuse3)"
    try:
        import mfusepy  # noqa: F401
    except Exception as exc:  # libfuse3 missing raises at import
        return f"mfusepy cannot load libfuse3: {exc}"
    return None


# ============================================================================ the filesystem


class _SysHandle:
    __slots__ = ("host", "node", "text")

    def __init__(self, host: Host, node: File):
        self.host, self.node, self.text = host, node, b""


class _FdHandle:
    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd


def _fh(fh: Any) -> int:
    """Return the handle number from a raw fuse_file_info or a plain int."""
    return fh.fh if hasattr(fh, "fh") else fh


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _stat_dict(st: os.stat_result) -> dict[str, Any]:
    keys = ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid", "st_atime_ns", "st_mtime_ns", "st_ctime_ns", "st_blocks")
    out = {k.replace("_ns", ""): getattr(st, k) for k in keys}
    out["st_ino"] = st.st_ino
    return out


def _operations_base():
    import mfusepy

    return mfusepy.Operations


class SimFS(_operations_base() if fuse_unavailable() is None else object):  # type: ignore[misc]
    """mfusepy operations serving the hosts; see the module docstring for the layout."""

    use_ns = True

    def __init__(self, hosts: dict[str, Host], backing: Path, ready: Any = None):
        self.hosts = hosts
        self.views = {name: HostView(host) for name, host in hosts.items()}
        self.backing = backing
        self.ready = ready  # callable run once the mount is live
        self.handles: dict[int, Any] = {}
        self.next_handle = 1
        self.handle_lock = threading.Lock()
        self.now = time.time_ns()
        self.records: list[dict[str, Any]] = []  # migration attempts, oldest first
        self.starts: list[dict[str, Any]] = []  # guest starts (virsh start), oldest first
        self.records_lock = threading.Lock()
        self.boots: dict[str, list[dict[str, Any]]] = {name: [] for name in hosts}  # reboot records per host
        for name, host in hosts.items():
            host.log_sink = _kern_log_sink(name, backing / name / KERN_LOG)

    # ------------------------------------------------------------------ path classification
    def _split(self, path: str) -> list[str]:
        return [p for p in path.split("/") if p]

    def _classify(self, path: str) -> tuple[str, Any, Any]:
        """Return (kind, host name or None, detail) for a path of the mount.

        kinds: root, control-root, control-host, control-file, host, sys, pass (detail = real path).
        """
        parts = self._split(path)
        if not parts:
            return "root", None, None
        if parts[0] == CONTROL_DIR:
            if len(parts) == 1:
                return "control-root", None, None
            if len(parts) == 2 and parts[1] in MOUNT_FILES:
                return "control-file", None, parts[1]
            if parts[1] not in self.hosts:
                raise _oserror(errno.ENOENT)
            if len(parts) == 2:
                return "control-host", parts[1], None
            if len(parts) == 3 and parts[2] in ("control", "state"):
                return "control-file", parts[1], parts[2]
            raise _oserror(errno.ENOENT)
        host = parts[0]
        if host not in self.hosts:
            raise _oserror(errno.ENOENT)
        if len(parts) == 1:
            return "host", host, None
        if parts[1] == "sys":
            return "sys", host, parts[2:]
        if parts[1] in PASS_DIRS:
            return "pass", host, str(self.backing.joinpath(host, *parts[1:]))
        raise _oserror(errno.ENOENT)

    def _sys_node(self, host: str, parts: list[str]):
        node = self.views[host].resolve(parts)
        if node is None:
            raise _oserror(errno.ENOENT)
        return node

    def _dir_attrs(self) -> dict[str, Any]:
        return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_size": 0, "st_atime": self.now,
                "st_mtime": self.now, "st_ctime": self.now}  # fmt: skip

    def _file_attrs(self, mode: int, size: int = ATTR_SIZE) -> dict[str, Any]:
        return {"st_mode": stat.S_IFREG | mode, "st_nlink": 1, "st_size": size, "st_atime": self.now,
                "st_mtime": self.now, "st_ctime": self.now}  # fmt: skip

    # ------------------------------------------------------------------ lifecycle
    def init_with_config(self, conn_info: Any, config: Any) -> None:
        if config is not None:
            # sysfs changes behind the kernel's back: attributes are never cached and a missing name
            # is looked up again every time. A found name may be cached briefly: every operation
            # resolves its path afresh here, so a name that has gone answers ENOENT at once, and no
            # path of the tree ever changes type. Unlink of an open backing file goes straight
            # through (no .fuse_hidden files).
            config.entry_timeout = ENTRY_TIMEOUT
            config.negative_timeout = 0.0
            config.attr_timeout = 0.0
            config.hard_remove = 1
        if self.ready:
            threading.Thread(target=self.ready, daemon=True).start()

    # ------------------------------------------------------------------ metadata
    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        kind, host, detail = self._classify(path)
        if kind in ("root", "control-root", "control-host", "host"):
            return self._dir_attrs()
        if kind == "control-file":
            return self._file_attrs(0o200 if detail == "control" else 0o444)
        if kind == "pass":
            return _stat_dict(os.lstat(detail))
        with self.hosts[host].lock:
            node = self._sys_node(host, detail)
        if isinstance(node, Dir):
            return self._dir_attrs()
        if isinstance(node, Link):
            return {"st_mode": stat.S_IFLNK | 0o777, "st_nlink": 1, "st_size": len(node.target),
                    "st_atime": self.now, "st_mtime": self.now, "st_ctime": self.now}  # fmt: skip
        return self._file_attrs(node.mode)

    def readdir(self, path: str, fh: Any) -> list[str]:
        kind, host, detail = self._classify(path)
        if kind == "root":
            names = [CONTROL_DIR, *sorted(self.hosts)]
        elif kind == "control-root":
            names = [*MOUNT_FILES, *sorted(self.hosts)]
        elif kind == "control-host":
            names = ["control", "state"]
        elif kind == "host":
            names = [*PASS_DIRS, "sys"]
        elif kind == "pass":
            names = os.listdir(detail)
        elif kind == "sys":
            with self.hosts[host].lock:
                node = self._sys_node(host, detail)
                if not isinstance(node, Dir):
                    raise _oserror(errno.ENOTDIR)
                names = node.names()
        else:
            raise _oserror(errno.ENOTDIR)
        return [".", "..", *names]

    def readlink(self, path: str) -> str:
        kind, host, detail = self._classify(path)
        if kind == "pass":
            return os.readlink(detail)
        if kind != "sys":
            raise _oserror(errno.EINVAL)
        with self.hosts[host].lock:
            node = self._sys_node(host, detail)
        if not isinstance(node, Link):
            raise _oserror(errno.EINVAL)
        return node.target

    def statfs(self, path: str) -> dict[str, Any]:
        st = os.statvfs(self.backing)
        return {k: getattr(st, k) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                            "f_files", "f_ffree", "f_favail", "f_namemax")}  # fmt: skip

    # ------------------------------------------------------------------ handles
    def _add(self, handle: Any) -> int:
        with self.handle_lock:
            number = self.next_handle
            self.next_handle += 1
            self.handles[number] = handle
            return number

    def _get(self, fh: Any) -> Any:
        handle = self.handles.get(_fh(fh))
        if handle is None:
            raise _oserror(errno.EBADF)
        return handle

    def open(self, path: str, fi: Any) -> int:
        kind, host, detail = self._classify(path)
        flags = fi.flags
        if kind == "pass":
            fi.fh = self._add(_FdHandle(os.open(detail, flags & ~os.O_CREAT)))
            return 0
        if kind == "control-file":
            node = self._control_node(host, detail)
            owner = self.hosts[host] if host else None
        elif kind == "sys":
            with self.hosts[host].lock:
                node = self._sys_node(host, detail)
            owner = self.hosts[host]
        else:
            raise _oserror(errno.EISDIR)
        if isinstance(node, Dir):
            raise _oserror(errno.EISDIR)
        access = flags & os.O_ACCMODE
        wants_read = access in (os.O_RDONLY, os.O_RDWR)
        wants_write = access in (os.O_WRONLY, os.O_RDWR)
        # kernfs checks the mode bits and the presence of show/store at open, even for root
        if wants_read and not (node.mode & 0o444 and node.show):
            raise _oserror(errno.EACCES)
        if wants_write and not (node.mode & 0o222 and node.store):
            raise _oserror(errno.EACCES)
        fi.direct_io = 1
        fi.keep_cache = 0
        fi.fh = self._add(_SysHandle(owner, node))
        return 0

    def create(self, path: str, mode: int, fi: Any) -> int:
        kind, _host, detail = self._classify(path)
        if kind != "pass":
            raise _oserror(errno.EACCES)  # kernfs directories have no create operation
        fi.fh = self._add(_FdHandle(os.open(detail, fi.flags | os.O_CREAT, mode)))
        return 0

    def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
        handle = self._get(fh)
        if isinstance(handle, _FdHandle):
            return os.pread(handle.fd, size, offset)
        if offset == 0 or not handle.text:
            if handle.host is not None:
                with handle.host.lock:
                    handle.text = handle.node.show().encode()
            else:
                handle.text = handle.node.show().encode()
        return handle.text[offset : offset + size]

    def write(self, path: str, data: bytes, offset: int, fh: Any) -> int:
        handle = self._get(fh)
        if isinstance(handle, _FdHandle):
            return os.pwrite(handle.fd, data, offset)
        chunk = data[:ATTR_SIZE]  # sysfs hands a store at most one page per write()
        try:
            text = chunk.decode()
        except UnicodeDecodeError:
            raise _oserror(errno.EINVAL) from None
        if handle.host is not None:
            with handle.host.lock:
                handle.node.store(text)
        else:
            handle.node.store(text)
        return len(chunk)

    def truncate(self, path: str, length: int, fh: Any = None) -> int:
        if fh is not None:
            handle = self._get(fh)
            if isinstance(handle, _FdHandle):
                os.ftruncate(handle.fd, length)
            return 0
        kind, host, detail = self._classify(path)
        if kind == "pass":
            os.truncate(detail, length)
            return 0
        if kind in ("sys", "control-file"):
            return 0  # sysfs ignores the size of an attribute
        raise _oserror(errno.EISDIR)

    def flush(self, path: str, fh: Any) -> int:
        return 0

    def fsync(self, path: str, datasync: int, fh: Any) -> int:
        handle = self._get(fh)
        if isinstance(handle, _FdHandle):
            (os.fdatasync if datasync else os.fsync)(handle.fd)
        return 0

    def release(self, path: str, fh: Any) -> int:
        with self.handle_lock:
            handle = self.handles.pop(_fh(fh), None)
        if isinstance(handle, _FdHandle):
            os.close(handle.fd)
        return 0

    # ------------------------------------------------------------------ control channel
    def _control_node(self, host: str | None, name: str) -> File:
        if host is None:
            if name == "control":
                return File(0o200, None, self._mount_control)
            if name == migration.RECORDS:
                return File(0o444, lambda: json.dumps(self.records, indent=1) + "\n")
            if name == domains.RECORDS:
                return File(0o444, lambda: json.dumps(self.starts, indent=1) + "\n")
            return File(0o444, lambda: f"{os.getpid()}\n")
        h = self.hosts[host]
        if name == "control":

            def store(text: str) -> None:
                if text.strip() == "reboot":
                    self._reboot(host)
                else:
                    h.control(text.strip())

            return File(0o200, None, store)

        def show() -> str:
            with h.lock:
                return json.dumps({"state": h.dump_state(), "writes": h.writes, "log": list(h.log), "boots": self.boots[host]},
                                  indent=1) + "\n"  # fmt: skip

        return File(0o444, show)

    def _reboot(self, host: str) -> None:
        """Reboot one host (apsim.boot.reboot) on its backing tree; the record goes to its state's ``boots``."""
        h = self.hosts[host]
        with h.lock:
            record = boot.reboot(h, self.backing / host, self.views[host])
            self.boots[host].append(record)

    def _mount_control(self, text: str) -> None:
        """Run a mount-wide command: ``migrate SOURCE DEST UUID [ID]`` (apsim.migration.migrate) or
        ``start HOST ID GUEST_HEX`` (apsim.domains.start: libvirt starts a defined guest).

        The record of the attempt (with ID) is appended to DIR/.apsim/migrations (or starts); a
        refusal or a wrong request fails the write with the record's errno. Anything else is EINVAL.
        """
        words = text.split()
        if words and words[0] == "start":
            if len(words) != 4:
                raise _oserror(errno.EINVAL)
            try:
                guest = domains.decode_name(words[3])
            except ValueError:
                raise _oserror(errno.EINVAL) from None
            record = domains.start(self.hosts, {name: self.backing / name for name in self.hosts}, words[1], guest)
            record["id"] = words[2]
            with self.records_lock:
                self.starts.append(record)
            if record["errno"]:
                raise _oserror(record["errno"])
            return
        if not words or words[0] != "migrate" or len(words) not in (4, 5):
            raise _oserror(errno.EINVAL)
        roots = {name: self.backing / name for name in self.hosts}
        record = migration.migrate(self.hosts, roots, words[1], words[2], words[3])
        record["id"] = words[4] if len(words) == 5 else None
        with self.records_lock:
            self.records.append(record)
        if record["errno"]:
            raise _oserror(record["errno"])

    # ------------------------------------------------------------------ ordinary tree operations
    def _pass(self, path: str) -> str:
        kind, _host, detail = self._classify(path)
        if kind != "pass":
            raise _oserror(errno.EPERM if kind in ("sys", "control-file") else errno.EACCES)
        return detail

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._pass(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._pass(path))
        return 0

    def unlink(self, path: str) -> int:
        os.unlink(self._pass(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        old_kind, old_host, _unused = self._classify(old)
        new_kind, new_host, _unused = self._classify(new)
        if old_kind != "pass" or new_kind != "pass" or old_host != new_host:
            raise _oserror(errno.EXDEV)
        os.rename(self._pass(old), self._pass(new))
        return 0

    def symlink(self, target: str, source: str) -> int:
        os.symlink(source, self._pass(target))
        return 0

    def link(self, target: str, source: str) -> int:
        os.link(self._pass(source), self._pass(target))
        return 0

    def mknod(self, path: str, mode: int, dev: int) -> int:
        os.mknod(self._pass(path), mode, dev)
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._pass(path), stat.S_IMODE(mode))
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.lchown(self._pass(path), uid, gid)
        return 0

    def utimens(self, path: str, times: Any = None) -> int:
        real = self._pass(path)
        if times is None:
            os.utime(real, follow_symlinks=False)
        else:
            os.utime(real, ns=(int(times[0]), int(times[1])), follow_symlinks=False)
        return 0


# ============================================================================ serving


def prepare_backing(hosts: dict[str, Host], backing: Path) -> None:
    """Create each host's etc/ and run/ backing tree, populated as a rendered host's."""
    for name, host in hosts.items():
        dest = backing / name
        if not dest.exists():
            write_host_files(host, dest)
        for rel in MDEVCTL_DIRS:
            (dest / rel).mkdir(parents=True, exist_ok=True)
        (dest / KERN_LOG).parent.mkdir(parents=True, exist_ok=True)
        (dest / KERN_LOG).touch()


def _kern_log_sink(host: str, path: Path):
    """Return a Host.log_sink appending each kernel message to path as a syslog line (RFC 3339 time)."""

    def sink(message: str) -> None:
        now = time.time_ns()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now // 1000 % 10**6:06d}+00:00"
        with contextlib.suppress(OSError), open(path, "a") as out:
            out.write(f"{stamp} {host} kernel: {message}\n")

    return sink


def serve(hosts: dict[str, Host], mountpoint: str | Path, backing: Path, ready: Any = None) -> None:
    """Serve hosts at mountpoint until it is unmounted (blocks; FUSE runs multithreaded)."""
    import mfusepy

    prepare_backing(hosts, backing)
    mfusepy.FUSE(SimFS(hosts, backing, ready), str(mountpoint), foreground=True, raw_fi=True,
                 fsname="apsim", subtype="apsim")  # fmt: skip


def _scratch_dir() -> str | None:
    """Return where a temporary backing tree goes: /dev/shm (tmpfs) when usable, else the default."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _is_mounted(path: Path) -> bool:
    try:
        return os.path.ismount(path) and (path / CONTROL_DIR / "pid").exists()
    except OSError:
        return False


def mount_background(hosts: dict[str, Host], mountpoint: str | Path, pidfile: str | Path | None = None,
                     backing: str | Path | None = None) -> int:  # fmt: skip
    """Fork a server for hosts at mountpoint; return its pid once the mount is live.

    Raises LiveError (one line) when FUSE is unusable or the server does not come up.
    """
    reason = fuse_unavailable()
    if reason:
        raise LiveError(f"FUSE is unusable here: {reason}")
    mountpoint = Path(mountpoint).resolve()
    mountpoint.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(mountpoint):
        raise LiveError(f"{mountpoint} is already a mount point")
    own_backing = backing is None
    backing_path = Path(backing) if backing else Path(tempfile.mkdtemp(prefix="apsim-backing-", dir=_scratch_dir()))
    backing_path.mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server
        os.close(read_end)
        code = 0
        try:
            os.setsid()
            os.chdir("/")  # never keep the caller's directory busy
            devnull = os.open(os.devnull, os.O_RDWR)
            log = os.open(str(backing_path / "server.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(devnull, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)

            def ready() -> None:
                os.write(write_end, b"ready\n")

            serve(hosts, mountpoint, backing_path, ready)
        except BaseException as exc:  # reported to the parent through the pipe
            with contextlib.suppress(OSError):
                os.write(write_end, f"error: {exc}\n".encode())
            code = 1
        finally:
            if own_backing:
                shutil.rmtree(backing_path, ignore_errors=True)
            os._exit(code)
    os.close(write_end)
    message = b""
    deadline = time.monotonic() + START_TIMEOUT
    import select

    while time.monotonic() < deadline and not message.endswith(b"\n"):
        readable, _unused, _unused2 = select.select([read_end], [], [], 0.2)
        if readable:
            chunk = os.read(read_end, 512)
            if not chunk:
                break
            message += chunk
    os.close(read_end)
    if message.startswith(b"ready"):
        # init() runs just before the kernel finishes the mount handshake: wait for the mount.
        while time.monotonic() < deadline and not _is_mounted(mountpoint):
            time.sleep(0.01)
    if not message.startswith(b"ready") or not _is_mounted(mountpoint):
        with contextlib.suppress(OSError):
            os.kill(pid, 15)
        detail = message.decode(errors="replace").strip() or "the server did not come up"
        raise LiveError(f"cannot mount {mountpoint}: {detail.removeprefix('error: ')}")
    if pidfile:
        Path(pidfile).write_text(f"{pid}\n")
    return pid


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _mount_points() -> set[str]:
    """Return the mount points of this mount namespace (from /proc/self/mountinfo, octal escapes decoded)."""
    points = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            if len(fields) > 4:
                points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def is_dead_mount(path: str | Path) -> bool:
    """Return True when path is a mount point whose FUSE server is gone (stat answers ENOTCONN)."""
    try:
        os.lstat(path)
    except OSError as exc:
        return exc.errno == errno.ENOTCONN
    return False


def sweep_dead_mounts(root: str | Path) -> list[str]:
    """Return the dead mounts below ``root`` (their servers were killed) after detaching each; live ones are left alone.

    What a killed test run leaves behind: its teardown never ran, and the directory that holds
    the mount cannot be removed while the mount answers ENOTCONN.
    """
    prefix = os.path.join(os.path.abspath(root), "")
    swept = []
    for point in sorted(_mount_points()):
        if point.startswith(prefix) and is_dead_mount(point):
            with contextlib.suppress(LiveError, OSError):  # OSError: no fusermount3 or umount to run
                unmount(point)
                swept.append(point)
    return swept


def unmount(mountpoint: str | Path, lazy: bool = False) -> None:
    """Unmount a live mount and wait for its server to exit; LiveError (one line) on failure.

    A dead mount (its server was killed: every access answers ENOTCONN) is detached lazily at once
    (``fusermount3 -u -z``, else ``umount -l``).
    """
    mountpoint = Path(os.path.abspath(mountpoint))
    dead = is_dead_mount(mountpoint)
    pid = None
    if not dead:
        mountpoint = mountpoint.resolve()
        with contextlib.suppress(OSError, ValueError):
            pid = int((mountpoint / CONTROL_DIR / "pid").read_text())
    if not dead and not os.path.ismount(mountpoint) and str(mountpoint) not in _mount_points():
        raise LiveError(f"{mountpoint} is not mounted")
    from . import sshd  # the SSH servers of ssh-serve hold binds of the mount: they stop first

    sshd.stop(mountpoint)
    error = ""
    for attempt in range(20):
        lazily = dead or (lazy and attempt > 0)
        result = subprocess.run(["fusermount3", "-u", *(["-z"] if lazily else []), str(mountpoint)],
                                capture_output=True, text=True, check=False)  # fmt: skip
        if result.returncode != 0 and dead and shutil.which("umount"):
            result = subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            break
        error = (result.stderr.strip().splitlines() or ["fusermount3 failed"])[-1]
        time.sleep(0.1)
    else:
        raise LiveError(f"cannot unmount {mountpoint}: {error}")
    if pid and not _stopped(pid, STOP_TIMEOUT):
        # The mount is gone here, but a copy of it may live on in another mount namespace (a
        # long-lived ns-exec or sshd started while it was mounted), which keeps the FUSE connection
        # and so the server alive. Nothing of ours uses that copy: end the server.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        if not _stopped(pid, 5.0):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            if not _stopped(pid, 60.0):
                raise LiveError(f"{mountpoint} is unmounted but its server (pid {pid}) has not exited")


def _stopped(pid: int, seconds: float) -> bool:
    """Return True once process ``pid`` has exited (waiting up to ``seconds``)."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


# ============================================================================ ns-exec


def ns_exec_argv(host_dir: str | Path, command: list[str]) -> list[str]:
    """Return the argv that runs command in a private mount namespace seeing host_dir as the machine.

    Binds host_dir/sys over /sys and host_dir/etc/mdevctl.d over /etc/mdevctl.d (all mdevctl 1.2
    reads and writes: its definitions and its scripts.d callout/notifier directories), plus
    host_dir/etc/udev/rules.d and host_dir/run/lock where both sides exist (the persistent AP mask
    rules and the s390apconfig lock that ap-check and chzdev use). The command's exit code is
    passed through.
    """
    host_dir = Path(host_dir).resolve()
    if not command:
        raise LiveError("ns-exec: no command given")
    if not (host_dir / "sys").is_dir():
        raise LiveError(f"ns-exec: {host_dir} is not a simulated host (no sys/ below it)")
    if shutil.which("unshare") is None:
        raise LiveError("ns-exec: unshare (util-linux) is not installed")
    script, sources = ["set -e"], []
    for rel, target in NS_BINDS:
        source = host_dir / rel
        if source.is_dir() and os.path.isdir(target):
            sources.append(str(source))
            script.append(f'mount --bind "${len(sources)}" {target}')
        elif rel in ("sys", "etc/mdevctl.d"):
            raise LiveError(f"ns-exec: cannot bind {source} over {target}: one of them is not a directory")
    script += [f"shift {len(sources)}", 'exec "$@"']
    # paths travel as positional parameters, never inside the script text
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "ns-exec", *sources, *command]


def ns_exec(host_dir: str | Path, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """Run command in host_dir's namespace (subprocess.run keyword arguments pass through)."""
    return subprocess.run(ns_exec_argv(host_dir, command), check=kwargs.pop("check", False), **kwargs)


# ============================================================================ Python API


class LiveFleet:
    """A mounted fleet: paths of the hosts and the simulator's control channel."""

    def __init__(self, root: Path, hosts: list[str], pid: int):
        self.root, self.hosts, self.pid = root, hosts, pid

    def host_dir(self, name: str) -> Path:
        """Return DIR/<host>: the host's sysroot (sys/, etc/, run/)."""
        if name not in self.hosts:
            raise KeyError(f"no host {name!r} in the mounted fleet")
        return self.root / name

    def _status(self, name: str) -> dict[str, Any]:
        self.host_dir(name)
        return json.loads((self.root / CONTROL_DIR / name / "state").read_text())

    def state(self, name: str) -> dict[str, Any]:
        """Return Host.dump_state() of a host, read through the control channel."""
        return self._status(name)["state"]

    def writes(self, name: str) -> int:
        """Return the number of sysfs write attempts the host has seen (successful or refused)."""
        return self._status(name)["writes"]

    def log(self, name: str) -> list[str]:
        """Return the host's simulated kernel log lines (dmesg)."""
        return self._status(name)["log"]

    def control(self, name: str, command: str) -> None:
        """Apply a Host.control command; raises OSError (EINVAL/ENODEV) when it is refused."""
        self.host_dir(name)
        with open(self.root / CONTROL_DIR / name / "control", "w") as fh:
            fh.write(command)

    def reboot(self, name: str) -> dict[str, Any]:
        """Reboot a host (the kernel, udev and mdevctl rebuild its state, apsim.boot); return the boot's record."""
        self.control(name, "reboot")
        return self._status(name)["boots"][-1]

    def boots(self, name: str) -> list[dict[str, Any]]:
        """Return the records of every reboot of the host since the mount, oldest first."""
        return self._status(name)["boots"]

    def migrate(self, source: str, destination: str, uuid: str) -> dict[str, Any]:
        """Migrate the guest using mdev uuid from source to destination; return the attempt's record."""
        return migration.request(self.root, source, destination, uuid)

    def ns_exec(self, name: str, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        """Run command with the host's sys and etc/mdevctl.d bound over the real ones."""
        return ns_exec(self.host_dir(name), command, **kwargs)

    def unmount(self) -> None:
        unmount(self.root, lazy=True)


def _fleet_file(fleet: str | Path | dict, workdir: Path) -> Path:
    if isinstance(fleet, dict):
        import yaml

        path = workdir / "fleet.yml"
        path.write_text(yaml.dump(fleet, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
        return path
    return Path(fleet)


def subprocess_env() -> dict[str, str]:
    """Return an environment in which ``python -m apsim`` imports the simulator and the collection."""
    env = dict(os.environ)
    paths = [str(REPO_DIR / ".collections"), str(TESTS_DIR)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def start(fleet: str | Path | dict, mountpoint: str | Path, backing: str | Path | None = None) -> LiveFleet:
    """Mount a fleet (file path or fleet data) in a background server; return the LiveFleet.

    The server validates the fleet first: FleetError (its one line) for a mistake in it,
    LiveError (one line) when the mount fails.
    """
    mountpoint = Path(mountpoint).resolve()
    mountpoint.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apsim-start-") as tmp:
        path = _fleet_file(fleet, Path(tmp))
        pidfile = Path(tmp) / "pid"
        cmd = [sys.executable, "-m", "apsim", "mount", str(path), str(mountpoint), "--background", "--pidfile", str(pidfile)]
        if backing:
            cmd += ["--backing", str(backing)]
        result = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), check=False)
        if result.returncode != 0:
            line = (result.stderr.strip().splitlines() or ["apsim mount failed"])[-1]
            raise (FleetError if result.returncode == 2 else LiveError)(line.removeprefix("apsim: "))
        pid = int(pidfile.read_text())
    hosts = sorted(name for name in os.listdir(mountpoint) if name != CONTROL_DIR)
    return LiveFleet(mountpoint, hosts, pid)


@contextlib.contextmanager
def mounted(fleet: str | Path | dict, mountpoint: str | Path | None = None) -> Iterator[LiveFleet]:
    """Mount a fleet for the duration of a with-block; yield the LiveFleet; unmount afterwards."""
    with contextlib.ExitStack() as stack:
        if mountpoint is None:
            mountpoint = stack.enter_context(tempfile.TemporaryDirectory(prefix="apsim-mnt-"))
        live = start(fleet, mountpoint)
        try:
            yield live
        finally:
            live.unmount()


# ============================================================================ command line


def add_commands(subparsers: Any) -> None:
    """Add ``mount``, ``unmount`` and ``ns-exec`` to the apsim command line."""
    p = subparsers.add_parser("mount", help="serve a fleet live through FUSE at DIR (one subdirectory per host)")
    p.add_argument("fleet")
    p.add_argument("dir")
    p.add_argument("--background", action="store_true", help="detach; return once the mount is live")
    p.add_argument("--pidfile", help="with --background: write the server's pid here")
    p.add_argument("--backing", help="keep each host's etc/ and run/ here (default: a temporary directory)")
    p.set_defaults(func=_cmd_mount)

    p = subparsers.add_parser("unmount", help="unmount DIR and wait for its server to exit")
    p.add_argument("dir")
    p.add_argument("--lazy", action="store_true", help="detach lazily when the mount is busy")
    p.set_defaults(func=_cmd_unmount)

    p = subparsers.add_parser("ns-exec", help="run CMD with DIR/<host>/sys over /sys (private mount namespace)")
    p.add_argument("hostdir")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_ns_exec)


def _fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def _cmd_mount(args: argparse.Namespace) -> int:
    hosts = load_fleet(args.fleet)  # FleetError is reported by the caller (exit 2)
    try:
        if args.background:
            pid = mount_background(hosts, args.dir, args.pidfile, args.backing)
            print(f"mounted {len(hosts)} hosts at {Path(args.dir).resolve()} (server pid {pid})")
            return 0
        reason = fuse_unavailable()
        if reason:
            raise LiveError(f"FUSE is unusable here: {reason}")
        Path(args.dir).mkdir(parents=True, exist_ok=True)
        if args.backing:
            serve(hosts, args.dir, Path(args.backing))
        else:
            with tempfile.TemporaryDirectory(prefix="apsim-backing-", dir=_scratch_dir()) as tmp:
                serve(hosts, args.dir, Path(tmp))
        return 0
    except (LiveError, RuntimeError, OSError) as exc:
        return _fail(f"apsim: {exc}")


def _cmd_unmount(args: argparse.Namespace) -> int:
    try:
        unmount(args.dir, lazy=args.lazy)
        return 0
    except LiveError as exc:
        return _fail(f"apsim: {exc}")


def _cmd_ns_exec(args: argparse.Namespace) -> int:
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    try:
        argv = ns_exec_argv(args.hostdir, command)
    except LiveError as exc:
        return _fail(f"apsim: {exc}", 2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)
    return 127  # not reached
