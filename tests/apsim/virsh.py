"""A ``virsh`` for the simulated hosts of a live mount (``tests/apsim/bin/virsh`` runs :func:`main`).

``APSIM_MOUNT`` names the mount. Connections (``-c qemu+ssh://HOST/system``, else ``APSIM_HOST``)
and migration destinations map a URI's host name to the simulated host of that name (or of its
first DNS label). Answers follow libvirt's wording; only what the collection's roles and tests use
is there:

* ``migrate [--live] [options] GUEST qemu+ssh://HOST/system``: finds the host the guest runs on
  (its status XML ``run/libvirt/qemu/GUEST.xml``; ``-c`` names it when several have it), runs the
  destination's libvirt ``qemu`` hooks as libvirt does for an incoming migration, then asks the
  mount's server to migrate (apsim.migration). ``--persistent`` copies the domain definition to
  the destination, ``--undefinesource`` removes the source's.
* ``start GUEST``: starts the host's defined guest (apsim.domains: its definition, not running,
  its mdevs there and free); ``Domain 'GUEST' started``.
* ``domstate GUEST``: ``running``, ``shut off`` or ``error: failed to get domain 'GUEST'``.
* ``list [--all] [--inactive] [--name]``: the host's guests.

Exit codes: 0 success, 1 any error (``error: ...`` lines on stderr, as virsh prints them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

from . import domains, migration

HOOK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
HOOK_TIMEOUT = 600  # a hang guard for a hook that never ends (libvirt itself waits for hooks without a limit)
MIGRATE_FLAGS = {
    "--live", "--offline", "--p2p", "--direct", "--tunnelled", "--persistent", "--undefinesource", "--suspend",
    "--copy-storage-all", "--copy-storage-inc", "--change-protection", "--unsafe", "--verbose", "--compressed",
    "--auto-converge", "--abort-on-error", "--postcopy", "--postcopy-after-precopy", "--parallel", "--timeout-suspend",
    "--timeout-postcopy",
}  # fmt: skip
MIGRATE_NUMBERS = {"--timeout", "--bandwidth", "--parallel-connections"}
MIGRATE_STRINGS = {"--domain", "--desturi", "--migrateuri", "--listen-address"}


class VirshError(Exception):
    """What virsh prints on stderr (one or more lines, each starting with ``error: ``)."""


def _connect_error(detail: str) -> VirshError:
    return VirshError(f"error: failed to connect to the hypervisor\nerror: {detail}")


class Sim:
    """The mount and its hosts as virsh sees them."""

    def __init__(self, environ: dict[str, str]):
        mount = environ.get("APSIM_MOUNT", "")
        if not mount or not (Path(mount) / migration.CONTROL_DIR / "control").exists():
            raise _connect_error(f"apsim: APSIM_MOUNT={mount!r} is not a live apsim mount (python -m apsim mount FLEET DIR)")
        self.mount = Path(mount)
        self.hosts = sorted(p.name for p in self.mount.iterdir() if p.name != migration.CONTROL_DIR)
        self.default_host = environ.get("APSIM_HOST") or None

    def host_of_uri(self, uri: str) -> str:
        """Return the simulated host a libvirt URI names; VirshError as virsh reports an unreachable host."""
        parts = urlsplit(uri)
        if not parts.scheme.startswith("qemu") or parts.path.rstrip("/") not in ("/system", "/session"):
            raise _connect_error(f"unsupported configuration: apsim: cannot use URI '{uri}' (expected qemu+ssh://HOST/system)")
        name = parts.hostname or ""
        if not name:  # qemu:///system: this host
            if self.default_host in self.hosts:
                return self.default_host
            raise _connect_error("apsim: qemu:///system needs APSIM_HOST to name the local simulated host")
        for candidate in (name, name.split(".")[0]):
            if candidate in self.hosts:
                return candidate
        raise _connect_error(
            f"Cannot recv data: ssh: Could not resolve hostname {name}: Name or service not known: Connection reset by peer"
        )

    def connected_host(self, uri: str | None) -> str:
        """Return the host of ``-c URI``, else of APSIM_HOST."""
        if uri:
            return self.host_of_uri(uri)
        if self.default_host in self.hosts:
            return self.default_host
        raise _connect_error(f"apsim: name the host with -c qemu+ssh://HOST/system or APSIM_HOST (hosts: {', '.join(self.hosts)})")

    def root(self, host: str) -> Path:
        return self.mount / host

    def running(self, host: str) -> list[str]:
        return sorted(p.stem for p in (self.root(host) / "run/libvirt/qemu").glob("*.xml"))

    def defined(self, host: str) -> list[str]:
        return sorted(p.stem for p in (self.root(host) / "etc/libvirt/qemu").glob("*.xml"))


# ============================================================================ argument parsing


def _split_options(verb: str, args: list[str], flags: set[str], numbers: set[str], strings: set[str]) -> tuple[dict, list[str]]:
    """Return (options, positional arguments) of a virsh command; VirshError for an unknown option."""
    options: dict[str, object] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional += args[i + 1 :]
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in flags and not eq:
                options[name] = True
            elif name in numbers | strings:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise VirshError(f"error: expected syntax: {name} <{name[2:]}>")
                    value = args[i]
                if name in numbers:
                    try:
                        options[name] = int(value, 10)
                    except ValueError:
                        raise VirshError(f"error: Numeric value '{value}' for <{name[2:]}> option is malformed or out of range") from None
                else:
                    options[name] = value
            else:
                raise VirshError(f"error: command '{verb}' doesn't support option {name}")
        else:
            positional.append(arg)
        i += 1
    return options, positional


# ============================================================================ commands


def _status_domain(path: Path) -> tuple[str, list[str]]:
    """Return (the <domain> XML inside a status XML, the vfio-ap mdev UUIDs it uses)."""
    tree = ET.fromstring(path.read_text())
    domain = tree if tree.tag == "domain" else tree.find("domain")
    if domain is None:
        raise VirshError(f"error: internal error: apsim: {path} holds no <domain>")
    uuids = [
        address.get("uuid", "").lower()
        for hostdev in domain.iter("hostdev")
        if hostdev.get("type") == "mdev" and hostdev.get("model") == "vfio-ap"
        for address in hostdev.iter("address")
        if address.get("uuid")
    ]
    domain.tail = None
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n", uuids


def _hooks(root: Path) -> list[Path]:
    """Return the libvirt qemu hooks of a host in the order libvirt runs them (hooks/qemu, then qemu.d/*)."""
    hooks = root / "etc/libvirt/hooks"
    found = [hooks / "qemu"] if (hooks / "qemu").is_file() else []
    if (hooks / "qemu.d").is_dir():
        found += sorted(p for p in (hooks / "qemu.d").iterdir() if p.is_file())
    return [p for p in found if os.access(p, os.X_OK)]


def run_hooks(sim: Sim, host: str, guest: str, domain_xml: str) -> None:
    """Run the host's qemu hooks for an incoming migration (``GUEST migrate begin -``, XML on stdin).

    The hooks see the simulated host as their root through ``VFIO_AP_SYSROOT`` (the variable the
    collection's hook reads). Raises VirshError with libvirt's message when one exits non-zero.
    """
    root = sim.root(host)
    for hook in _hooks(root):
        shown = "/" + str(hook.relative_to(root))
        env = {"LC_ALL": "C", "PATH": os.environ.get("PATH", HOOK_PATH), "VFIO_AP_SYSROOT": str(root)}
        try:
            result = subprocess.run([str(hook), guest, "migrate", "begin", "-"], input=domain_xml, capture_output=True, text=True,
                                    env=env, timeout=HOOK_TIMEOUT, check=False)  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VirshError(f"error: Hook script execution failed: internal error: Child process ({shown}) failed: {exc}") from None
        if result.returncode != 0:
            message = result.stderr.strip()
            raise VirshError(
                f"error: Hook script execution failed: internal error: Child process (LC_ALL=C PATH={HOOK_PATH} {shown} {guest} "
                f"migrate begin -) unexpected exit status {result.returncode}: {message}"
            )


def cmd_migrate(sim: Sim, uri: str | None, args: list[str], err) -> int:
    options, positional = _split_options("migrate", args, MIGRATE_FLAGS, MIGRATE_NUMBERS, MIGRATE_STRINGS)
    guest = options.get("--domain") or (positional.pop(0) if positional else None)
    desturi = options.get("--desturi") or (positional.pop(0) if positional else None)
    if positional:
        raise VirshError(f"error: unexpected data '{positional[0]}'")
    if not guest:
        raise VirshError("error: command 'migrate' requires <domain> option")
    if not desturi:
        raise VirshError("error: command 'migrate' requires <desturi> option")
    if uri:
        source = sim.host_of_uri(uri)
        if guest not in sim.running(source):
            raise VirshError(f"error: failed to get domain '{guest}'")
    else:
        hosts = [h for h in sim.hosts if guest in sim.running(h)]
        if not hosts:
            raise VirshError(f"error: failed to get domain '{guest}'")
        if len(hosts) > 1:
            if sim.default_host not in hosts:
                raise VirshError(f"error: internal error: apsim: guest {guest} runs on {', '.join(hosts)}; name the source with -c")
            hosts = [sim.default_host]
        source = hosts[0]
    destination = sim.host_of_uri(str(desturi))
    if destination == source:
        raise VirshError(f"error: internal error: Attempt to migrate guest to the same host {source}")
    domain_xml, uuids = _status_domain(sim.root(source) / "run/libvirt/qemu" / f"{guest}.xml")
    if len(uuids) != 1:
        raise VirshError(
            f"error: internal error: apsim: guest {guest} uses {len(uuids)} vfio-ap mdevs; the simulator migrates guests with one"
        )
    run_hooks(sim, destination, guest, domain_xml)
    record = migration.request(sim.mount, source, destination, uuids[0])
    if record["result"] != "moved":
        raise VirshError("\n".join(record["virsh"]))
    definition = sim.root(source) / "etc/libvirt/qemu" / f"{guest}.xml"
    if options.get("--persistent"):
        target = sim.root(destination) / "etc/libvirt/qemu" / f"{guest}.xml"
        target.parent.mkdir(parents=True, exist_ok=True)
        if definition.is_file():
            shutil.copyfile(definition, target)
        else:
            target.write_text(domain_xml)
    if options.get("--undefinesource") and definition.is_file():
        definition.unlink()
    if options.get("--verbose"):
        print("Migration: [100 %]", file=err)
    return 0


def cmd_start(sim: Sim, uri: str | None, args: list[str], out) -> int:
    options, positional = _split_options("start", args, {"--paused", "--autodestroy", "--bypass-cache", "--force-boot", "--reset-nvram"},
                                         set(), {"--domain"})  # fmt: skip
    guest = options.get("--domain") or (positional.pop(0) if positional else None)
    if positional:
        raise VirshError(f"error: unexpected data '{positional[0]}'")
    if not guest:
        raise VirshError("error: command 'start' requires <domain> option")
    host = sim.connected_host(uri)
    record = domains.request(sim.mount, host, str(guest))
    if record["result"] != "started":
        raise VirshError("\n".join(record["virsh"]))
    print(f"Domain '{guest}' started\n", file=out)
    return 0


def cmd_domstate(sim: Sim, uri: str | None, args: list[str], out) -> int:
    _options, positional = _split_options("domstate", args, {"--reason"}, set(), {"--domain"})
    guest = _options.get("--domain") or (positional.pop(0) if positional else None)
    if not guest:
        raise VirshError("error: command 'domstate' requires <domain> option")
    host = sim.connected_host(uri)
    if guest in sim.running(host):
        state = "running (booted)" if _options.get("--reason") else "running"
    elif guest in sim.defined(host):
        state = "shut off (unknown)" if _options.get("--reason") else "shut off"
    else:
        raise VirshError(f"error: failed to get domain '{guest}'")
    print(state + "\n", file=out)
    return 0


def cmd_list(sim: Sim, uri: str | None, args: list[str], out) -> int:
    options, positional = _split_options("list", args, {"--all", "--inactive", "--name", "--table"}, set(), set())
    if positional:
        raise VirshError(f"error: unexpected data '{positional[0]}'")
    host = sim.connected_host(uri)
    running = sim.running(host)
    rows = [] if options.get("--inactive") else [(str(i), g, "running") for i, g in enumerate(running, 1)]
    if options.get("--all") or options.get("--inactive"):
        rows += [("-", g, "shut off") for g in sim.defined(host) if g not in running]
    if options.get("--name"):
        print("".join(f"{name}\n" for _i, name, _s in rows), file=out)
        return 0
    widths = [max([len(h)] + [len(r[k]) for r in rows]) for k, h in enumerate(("Id", "Name", "State"))]
    line = " " + "   ".join(h.ljust(w) for h, w in zip(("Id", "Name", "State"), widths, strict=True))
    print(line.rstrip(), file=out)
    print("-" * (len(line.rstrip()) + 1), file=out)
    for row in rows:
        print((" " + "   ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))).rstrip(), file=out)
    print("", file=out)
    return 0


COMMANDS = {"migrate": cmd_migrate, "start": cmd_start, "domstate": cmd_domstate, "list": cmd_list}


def main(argv: list[str], environ: dict[str, str] | None = None, out=None, err=None) -> int:
    """Run one virsh command line (without the program name); return the exit code."""
    environ = dict(os.environ) if environ is None else environ
    out, err = out or sys.stdout, err or sys.stderr
    uri = None
    args = list(argv)
    try:
        while args and args[0].startswith("-"):
            opt, eq, value = args.pop(0).partition("=")
            if opt in ("-c", "--connect"):
                if not eq:
                    if not args:
                        raise VirshError(f"error: option '{opt}' requires an argument")
                    value = args.pop(0)
                uri = value
            elif opt in ("-q", "--quiet"):
                continue
            else:
                raise VirshError(f"error: unsupported option '{opt}'. See --help.")
        if not args:
            raise VirshError("error: apsim: no command given (the interactive virsh shell is not simulated)")
        verb = args.pop(0)
        if verb not in COMMANDS:
            raise VirshError(f"error: unknown command: '{verb}'")
        sim = Sim(environ)
        stream = err if verb == "migrate" else out
        return COMMANDS[verb](sim, uri, args, stream)
    except VirshError as exc:
        print(str(exc), file=err)
        return 1
    except OSError as exc:
        print(f"error: internal error: apsim: {exc}", file=err)
        return 1
