"""The 2026 series' live migration of a vfio-ap mdev between two simulated hosts.

Written from the kernel's rules (drivers/s390/crypto/vfio_ap_migration.c of the series, the v1
patches for the validation-only levels), never from the collection's rule table: this is the
second opinion that the collection's verdicts are checked against.

One migration of the mdev ``uuid`` from host ``source`` to host ``destination``:

1. the source QEMU refuses to start when the source has no migration support (``migration: none``:
   QEMU's VFIO migration blocker) or, on a series-v1 host, the mdev's ``migratable`` file is 0;
2. the destination libvirt refuses when no mdev with the same UUID exists there, when that mdev is
   in use by another guest, or when the guest is already running there;
3. a destination without migration support fails to load the device's state (QEMU);
4. STOP_COPY on the source: the guest's queues (``guest_matrix``, APID then APQI order), each with
   its TAPQ GR2 word, and the guest's control domains are saved (:func:`save`, post-v4 layout);
5. RESUMING on the destination (:func:`load`): ``migration: kernel`` restores the configuration
   (queues available, control domains, hardware compatibility, then the normal assignment
   validation); ``migration: attribute`` only validates against the destination mdev (same number
   of queues in its guest matrix, every source queue in it, compatible hardware).

Nothing changes on either host unless every step succeeds; the kernel's messages go to the host's
kernel log (``Host.klog``). On success the guest's libvirt status XML moves from the source's
``run/libvirt/qemu`` to the destination's, the source mdev becomes idle and the destination mdev is
in use by the guest.

The live mount runs :func:`migrate` for a ``migrate`` command written to ``DIR/.apsim/control``
and lists every attempt in ``DIR/.apsim/migrations``; :func:`request` is the client side used by
``python -m apsim migrate`` and ``tests/apsim/bin/virsh``.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import sys
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import TAPQ_BUSY, TAPQ_Q_NOT_AVAIL, Card, Host, Mdev, Queue

CONTROL_DIR = ".apsim"
RECORDS = "migrations"

# TAPQ GR2 fields (bit 0 = most significant bit of the 64-bit word)
QINFO_DATA_MASK = 0xFFFFC000FF000000  # fast-path mask of the restore design
TAPQ_CARD_HWINFO_MASK = 0xFFFF0000FFFF0F0F  # what a card caches (series v1/v2 copy it per queue)
NATIVE_CLASS = 0x80

MAGIC = 0x76666170  # "vfap"
BLOB_VERSION = 1
HEADER = struct.Struct(">IIII4Q")
QINFO = struct.Struct(">QH6x")

QEMU = "qemu-system-s390x"
WHO = {"kernel": "the kernel", "qemu": "QEMU", "libvirt": "libvirt"}  # how the CLI names who refused


class Refused(Exception):
    """A migration step refused: errno, who refused (kernel, qemu, libvirt), on which host, why."""

    def __init__(self, code: int, by: str, host: str, reason: str, virsh: list[str]):
        super().__init__(reason)
        self.errno, self.by, self.host, self.reason, self.virsh = code, by, host, reason, virsh


class Invalid(Exception):
    """The request itself is wrong (unknown host or mdev, guest not running); the message is one line."""


# ============================================================================ hardware information


@dataclass(frozen=True)
class HwInfo:
    """The fields of a TAPQ GR2 word that the migration compares."""

    value: int

    def bit(self, n: int) -> int:
        return (self.value >> (63 - n)) & 1

    @property
    def fac(self) -> int:
        return self.value >> 32

    @property
    def cls(self) -> int:
        return (self.value >> 48) & 0xFF

    @property
    def bs(self) -> int:
        return (self.value >> 46) & 3

    @property
    def at(self) -> int:
        return (self.value >> 24) & 0xFF


def tapq_word(host: Host, card: Card, queue: Queue) -> int:
    """Return the queue's TAPQ GR2 word: its ap_functions (with the bind state) above AT, ND, ML, QD."""
    fac = host.queue_functions(card, queue) & 0xFFFFFFFF
    apinfo = ((card.raw_hwtype & 0xFF) << 24) | ((host.max_domain_id & 0xFF) << 16) | (card.depth & 0xF)
    return (fac << 32) | apinfo


