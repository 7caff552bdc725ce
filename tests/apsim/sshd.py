"""Simulated hosts as SSH endpoints: one OpenSSH server per host of a live mount or a rendered fleet.

``python -m apsim ssh-serve DIR --inventory FILE [--hosts a,b] [--python PATH] [--lifetime S]``
starts, for each host of ``DIR``, Debian's ``sshd`` on ``127.0.0.1`` with a port of its own,
inside a private mount namespace (``unshare --mount --propagation private``) where the host's
trees are bound over the machine's (``SSH_BINDS``, ``FILE_BINDS`` and, because ``/proc/sysinfo``
cannot be bound over a procfs that has none, a ``/proc`` assembled from symlinks, see
``ProcFS``). Whoever logs in sees that host as a KVM host would look: ``/sys`` with the AP bus,
``/etc/mdevctl.d``, ``/etc/libvirt``, ``/etc/vfio_ap``, ``/etc/machine-id``, ``/proc/sysinfo``...

``DIR`` is either a live mount (``apsim mount``: the kernel's behaviour, writes included, every
host served by the mount's one FUSE process) or a rendered fleet (``apsim render``: plain files,
bound read-only, so a read costs what it costs on any file system; for read-only work such as
gathering facts and the audit, and for benchmarks that must measure the collection rather than
the simulator). ``backing(DIR)`` says which one a serve uses.

Logins: the unprivileged user ``SSH_USER`` with a key generated per serve and passwordless sudo
(``/etc/sudoers.d/apsim-ssh``); its home is a per-host directory bound over ``/home/<user>``.
Host keys are generated per host and written to a known_hosts file, so the inventory checks them.

Everything of one serve lives in ``state_dir(DIR)`` (``/run/apsim-ssh/<hash of DIR>/``): keys,
per-host ``sshd_config``, homes and logs, ``servers.json`` and the supervisor's pid. The
supervisor (a daemon) owns the servers: it stops them on ``ssh-stop``, when the mount goes away
(its FUSE server exits or DIR is no longer a mount point) and when the lifetime is over; each
sshd also runs under ``timeout`` with the same lifetime and dies with the supervisor
(PR_SET_PDEATHSIG), so no server outlives a killed test run by more than its lifetime.
Stopping ends every process inside the servers' namespaces (sessions, sudo, modules).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from .live import CONTROL_DIR, NS_BINDS, LiveError, _alive

SSH_USER = "apsim"
SSH_HOME = Path("/home") / SSH_USER
STATE_BASE = Path("/run/apsim-ssh")
SUDOERS = Path("/etc/sudoers.d/apsim-ssh")
SSHD = "/usr/sbin/sshd"
DEFAULT_LIFETIME = 3600  # seconds; every server stops by itself after this
START_TIMEOUT = 300.0  # a hang guard: sshd coming up on a loaded machine is slow, never a failure
STOP_TIMEOUT = 10.0
# Directory binds on top of ns-exec's (path below the host dir, absolute target); created on both
# sides when missing (the machine gets empty mount points).
SSH_BINDS = (*NS_BINDS, ("etc/libvirt", "/etc/libvirt"), ("run/libvirt", "/run/libvirt"), ("etc/vfio_ap", "/etc/vfio_ap"))
FILE_BINDS = (("etc/machine-id", "/etc/machine-id"),)
PROC_OVERLAY = ("sysinfo",)  # names below the host's proc/ shown in its /proc
# What serves the hosts' trees (backing(DIR)): the live FUSE mount, or rendered plain files.
LIVE, RENDERED = "live", "rendered"
BACKING_TEXT = {
    LIVE: "live mount (apsim mount: one FUSE process serves every host)",
    RENDERED: "rendered files (apsim render: plain files bound read-only into each host's namespace)",
}


def state_dir(mount: str | Path) -> Path:
    """Return the directory holding the SSH servers' state of a live mount (keys, configs, pids)."""
    key = hashlib.sha256(str(Path(mount).resolve()).encode()).hexdigest()[:16]
    return STATE_BASE / key


