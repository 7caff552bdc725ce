"""A reboot of a simulated host: the state the kernel, udev and mdevctl rebuild at boot.

Written from the documented boot behaviour (tests/apsim/README.md, "Reboot"), never from the
collection's code:

1. Shutdown: the guests stop (libvirt's status XML under ``run/`` goes with the tmpfs ``run/``:
   everything below it is removed, the directories boot recreates are kept empty).
2. Kernel (``Host.power_on``): mdevs gone, masks from the command line (``ap.apmask=``,
   ``ap.aqmask=``; all ones by default), default domain from ``ap.domain=`` or the first scan.
3. udev: the AP bus's ``change`` event once every queue is bound (``BINDINGS=complete``,
   ``COMPLETECOUNT=1``) and the coldplug ``add`` event of ``/bus/ap`` run through every
   ``etc/udev/rules.d/*.rules`` (name order): matching rules write ``ATTR{...}`` (the persistent
   masks of ``41-ap.rules``) through the kernel's store handlers and ``RUN{builtin}+="kmod load vfio_ap"``
   loads vfio_ap.
4. mdevctl ``start-parent-mdevs matrix`` (run by mdevctl's udev rule when the vfio_ap matrix
   device appears): every definition in ``etc/mdevctl.d/matrix/`` with ``start: auto`` is created
   and its ``attrs`` written in order; a write the kernel refuses removes the device again.

Nothing here imports the collection: it is the independent oracle of what persistence brings back.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import posixpath
import re
import shutil
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import Host
from .view import Dir, File, HostView

RULES_DIR = "etc/udev/rules.d"
DEFINITIONS_DIR = "etc/mdevctl.d/matrix"
STATUS_DIR = "run/libvirt/qemu"
SYSLOG = "var/log/syslog"
# Directories of run/ that boot recreates (systemd-tmpfiles: /run/lock; libvirtd: /run/libvirt/qemu).
# They are emptied in place, not replaced: ssh-serve binds run/lock and run/libvirt by inode.
RUN_KEPT = ("run/lock", "run/libvirt", "run/libvirt/qemu")
MDEV_TYPE = "vfio_ap-passthrough"

_TOKEN = re.compile(r'\s*([A-Za-z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_MATCH_KEYS = {"ACTION", "SUBSYSTEM", "DEVPATH", "KERNEL", "DRIVER", "ENV", "ATTR"}
# keys udev knows but the simulator does not evaluate: a rule matching on one of them never matches here
_OTHER_MATCH_KEYS = {"SUBSYSTEMS", "KERNELS", "DRIVERS", "ATTRS", "TAG", "TAGS", "TEST", "PROGRAM", "RESULT", "NAME",
                     "SYMLINK", "DEVTYPE", "SYSCTL", "CONST"}  # fmt: skip
_ASSIGN_KEYS = {"ATTR", "ENV", "RUN", "OPTIONS", "NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "TAG", "IMPORT",
                "SECLABEL", "SYSCTL"}  # fmt: skip


# ============================================================================ udev rules


@dataclass
class Rule:
    """One udev rule line: its match and assignment keys, as (key, attribute, operator, value)."""

    where: str  # file:line
    matches: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    assigns: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    label: str | None = None
    goto: str | None = None
    error: str | None = None


def parse_rules(text: str, name: str) -> list[Rule]:
    """Return the rules of a udev rules file; a line udev would reject carries its ``error`` (and never matches).

    Syntax (udev(7)): one rule per line (a trailing backslash continues it), comma-separated
    ``KEY[{attr}]OP"value"`` pairs, ``#`` comments.
    """
    rules: list[Rule] = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            first = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line, pending = pending + raw, ""
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rules.append(_parse_line(line, f"{name}:{first}"))
    return rules


def _parse_line(line: str, where: str) -> Rule:
    rule = Rule(where)
    pos = 0
    while pos < len(line):
        match = _TOKEN.match(line, pos)
        if not match:
            rule.error = f"invalid key/value pair at column {pos + 1}"
            return rule
        key, attr, op, value = match.groups()
        pos = match.end()
        if line[pos : pos + 1] == ",":
            pos += 1
        elif line[pos:].strip():
            rule.error = f"expected ',' at column {pos + 1}"
            return rule
        if op in ("==", "!="):
            if key not in _MATCH_KEYS | _OTHER_MATCH_KEYS:
                rule.error = f"invalid key {key!r}"
                return rule
            rule.matches.append((key, attr, op, value))
        elif key == "LABEL":
            rule.label = value
        elif key == "GOTO":
            rule.goto = value
        elif key in _ASSIGN_KEYS:
            rule.assigns.append((key, attr, op, value))
        else:
            rule.error = f"invalid key {key!r}"
            return rule
    return rule


@dataclass
class Event:
    """A uevent as udev sees it: properties and the device's sysfs path (parts below ``sys``)."""

    action: str
    devpath: str
    subsystem: str
    env: dict[str, str]

    @property
    def syspath(self) -> list[str]:
        return [p for p in self.devpath.split("/") if p]