def hardware_info(host: Host, card: Card, queue: Queue, uuid: str, apqn: tuple[int, int]) -> tuple[int, str | None, int]:
    """Return (errno, kernel line, GR2 word) of get_hardware_info_for_queue() for one queue.

    Response codes 0 and 2-5 give the word; 1 (queue not available) fails with ENODEV; any other code
    fails with EIO unless an asynchronous error is pending, which lets the word through.
    """
    rc, pending, _word = host.tapq(card, queue)
    if rc == TAPQ_Q_NOT_AVAIL:
        return errno.ENODEV, f"vfio_ap_mdev {uuid}: Failed to get hwinfo for queue {apqn_text(apqn)}: TAPQ rc={rc}", 0
    if rc > TAPQ_BUSY and not pending:
        # the kernel's EIO message has no space after the colon
        return errno.EIO, f"vfio_ap_mdev {uuid}:Failed to get hwinfo for queue {apqn_text(apqn)}: TAPQ rc={rc}", 0
    return 0, None, tapq_word(host, card, queue)


def card_word(host: Host, card: Card) -> int:
    """Return the hwinfo a card caches at probe (TAPQ masked: no bind state), which v1/v2 use per queue."""
    return ((card.functions & 0xFFFFFFFF) << 32 | ((card.raw_hwtype & 0xFF) << 24) | ((host.max_domain_id & 0xFF) << 16)
            | (card.depth & 0xF)) & TAPQ_CARD_HWINFO_MASK  # fmt: skip


def apqn_text(apqn: tuple[int, int]) -> str:
    return f"{apqn[0]:02x}.{apqn[1]:04x}"


_FACILITIES = ((0, "APSC facility"), (1, "mex4k facility"), (2, "crt4k facility"))


def _differences(prefix: str, q: str, src: HwInfo, dst: HwInfo, v1: bool) -> list[str]:
    """Return the per-property lines the kernel logs after 'Source and target queue ... not compatible'."""
    lines = []
    for bit, name in _FACILITIES:
        if src.bit(bit) != dst.bit(bit):
            if src.bit(bit):
                lines += [f"{prefix}: {name} installed in source queue {q}", f"{prefix}: {name} not installed in target queue {q}"]
            else:
                # the restore design's APSC message lacks the colon after the mdev name (as in the kernel)
                sep = " " if (bit == 0 and not v1) else ": "
                lines += [f"{prefix}: {name} not installed in source queue {q}", f"{prefix}{sep}{name} installed in target queue {q}"]
    if src.bit(3) != dst.bit(3):
        if src.bit(3):
            lines += [f"{prefix}: Coprocessor-mode facility installed in source queue {q}",
                      f"{prefix}: Coprocessor-mode  facility not installed target queue {q}"]  # fmt: skip
        else:
            lines += [f"{prefix}: Coprocessor-mode facility not installed in source queue {q}",
                      f"{prefix}: Coprocessor-mode  facility installed target queue {q}"]  # fmt: skip
    for bit, name in ((4, "Accelerator-mode"), (5, "XCP-mode")):
        if src.bit(bit) != dst.bit(bit):
            if src.bit(bit):
                lines += [
                    f"{prefix}: {name} facility installed source queue {q}",
                    f"{prefix}: {name} facility not installed target queue {q}",
                ]
            else:
                lines += [
                    f"{prefix}: {name} facility not installed source queue {q}",
                    f"{prefix}: {name} facility installed target queue {q}",
                ]
    if src.bit(6) != dst.bit(6):
        name = "AP-extended-addressing (APXA) facility"
        if src.bit(6):
            lines += [f"{prefix}: {name} installed in source queue {q}", f"{prefix}: {name} not installed in target queue {q}"]
        else:
            lines += [f"{prefix}: {name} not installed in source queue {q}", f"{prefix}: {name} installed in target queue {q}"]
    if src.bit(7) != dst.bit(7):
        name = "Stateless-command-filtering (SLCF)"
        if src.bit(7):
            lines += [f"{prefix}: {name} available in source queue {q}", f"{prefix}: {name} not available in target queue {q}"]
        else:
            lines += [f"{prefix}: {name} not available in source queue {q}", f"{prefix}: {name} available in target queue {q}"]
    class_lines = []
    if not classes_compatible(src, dst):
        class_lines = [f"{prefix}: Full native card function available on source queue {q}",
                       f"{prefix}: Only stateless functions available on target queue {q}"]  # fmt: skip
    type_line = [f"{prefix}: AP type of source ({src.at:02x}) not compatible with target ({dst.at:02x})"]
    if v1:  # v1 reports the class, then the AP type unconditionally, then the bind state
        lines += class_lines + type_line
        if src.bs or dst.bs:
            lines.append(f"{prefix}: Bind/associate state for source ({src.bs:x}) and target ({dst.bs:x}) queue {q} are not compatible")
        return lines
    if src.at > dst.at:
        lines += type_line
    if src.bs or dst.bs:
        lines.append(f"{prefix}: Bind/associate state for source ({src.bs:x}) and target ({dst.bs:x}) queue {q} must be 0")
    return lines + class_lines