def _need_tools() -> None:
    if os.geteuid() != 0:
        raise LiveError("ssh-serve needs root (mount namespaces, sshd)")
    for tool, package in ((SSHD, "openssh-server"), ("ssh-keygen", "openssh-client"), ("sudo", "sudo"),
                          ("unshare", "util-linux"), ("timeout", "coreutils"), ("useradd", "passwd")):  # fmt: skip
        if shutil.which(tool) is None:
            raise LiveError(f"ssh-serve: {tool} is not installed (Debian package {package})")


def _ensure_user() -> pwd.struct_passwd:
    """Create the login user (shell /bin/sh, no password, key logins only) and its sudo rule if missing."""
    try:
        entry = pwd.getpwnam(SSH_USER)
    except KeyError:
        created = subprocess.run(["useradd", "--home-dir", str(SSH_HOME), "--no-create-home", "--shell", "/bin/sh",
                                  "--comment", "apsim simulated-host login", SSH_USER], capture_output=True, text=True,
                                 check=False)  # fmt: skip
        try:  # a concurrent ssh-serve may have created it first
            entry = pwd.getpwnam(SSH_USER)
        except KeyError:
            raise LiveError(f"ssh-serve: cannot create the user {SSH_USER}: {created.stderr.strip()}") from None
    # '*' (not '!'): sshd without PAM refuses accounts whose password field starts with '!'.
    subprocess.run(["usermod", "-p", "*", SSH_USER], check=True, capture_output=True)
    SSH_HOME.mkdir(mode=0o755, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    os.chown(SSH_HOME, entry.pw_uid, entry.pw_gid)
    rule = f"{SSH_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    if not SUDOERS.exists() or SUDOERS.read_text() != rule:
        tmp = SUDOERS.with_name(f".apsim-ssh.{os.getpid()}.tmp")  # sudo ignores names with a dot
        tmp.write_text(rule)
        tmp.chmod(0o440)
        tmp.rename(SUDOERS)
    return entry


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", port))
            return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False


def _keygen(path: Path, comment: str) -> str:
    """Generate an ed25519 key pair at path (no passphrase); return the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True,
                   capture_output=True)  # fmt: skip
    return path.with_suffix(".pub").read_text().strip()


SSHD_CONFIG = """\
# Written by apsim ssh-serve for simulated host {host}: loopback only, key logins of {user} only.
ListenAddress 127.0.0.1:{port}
HostKey {hostkey}
PidFile none
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
PrintMotd no
PrintLastLog no
UseDNS no
LoginGraceTime 30
ClientAliveInterval 15
ClientAliveCountMax 4
MaxStartups 100:30:200
MaxSessions 64
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""

# The namespace's set-up, run by sh as root before exec'ing the server. Positional parameters:
# $1 the proc overlay dir (or empty), $2 the real-proc staging dir, $3 the pyenv staging dir,
# then triples of (source, target, rw|ro) for the binds, "--", the server's argv.
NS_SCRIPT = r"""
set -e
procdir=$1; realproc=$2; stage=$3; shift 3
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then mkdir -p "$2"; fi
  mount --bind "$1" "$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$2"; fi
  shift 3
done
shift
# Root's home is 0700: show only a world-readable pyenv there (the target Pythons), read-only.
if [ -d /root/.pyenv ] && [ -n "$stage" ]; then
  mount --bind /root/.pyenv "$stage"
  mount -t tmpfs -o mode=0755,size=16m apsim-root /root
  mkdir /root/.pyenv
  mount --bind "$stage" /root/.pyenv
  mount -o remount,bind,ro /root/.pyenv
fi
if [ -n "$procdir" ]; then
  mount --bind /proc "$realproc"
  mount --bind "$procdir" /proc
fi
exec "$@"
"""


def _set_pdeathsig() -> None:
    """preexec_fn: the child gets SIGTERM when its parent (the supervisor) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgid(0, 0)


class ProcFS:
    """A FUSE directory per host whose entries are symlinks into the real /proc, plus the host's files.

    ``/proc/sysinfo`` does not exist on the machine running the simulator and procfs refuses both
    new files and stacking (overlayfs), so each server's namespace gets this directory bound over
    /proc: every name NAME is a symlink to ``REALPROC/NAME`` (the machine's procfs bound at
    REALPROC inside the namespace, so /proc/self, /proc/<pid>, /proc/mounts resolve as usual) and
    the names of PROC_OVERLAY are symlinks to the host's files in the live mount.
    """

    def __init__(self, realproc: Path, hosts: dict[str, Path]):
        self.realproc, self.hosts = str(realproc), hosts

    def operations(self) -> Any:
        import mfusepy

        fs = self

        class Ops(mfusepy.Operations):
            use_ns = False

            def _target(self, path: str) -> tuple[str | None, str | None]:
                parts = [p for p in path.split("/") if p]
                if not parts:
                    return None, None
                host = parts[0]
                if host not in fs.hosts:
                    raise mfusepy.FuseOSError(errno.ENOENT)
                if len(parts) == 1:
                    return host, None
                if len(parts) > 2:
                    raise mfusepy.FuseOSError(errno.ENOENT)
                name = parts[1]
                if name in PROC_OVERLAY:
                    return host, str(fs.hosts[host] / "proc" / name)
                if not os.path.lexists(os.path.join("/proc", name)):
                    raise mfusepy.FuseOSError(errno.ENOENT)
                return host, f"{fs.realproc}/{name}"

            def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
                _host, target = self._target(path)
                now = time.time()
                if target is None:
                    return {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2, "st_uid": 0, "st_gid": 0,
                            "st_size": 0, "st_atime": now, "st_mtime": now, "st_ctime": now}  # fmt: skip
                return {"st_mode": stat.S_IFLNK | 0o777, "st_nlink": 1, "st_uid": 0, "st_gid": 0,
                        "st_size": len(target), "st_atime": now, "st_mtime": now, "st_ctime": now}  # fmt: skip

            def readlink(self, path: str) -> str:
                _host, target = self._target(path)
                if target is None:
                    raise mfusepy.FuseOSError(errno.EINVAL)
                return target

            def readdir(self, path: str, fh: Any) -> list[str]:
                host, target = self._target(path)
                if target is not None:
                    raise mfusepy.FuseOSError(errno.ENOTDIR)
                if host is None:
                    return [".", "..", *sorted(fs.hosts)]
                return [".", "..", *sorted(set(os.listdir("/proc")) | set(PROC_OVERLAY))]

        return Ops()

    def serve(self, mountpoint: Path) -> None:
        """Serve at mountpoint until it is unmounted (blocks); other users may look (allow_other)."""
        import mfusepy

        mfusepy.FUSE(self.operations(), str(mountpoint), foreground=True, allow_other=True, default_permissions=True,
                     fsname="apsim-proc", subtype="apsim-proc", entry_timeout=60, attr_timeout=60)  # fmt: skip


def _mnt_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _kill_namespaces(namespaces: set[str]) -> None:
    """SIGKILL every process whose mount namespace is one of ours (the servers and their sessions).

    Returns once none is left (at most STOP_TIMEOUT seconds): the namespaces hold binds of the live
    mount, which cannot go away before they do.
    """
    own = _mnt_ns(os.getpid())
    namespaces = namespaces - {own, None}
    if not namespaces:
        return
    limit = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < limit:
        found = False
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _mnt_ns(int(entry)) in namespaces:
                found = True
                with contextlib.suppress(OSError):
                    os.kill(int(entry), signal.SIGKILL)
        if not found:
            return
        time.sleep(0.05)


def _mount_alive(mount: Path, fuse_pid: int | None) -> bool:
    """Return whether the trees still stand: the live mount and its server, or the rendered directory (fuse_pid None)."""
    try:
        if fuse_pid is None:
            return os.path.isdir(mount)
        return os.path.ismount(mount) and os.path.exists(f"/proc/{fuse_pid}") and _mnt_ns(fuse_pid) is not None
    except OSError:
        return False


def _host_prepare(host_dir: Path) -> None:
    """Create the host-side directories the binds need (empty ones, as on a host without libvirt)."""
    for rel, _target in SSH_BINDS:
        (host_dir / rel).mkdir(parents=True, exist_ok=True)


def _server_argv(host_dir: Path, host_state: Path, procdir: str, realproc: Path, lifetime: int, read_only: bool = False) -> list[str]:
    """Return the argv of one host's server; read_only binds the host's trees read-only (rendered files)."""
    binds: list[str] = []
    mode = "ro" if read_only else "rw"
    for rel, target in SSH_BINDS:
        binds += [str(host_dir / rel), target, mode]
    for rel, target in FILE_BINDS:
        if (host_dir / rel).is_file() and os.path.isfile(target):
            binds += [str(host_dir / rel), target, mode]
    binds += [str(host_state / "home"), str(SSH_HOME), "rw"]
    stage = host_state / "pyenv"
    stage.mkdir(exist_ok=True)
    server = ["timeout", "--kill-after=5", str(lifetime), SSHD, "-D", "-e", "-f", str(host_state / "sshd_config")]
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", NS_SCRIPT, "apsim-sshd",
            procdir, str(realproc), str(stage), *binds, "--", *server]  # fmt: skip


def _supervise(mount: Path, state: Path, hosts: list[str], fuse_pid: int | None, lifetime: int, ready: Any) -> None:
    """The supervisor's body: start the servers, report readiness, stop them when it is time."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    signal.signal(signal.SIGINT, lambda *_a: stop.set())
    deadline = time.monotonic() + lifetime
    realproc = state / "realproc"
    realproc.mkdir(exist_ok=True)
    procmnt = state / "proc"
    procmnt.mkdir(exist_ok=True)
    procfs = ProcFS(realproc, {h: mount / h for h in hosts})
    threading.Thread(target=procfs.serve, args=(procmnt,), daemon=True).start()
    limit = time.monotonic() + START_TIMEOUT
    while not os.path.ismount(procmnt) and time.monotonic() < limit:
        time.sleep(0.02)
    procdir_ok = os.path.ismount(procmnt)
    children: dict[str, subprocess.Popen] = {}
    servers: dict[str, dict[str, Any]] = json.loads((state / "servers.json").read_text())
    namespaces: set[str] = set()
    try:
        for host in hosts:
            host_state = state / "hosts" / host
            procdir = str(procmnt / host) if procdir_ok else ""
            log = open(host_state / "sshd.log", "ab")  # noqa: SIM115 - handed to the child
            argv = _server_argv(mount / host, host_state, procdir, realproc, lifetime, read_only=fuse_pid is None)
            children[host] = subprocess.Popen(argv,
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                              preexec_fn=_set_pdeathsig, cwd="/")  # fmt: skip
            log.close()
        limit = time.monotonic() + START_TIMEOUT
        pending = set(hosts)
        while pending and time.monotonic() < limit:
            for host in sorted(pending):
                if children[host].poll() is not None:
                    tail = (state / "hosts" / host / "sshd.log").read_text(errors="replace").strip().splitlines()
                    raise LiveError(f"sshd for {host} exited: {(tail or ['no output'])[-1]}")
                if _listening(servers[host]["port"]):
                    pending.discard(host)
                    servers[host]["pid"] = children[host].pid
                    ns = _mnt_ns(children[host].pid)
                    servers[host]["mnt_ns"] = ns
                    if ns:
                        namespaces.add(ns)
            time.sleep(0.05)
        if pending:
            raise LiveError(f"sshd did not come up for {', '.join(sorted(pending))} within {START_TIMEOUT:.0f}s")
        if not procdir_ok:
            raise LiveError("the /proc overlay (FUSE) did not come up")
        (state / "servers.json").write_text(json.dumps(servers, indent=1))
        ready(None)
        while not stop.is_set() and time.monotonic() < deadline and _mount_alive(mount, fuse_pid):
            stop.wait(0.5)
    except BaseException as exc:
        ready(exc)
    finally:
        for child in children.values():
            with contextlib.suppress(OSError):
                child.terminate()
        for child in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(STOP_TIMEOUT)
        _kill_namespaces(namespaces)
        for child in children.values():
            with contextlib.suppress(OSError):
                child.kill()
            child.wait()
        if os.path.ismount(procmnt):
            subprocess.run(["fusermount3", "-u", "-z", str(procmnt)], capture_output=True, check=False)


def _fleet_hosts(root: Path) -> list[str]:
    """Return the hosts below a live mount or a rendered fleet: the entries with a ``sys`` directory."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return sorted(n for n in names if n != CONTROL_DIR and (root / n / "sys").is_dir())


def serve(mount: str | Path, inventory: str | Path, hosts: list[str] | None = None, python: str | None = None,
          lifetime: int = DEFAULT_LIFETIME) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Start an SSH server per host of a live mount or a rendered fleet; write the inventory; return {host: {port, ...}}.

    Returns once every server accepts connections. Raises LiveError (one line) when the directory
    is neither a live mount nor a rendered fleet, a host is unknown, a tool is missing, or a server
    does not come up (nothing is left running then). A rendered fleet's trees are bound read-only.
    """
    _need_tools()
    mount = Path(mount).resolve()
    pid_file = mount / CONTROL_DIR / "pid"
    fuse_pid: int | None
    try:
        fuse_pid = int(pid_file.read_text())
    except (OSError, ValueError):
        fuse_pid = None
        if (mount / CONTROL_DIR).exists() or not _fleet_hosts(mount):
            raise LiveError(f"{mount} is neither a live apsim mount nor a rendered fleet (apsim render)") from None
    all_hosts = _fleet_hosts(mount)
    chosen = all_hosts if not hosts else list(dict.fromkeys(hosts))
    unknown = [h for h in chosen if h not in all_hosts]
    if unknown:
        raise LiveError(f"ssh-serve: no host {unknown[0]!r} in {mount}")
    if python and not os.access(python, os.X_OK):
        raise LiveError(f"ssh-serve: --python {python} is not an executable file")
    if lifetime <= 0:
        raise LiveError("ssh-serve: --lifetime must be a positive number of seconds")
    state = state_dir(mount)
    if _supervisor_pid(state):
        raise LiveError(f"ssh-serve: {mount} already has SSH servers (python -m apsim ssh-stop {mount})")
    shutil.rmtree(state, ignore_errors=True)
    user = _ensure_user()
    STATE_BASE.mkdir(mode=0o755, exist_ok=True)
    state.mkdir(mode=0o755)
    (state / "mount").write_text(f"{mount}\n")
    (state / "backing").write_text(f"{RENDERED if fuse_pid is None else LIVE}\n")
    client_key = state / "id_ed25519"
    (state / "authorized_keys").write_text(_keygen(client_key, f"apsim-ssh {mount}") + "\n")
    (state / "authorized_keys").chmod(0o644)
    servers: dict[str, dict[str, Any]] = {}
    known: list[str] = []
    used: set[int] = set()
    for host in chosen:
        host_state = state / "hosts" / host
        (host_state / "home").mkdir(parents=True)
        os.chown(host_state / "home", user.pw_uid, user.pw_gid)
        hostkey = host_state / "ssh_host_ed25519_key"
        public = _keygen(hostkey, host)
        port = _free_port()
        while port in used:
            port = _free_port()
        used.add(port)
        (host_state / "sshd_config").write_text(SSHD_CONFIG.format(
            host=host, user=SSH_USER, port=port, hostkey=hostkey, authorized_keys=state / "authorized_keys"))  # fmt: skip
        known.append(f"[127.0.0.1]:{port} {' '.join(public.split()[:2])}")
        servers[host] = {"port": port}
        _host_prepare(mount / host)
    (state / "known_hosts").write_text("\n".join(known) + "\n")
    (state / "servers.json").write_text(json.dumps(servers, indent=1))
    try:
        _start_supervisor(mount, state, chosen, fuse_pid, lifetime)
    except LiveError:
        stop(mount)
        raise
    servers = json.loads((state / "servers.json").read_text())
    write_inventory(Path(inventory), state, servers, python)
    return servers


def write_inventory(path: Path, state: Path, servers: dict[str, dict[str, Any]], python: str | None) -> None:
    """Write a YAML inventory: every host with its address, port, user, key and known_hosts."""
    common = f"-o UserKnownHostsFile={state / 'known_hosts'} -o StrictHostKeyChecking=yes"
    hosts = {}
    for host, server in servers.items():
        entry: dict[str, Any] = {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": server["port"],
            "ansible_user": SSH_USER,
            "ansible_ssh_private_key_file": str(state / "id_ed25519"),
            "ansible_ssh_common_args": common,
        }
        if python:
            entry["ansible_python_interpreter"] = python
        hosts[host] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))