def _pattern(value: str, text: str) -> bool:
    """Return whether text matches a udev pattern (shell glob; ``|`` separates alternatives)."""
    return any(fnmatch.fnmatchcase(text, alternative) for alternative in value.split("|"))


def _read_attr(view: HostView, parts: list[str]) -> str | None:
    node = view.resolve(parts)
    if not isinstance(node, File) or node.show is None:
        return None
    try:
        return node.show().rstrip("\n")
    except OSError:
        return None


def _matches(rule: Rule, event: Event, view: HostView) -> bool:
    for key, attr, op, value in rule.matches:
        if key == "ATTR":
            # an attribute that cannot be read matches neither == nor != (udev's token_match_attr)
            found = _read_attr(view, event.syspath + [p for p in (attr or "").split("/") if p])
            if found is None:
                return False
        elif key == "ENV":
            found = event.env.get(attr or "", "")
        elif key in ("ACTION", "SUBSYSTEM", "DEVPATH", "KERNEL", "DRIVER"):
            found = {"ACTION": event.action, "SUBSYSTEM": event.subsystem, "DEVPATH": event.devpath,
                     "KERNEL": event.syspath[-1] if event.syspath else "", "DRIVER": ""}[key]  # fmt: skip
        else:
            return False  # a key the simulator does not evaluate
        if _pattern(value, found) != (op == "=="):
            return False
    return True


def run_rules(files: list[tuple[str, str]], event: Event, view: HostView, out: list[str]) -> list[str]:
    """Process one event through the rules files [(name, text)]; return the RUN entries to execute.

    ATTR assignments are written at once through the kernel's store handlers (errors logged to
    ``out``, as udev logs them); GOTO jumps to the LABEL of the same file.
    """
    runs: list[str] = []
    for name, text in files:
        rules = parse_rules(text, name)
        labels = {r.label: i for i, r in enumerate(rules) if r.label}
        i = 0
        while i < len(rules):
            rule = rules[i]
            i += 1
            if rule.error:
                continue
            if not rule.matches and not rule.assigns and not rule.goto:
                continue  # a LABEL line
            if not _matches(rule, event, view):
                continue
            for key, attr, op, value in rule.assigns:
                if key == "ATTR" and op in ("=", ":="):
                    _write_attr(view, event, attr or "", value, rule.where, out)
                elif key == "RUN":
                    kind = attr or "program"
                    runs = [] if op in ("=", ":=") else runs
                    runs.append(f"{kind}:{value}")
            if rule.goto:
                if rule.goto not in labels or labels[rule.goto] < i:
                    out.append(f"udev: {rule.where}: GOTO={rule.goto!r} has no LABEL after it, ignored")
                else:
                    i = labels[rule.goto]
    return runs


def _write_attr(view: HostView, event: Event, attr: str, value: str, where: str, out: list[str]) -> None:
    target = posixpath.normpath("/" + "/".join(event.syspath) + "/" + attr)
    parts = [p for p in target.split("/") if p]
    node = view.resolve(parts)
    if not isinstance(node, File) or node.store is None:
        out.append(f"udev: {where}: ATTR{{{attr}}}: cannot write /sys{target}: {'EACCES' if node else 'ENOENT'}")
        return
    try:
        node.store(value)
        out.append(f"udev: {where}: wrote {value!r} to /sys{target}")
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        out.append(f"udev: {where}: error writing {value!r} to /sys{target}: {name}")