def classes_compatible(src: HwInfo, dst: HwInfo) -> bool:
    """Return False only when the source has full native function and the target only stateless functions."""
    src_native, dst_native = src.cls & NATIVE_CLASS, dst.cls & NATIVE_CLASS
    return not src_native if src_native != dst_native else True


def restore_compatible(src: HwInfo, dst: HwInfo) -> bool:
    """Return whether two queues are compatible for the restore design (series v3 and later)."""
    if (src.value & QINFO_DATA_MASK) == (dst.value & QINFO_DATA_MASK) and src.bs == 0 and dst.bs == 0:
        return True
    same = all(src.bit(b) == dst.bit(b) for b in range(8))  # S M C D A X N SLCF
    return same and src.at <= dst.at and classes_compatible(src, dst) and src.bs == 0 and dst.bs == 0


def v1_compatible(src: HwInfo, dst: HwInfo) -> bool:
    """Return whether two queues are compatible for the validation-only design (series v1/v2)."""
    if (src.value & QINFO_DATA_MASK) == (dst.value & QINFO_DATA_MASK):
        return True
    return src.fac == dst.fac and src.at <= dst.at


# ============================================================================ the saved state


@dataclass
class Blob:
    """What STOP_COPY saves: the guest's queues with their GR2 words and its control domains."""

    queues: list[tuple[tuple[int, int], int]] = field(default_factory=list)  # ((APID, APQI), GR2)
    adm: list[int] = field(default_factory=list)

    def pack(self) -> bytes:
        """Return the post-v4 stream: magic, version, num_queues, reserved, ADM (MSB = domain 0), qinfo[]."""
        adm = 0
        for d in self.adm:
            adm |= 1 << (255 - d)
        words = [(adm >> (64 * (3 - i))) & 0xFFFFFFFFFFFFFFFF for i in range(4)]
        out = HEADER.pack(MAGIC, BLOB_VERSION, len(self.queues), 0, *words)
        return out + b"".join(QINFO.pack(data, (a << 8) | d) for (a, d), data in self.queues)

    @classmethod
    def unpack(cls, data: bytes) -> Blob:
        """Return the blob of a post-v4 stream; OSError EINVAL (bad magic or version) or EIO (wrong size)."""
        if len(data) < HEADER.size:
            raise OSError(errno.EIO, "short migration stream")
        magic, version, count, _unused, *words = HEADER.unpack_from(data)
        if magic != MAGIC or version != BLOB_VERSION:
            raise OSError(errno.EINVAL, "not a vfio_ap migration stream")
        if len(data) != HEADER.size + QINFO.size * count:
            raise OSError(errno.EIO, "migration stream size does not match num_queues")
        adm_bits = 0
        for w in words:
            adm_bits = (adm_bits << 64) | w
        adm = [d for d in range(256) if adm_bits >> (255 - d) & 1]
        queues = []
        for i in range(count):
            value, apqn = QINFO.unpack_from(data, HEADER.size + QINFO.size * i)
            queues.append(((apqn >> 8, apqn & 0xFF), value))
        return cls(queues, adm)


def save(host: Host, mdev: Mdev) -> bytes:
    """STOP_COPY on the source: return the saved stream of mdev's guest configuration.

    ``migration: kernel`` reads every queue's GR2 afresh (TAPQ); the first failing TAPQ logs the
    kernel's line and raises Refused(ENODEV or EIO, :func:`hardware_info`). ``migration: attribute``
    uses the hwinfo each queue copied from its card at probe (series v1/v2), which never shows the
    bind state.
    """
    apm, aqm, adm = host.shadow(mdev)
    blob = Blob(adm=list(adm))
    for a in apm:
        for d in aqm:
            card = host.cards[a]
            queue = card.queues[d]
            if host.migration == "attribute":
                blob.queues.append(((a, d), card_word(host, card)))
                continue
            code, line, word = hardware_info(host, card, queue, mdev.uuid, (a, d))
            if code:
                host.klog(line)
                raise Refused(code, "kernel", host.name, line,
                              [f"error: operation failed: job 'migration out' failed: {mdev.uuid}: "
                               f"Failed to read the device state: {os.strerror(code)}"])  # fmt: skip
            blob.queues.append(((a, d), word))
    return blob.pack()