def _start_supervisor(mount: Path, state: Path, hosts: list[str], fuse_pid: int | None, lifetime: int) -> None:
    """Start the supervisor as a new interpreter (never a fork of a threaded caller such as pytest-xdist).

    Returns once it reports every server up; raises LiveError with its one-line reason otherwise.
    """
    from .live import subprocess_env

    read_end, write_end = os.pipe()
    spec = json.dumps({"mount": str(mount), "state": str(state), "hosts": hosts, "fuse_pid": fuse_pid,
                       "lifetime": lifetime, "ready_fd": write_end})  # fmt: skip
    with open(state / "supervisor.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "apsim.sshd", spec], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, pass_fds=(write_end,), start_new_session=True, cwd="/",
                                env=subprocess_env())  # fmt: skip
    os.close(write_end)
    message = b""
    import select

    limit = time.monotonic() + START_TIMEOUT * 2
    while time.monotonic() < limit and not message.endswith(b"\n"):
        readable, _w, _x = select.select([read_end], [], [], 0.2)
        if readable:
            chunk = os.read(read_end, 1024)
            if not chunk:
                break
            message += chunk
    os.close(read_end)
    if not message.startswith(b"ready"):
        with contextlib.suppress(OSError):
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_TIMEOUT * 2)
        detail = message.decode(errors="replace").strip().removeprefix("error: ") or "the supervisor did not answer"
        raise LiveError(f"ssh-serve: {detail}")
    # The supervisor outlives this call; reap it in the background when the caller lives on.
    threading.Thread(target=proc.wait, daemon=True).start()


