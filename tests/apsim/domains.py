"""Starting a defined libvirt guest on a simulated host (``virsh start GUEST``).

Written from libvirt's behaviour (``virDomainCreate`` -> ``qemuProcessStart``; the mdev host
devices are looked up and checked free in ``virHostdevPrepareMediatedDevices``), never from the
collection's code. A guest starts on a host when

1. the host has its persistent definition (``etc/libvirt/qemu/GUEST.xml``), else
   ``error: failed to get domain 'GUEST'``;
2. it does not run there already (no status XML ``run/libvirt/qemu/GUEST.xml``), else
   ``error: Requested operation is not valid: domain is already running``;
3. every vfio-ap mdev of its ``<hostdev type='mdev' model='vfio-ap'>`` exists on the host
   (``error: device not found: mediated device 'UUID' not found``) and no other running guest uses
   it (``error: Requested operation is not valid: mediated device /sys/bus/mdev/devices/UUID is in
   use by driver QEMU, domain OTHER``).

Then libvirt writes the status XML (the definition inside ``<domstatus state='running'>``) and the
guest holds its mdevs (``Mdev.guest``): its queues are ``in use``. Nothing changes when a check
fails. libvirt knows nothing of other hosts: a guest whose definition is on two hosts can be
started on both (the caller has to look first, as the collection's rolling run does).

The live mount runs :func:`start` for a ``start HOST ID GUEST_HEX`` command written to
``DIR/.apsim/control`` (the guest's name as hex of its UTF-8 bytes: a name may hold blanks) and
lists every attempt in ``DIR/.apsim/starts``; :func:`request` is the client side used by
``tests/apsim/bin/virsh start``.
"""

from __future__ import annotations

import errno
import json
import os
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .model import Host

CONTROL_DIR = ".apsim"
RECORDS = "starts"
DEFINITIONS = "etc/libvirt/qemu"
STATUS = "run/libvirt/qemu"


class _Refused(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.errno = code
        self.message = message


def mdev_uuids(domain: ET.Element) -> list[str]:
    """Return the vfio-ap mdev UUIDs (lower case) of a ``<domain>`` element's host devices, in document order."""
    return [
        address.get("uuid", "").lower()
        for hostdev in domain.iter("hostdev")
        if hostdev.get("type") == "mdev" and hostdev.get("model") == "vfio-ap"
        for address in hostdev.iter("address")
        if address.get("uuid")
    ]


def _definition(root: Path, guest: str) -> ET.Element:
    path = root / DEFINITIONS / f"{guest}.xml"
    if "/" in guest or not guest or not path.is_file():
        raise _Refused(errno.ENOENT, f"error: failed to get domain '{guest}'")
    try:
        domain = ET.fromstring(path.read_text())
    except ET.ParseError as exc:
        raise _Refused(errno.EINVAL, f"error: internal error: apsim: {path} is not a domain definition: {exc}") from None
    if domain.tag != "domain":
        raise _Refused(errno.EINVAL, f"error: internal error: apsim: {path} holds no <domain>")
    return domain


def status_xml(domain: ET.Element) -> str:
    """Return libvirt's status XML of a running domain: the definition inside ``<domstatus>``, with a domain id."""
    running = ET.fromstring(ET.tostring(domain))
    running.set("id", "1")
    status = ET.Element("domstatus", {"state": "running", "reason": "booted", "pid": "4242"})
    status.append(running)
    ET.indent(status)
    return ET.tostring(status, encoding="unicode") + "\n"


def start(hosts: Mapping[str, Host], roots: Mapping[str, Path], host: str, guest: str) -> dict[str, Any]:
    """Start the defined guest on host, atomically; return the record.

    The record: ``host``, ``guest``, ``result`` (``started``, ``refused`` or ``invalid``), ``errno``
    (0 when started), ``error`` (its name), ``uuids`` (the guest's mdevs) and ``virsh`` (what virsh
    prints on stderr).
    """
    record: dict[str, Any] = {"host": host, "guest": guest, "result": "invalid", "errno": errno.EINVAL, "error": "EINVAL",
                              "uuids": [], "virsh": []}  # fmt: skip
    if host not in hosts:
        record["virsh"] = [f"error: internal error: apsim: no host {host!r} in the mounted fleet"]
        return record
    h, root = hosts[host], roots[host]
    with h.lock:
        try:
            domain = _definition(root, guest)
            uuids = mdev_uuids(domain)
            record["uuids"] = uuids
            if (root / STATUS / f"{guest}.xml").exists():
                raise _Refused(errno.EEXIST, "error: Requested operation is not valid: domain is already running")
            for uuid in uuids:
                mdev = h.mdevs.get(_canonical(uuid))
                if mdev is None:
                    raise _Refused(errno.ENODEV, f"error: device not found: mediated device '{uuid}' not found")
                if mdev.guest and mdev.guest != guest:
                    raise _Refused(
                        errno.EBUSY,
                        f"error: Requested operation is not valid: mediated device /sys/bus/mdev/devices/{uuid} "
                        f"is in use by driver QEMU, domain {mdev.guest}",
                    )
        except _Refused as exc:
            record.update(result="refused", errno=exc.errno, error=errno.errorcode.get(exc.errno, str(exc.errno)), virsh=[exc.message])
            return record
        path = root / STATUS / f"{guest}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(status_xml(domain))
        for uuid in uuids:
            h.mdevs[_canonical(uuid)].guest = guest
    record.update(result="started", errno=0, error="")
    return record


def encode_name(name: str) -> str:
    """Return a guest name as one word for a control command (hex of its UTF-8 bytes, lone surrogates kept)."""
    return name.encode("utf-8", "surrogateescape").hex()


def decode_name(word: str) -> str:
    """Return the guest name of :func:`encode_name`'s word; ValueError when it is not one."""
    return bytes.fromhex(word).decode("utf-8", "surrogateescape")


def _canonical(uuid: str) -> str:
    try:
        return str(uuidlib.UUID(uuid))
    except ValueError:
        return uuid


def request(mount: str | Path, host: str, guest: str) -> dict[str, Any]:
    """Ask the live mount's server to start a guest; return the record of this attempt (OSError when the mount does not answer)."""
    mount = Path(mount)
    token = uuidlib.uuid4().hex
    control = mount / CONTROL_DIR / "control"
    try:
        fd = os.open(control, os.O_WRONLY)
    except FileNotFoundError:
        raise OSError(errno.ENOENT, f"{mount} is not a live apsim mount (no {CONTROL_DIR}/control)") from None
    try:
        os.write(fd, f"start {host} {token} {encode_name(guest)}".encode())
    except OSError:
        pass  # the record says why
    finally:
        os.close(fd)
    for record in reversed(json.loads((mount / CONTROL_DIR / RECORDS).read_text())):
        if record.get("id") == token:
            return record
    raise OSError(errno.EPROTO, f"the server at {mount} kept no record of the start")