def _qemu_load_failed(guest: str, code: int) -> list[str]:
    return [f"error: internal error: QEMU unexpectedly closed the monitor (vm='{guest}'): "
            f"{QEMU}: Failed to load vmstate version_id: 1, ret: -{code}",
            f"{QEMU}: load of migration failed: {os.strerror(code)}"]  # fmt: skip


def _fail(host: Host, code: int, lines: list[str], guest: str) -> Refused:
    return Refused(code, "kernel", host.name, "; ".join(lines), _qemu_load_failed(guest, code))


def load(host: Host, mdev: Mdev, data: bytes, guest: str) -> tuple[set[int], set[int], set[int]] | None:
    """RESUMING on the destination: validate the saved stream against host and mdev.

    Returns the matrix (APM, AQM, ADM) the mdev takes (``migration: kernel``: the source guest's
    configuration, checked by the normal assignment validation) or None (``migration: attribute``:
    the destination's configuration stays as it is). Raises Refused with the kernel's errno after
    logging the kernel's lines; the host is not changed.
    """
    blob = Blob.unpack(data)
    prefix = f"vfio_ap_mdev {mdev.uuid}"
    if host.migration == "attribute":
        return _validate_v1(host, mdev, blob, prefix, guest)
    # 1. every queue exists and is bound to vfio_ap
    missing = [apqn for apqn, _unused in blob.queues if host.queue(*apqn) is None or host.driver(*apqn) != "vfio_ap"]
    lines = [f"{prefix}: Queue {apqn_text(apqn)} not available to vfio_ap driver on target host" for apqn in missing]
    if lines:
        for line in lines:
            host.klog(line)
        raise _fail(host, errno.ENODEV, lines, guest)
    # 2. every control domain is in the host's control-domain mask
    lines = [f"vfio_ap_mdev: {mdev.uuid}: Control domain {d:04x} not available on the destination host" for d in blob.adm
             if d not in host.qci_adm]  # fmt: skip
    if lines:
        for line in lines:
            host.klog(line)
        raise _fail(host, errno.ENODEV, lines, guest)
    # 3. hardware compatibility, every queue checked (the last failure's errno is returned)
    code, lines = 0, []
    for apqn, value in blob.queues:
        card = host.cards[apqn[0]]
        queue = card.queues[apqn[1]]
        failed, line, word = hardware_info(host, card, queue, mdev.uuid, apqn)
        if failed:
            lines.append(line)
            code = failed
            continue
        src, dst = HwInfo(value), HwInfo(word)
        if not restore_compatible(src, dst):
            q = apqn_text(apqn)
            lines.append(f"{prefix}: Migration failed: Source and target queue ({q}) not compatible")
            lines += _differences(prefix, q, src, dst, v1=False)
            code = errno.EINVAL
    if code:
        for line in lines:
            host.klog(line)
        raise _fail(host, code, lines, guest)
    # 4. the source's configuration becomes the mdev's, validated like any assignment
    apm = {a for (a, _d), _v in blob.queues}
    aqm = {d for (_a, d), _v in blob.queues}
    adm = set(blob.adm)
    before = len(host.log)
    try:
        host._validate(mdev, apm, aqm, adm)  # pylint: disable=protected-access
    except OSError as exc:
        code = exc.errno or errno.EINVAL
        lines = host.log[before:] or [f"{prefix}: {os.strerror(code)}"]
        raise _fail(host, code, lines, guest) from None
    return apm, aqm, adm


def _validate_v1(host: Host, mdev: Mdev, blob: Blob, prefix: str, guest: str) -> None:
    """The series v1/v2 checks: same number of queues, all in the guest matrix, compatible hardware."""
    apm, aqm, _adm = host.shadow(mdev)
    mine = len(apm) * len(aqm)
    if mine != len(blob.queues):
        line = f"{prefix}: migration failed: number of queues on source ({len(blob.queues)}) and target ({mine}) guests differ"
        host.klog(line)
        raise _fail(host, errno.ENODEV if mine > len(blob.queues) else errno.E2BIG, [line], guest)
    lines = [f"{prefix}: migration failed: queue {apqn_text(apqn)} not assigned to guest matrix"
             for apqn, _unused in blob.queues if apqn[0] not in apm or apqn[1] not in aqm]  # fmt: skip
    if lines:
        for line in lines:
            host.klog(line)
        raise _fail(host, errno.ENODEV, lines, guest)
    for apqn, value in blob.queues:
        card = host.cards[apqn[0]]
        src, dst = HwInfo(value), HwInfo(card_word(host, card))
        if not v1_compatible(src, dst):
            q = apqn_text(apqn)
            lines = [f"{prefix}: Migration failed: Source and target queue ({q}) not compatible"]
            lines += _differences(prefix, q, src, dst, v1=True)
            for line in lines:
                host.klog(line)
            raise _fail(host, errno.EFAULT, lines, guest)
    return None