def _supervisor_main(spec_text: str) -> int:
    """Body of ``python -m apsim.sshd SPEC``: run the supervisor until it is time to stop."""
    spec = json.loads(spec_text)
    state = Path(spec["state"])
    write_end = spec["ready_fd"]
    (state / "supervisor.pid").write_text(f"{os.getpid()}\n")

    def ready(exc: BaseException | None) -> None:
        with contextlib.suppress(OSError):
            os.write(write_end, b"ready\n" if exc is None else f"error: {exc}\n".encode())
        with contextlib.suppress(OSError):
            os.close(write_end)

    code = 0
    try:
        _supervise(Path(spec["mount"]), state, spec["hosts"], spec["fuse_pid"], spec["lifetime"], ready)
    except BaseException as exc:
        ready(exc)
        code = 1
    finally:
        with contextlib.suppress(OSError):
            (state / "supervisor.pid").unlink()
    return code


def _wait_gone(pid: int, timeout: float) -> bool:
    limit = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < limit:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return not _alive(pid)


def _supervisor_pid(state: Path) -> int | None:
    try:
        pid = int((state / "supervisor.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def backing(mount: str | Path) -> str | None:
    """Return what serves the hosts of a running serve of DIR: LIVE or RENDERED (None when none runs)."""
    state = state_dir(mount)
    if not _supervisor_pid(state):
        return None
    try:
        return (state / "backing").read_text().strip()
    except OSError:
        return None


def running(mount: str | Path) -> dict[str, dict[str, Any]]:
    """Return {host: {port, pid, mnt_ns}} of the SSH servers of a mount ({} when none run)."""
    state = state_dir(mount)
    if not _supervisor_pid(state):
        return {}
    try:
        return json.loads((state / "servers.json").read_text())
    except (OSError, ValueError):
        return {}


def stop(mount: str | Path) -> bool:
    """Stop the SSH servers of a mount and remove their state; return whether any were running."""
    state = state_dir(mount)
    if not state.exists():
        return False
    pid = _supervisor_pid(state)
    if pid:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT * 3):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    # A killed supervisor leaves its servers behind: end whatever still runs in their namespaces.
    with contextlib.suppress(OSError, ValueError):
        servers = json.loads((state / "servers.json").read_text())
        _kill_namespaces({s["mnt_ns"] for s in servers.values() if s.get("mnt_ns")})
    procmnt = state / "proc"
    if os.path.ismount(procmnt):
        subprocess.run(["fusermount3", "-u", "-z", str(procmnt)], capture_output=True, check=False)
    shutil.rmtree(state, ignore_errors=True)
    return pid is not None


# ============================================================================ command line


def add_commands(subparsers: Any) -> None:
    """Add ``ssh-serve`` and ``ssh-stop`` to the apsim command line."""
    p = subparsers.add_parser("ssh-serve", help="an OpenSSH server per host of a live mount or rendered fleet (127.0.0.1)")
    p.add_argument("dir", help="the live mount (apsim mount) or a rendered fleet (apsim render, read-only)")
    p.add_argument("--inventory", required=True, help="write the Ansible inventory (YAML) here")
    p.add_argument("--hosts", help="comma-separated host names (default: every host)")
    p.add_argument("--python", help="ansible_python_interpreter of every host (default: interpreter discovery)")
    p.add_argument("--lifetime", type=int, default=DEFAULT_LIFETIME,
                   help=f"seconds after which the servers stop by themselves (default {DEFAULT_LIFETIME})")  # fmt: skip
    p.set_defaults(func=_cmd_serve)

    p = subparsers.add_parser("ssh-stop", help="stop the SSH servers of a live mount")
    p.add_argument("dir")
    p.set_defaults(func=_cmd_stop)


def _cmd_serve(args: Any) -> int:
    hosts = [h for h in (args.hosts or "").split(",") if h]
    try:
        servers = serve(args.dir, args.inventory, hosts or None, args.python, args.lifetime)
    except (LiveError, OSError, subprocess.CalledProcessError) as exc:
        print(f"apsim: {exc}", file=sys.stderr)
        return 1
    ports = ", ".join(f"{h}:{s['port']}" for h, s in servers.items())
    served = "rendered files, read-only" if backing(args.dir) == RENDERED else "live mount"
    print(f"ssh-serve: {len(servers)} hosts on 127.0.0.1 ({ports}) from the {served}; inventory {args.inventory}")
    return 0


def _cmd_stop(args: Any) -> int:
    if not stop(args.dir):
        print(f"ssh-stop: no SSH servers were running for {Path(args.dir).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(_supervisor_main(sys.argv[1]))
