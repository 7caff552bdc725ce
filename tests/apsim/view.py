"""The sysfs tree of a simulated host: one view of the model, read by both render and mount.

A node is a ``Dir`` (names + child lookup), a ``File`` (mode, show, store) or a ``Link``
(relative target). Paths are relative to the host's ``sys`` directory. Contents follow the
kernel's formats (docs/kernel-interface.md).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from . import kparse
from .model import TAPQ_BUSY, Card, Host, Mdev, Queue

RO, RW, WO = 0o444, 0o644, 0o200


@dataclass
class File:
    mode: int
    show: Callable[[], str] | None = None
    store: Callable[[str], None] | None = None


@dataclass
class Link:
    target: str


class Dir:
    __slots__ = ("_names", "_child")

    def __init__(self, names: Callable[[], list[str]], child: Callable[[str], Node | None]):
        self._names = names
        self._child = child

    def names(self) -> list[str]:
        return self._names()

    def child(self, name: str) -> Node | None:
        return self._child(name)


Node = Dir | File | Link


def static(entries: dict[str, Callable[[], Node | None]]) -> Dir:
    """Return a Dir of fixed names whose children are built on lookup (a None child is absent)."""

    def names() -> list[str]:
        return [n for n, make in entries.items() if make() is not None]

    def child(name: str) -> Node | None:
        make = entries.get(name)
        return make() if make else None

    return Dir(names, child)


def ro(text: Callable[[], str]) -> Callable[[], File]:
    return lambda: File(RO, text)


def mask_text(ids: set[int] | list[int]) -> str:
    bits = 0
    for i in ids:
        bits |= 1 << (255 - i)
    return f"0x{bits:064x}\n"


def qci_mask_text(ids: set[int]) -> str:
    bits = 0
    for i in ids:
        bits |= 1 << (255 - i)
    words = [(bits >> (224 - 32 * k)) & 0xFFFFFFFF for k in range(8)]
    return "0x" + "".join(f"{w:08x}" for w in words) + "\n"


def matrix_text(apm: list[int], aqm: list[int], max_a: int, max_d: int) -> str:
    apm = [a for a in sorted(apm) if a <= max_a]
    aqm = [d for d in sorted(aqm) if d <= max_d]
    if apm and aqm:
        return "".join(f"{a:02x}.{d:04x}\n" for a in apm for d in aqm)
    if apm:
        return "".join(f"{a:02x}.\n" for a in apm)
    return "".join(f".{d:04x}\n" for d in aqm)


PAGE_TEXT = 4095  # a show handler fills at most one page, NUL included (sysfs_emit_at)


def _one_page(show: Callable[[], str]) -> Callable[[], str]:
    """Return show cut to what fits in one sysfs page: long listings (a huge ``matrix``) are
    silently truncated by the kernel, possibly in the middle of a line."""
    return lambda: show()[:PAGE_TEXT]


def _hexid(name: str, width: int) -> int | None:
    if len(name) != width or any(c not in "0123456789abcdef" for c in name):
        return None
    return int(name, 16)


class HostView:
    """Builds the nodes of one host's ``sys`` tree; every store counts as a write on the host."""

    def __init__(self, host: Host):
        self.host = host

    # ------------------------------------------------------------ helpers
    def _store(self, fn: Callable[[str], None]) -> Callable[[str], None]:
        def store(text: str) -> None:
            with self.host.lock:
                self.host.writes += 1
                fn(text)

        return store

    def _attr(self, mode: int, show: Callable[[], str] | None, store: Callable[[str], None] | None = None):
        return lambda: File(mode, _one_page(show) if show else None, self._store(store) if store else None)

    def root(self) -> Dir:
        h = self.host
        bus_present = h.bus_present
        return static(
            {
                "bus": lambda: static(
                    {
                        "ap": self.bus_ap if bus_present else (lambda: None),
                        "mdev": self.bus_mdev if h.vfio_ap_loaded else (lambda: None),
                        "matrix": self.bus_matrix if h.vfio_ap_loaded else (lambda: None),
                    }
                ),
                "devices": lambda: static(
                    {
                        "ap": self.devices_ap if bus_present else (lambda: None),
                        "vfio_ap": (lambda: static({"matrix": self.matrix_dir})) if h.vfio_ap_loaded else (lambda: None),
                    }
                ),
                "firmware": lambda: static(
                    {
                        "ocf": lambda: static(
                            {
                                "cpc_name": self._attr(RO, lambda: f"{h.cpc_name}\n"),
                                "hmc_network": self._attr(RO, lambda: "\n"),
                            }
                        )
                    }
                ),
                "class": lambda: static(
                    {
                        "mdev_bus": (lambda: static({"matrix": lambda: Link("../../devices/vfio_ap/matrix")}))
                        if h.vfio_ap_loaded
                        else (lambda: None)
                    }
                ),
            }
        )

    # ------------------------------------------------------------ /sys/bus/ap
    def bus_ap(self) -> Dir:
        h = self.host

        def ap_domain(text: str) -> None:
            value = kparse.sscanf_i(text)
            if value < 0 or value > h.max_domain_id or value not in h.aqmask:
                raise kparse.einval(repr(text))
            h.ap_domain = value

        def config_time(text: str) -> None:
            value = kparse.sscanf_int(text)
            if not 5 <= value <= 120:
                raise kparse.einval(repr(text))
            h.config_time = value

        def poll_timeout(text: str) -> None:
            value = kparse.kstrtoul(text)
            if value > 120000000000:
                raise kparse.einval(repr(text))
            h.poll_timeout = value

        def poll_thread(text: str) -> None:
            body = text.strip().lower()
            if body in ("1", "y", "yes", "on", "true"):
                h.poll_thread = 1
            elif body in ("0", "n", "no", "off", "false"):
                h.poll_thread = 0
            else:
                raise kparse.einval(repr(text))

        def scans(_text: str) -> None:
            h.scans += 1
            h.select_domain()

        features = (h.bus_features or "-") + "\n"
        return static(
            {
                "ap_domain": self._attr(RW, lambda: f"{h.ap_domain}\n", ap_domain),
                "ap_control_domain_mask": self._attr(RO, lambda: qci_mask_text(h.qci_adm)),
                "ap_usage_domain_mask": self._attr(RO, lambda: qci_mask_text(h.qci_aqm)),
                "ap_adapter_mask": self._attr(RO, lambda: qci_mask_text(h.qci_apm)),
                "config_time": self._attr(RW, lambda: f"{h.config_time}\n", config_time),
                "poll_thread": self._attr(RW, lambda: f"{h.poll_thread}\n", poll_thread),
                "ap_interrupts": self._attr(RO, lambda: "1\n"),
                "poll_timeout": self._attr(RW, lambda: f"{h.poll_timeout}\n", poll_timeout),
                "ap_max_domain_id": self._attr(RO, lambda: f"{h.max_domain_id}\n"),
                "ap_max_adapter_id": self._attr(RO, lambda: f"{h.max_adapter_id}\n"),
                "apmask": self._attr(RW, lambda: mask_text(h.apmask), lambda t: h.write_mask("apmask", t)),
                "aqmask": self._attr(RW, lambda: mask_text(h.aqmask), lambda t: h.write_mask("aqmask", t)),
                "scans": self._attr(RW, lambda: f"{h.scans}\n", scans),
                "bindings": self._attr(RO, h.bindings),
                "features": self._attr(RO, lambda: features),
                "devices": self.bus_ap_devices,
                "drivers": lambda: static(
                    {
                        "cex4card": lambda: self.driver_dir("cex4card"),
                        "cex4queue": lambda: self.driver_dir("cex4queue"),
                        "vfio_ap": (lambda: self.driver_dir("vfio_ap")) if h.vfio_ap_loaded else (lambda: None),
                    }
                ),
            }
        )

    def _device_names(self) -> list[str]:
        names = []
        for card_id in sorted(self.host.cards):
            names.append(f"card{card_id:02x}")
            names.extend(f"{card_id:02x}.{d:04x}" for d in sorted(self.host.cards[card_id].queues))
        return names

    def _lookup_device(self, name: str) -> tuple[Card, int | None] | None:
        if name.startswith("card"):
            card_id = _hexid(name[4:], 2)
            card = self.host.cards.get(card_id) if card_id is not None else None
            return (card, None) if card else None
        if len(name) == 7 and name[2] == ".":
            a, d = _hexid(name[:2], 2), _hexid(name[3:], 4)
            if a is None or d is None:
                return None
            card = self.host.cards.get(a)
            if card and d in card.queues:
                return card, d
        return None

    def bus_ap_devices(self) -> Dir:
        def child(name: str) -> Node | None:
            found = self._lookup_device(name)
            if not found:
                return None
            card, dom = found
            if dom is None:
                return Link(f"../../../devices/ap/card{card.id:02x}")
            return Link(f"../../../devices/ap/card{card.id:02x}/{name}")

        return Dir(self._device_names, child)

    def driver_dir(self, driver: str) -> Dir:
        h = self.host

        def names() -> list[str]:
            if driver == "cex4card":
                return [f"card{c:02x}" for c in sorted(h.cards)]
            return [f"{c.id:02x}.{d:04x}" for c, d, _unused in h.all_queues() if h.driver(c.id, d) == driver]

        def child(name: str) -> Node | None:
            found = self._lookup_device(name)
            if not found:
                return None
            card, dom = found
            if driver == "cex4card":
                return Link(f"../../../../devices/ap/card{card.id:02x}") if dom is None else None
            if dom is None or h.driver(card.id, dom) != driver:
                return None
            return Link(f"../../../../devices/ap/card{card.id:02x}/{name}")

        return Dir(names, child)

    # ------------------------------------------------------------ /sys/devices/ap
    def devices_ap(self) -> Dir:
        h = self.host

        def names() -> list[str]:
            return [f"card{c:02x}" for c in sorted(h.cards)]

        def child(name: str) -> Node | None:
            found = self._lookup_device(name)
            return self.card_dir(found[0]) if found and found[1] is None else None

        return Dir(names, child)

    def card_dir(self, card: Card) -> Dir:
        h = self.host
        entries: dict[str, Callable[[], Node | None]] = {
            "hwtype": self._attr(RO, lambda: f"{card.hwtype}\n"),
            "raw_hwtype": self._attr(RO, lambda: f"{card.raw_hwtype}\n"),
            "depth": self._attr(RO, lambda: f"{card.depth}\n"),
            "ap_functions": self._attr(RO, lambda: f"0x{card.functions:08X}\n"),
            "request_count": self._attr(RW, lambda: "0\n", lambda t: None),
            "requestq_count": self._attr(RO, lambda: "0\n"),
            "pendingq_count": self._attr(RO, lambda: "0\n"),
            "modalias": self._attr(RO, lambda: f"ap:t{card.hwtype:02X}\n"),
            "config": self._attr(RW, lambda: f"{int(card.config)}\n", lambda t: h.write_card_config(card, t)),
            "chkstop": self._attr(RO, lambda: f"{int(card.chkstop)}\n"),
            "max_msg_size": self._attr(RO, lambda: "12288\n"),
            "type": self._attr(RO, lambda: f"{card.type}\n"),
            "online": self._attr(RW, lambda: f"{int(card.effective_online)}\n", lambda t: h.write_card_online(card, t)),
            "load": self._attr(RO, lambda: "0\n"),
            "driver": lambda: Link("../../../bus/ap/drivers/cex4card"),
            "subsystem": lambda: Link("../../../bus/ap"),
        }
        if card.mode in ("cca", "ep11"):
            entries["serialnr"] = self._attr(RO, lambda: h.serial_text(card))
        if card.mode == "ep11":
            entries["API_ordinalnr"] = self._attr(RO, lambda: "8\n")
            entries["FW_version"] = self._attr(RO, lambda: "7.3\n")
            entries["op_modes"] = self._attr(RO, lambda: "\n")
        fixed = static(entries)

        def names() -> list[str]:
            return fixed.names() + [f"{card.id:02x}.{d:04x}" for d in sorted(card.queues)]

        def child(name: str) -> Node | None:
            if len(name) == 7 and name[2] == ".":
                found = self._lookup_device(name)
                if found and found[0] is card and found[1] is not None:
                    return self.queue_dir(card, found[1])
                return None
            return fixed.child(name)

        return Dir(names, child)

    def queue_dir(self, card: Card, dom: int) -> Dir:
        h = self.host
        q: Queue = card.queues[dom]

        def functions() -> str:
            # ap_functions_show(): a live TAPQ; EIO when it answers above BUSY (an async error does not help here)
            rc, _async, word = h.tapq(card, q)
            if rc > TAPQ_BUSY:
                raise OSError(errno.EIO, "Input/output error")
            return f"0x{word:08X}\n"

        def bound(driver: str) -> Callable[[Callable[[], Node | None]], Callable[[], Node | None]]:
            return lambda make: lambda: make() if h.driver(card.id, dom) == driver else None

        zc, vf = bound("cex4queue"), bound("vfio_ap")

        def driver_link() -> Node | None:
            drv = h.driver(card.id, dom)
            return Link(f"../../../../bus/ap/drivers/{drv}") if drv else None

        entries: dict[str, Callable[[], Node | None]] = {
            "request_count": self._attr(RW, lambda: "0\n", lambda t: None),
            "requestq_count": self._attr(RO, lambda: "0\n"),
            "pendingq_count": self._attr(RO, lambda: "0\n"),
            "reset": self._attr(RW, lambda: "No Reset Timer set.\n", lambda t: None),
            "interrupt": self._attr(RO, lambda: "Interrupts enabled.\n"),
            "config": self._attr(RO, lambda: f"{int(q.config and card.config)}\n"),
            "chkstop": self._attr(RO, lambda: f"{int(q.chkstop or card.chkstop)}\n"),
            "ap_functions": self._attr(RO, functions),
            "driver": driver_link,
            "subsystem": lambda: Link("../../../../bus/ap"),
            "online": zc(
                self._attr(
                    RW,
                    lambda: f"{int(q.online and card.effective_online and q.config and not q.chkstop)}\n",
                    lambda t: h.write_queue_online(card, q, t),
                )
            ),
            "load": zc(self._attr(RO, lambda: "0\n")),
            "status": vf(self._attr(RO, lambda: h.queue_status(card.id, dom) + "\n")),
        }
        if h.has_driver_override:
            entries["driver_override"] = self._attr(RW, lambda: f"{q.driver_override}\n", lambda t: h.write_driver_override(card, dom, t))
        if card.mode in ("cca", "ep11"):
            entries["mkvps"] = zc(self._attr(RO, lambda: mkvps_text(card.mode, q.mkvps)))
        if card.mode == "ep11":
            entries["op_modes"] = zc(self._attr(RO, lambda: "\n"))
        return static(entries)

    # ------------------------------------------------------------ vfio_ap matrix device
    def matrix_dir(self) -> Dir:
        h = self.host
        type_dir = static(
            {
                "name": self._attr(RO, lambda: "VFIO AP Passthrough Device\n"),
                "device_api": self._attr(RO, lambda: "vfio-ap\n"),
                "available_instances": self._attr(RO, lambda: f"{h.available_instances()}\n"),
                "create": self._attr(WO, None, lambda t: h.create_mdev(t) and None),
                "devices": lambda: Dir(
                    lambda: sorted(h.mdevs),
                    lambda n: Link(f"../../../{n}") if n in h.mdevs else None,
                ),
            }
        )
        fixed = static(
            {
                "features": self._attr(RO, h.features) if h.has_features else (lambda: None),
                "mdev_supported_types": lambda: static({"vfio_ap-passthrough": lambda: type_dir}),
                "driver": lambda: Link("../../../bus/matrix/drivers/vfio_ap"),
                "subsystem": lambda: Link("../../../bus/matrix"),
            }
        )

        def names() -> list[str]:
            return fixed.names() + sorted(h.mdevs)

        def child(name: str) -> Node | None:
            mdev = h.mdevs.get(name)
            return self.mdev_dir(mdev) if mdev else fixed.child(name)

        return Dir(names, child)

    def mdev_dir(self, m: Mdev) -> Dir:
        h = self.host

        def gone(fn: Callable[[str], None]) -> Callable[[str], None]:
            def store(text: str) -> None:
                if h.mdevs.get(m.uuid) is not m:
                    raise OSError(errno.ENODEV, "No such device")
                fn(text)

            return store

        def ap_config() -> str:
            return f"{mask_text(m.apm)[:-1]},{mask_text(m.aqm)[:-1]},{mask_text(m.adm)}"

        def guest_matrix() -> str:
            apm, aqm, _unused = h.shadow(m)
            return matrix_text(apm, aqm, h.max_adapter_id, h.max_domain_id)

        entries: dict[str, Callable[[], Node | None]] = {}
        for kind in ("adapter", "domain", "control_domain"):
            entries[f"assign_{kind}"] = self._attr(WO, None, gone(lambda t, k=kind: h.assign(m, k, t)))
            entries[f"unassign_{kind}"] = self._attr(WO, None, gone(lambda t, k=kind: h.unassign(m, k, t)))
        entries.update(
            {
                "ap_config": self._attr(RW, ap_config, gone(lambda t: h.write_ap_config(m, t))) if h.has_ap_config else (lambda: None),
                "control_domains": self._attr(RO, lambda: "".join(f"{d:04x}\n" for d in sorted(m.adm) if d <= h.max_domain_id)),
                "matrix": self._attr(RO, lambda: matrix_text(sorted(m.apm), sorted(m.aqm), h.max_adapter_id, h.max_domain_id)),
                "guest_matrix": self._attr(RO, guest_matrix) if h.dynamic else (lambda: None),
                "remove": self._attr(WO, None, lambda t: h.remove_mdev(m, t)),
                "mdev_type": lambda: Link("../mdev_supported_types/vfio_ap-passthrough"),
                "driver": lambda: Link("../../../../bus/mdev/drivers/vfio_ap_mdev"),
                "subsystem": lambda: Link("../../../../bus/mdev"),
            }
        )
        if h.migration == "attribute":
            entries["migratable"] = self._attr(RW, lambda: f"{m.migratable}\n", gone(lambda t: h.write_migratable(m, t)))
        return static(entries)

    def bus_mdev(self) -> Dir:
        h = self.host

        def devices() -> Dir:
            return Dir(
                lambda: sorted(h.mdevs),
                lambda n: Link(f"../../../devices/vfio_ap/matrix/{n}") if n in h.mdevs else None,
            )

        def drv() -> Dir:
            return Dir(
                lambda: sorted(h.mdevs),
                lambda n: Link(f"../../../../devices/vfio_ap/matrix/{n}") if n in h.mdevs else None,
            )

        return static({"devices": devices, "drivers": lambda: static({"vfio_ap_mdev": drv})})

    def bus_matrix(self) -> Dir:
        return static(
            {
                "devices": lambda: static({"matrix": lambda: Link("../../../devices/vfio_ap/matrix")}),
                "drivers": lambda: static({"vfio_ap": lambda: static({"matrix": lambda: Link("../../../../devices/vfio_ap/matrix")})}),
            }
        )

    # ------------------------------------------------------------ path resolution
    def resolve(self, parts: list[str]) -> Node | None:
        """Return the node at parts below ``sys`` without following a final link; None if absent.

        Links met on the way are followed (relative to their directory), as the VFS does.
        """
        return self._walk(parts, 0)

    def _walk(self, parts: list[str], depth: int) -> Node | None:
        node: Node | None = self.root()
        here: list[str] = []
        for name in parts:
            while isinstance(node, Link):
                target = _join(here[:-1], node.target)
                depth += 1
                if target is None or depth > 16:
                    return None
                node = self._walk(target, depth)
                here = target
            if not isinstance(node, Dir):
                return None
            node = node.child(name)
            here = here + [name]
            if node is None:
                return None
        return node


def _join(directory: list[str], target: str) -> list[str] | None:
    out = list(directory)
    for piece in target.split("/"):
        if piece in ("", "."):
            continue
        if piece == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(piece)
    return out


def mkvps_text(mode: str, mkvps: dict | None) -> str:
    """Return the ``mkvps`` attribute of a CCA or EP11 queue in the zcrypt driver's format."""
    mkvps = mkvps or {}
    lines = []
    if mode == "cca":
        for reg in ("aes", "apka", "asym"):
            for slot in ("new", "cur", "old"):
                entry = mkvps.get(f"{reg}_{slot}")
                label = f"{reg.upper()} {slot.upper()}:"
                if entry is None:
                    lines.append(f"{label} - -")
                else:
                    lines.append(f"{label} {entry['state']} {entry['mkvp']}")
    else:
        for slot in ("cur", "new"):
            entry = mkvps.get(f"wk_{slot}")
            label = f"WK {slot.upper()}:"
            if entry is None:
                lines.append(f"{label} - -")
            else:
                lines.append(f"{label} {entry['state']} {entry['mkvp'] or '-'}")
    return "\n".join(lines) + "\n"