# ============================================================================ one migration


def _status_xml(root: Path, guest: str) -> Path:
    return root / "run/libvirt/qemu" / f"{guest}.xml"


def check_request(hosts: Mapping[str, Host], source: str, destination: str, uuid: str) -> tuple[Host, Host, Mdev, str]:
    """Return (source host, destination host, source mdev, guest) for a request; Invalid (one line) if it is wrong."""
    for role, name in (("source", source), ("destination", destination)):
        if name not in hosts:
            raise Invalid(f"no host {name!r} ({role}) in the mounted fleet")
    if source == destination:
        raise Invalid(f"the source and the destination are the same host ({source})")
    try:
        uuid = str(uuidlib.UUID(uuid))
    except ValueError:
        raise Invalid(f"{uuid!r} is not a UUID") from None
    src = hosts[source]
    mdev = src.mdevs.get(uuid)
    if mdev is None:
        raise Invalid(f"host {source} has no mdev {uuid}")
    if not mdev.guest:
        raise Invalid(f"mdev {uuid} on {source} is not in use by a running guest")
    others = sorted(m.uuid for m in src.mdevs.values() if m.guest == mdev.guest and m is not mdev)
    if others:
        raise Invalid(f"guest {mdev.guest} also uses mdev {others[0]} on {source}; the simulator migrates guests with one mdev")
    return src, hosts[destination], mdev, mdev.guest


def migrate(hosts: Mapping[str, Host], roots: Mapping[str, Path], source: str, destination: str, uuid: str) -> dict[str, Any]:
    """Migrate the guest using mdev uuid from source to destination, atomically; return the record.

    ``roots`` maps host names to their etc/run trees (the live mount's backing directories). The
    record: ``result`` moved / refused / invalid, ``errno`` (0 when moved), ``error`` (its name),
    ``by`` (kernel, qemu, libvirt or apsim), ``host`` (where it was refused), ``reason`` (one line:
    the kernel's log lines joined by '; ', or libvirt's message), ``log`` (kernel lines logged by
    this attempt), ``virsh`` (what virsh prints on stderr) and ``guest``.
    """
    record: dict[str, Any] = {"source": source, "destination": destination, "uuid": uuid, "guest": None,
                              "result": "invalid", "errno": errno.EINVAL, "error": "EINVAL", "by": "apsim",
                              "host": None, "reason": "", "log": [], "virsh": []}  # fmt: skip
    locks = [hosts[n].lock for n in sorted({source, destination}) if n in hosts]
    for lock in locks:
        lock.acquire()
    try:
        try:
            src, dst, mdev, guest = check_request(hosts, source, destination, uuid)
        except Invalid as exc:
            record.update(reason=str(exc), virsh=[f"error: internal error: apsim: {exc}"])
            return record
        record.update(guest=guest, uuid=mdev.uuid)
        marks = {src.name: len(src.log), dst.name: len(dst.log)}
        try:
            target = _run(src, dst, mdev, guest, roots)
        except Refused as exc:
            host = hosts[exc.host]
            record.update(result="refused", errno=exc.errno, error=errno.errorcode.get(exc.errno, str(exc.errno)), by=exc.by,
                          host=exc.host, reason=exc.reason, log=host.log[marks[exc.host]:], virsh=exc.virsh)  # fmt: skip
            return record
        matrix, dmdev = target
        # everything checked: the guest moves (the status XML first, the only step that can fail)
        src_xml, dst_xml = _status_xml(roots[source], guest), _status_xml(roots[destination], guest)
        if src_xml.exists():
            dst_xml.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src_xml, dst_xml)
        if matrix is not None:
            dmdev.apm, dmdev.aqm, dmdev.adm = matrix
        mdev.guest = None
        dmdev.guest = guest
        record.update(result="moved", errno=0, error="", by="", host=destination, reason="moved")
        return record
    finally:
        for lock in reversed(locks):
            lock.release()


