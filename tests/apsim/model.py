"""The state of one simulated KVM host's AP bus and vfio_ap driver, with the kernel's write semantics.

Every ``write_*``/``store`` method behaves as the kernel's sysfs store handler described in
docs/kernel-interface.md: it either changes the state completely or raises ``OSError``
with the kernel's errno and changes nothing. Reads are computed from the state, so derived
views (queue drivers, ``guest_matrix``, ``status``, ``bindings``) are always consistent.
"""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from . import kparse

GENERATIONS = {4: 10, 5: 11, 6: 12, 7: 13, 8: 14}
MODE_OF_LETTER = {"A": "accel", "C": "cca", "P": "ep11"}

# ap_functions bits (upper 32 bits of TAPQ GR2), docs/kernel-interface.md
F_APSC = 0x80000000
F_MEX4K = 0x40000000
F_CRT4K = 0x20000000
F_CCA = 0x10000000
F_ACCEL = 0x08000000
F_EP11 = 0x04000000
F_APXA = 0x02000000
F_SLCF = 0x01000000
F_NATIVE = 0x00800000
F_STATELESS = 0x00400000
MODE_BIT = {"cca": F_CCA, "accel": F_ACCEL, "ep11": F_EP11}
# Default facility bits per mode; a fleet file may override a card's 'functions'.
DEFAULT_FUNCTIONS = {
    "cca": F_MEX4K | F_CRT4K | F_CCA | F_APXA | F_NATIVE,
    "accel": F_MEX4K | F_CRT4K | F_ACCEL | F_APXA | F_NATIVE,
    "ep11": F_EP11 | F_APXA | F_NATIVE,
}

# TAPQ response codes (arch/s390/include/asm/ap.h AP_RESPONSE_*)
TAPQ_NORMAL = 0x00
TAPQ_Q_NOT_AVAIL = 0x01
TAPQ_RESET_IN_PROGRESS = 0x02
TAPQ_DECONFIGURED = 0x03
TAPQ_CHECKSTOPPED = 0x04
TAPQ_BUSY = 0x05

MAX_INSTANCES = 65536
FEATURES_BASE = "guest_matrix hotplug ap_config"

# Kernel generations a fleet host can run (``kernel:`` key), newest first. Each names the first
# mainline release with that vfio_ap interface (docs/kernel-generations.md):
#   v6.19  the queue attribute ``driver_override`` (only while apmask and aqmask are all ones)
#   v6.12  the matrix device's ``features`` file (s390/vfio-ap: Driver feature advertisement)
#   v6.10  the mdev ``ap_config`` attribute (read and write), no ``features`` file yet
#   v6.0   dynamic configuration: ``guest_matrix``, hot plug/unplug into a running guest,
#          assignment of APQNs that are not (yet) bound to vfio_ap, the driver's in_use check
#          that refuses apmask/aqmask writes taking assigned APQNs back (EBUSY)
#   v5.17  static configuration: no ``guest_matrix``; assign/unassign on an mdev a guest uses
#          is EBUSY; an APID/APQI can only be assigned where the queues are bound to vfio_ap
#          (EADDRNOTAVAIL); mask writes are never refused by vfio_ap; queue ``status`` exists
KERNELS = ("v6.19", "v6.12", "v6.10", "v6.0", "v5.17")
MIGRATION_KERNELS = ("v6.19", "v6.12")  # the live-migration series is offered on these
ALL_IDS = frozenset(range(256))


def cmdline_params(cmdline: str) -> dict[str, str]:
    """Return the AP bus parameters of a kernel command line: {"ap.apmask": value, ...} (a later one wins)."""
    out = {}
    for word in cmdline.split():
        name, sep, value = word.partition("=")
        if sep and name in ("ap.apmask", "ap.aqmask", "ap.domain"):
            out[name] = value
    return out


def err(code: int, text: str) -> OSError:
    return OSError(code, text)


@dataclass
class Queue:
    """A queue device (APQN) that exists on the host: card × one of its domains."""

    bs: int = 0
    online: bool = True  # zcrypt (cex4queue) online flag; meaningful only while bound there
    mkvps: dict[str, Any] | None = None
    chkstop: bool = False
    config: bool = True
    tapq_rc: int | None = None  # TAPQ response code set by the fleet; None: derived (Host.tapq)
    tapq_async: bool = False  # an asynchronous error is pending on the queue (TAPQ's status says so)
    driver_override: str = ""  # v6.19: the only driver this queue binds to ("" = none)