# ============================================================================ mdevctl


def start_parent_mdevs(host: Host, view: HostView, root: Path, out: list[str]) -> dict[str, Any]:
    """Start the ``start: auto`` definitions of parent ``matrix`` as ``mdevctl start-parent-mdevs`` does.

    Returns {started, failed: [{uuid, error}], manual}. mdevctl reads every definition first (one
    it cannot parse fails the whole command: nothing starts), then starts the auto ones in
    directory order (name order here): write the UUID to ``create``, then each attribute in
    order; a refused write removes the device again.
    """
    result: dict[str, Any] = {"started": [], "failed": [], "manual": []}
    directory = root / DEFINITIONS_DIR
    if not host.vfio_ap_loaded or not directory.is_dir():
        return result
    devices = []
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        try:
            uuid = str(uuidlib.UUID(path.name))
        except ValueError:
            out.append(f"mdevctl: Can't determine uuid for file '{path.name}'")
            continue
        try:
            doc = json.loads(path.read_text())
            devices.append((uuid, _definition(doc)))
        except (ValueError, OSError) as exc:
            out.append(f"mdevctl: start-parent-mdevs matrix failed: {path.name}: {exc}")
            result["failed"] = [{"uuid": uuid, "error": f"definition cannot be read: {exc}"}]
            return result
    for uuid, (mdev_type, auto, attrs) in devices:
        if not auto:
            result["manual"].append(uuid)
            continue
        error = _start(host, view, uuid, mdev_type, attrs)
        if error:
            out.append(f"mdevctl: failed to start {uuid}: {error}")
            result["failed"].append({"uuid": uuid, "error": error})
        else:
            out.append(f"mdevctl: started {uuid}")
            result["started"].append(uuid)
    return result


def _definition(doc: Any) -> tuple[str, bool, list[tuple[str, str]]]:
    """Return (mdev_type, autostart, attrs) of a definition as mdevctl's load_from_json reads it; ValueError otherwise."""
    if not isinstance(doc, dict) or not isinstance(doc.get("mdev_type"), str) or doc.get("start") is None:
        raise ValueError("invalid json")
    attrs = doc.get("attrs")
    if attrs is not None and not isinstance(attrs, list):
        raise ValueError("attributes field is not an array")
    out = []
    for item in attrs or []:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError("invalid JSON format for attribute")
        ((key, value),) = item.items()
        if not isinstance(value, str):
            raise ValueError(f"invalid JSON format for attribute {key!r}: value must be of type str")
        out.append((key, value))
    return doc["mdev_type"], doc["start"] == "auto", out


def _start(host: Host, view: HostView, uuid: str, mdev_type: str, attrs: list[tuple[str, str]]) -> str | None:
    """Create one mdev and write its attributes; return why it failed (None when it started)."""
    base = ["devices", "vfio_ap", "matrix"]
    if uuid in host.mdevs:
        return "Device already exists"
    type_dir = view.resolve(base + ["mdev_supported_types", mdev_type])
    if not isinstance(type_dir, Dir):
        return f"Parent matrix does not support mdev type {mdev_type}"
    if host.available_instances() <= 0:
        return f"No available instances of {mdev_type} on matrix"
    error = _store(view, base + ["mdev_supported_types", mdev_type, "create"], uuid)
    if error:
        return f"Failed to create mdev {uuid}, type {mdev_type} on matrix: {error}"
    for key, value in attrs:
        error = _store(view, base + [uuid, key], value)
        if error:
            _store(view, base + [uuid, "remove"], "1")
            return f"writing {value!r} to {key}: {error}"
    return None


def _store(view: HostView, parts: list[str], value: str) -> str | None:
    """Write value to the attribute at parts; return the errno name of a refusal (None on success)."""
    node = view.resolve(parts)
    if not isinstance(node, File) or node.store is None:
        return "EACCES" if node is not None or view.resolve(parts[:-1]) is not None else "ENOENT"
    try:
        node.store(value)
    except OSError as exc:
        return f"{errno.errorcode.get(exc.errno or 0, str(exc.errno))} ({os.strerror(exc.errno or 0)})"
    return None


# ============================================================================ the reboot