def _run(src: Host, dst: Host, mdev: Mdev, guest: str, roots: Mapping[str, Path]):
    """Check every step of one migration; return (new destination matrix or None, destination mdev)."""
    uuid = mdev.uuid
    if src.migration == "none":
        reason = f"{uuid}: VFIO migration is not supported in kernel"
        raise Refused(
            errno.EOPNOTSUPP, "qemu", src.name, reason, [f"error: Requested operation is not valid: cannot migrate domain: {reason}"]
        )
    if src.migration == "attribute" and mdev.migratable != 1:
        reason = f"{uuid}: migration is blocked: the mdev's migratable attribute is 0"
        raise Refused(errno.EPERM, "qemu", src.name, reason, [f"error: Requested operation is not valid: cannot migrate domain: {reason}"])
    if _status_xml(roots[dst.name], guest).exists():
        reason = f"domain '{guest}' is already active"
        raise Refused(errno.EEXIST, "libvirt", dst.name, reason, [f"error: Requested operation is not valid: {reason}"])
    dmdev = dst.mdevs.get(uuid)
    if dmdev is None:
        reason = f"device not found: mediated device '{uuid}' not found"
        raise Refused(errno.ENODEV, "libvirt", dst.name, reason, [f"error: {reason}"])
    if dmdev.guest:
        reason = f"mediated device /sys/bus/mdev/devices/{uuid} is in use by driver QEMU, domain {dmdev.guest}"
        raise Refused(errno.EBUSY, "libvirt", dst.name, reason, [f"error: Requested operation is not valid: {reason}"])
    if dst.migration == "none":
        reason = f"Unknown savevm section or instance '{uuid}/vfio' 0"
        raise Refused(errno.EINVAL, "qemu", dst.name, reason,
                      [f"error: internal error: QEMU unexpectedly closed the monitor (vm='{guest}'): {QEMU}: {reason}. Make sure "
                       "that your current VM setup matches your saved VM setup, including any hotplugged devices",
                       f"{QEMU}: load of migration failed: {os.strerror(errno.EINVAL)}"])  # fmt: skip
    data = save(src, mdev)
    return load(dst, dmdev, data, guest), dmdev


# ============================================================================ the client side


def request(mount: str | Path, source: str, destination: str, uuid: str) -> dict[str, Any]:
    """Ask the live mount's server to migrate; return the record of this attempt.

    Raises OSError when the mount does not answer (not an apsim mount, or a server without migration).
    """
    mount = Path(mount)
    token = uuidlib.uuid4().hex
    control = mount / CONTROL_DIR / "control"
    try:
        fd = os.open(control, os.O_WRONLY)
    except FileNotFoundError:
        raise OSError(errno.ENOENT, f"{mount} is not a live apsim mount (no {CONTROL_DIR}/control)") from None
    try:
        os.write(fd, f"migrate {source} {destination} {uuid} {token}".encode())
    except OSError:
        pass  # the errno repeats the record's; the record says why
    finally:
        os.close(fd)
    for record in reversed(json.loads((mount / CONTROL_DIR / RECORDS).read_text())):
        if record.get("id") == token:
            return record
    raise OSError(errno.EPROTO, f"the server at {mount} kept no record of the migration")


def find_guest(mount: str | Path, guest: str) -> list[str]:
    """Return the hosts of a live mount on which guest is running (its libvirt status XML exists)."""
    mount = Path(mount)
    return sorted(h.name for h in mount.iterdir() if h.name != CONTROL_DIR and (h / "run/libvirt/qemu" / f"{guest}.xml").is_file())


def run(mount: str, source: str, destination: str, uuid: str) -> int:
    """``python -m apsim migrate MOUNT SOURCE DEST UUID``: 0 moved, 1 refused (one line), 2 bad arguments."""
    try:
        record = request(mount, source, destination, uuid)
    except (OSError, ValueError) as exc:
        print(f"apsim: migrate: {exc}", file=sys.stderr)
        return 2
    return report(record)


def report(record: dict[str, Any]) -> int:
    """Print the outcome of a record in one line; return the exit code (0 moved, 1 refused, 2 invalid)."""
    if record["result"] == "moved":
        print(f"apsim: guest {record['guest']} (mdev {record['uuid']}) moved from {record['source']} to {record['destination']}")
        return 0
    if record["result"] == "refused":
        who = WHO.get(record["by"], record["by"])
        print(f"apsim: migration refused by {who} on {record['host']} ({record['error']}): {record['reason']}", file=sys.stderr)
        return 1
    print(f"apsim: migrate: {record['reason']}", file=sys.stderr)
    return 2