@dataclass
class Card:
    id: int
    type: str  # e.g. CEX8C
    functions: int
    raw_hwtype: int
    queues: dict[int, Queue]
    online: bool = True
    config: bool = True
    chkstop: bool = False
    serialnr: str = ""
    depth: int = 8
    mkvps: dict[str, Any] | None = None

    @property
    def hwtype(self) -> int:
        return GENERATIONS[int(self.type[3])]

    @property
    def mode(self) -> str:
        return MODE_OF_LETTER[self.type[4]]

    @property
    def effective_online(self) -> bool:
        return self.config and not self.chkstop and self.online


@dataclass
class Mdev:
    uuid: str
    apm: set[int] = field(default_factory=set)
    aqm: set[int] = field(default_factory=set)
    adm: set[int] = field(default_factory=set)
    guest: str | None = None
    migratable: int = 0  # series v1 attribute; default 0 at creation
    migrating: bool = False  # a migration is in progress (v1 EBUSY on 1 -> 0)


@dataclass
class Host:
    name: str
    migration: str = "kernel"
    kernel: str = "v6.19"  # one of KERNELS
    max_adapter_id: int = 255
    max_domain_id: int = 84
    qci_apm: set[int] = field(default_factory=set)
    qci_aqm: set[int] = field(default_factory=set)
    qci_adm: set[int] = field(default_factory=set)
    apmask: set[int] = field(default_factory=lambda: set(range(256)))
    aqmask: set[int] = field(default_factory=lambda: set(range(256)))
    vfio_ap_loaded: bool = True
    # The kernel command line (fleet key ``cmdline``): its ap.apmask=, ap.aqmask= and ap.domain=
    # parameters set the masks and the default domain a boot starts from (power_on).
    cmdline: str = ""
    boot_vfio_ap: bool = True  # vfio_ap is loaded at boot before the first bus scan (modules-load.d)
    bus_present: bool = True
    bus_features: str = "APSC APXA QACT RC8A"
    cards: dict[int, Card] = field(default_factory=dict)
    mdevs: dict[str, Mdev] = field(default_factory=dict)
    # files outside sys/ (relative path -> text) for the initial tree: mdevctl, libvirt
    etc_files: dict[str, str] = field(default_factory=dict)
    ap_domain: int = -1
    cpc_name: str = ""  # /sys/firmware/ocf/cpc_name (the rest of the identity is in etc_files)
    config_time: int = 30
    poll_thread: int = 0
    poll_timeout: int = 250000
    scans: int = 1
    writes: int = 0  # write attempts to sys/ attributes (successful or refused)
    log: list[str] = field(default_factory=list)  # kernel messages (dmesg)
    # called with every kernel message as it is logged (the live mount appends it to var/log/kern.log)
    log_sink: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def boot_masks(self) -> tuple[set[int], set[int]]:
        """Return the (apmask, aqmask) the kernel starts with: all ones, or what ap.apmask= / ap.aqmask= say.

        As ap_perms_init() does: a mask given on the command line starts from all zeros and is parsed
        like a sysfs write (absolute hex, or relative terms applied to the zeros).
        """
        params = cmdline_params(self.cmdline)
        masks = []
        for name in ("apmask", "aqmask"):
            value = params.get(f"ap.{name}")
            masks.append(set(ALL_IDS) if value is None else kparse.parse_mask_write(value, set()))
        return masks[0], masks[1]

    def boot_domain(self) -> int:
        """Return the default domain the command line asks for (``ap.domain=``), -1 when none."""
        value = cmdline_params(self.cmdline).get("ap.domain")
        return -1 if value is None else kparse.kstrtoint_base0(value)

    def power_on(self) -> list[str]:
        """Reset the host to the kernel's state at boot, before user space runs; return the kernel's messages.

        What does not survive an IPL goes: every mdev (mdevs exist only until they are removed or the
        host goes down), the guests using them, the masks (back to all ones or the command line),
        the default domain (the command line's ``ap.domain=``, else chosen at the first scan),
        driver_overrides, the zcrypt online state of cards and queues (zcrypt brings every device
        online at probe) and the kernel log. The hardware stays as it is: QCI, cards, queues, their
        configuration and check-stop states, bind states and master keys.
        """
        with self.lock:
            self.log.clear()
            messages = [f"Linux version {self.kernel} (apsim)"]  # the first line of every boot
            self.apmask, self.aqmask = self.boot_masks()
            self.mdevs.clear()
            self.vfio_ap_loaded = self.boot_vfio_ap and self.bus_present
            for card in self.cards.values():
                card.online = True
                for queue in card.queues.values():
                    queue.online = True
                    queue.driver_override = ""
            self.ap_domain = self.boot_domain()
            if self.ap_domain > self.max_domain_id or (self.ap_domain >= 0 and self.ap_domain not in self.aqmask):
                messages.append(f"ap: {self.ap_domain} is not a valid cryptographic domain")
                self.ap_domain = -1
            self.config_time, self.poll_thread, self.poll_timeout = 30, 0, 250000
            self.scans = 1
            self.writes = 0
            self.select_domain()
            for line in messages:
                self.klog(line)
            return messages

    def bindings_complete(self) -> bool:
        """Return True when every queue device is bound to a driver (the kernel's BINDINGS=complete)."""
        return all(self.driver(card.id, dom) is not None for card, dom, _unused in self.all_queues())

    def klog(self, message: str) -> None:
        """Log one kernel message (dmesg): keep it in ``log`` and hand it to ``log_sink``."""
        self.log.append(message)
        if self.log_sink is not None:
            self.log_sink(message)

    # ---------------------------------------------------------------- kernel generation
    @property
    def has_features(self) -> bool:
        """True when the matrix device has a ``features`` file (v6.12 and later)."""
        return self.kernel in ("v6.19", "v6.12")

    @property
    def has_ap_config(self) -> bool:
        """True when mdevs have the ``ap_config`` attribute (v6.10 and later)."""
        return self.kernel in ("v6.19", "v6.12", "v6.10")

    @property
    def has_driver_override(self) -> bool:
        """True when queues have the ``driver_override`` attribute (v6.19 and later)."""
        return self.kernel == "v6.19"

    @property
    def dynamic(self) -> bool:
        """True for the dynamic configuration (v6.0 and later): ``guest_matrix``, hot plug,
        over-provisioned assignment and the in_use check on mask writes."""
        return self.kernel != "v5.17"

    # ---------------------------------------------------------------- derived state
    def queue(self, adapter: int, domain: int) -> Queue | None:
        card = self.cards.get(adapter)
        return card.queues.get(domain) if card else None

    def host_owned(self, adapter: int, domain: int) -> bool:
        """Return whether the APQN belongs to the default (zcrypt) drivers, as ap_owned_by_def_drv
        answers: a queue with a driver_override by the driver it is bound to, else by the masks."""
        q = self.queue(adapter, domain)
        if q is not None and q.driver_override:
            return self.driver(adapter, domain) == "cex4queue"
        return adapter in self.apmask and domain in self.aqmask

    def driver(self, adapter: int, domain: int) -> str | None:
        """Return the driver a queue is bound to: cex4queue, vfio_ap or None (unbound).

        A driver_override binds the queue to the named driver only (unbound when that driver is
        not loaded or unknown); otherwise apmask x aqmask decides.
        """
        q = self.queue(adapter, domain)
        if q is not None and q.driver_override:
            if q.driver_override == "cex4queue" or (q.driver_override == "vfio_ap" and self.vfio_ap_loaded):
                return q.driver_override
            return None
        if adapter in self.apmask and domain in self.aqmask:
            return "cex4queue"
        return "vfio_ap" if self.vfio_ap_loaded else None

    def overrides(self) -> int:
        """Return how many queues have a driver_override set."""
        return sum(1 for _c, _d, q in self.all_queues() if q.driver_override)

    def queue_usable(self, card: Card, queue: Queue) -> bool:
        """Return whether TAPQ answers normally for the queue (configured, not check-stopped)."""
        return card.config and queue.config and not card.chkstop and not queue.chkstop

    def select_domain(self) -> None:
        """Pick the default domain as ap_select_domain() does at each bus scan, if none is set.

        The first usage domain (ascending) that the LPAR has and aqmask holds, for which an adapter
        the LPAR has and apmask holds answers TAPQ normally. Once chosen it stays, also when masks
        change later; only an ``ap_domain`` write changes it.
        """
        if self.ap_domain >= 0:
            return
        for dom in range(self.max_domain_id + 1):
            if dom not in self.qci_aqm or dom not in self.aqmask:
                continue
            for card_id in range(self.max_adapter_id + 1):
                card = self.cards.get(card_id)
                if card_id not in self.qci_apm or card_id not in self.apmask or card is None:
                    continue
                q = card.queues.get(dom)
                if q is not None and self.queue_usable(card, q):
                    self.ap_domain = dom
                    return

    def serial_text(self, card: Card) -> str:
        """Return a coprocessor card's ``serialnr`` text.

        CCA: the serial number the card reports through its queue in the default domain, so empty
        without a default domain or when that queue is not usable by zcrypt. EP11: ``%16.16s`` of
        the card's serial, empty when no queue of the card is usable by zcrypt.
        """
        if not card.serialnr or not card.effective_online:
            return "\n"
        if card.mode == "cca":
            q = card.queues.get(self.ap_domain) if self.ap_domain >= 0 else None
            ok = q is not None and self.driver(card.id, self.ap_domain) == "cex4queue" and self.queue_usable(card, q) and q.online
            return f"{card.serialnr}\n" if ok else "\n"
        ok = any(self.driver(card.id, d) == "cex4queue" and self.queue_usable(card, q) and q.online for d, q in card.queues.items())
        return f"{card.serialnr:>16.16}\n" if ok else "\n"

    def all_queues(self):
        for card_id in sorted(self.cards):
            card = self.cards[card_id]
            for dom in sorted(card.queues):
                yield card, dom, card.queues[dom]

    def mdev_of(self, adapter: int, domain: int) -> Mdev | None:
        for mdev in self.mdevs.values():
            if adapter in mdev.apm and domain in mdev.aqm:
                return mdev
        return None

    def shadow(self, mdev: Mdev) -> tuple[list[int], list[int], list[int]]:
        """Return the guest's (APM, AQM, ADM) after filtering, as vfio_ap_mdev_filter_matrix does.

        A static kernel (v5.17) filters nothing: the guest's masks are the mdev's assignment.
        """
        if not self.dynamic:
            return sorted(mdev.apm), sorted(mdev.aqm), sorted(mdev.adm)
        apm = sorted(a for a in mdev.apm if a in self.qci_apm)
        aqm = sorted(d for d in mdev.aqm if d in self.qci_aqm)
        adm = sorted(d for d in mdev.adm if d in self.qci_adm)
        kept = []
        for a in apm:
            if all(self.queue(a, d) is not None and self.driver(a, d) == "vfio_ap" for d in aqm):
                kept.append(a)
        return kept, aqm, adm

    def queue_status(self, adapter: int, domain: int) -> str:
        mdev = self.mdev_of(adapter, domain)
        if mdev is None:
            return "unassigned"
        if mdev.guest:
            apm, aqm, _unused = self.shadow(mdev)
            if adapter in apm and domain in aqm:
                return "in use"
        return "assigned"

    def bindings(self) -> str:
        total = bound = 0
        for card, dom, _unused in self.all_queues():
            total += 1
            if self.driver(card.id, dom) is not None:
                bound += 1
        return f"{bound}/{total} (complete)\n" if bound == total and self.scans else f"{bound}/{total}\n"

    def features(self) -> str:
        """Return the matrix device's ``features`` text (only shown on v6.12 and later)."""
        return FEATURES_BASE + (" migratable" if self.migration in ("attribute", "kernel") else "") + "\n"

    def available_instances(self) -> int:
        return MAX_INSTANCES - len(self.mdevs)

    def queue_functions(self, card: Card, queue: Queue) -> int:
        """Return the facility word a TAPQ on the queue stores (its card's word with the queue's bind state)."""
        return card.functions | ((queue.bs & 3) << 14)

    def tapq(self, card: Card, queue: Queue) -> tuple[int, bool, int]:
        """Return (response code, asynchronous error pending, facility word in GR2) of a TAPQ on the queue.

        The response code is the fleet's ``tapq_rc`` when set, else 3 (deconfigured) for a queue or
        card that is not configured, 4 (check-stopped) for a check-stopped one, 0 (normal) otherwise.
        The kernel zeroes GR2 before the instruction; with response code 1 (queue not available)
        nothing is stored there, so the word reads 0.
        """
        if queue.tapq_rc is not None:
            rc = queue.tapq_rc
        elif not (queue.config and card.config):
            rc = TAPQ_DECONFIGURED
        elif queue.chkstop or card.chkstop:
            rc = TAPQ_CHECKSTOPPED
        else:
            rc = TAPQ_NORMAL
        word = 0 if rc == TAPQ_Q_NOT_AVAIL else self.queue_functions(card, queue)
        return rc, queue.tapq_async, word

    # ---------------------------------------------------------------- bus writes
    def write_mask(self, which: str, text: str) -> None:
        """Store apmask or aqmask; EBUSY when an APQN handed back to the host is assigned to an mdev,
        or while any queue has a driver_override (v6.19)."""
        with self.lock:
            current = self.apmask if which == "apmask" else self.aqmask
            new = kparse.parse_mask_write(text, current)
            if new == current:
                return
            if self.overrides():
                raise err(errno.EBUSY, "Device or resource busy")
            added = new - current
            if added and self.dynamic:  # the vfio_ap in_use callback exists from v6.0
                if which == "apmask":
                    conflicts = [(a, d) for a in sorted(added) for d in sorted(self.aqmask) if self.mdev_of(a, d)]
                else:
                    conflicts = [(a, d) for a in sorted(self.apmask) for d in sorted(added) if self.mdev_of(a, d)]
                if conflicts:
                    for a, d in conflicts:
                        self.klog(f"vfio_ap: Can not reserve queue {a:02x}.{d:04x} for host driver: in use by mdev")
                    raise err(errno.EBUSY, "Device or resource busy")
            # queues moving to cex4queue come up with the card's online state
            for card, dom, q in self.all_queues():
                was = self.host_owned(card.id, dom)
                now = (card.id in new and dom in self.aqmask) if which == "apmask" else (card.id in self.apmask and dom in new)
                if now and not was:
                    q.online = card.effective_online
            if which == "apmask":
                self.apmask = new
            else:
                self.aqmask = new
            self.select_domain()  # the bus scan that follows a mask change

    def write_driver_override(self, card: Card, domain: int, text: str) -> None:
        """Store a queue's driver_override: EINVAL unless apmask and aqmask are all ones; an empty
        value clears it. The simulator re-probes the queue at once (see README)."""
        with self.lock:
            if self.apmask != ALL_IDS or self.aqmask != ALL_IDS:
                raise kparse.einval("apmask/aqmask in use")
            name = text[:-1] if text.endswith("\n") else text
            q = card.queues[domain]
            was = self.driver(card.id, domain)
            q.driver_override = name
            if self.driver(card.id, domain) == "cex4queue" and was != "cex4queue":
                q.online = card.effective_online

    # ---------------------------------------------------------------- card / queue writes
    def write_card_online(self, card: Card, text: str) -> None:
        value = kparse.sscanf_int(text)
        if value not in (0, 1):
            raise kparse.einval(repr(text))
        if value and (not card.config or card.chkstop):
            raise err(errno.ENODEV, "No such device")
        card.online = bool(value)
        for q in card.queues.values():
            q.online = bool(value)

    def write_card_config(self, card: Card, text: str) -> None:
        value = kparse.sscanf_int(text)
        if value not in (0, 1):
            raise kparse.einval(repr(text))
        card.config = bool(value)

    def write_queue_online(self, card: Card, queue: Queue, text: str) -> None:
        value = kparse.sscanf_int(text)
        if value not in (0, 1):
            raise kparse.einval(repr(text))
        if value and (not card.config or card.chkstop or not queue.config or queue.chkstop):
            raise err(errno.ENODEV, "No such device")
        if value and not card.online:
            raise kparse.einval("card is offline")
        queue.online = bool(value)

    # ---------------------------------------------------------------- vfio_ap writes
    def create_mdev(self, text: str) -> Mdev:
        with self.lock:
            uuid = kparse.parse_uuid(text)
            if uuid in self.mdevs:
                raise err(errno.EEXIST, "File exists")
            if self.available_instances() <= 0:
                raise err(errno.EUSERS, "Too many users")
            mdev = Mdev(uuid=uuid)
            self.mdevs[uuid] = mdev
            return mdev

    def remove_mdev(self, mdev: Mdev, text: str) -> None:
        with self.lock:
            if not kparse.kstrtoul(text):
                return
            if self.mdevs.get(mdev.uuid) is not mdev:  # removed meanwhile (a new one may share the UUID)
                raise err(errno.ENODEV, "No such device")
            if mdev.guest:
                # Documented choice: the kernel would block until the guest releases the device;
                # the simulator refuses at once so that a test can never hang.
                raise err(errno.EBUSY, "Device or resource busy")
            del self.mdevs[mdev.uuid]

    def _validate(self, mdev: Mdev, apm: set[int], aqm: set[int], adm: set[int]) -> None:
        """Raise what vfio_ap's validate_ap_matrix raises for a proposed matrix of mdev."""
        owned = [(a, d) for a in sorted(apm) for d in sorted(aqm) if self.host_owned(a, d)]
        if owned:
            raise err(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        clashes = []
        for other in self.mdevs.values():
            if other is mdev:
                continue
            for a in sorted(apm & other.apm):
                for d in sorted(aqm & other.aqm):
                    clashes.append((a, d, other.uuid))
        if clashes:
            for a, d, other in clashes:
                self.klog(f"vfio_ap_mdev {mdev.uuid}: Userspace may not assign queue {a:02x}.{d:04x} to mdev: already assigned to {other}")
            raise err(errno.EADDRINUSE, "Address already in use")
        if any(a > self.max_adapter_id for a in apm) or any(d > self.max_domain_id for d in aqm | adm):
            raise err(errno.ENODEV, "No such device")

    def _static_busy(self, mdev: Mdev) -> None:
        """Raise EBUSY on a static kernel (v5.17) when a guest uses mdev: before v6.0 every
        assign/unassign store refuses while the mdev has a KVM, before it parses its input."""
        if not self.dynamic and mdev.guest:
            raise err(errno.EBUSY, "Device or resource busy")

    def _static_reserved(self, mdev: Mdev, kind: str, value: int) -> None:
        """Raise EADDRNOTAVAIL on a static kernel unless the queues an assignment adds are bound
        to vfio_ap: every APID x assigned APQI (or APQI x assigned APID); with the other side
        empty, at least one vfio_ap queue with that APID (APQI) must exist."""
        bound = {(c.id, d) for c, d, _unused in self.all_queues() if self.driver(c.id, d) == "vfio_ap"}
        other = mdev.aqm if kind == "adapter" else mdev.apm
        pairs = [(value, o) if kind == "adapter" else (o, value) for o in sorted(other)]
        found = all(p in bound for p in pairs) if pairs else any((a if kind == "adapter" else d) == value for a, d in bound)
        if not found:
            raise err(errno.EADDRNOTAVAIL, "Cannot assign requested address")

    def assign(self, mdev: Mdev, kind: str, text: str) -> None:
        """Store assign_adapter / assign_domain / assign_control_domain."""
        with self.lock:
            self._static_busy(mdev)
            value = kparse.kstrtoul(text)
            limit = self.max_adapter_id if kind == "adapter" else self.max_domain_id
            if value > limit:
                raise err(errno.ENODEV, "No such device")
            target = {"adapter": mdev.apm, "domain": mdev.aqm, "control_domain": mdev.adm}[kind]
            if not self.dynamic and kind != "control_domain":
                # v5.17 order: reservation (bound to vfio_ap), then sharing; no shortcut for a
                # value already assigned and no kernel message for a clash
                self._static_reserved(mdev, kind, value)
                apm = mdev.apm | {value} if kind == "adapter" else mdev.apm
                aqm = mdev.aqm | {value} if kind == "domain" else mdev.aqm
                if any(o is not mdev and apm & o.apm and aqm & o.aqm for o in self.mdevs.values()):
                    raise err(errno.EADDRINUSE, "Address already in use")
                target.add(value)
                return
            if value in target:
                return
            if kind == "control_domain":
                mdev.adm.add(value)
                return
            apm = mdev.apm | {value} if kind == "adapter" else mdev.apm
            aqm = mdev.aqm | {value} if kind == "domain" else mdev.aqm
            self._validate(mdev, apm, aqm, mdev.adm)
            target.add(value)

    def unassign(self, mdev: Mdev, kind: str, text: str) -> None:
        with self.lock:
            self._static_busy(mdev)
            value = kparse.kstrtoul(text)
            limit = self.max_adapter_id if kind == "adapter" else self.max_domain_id
            if value > limit:
                raise err(errno.ENODEV, "No such device")
            {"adapter": mdev.apm, "domain": mdev.aqm, "control_domain": mdev.adm}[kind].discard(value)

    def write_ap_config(self, mdev: Mdev, text: str) -> None:
        with self.lock:
            apm, aqm, adm = kparse.parse_ap_config(text)
            self._validate(mdev, apm, aqm, adm)
            mdev.apm, mdev.aqm, mdev.adm = apm, aqm, adm

    def write_migratable(self, mdev: Mdev, text: str) -> None:
        with self.lock:
            value = kparse.kstrtoint_dec(text)
            if value not in (0, 1):
                raise kparse.einval(repr(text))
            if value == mdev.migratable:
                return
            if value == 0 and mdev.migrating:
                raise err(errno.EBUSY, "Device or resource busy")
            mdev.migratable = value

    # ---------------------------------------------------------------- simulator control
    def control(self, command: str) -> None:
        """Apply a simulator control command (not a kernel interface).

        ``attach UUID GUEST`` / ``detach UUID`` (a guest starts or stops using an mdev),
        ``migrating UUID 0|1`` (mark a migration in progress, for the v1 ``migratable`` EBUSY),
        ``card ID config|chkstop|online 0|1`` (hardware events: SCLP deconfigure, check-stop;
        ID decimal or 0x hex), ``reset-writes`` (zero the write counter), ``clear-log``.
        A malformed command raises EINVAL, an unknown mdev or card ENODEV; nothing changes then.
        """
        with self.lock:
            words = command.split()
            if not words:
                raise kparse.einval("empty control command")
            verb, args = words[0], words[1:]
            if verb in ("attach", "detach", "migrating"):
                if not args or args[0] not in self.mdevs:
                    raise err(errno.ENODEV, f"no mdev {args[:1]}")
                mdev = self.mdevs[args[0]]
                if verb == "attach" and len(args) == 2:
                    mdev.guest = args[1]
                elif verb == "detach" and len(args) == 1:
                    mdev.guest = None
                elif verb == "migrating" and len(args) == 2 and args[1] in ("0", "1"):
                    mdev.migrating = args[1] == "1"
                else:
                    raise kparse.einval(command)
            elif verb == "card" and len(args) == 3 and args[1] in ("config", "chkstop", "online") and args[2] in ("0", "1"):
                try:
                    card_id = int(args[0], 0)
                except ValueError:
                    raise kparse.einval(command) from None
                card = self.cards.get(card_id)
                if card is None:
                    raise err(errno.ENODEV, f"no card {args[0]}")
                setattr(card, args[1], args[2] == "1")
                self.select_domain()
            elif verb == "reset-writes" and not args:
                self.writes = 0
            elif verb == "clear-log" and not args:
                self.log.clear()
            else:
                raise kparse.einval(command)

    def dump_state(self) -> dict[str, Any]:
        """Return the host's kernel-visible state as plain data (for before/after comparisons).

        The write counter is not part of it: see ``writes``.
        """
        with self.lock:
            return {
                "apmask": sorted(self.apmask),
                "aqmask": sorted(self.aqmask),
                "cards": {
                    f"{c.id:02x}": {
                        "online": c.online,
                        "config": c.config,
                        "queues": {f"{d:04x}": {"online": q.online} for d, q in sorted(c.queues.items())},
                    }
                    for c in (self.cards[i] for i in sorted(self.cards))
                },
                "mdevs": {
                    u: {
                        "adapters": sorted(m.apm),
                        "domains": sorted(m.aqm),
                        "control_domains": sorted(m.adm),
                        "guest": m.guest,
                        "migratable": m.migratable,
                        "migrating": m.migrating,
                    }
                    for u, m in sorted(self.mdevs.items())
                },
            }