def clear_run(root: Path) -> list[str]:
    """Empty ``run/`` as a boot finds it (tmpfs); return the guests whose libvirt status XML went."""
    run = root / "run"
    stopped = sorted(p.stem for p in (root / STATUS_DIR).glob("*.xml")) if (root / STATUS_DIR).is_dir() else []
    kept = {root / rel for rel in RUN_KEPT}
    if run.is_dir():
        _empty(run, kept)
    for rel in RUN_KEPT:
        (root / rel).mkdir(parents=True, exist_ok=True)
    return stopped


def _empty(directory: Path, kept: set[Path]) -> None:
    for entry in list(directory.iterdir()):
        if entry in kept and entry.is_dir() and not entry.is_symlink():
            _empty(entry, kept)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def reboot(host: Host, root: str | Path, view: HostView | None = None) -> dict[str, Any]:
    """Reboot one host whose etc/run/var trees are under root; return the record of the boot.

    Record: ``host``, ``guests_stopped`` (their status XML went with run/), ``masks`` (the kernel's
    text after boot), ``rules`` (the rules files read), ``vfio_ap_loaded``, ``mdevs`` ({started,
    failed: [{uuid, error}], manual}), ``kernel`` (kernel log lines of the boot) and ``log`` (udev
    and mdevctl lines, also appended to ``var/log/syslog``).
    """
    root = Path(root)
    view = view or HostView(host)
    out: list[str] = []
    with host.lock:
        stopped = clear_run(root)
        host.power_on()
        files = []
        rules_dir = root / RULES_DIR
        if rules_dir.is_dir():
            for path in sorted(rules_dir.glob("*.rules")):
                if path.is_file():
                    files.append((f"{RULES_DIR}/{path.name}", path.read_text(errors="replace")))
        for name, text in files:
            for rule in parse_rules(text, name):
                if rule.error:
                    out.append(f"udev: {rule.where}: {rule.error}, ignoring the line")
        events = []
        if host.bus_present and host.bindings_complete():
            events.append(Event("change", "/devices/ap", "ap", {"BINDINGS": "complete", "COMPLETECOUNT": "1"}))
        if host.bus_present:
            events.append(Event("add", "/bus/ap", "ap", {}))
        for event in events:
            for run in run_rules(files, event, view, out):
                if run == "builtin:kmod load vfio_ap":
                    if not host.vfio_ap_loaded:
                        out.append("udev: kmod: loaded vfio_ap")
                    host.vfio_ap_loaded = True
                else:
                    out.append(f"udev: RUN {run!r} not executed by the simulator")
        mdevs = start_parent_mdevs(host, view, root, out)
        record = {
            "host": host.name,
            "guests_stopped": stopped,
            "masks": {"apmask": _mask(host.apmask), "aqmask": _mask(host.aqmask)},
            "rules": [name for name, _text in files],
            "vfio_ap_loaded": host.vfio_ap_loaded,
            "mdevs": mdevs,
            "kernel": list(host.log),
            "log": out,
        }
    _syslog(root, host.name, out)
    return record


def _mask(ids: set[int]) -> str:
    return f"0x{sum(1 << (255 - i) for i in ids):064x}"


def _syslog(root: Path, name: str, lines: list[str]) -> None:
    path = root / SYSLOG
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time_ns()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now // 1000 % 10**6:06d}+00:00"
    with open(path, "a") as fh:
        for line in lines:
            program, _sep, text = line.partition(": ")
            fh.write(f"{stamp} {name} {program}: {text}\n")


def summary(record: dict[str, Any]) -> str:
    """Return one line describing a boot record (what ``apsim reboot`` prints)."""
    mdevs = record["mdevs"]
    parts = [f"apsim: {record['host']} rebooted"]
    parts.append(f"rules {', '.join(record['rules'])}" if record["rules"] else "no udev rules")
    parts.append(f"{len(mdevs['started'])} mdevs started" + (f" ({', '.join(mdevs['started'])})" if mdevs["started"] else ""))
    if mdevs["failed"]:
        parts.append(f"{len(mdevs['failed'])} failed (" + "; ".join(f"{f['uuid']}: {f['error']}" for f in mdevs["failed"]) + ")")
    if record["guests_stopped"]:
        parts.append(f"guests stopped: {', '.join(record['guests_stopped'])}")
    return "; ".join(parts)
