# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""Gather the AP facts of one host (docs/facts.md, schema 2) from a sysroot: sysfs, mdevctl, libvirt.

``gather_facts(sysroot, subsets)`` does the reading and returns ``(facts, warnings)``; the
parsing is in ``_sysfs_text``, ``_hwinfo``, ``_mdevctl_config`` and ``_libvirt_xml``. It only
reads. A file that cannot be read or parsed (gone, EIO, EACCES, malformed) makes its value None,
adds one warning naming the file and the error, and is recorded in ``unread`` (``_unread``: what
it was, the path, the errno), so that no consumer takes "not seen" for "not there"; it never
raises for one bad file. Queues are returned in their compact form (``_queue_facts``).
"""

import errno
import os
import stat
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, is_guarded, parse_guard
from ansible_collections.s390x.vfio_ap.plugins.module_utils._host_identity import (
    host_identity,
    parse_cpc_name,
    parse_machine_id,
    parse_sysinfo,
)
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError, errno_text
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import capabilities, mode_of_functions, parse_card_type
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import expand_apqns, format_apqn, parse_apqn
from ansible_collections.s390x.vfio_ap.plugins.module_utils._libvirt_xml import guests_by_mdev, parse_domain_xml
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import DEFINITION_DIR, parse_definition
from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import card_ap_type, compact_queue
from ansible_collections.s390x.vfio_ap.plugins.module_utils._unread import kind_of, order_unread, printable, unread_entry
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_text import (
    format_functions,
    normalize_mask,
    page_full,
    parse_ap_config,
    parse_bindings,
    parse_bool,
    parse_control_domains,
    parse_driver_link,
    parse_features,
    parse_functions,
    parse_int,
    parse_matrix,
    parse_mkvps,
    parse_qci_mask,
    parse_queue_status,
    parse_uuid_name,
)

SCHEMA = 2
SUBSETS = ("bus", "cards", "queues", "mkvps", "mdevs", "definitions", "guests")
VFIO_AP_DRIVER = "vfio_ap"
MATRIX_DIR = "sys/devices/vfio_ap/matrix"
MDEV_TYPE_DIR = MATRIX_DIR + "/mdev_supported_types/vfio_ap-passthrough"
_CHUNK = 8192  # two sysfs pages: one read holds any attribute
ALL_ONES = "0x" + "f" * 64
LIBVIRT_DIRS = ("run/libvirt/qemu", "etc/libvirt/qemu")  # running guests first

# A queue's ap_functions is a live hardware query (TAPQ); the kernel (ap_functions_show in
# drivers/s390/crypto/ap_queue.c) fails the read with EIO only when TAPQ's response code is above
# 05 (BUSY): a normal, unavailable, resetting, deconfigured, check-stopped or busy queue (00-05)
# shows its word.
_TAPQ_EIO = "I/O error: the queue's hardware query (TAPQ) answered with a response code above 05"
_ERRNO_MEANING = {
    errno.EIO: "I/O error",
    errno.ENOENT: "no such file: the device went away while it was read",
    errno.ENODEV: "no such device: the device went away while it was read",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def resolve_subsets(requested):
    # type: (Iterable[str]) -> List[str]
    """Return the sorted subsets a gather_subset list selects (``all``, names, ``!name`` exclusions).

    Items are applied in order; a list holding only exclusions starts from ``all``.
    Raises ValueError listing the valid names for an unknown one.
    """
    items = [str(item).strip() for item in (requested or [])]
    if not items:
        items = ["all"]
    chosen = set()  # type: set
    if all(item.startswith("!") for item in items):
        chosen = set(SUBSETS)
    unknown = [i for i in items if i.lstrip("!") not in SUBSETS + ("all",)]
    if unknown:
        raise ValueError(
            "gather_subset: unknown subset {0!r}; valid subsets are all, {1} (prefix ! to exclude)".format(
                unknown[0], ", ".join(sorted(SUBSETS))
            )
        )
    for item in items:
        exclude = item.startswith("!")
        name = item.lstrip("!")
        names = set(SUBSETS) if name == "all" else {name}
        if exclude:
            chosen -= names
        else:
            chosen |= names
    return sorted(chosen)


class _Reader:
    """Reads files under a sysroot, collecting one warning per failure."""

    def __init__(self, sysroot):
        # type: (str) -> None
        self.sysroot = sysroot
        self.warnings = []  # type: List[str]
        self.unread = []  # type: List[Dict[str, Any]]
        self._qci = None  # type: Optional[Tuple[Optional[List[int]], Optional[List[int]]]]

    def path(self, rel):
        # type: (str) -> str
        return os.path.join(self.sysroot, rel)

    def note(self, path, code, error, warning):
        # type: (str, Optional[int], str, str) -> None
        """Record that path could not be read or used (errno code or None) and add its warning."""
        self.unread.append(unread_entry(kind_of(self.sysroot, path), path, code, error))
        self.warnings.append(printable(warning))

    def warn(self, path, exc):
        # type: (str, Any) -> None
        code = getattr(exc, "errno", None)  # type: Optional[int]
        if isinstance(exc, OSError) and code is not None:
            meaning = _ERRNO_MEANING.get(code, os.strerror(code))
            if code == errno.EIO and kind_of(self.sysroot, path) == "queue_functions":
                meaning = _TAPQ_EIO
            text = "{0} ({1})".format(errno.errorcode.get(code, str(code)), meaning)
            self.note(path, code, meaning, "could not read {0}: {1}".format(path, text))
        else:
            self.note(path, None, str(exc), "could not read {0}: {1}".format(path, exc))

    def notice(self, warning):
        # type: (str) -> None
        """Add a warning that is not a gap in the facts (a device that went away, a value computed instead)."""
        self.warnings.append(printable(warning))

    def parse_failed(self, path, message, warning=None):
        # type: (str, str, Optional[str]) -> None
        """Record that the text read from path did not parse (message says why)."""
        self.note(path, None, message, warning or "could not parse {0}: {1}".format(path, message))

    def isdir(self, path):
        # type: (str) -> bool
        """Return whether path is a directory; an error other than "does not exist" is recorded."""
        try:
            return stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                self.warn(path, exc)
            return False

    def raw(self, path):
        # type: (str) -> str
        """Return the text of path; OSError as raised."""
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, _CHUNK)
            if len(data) == _CHUNK:  # a short read is the end of a sysfs attribute or a regular file
                chunks = [data]
                while data:
                    data = os.read(fd, _CHUNK)
                    chunks.append(data)
                data = b"".join(chunks)
        finally:
            os.close(fd)
        return data.decode("utf-8", "replace")

    def text(self, path, optional=False):
        # type: (str, bool) -> Optional[str]
        """Return the text of path, or None (with a warning unless optional and absent)."""
        try:
            return self.raw(path)
        except OSError as exc:
            if not (optional and exc.errno == errno.ENOENT):
                self.warn(path, exc)
            return None

    def value(self, path, parser, optional=False):
        # type: (str, Any, bool) -> Any
        """Return parser(text of path), or None with a warning when reading or parsing fails."""
        text = self.text(path, optional)
        if text is None:
            return None
        return self.parse(path, text, parser)

    def parse(self, path, text, parser):
        # type: (str, str, Any) -> Any
        """Return parser(text) read from path, or None with a warning when it does not parse."""
        try:
            return parser(text)
        except ValueError as exc:
            self.parse_failed(path, str(exc))
            return None

    def qci_masks(self):
        # type: () -> Tuple[Optional[List[int]], Optional[List[int]]]
        """Return the LPAR's (adapters, usage domains) from the bus QCI masks, read once."""
        if self._qci is None:
            bus = self.path("sys/bus/ap")
            self._qci = (
                self.value(os.path.join(bus, "ap_adapter_mask"), parse_qci_mask),
                self.value(os.path.join(bus, "ap_usage_domain_mask"), parse_qci_mask),
            )
        return self._qci

    def listdir(self, path):
        # type: (str) -> List[Any]
        """Return the DirEntry objects of a directory ([] when it does not exist; warning on other errors)."""
        try:
            it = os.scandir(path)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                self.warn(path, exc)
            return []
        with it:
            return list(it)


def gather_facts(sysroot="/", subsets=("all",)):
    # type: (str, Iterable[str]) -> Tuple[Dict[str, Any], List[str]]
    """Return (facts, warnings): the ``vfio_ap`` facts (docs/facts.md) of the host under sysroot.

    subsets is a gather_subset list (see resolve_subsets; ValueError for an unknown name). ``queues``
    brings ``cards`` (compact queue records refer to their card); ``mkvps`` counts only with ``queues``.
    Keys of subsets not gathered keep their empty value (``[]``, or None for unknown values).
    The facts add ``gather_subset`` (the subsets gathered), ``host`` (machine-id, CPC and LPAR,
    always gathered), ``driver.migration_guard`` (the parsed migration guard entries) and
    ``complete``, ``unread`` and ``unread_count`` (what could not be read, see ``_unread``).
    A file that cannot be read is a warning and an ``unread`` record; a failure that stops the walk
    itself (a dead mount: ENOTCONN, EIO on a directory) raises HostPathError with one line naming
    the path and errno.
    """
    chosen = set(resolve_subsets(subsets))
    if "queues" not in chosen:
        chosen.discard("mkvps")  # master-key patterns are read with the queues or not at all
    if "queues" in chosen:
        chosen.add("cards")  # a compact queue record refers to its card's hardware word
    try:
        return _gather(sysroot, chosen)
    except OSError as exc:
        raise HostPathError(
            "cannot read the AP configuration under {0}: {1}: {2}".format(sysroot, exc.filename or sysroot, errno_text(exc.errno)),
            exc.errno,
        ) from None


def _gather(sysroot, chosen):
    # type: (str, set) -> Tuple[Dict[str, Any], List[str]]
    """Return gather_facts' (facts, warnings) for the resolved subsets chosen; OSError as raised."""
    reader = _Reader(sysroot)
    bus_dir = reader.path("sys/bus/ap")
    present = reader.isdir(bus_dir)
    facts = {
        "schema": SCHEMA,
        "sysroot": sysroot,
        "gather_subset": sorted(chosen),
        "host": _gather_host(reader),
        "bus": _empty_bus(present),
        "cards": [],
        "queues": [],
        "driver": {},
        "complete": True,
        "unread": [],
        "unread_count": 0,
    }  # type: Dict[str, Any]
    if present and "bus" in chosen:
        facts["bus"] = _gather_bus(reader, bus_dir)
    cards = []  # type: List[Dict[str, Any]]
    card_dirs = []  # type: List[Tuple[int, str]]
    if present and ("cards" in chosen or "queues" in chosen):
        cards, card_dirs = _gather_cards(reader)
    if "cards" in chosen:
        facts["cards"] = cards
    status_by_apqn = None  # type: Optional[Dict[str, Optional[str]]]
    if present and "queues" in chosen:
        overrides = _overrides_possible(reader, facts["bus"])
        facts["queues"] = _gather_queues(reader, cards, card_dirs, overrides, "mkvps" in chosen)
        status_by_apqn = {q["apqn"]: q.get("vfio_status") for q in facts["queues"]}
    facts["driver"] = _gather_vfio_ap(reader, chosen, status_by_apqn)
    facts["unread"], facts["unread_count"] = order_unread(reader.unread)
    facts["complete"] = not facts["unread_count"]
    return facts, reader.warnings


def _gather_host(reader):
    # type: (_Reader) -> Dict[str, Any]
    """Return the ``host`` block (machine-id, CPC and LPAR); absent files give None without a warning."""
    machine_id = reader.value(reader.path("etc/machine-id"), parse_machine_id, optional=True)
    sysinfo = reader.value(reader.path("proc/sysinfo"), parse_sysinfo, optional=True)
    cpc_name = reader.value(reader.path("sys/firmware/ocf/cpc_name"), parse_cpc_name, optional=True)
    return host_identity(machine_id, sysinfo, cpc_name)


def _empty_bus(present):
    # type: (bool) -> Dict[str, Any]
    return {
        "present": present,
        "max_adapter_id": None,
        "max_domain_id": None,
        "apmask": None,
        "aqmask": None,
        "host_adapters": [] if not present else None,
        "host_usage_domains": [] if not present else None,
        "host_control_domains": [] if not present else None,
        "vfio_adapters": [] if not present else None,
        "vfio_domains": [] if not present else None,
        "features": [] if not present else None,
        "bindings": None,
        "default_domain": None,
    }


def _gather_bus(reader, bus_dir):
    # type: (_Reader, str) -> Dict[str, Any]
    join = os.path.join
    bus = _empty_bus(True)
    bus["max_adapter_id"] = reader.value(join(bus_dir, "ap_max_adapter_id"), parse_int)
    bus["max_domain_id"] = reader.value(join(bus_dir, "ap_max_domain_id"), parse_int)
    bus["apmask"] = reader.value(join(bus_dir, "apmask"), normalize_mask)
    bus["aqmask"] = reader.value(join(bus_dir, "aqmask"), normalize_mask)
    bus["host_adapters"] = reader.value(join(bus_dir, "ap_adapter_mask"), parse_qci_mask)
    bus["host_usage_domains"] = reader.value(join(bus_dir, "ap_usage_domain_mask"), parse_qci_mask)
    bus["host_control_domains"] = reader.value(join(bus_dir, "ap_control_domain_mask"), parse_qci_mask)
    bus["vfio_adapters"] = _clear_bits(bus["apmask"], bus["max_adapter_id"])
    bus["vfio_domains"] = _clear_bits(bus["aqmask"], bus["max_domain_id"])
    bus["features"] = reader.value(join(bus_dir, "features"), parse_features)
    bus["bindings"] = reader.value(join(bus_dir, "bindings"), parse_bindings)
    domain = reader.value(join(bus_dir, "ap_domain"), parse_int)
    bus["default_domain"] = domain if domain is not None and domain >= 0 else None
    return bus


def _overrides_possible(reader, bus):
    # type: (_Reader, Dict[str, Any]) -> bool
    """Return whether queues may carry a driver_override: the kernel accepts one only while apmask
    and aqmask are all ones (and refuses mask changes while one is set), so with a cleared bit
    there is none to read. Unknown masks count as possible."""
    masks = [bus.get("apmask"), bus.get("aqmask")]
    if None in masks:
        bus_dir = reader.path("sys/bus/ap")
        masks = [reader.value(os.path.join(bus_dir, name), normalize_mask, optional=True) for name in ("apmask", "aqmask")]
    return all(m == ALL_ONES for m in masks if m is not None)


def _clear_bits(mask, maximum):
    # type: (Optional[str], Optional[int]) -> Optional[List[int]]
    """Return the IDs 0..maximum whose bit is clear in mask (reserved for vfio_ap); None if unknown."""
    if mask is None or maximum is None:
        return None
    bits = int(mask[2:], 16)
    return [i for i in range(min(maximum, 255) + 1) if not bits >> (255 - i) & 1]


def _gather_cards(reader):
    # type: (_Reader) -> Tuple[List[Dict[str, Any]], List[Tuple[int, str]]]
    join = os.path.join
    cards = []
    dirs = []
    for entry in reader.listdir(reader.path("sys/devices/ap")):
        name = entry.name
        if len(name) != 6 or not name.startswith("card"):
            continue
        try:
            card_id = int(name[4:], 16)
        except ValueError:
            continue
        path = entry.path
        if not os.path.isdir(path):
            continue
        functions = reader.value(join(path, "ap_functions"), parse_functions)
        ctype = reader.value(join(path, "type"), _strip_or_none, optional=True)
        mode = mode_of_functions(functions) if functions is not None else None
        if mode is None and ctype:
            try:
                mode = parse_card_type(ctype)[1]
            except ValueError:
                mode = None
        serial = reader.value(join(path, "serialnr"), _strip_or_none, optional=True)
        card = {
            "id": card_id,
            "name": name,
            "type": ctype,
            "hwtype": reader.value(join(path, "hwtype"), parse_int),
            "raw_hwtype": reader.value(join(path, "raw_hwtype"), parse_int),
            "mode": mode,
            "functions": format_functions(functions) if functions is not None else None,
            "capabilities": None,
            "online": reader.value(join(path, "online"), parse_bool, optional=True),
            "config": reader.value(join(path, "config"), parse_bool),
            "chkstop": reader.value(join(path, "chkstop"), parse_bool),
            "depth": reader.value(join(path, "depth"), parse_int),
            "serialnr": serial,
        }
        if functions is not None:
            card["capabilities"] = capabilities(functions, card_ap_type(card))
        cards.append(card)
        dirs.append((card_id, path))
    cards.sort(key=lambda c: c["id"])
    dirs.sort()
    return cards, dirs


def _strip_or_none(text):
    # type: (str) -> Optional[str]
    body = text.strip()
    return body or None


def _gather_queues(reader, cards, card_dirs, overrides=True, mkvps=True):
    # type: (_Reader, List[Dict[str, Any]], List[Tuple[int, str]], bool, bool) -> List[Dict[str, Any]]
    """Return the compact queue records; with mkvps false, no queue's master-key patterns are read."""
    by_id = {c["id"]: c for c in cards}
    queues = []
    read = reader.raw
    for card_id, card_path in card_dirs:
        prefix = "{0:02x}.".format(card_id)
        card = by_id.get(card_id) or {}
        hwtype = card_ap_type(card)
        master_keys = mkvps and card.get("mode") != "accel"  # accelerators have no master keys
        for entry in reader.listdir(card_path):
            name = entry.name
            if len(name) != 7 or not name.startswith(prefix):
                continue
            try:
                domain = int(name[3:], 16)
            except ValueError:
                continue
            queue = _read_queue(reader, read, entry.path, card_id, domain, hwtype, master_keys, overrides)
            if queue is not None:
                queues.append(compact_queue(queue, card.get("functions")))
    queues.sort(key=lambda q: q["apqn"])  # fixed-width lowercase hex: adapter, then domain
    return queues


def _read_queue(reader, read, qdir, adapter, domain, hwtype, master_keys, overrides=True):
    # type: (_Reader, Any, str, int, int, Optional[int], bool, bool) -> Optional[Dict[str, Any]]
    """Return one queue's full facts, or None (with a warning) when the queue went away while read.

    master_keys: whether to read its master-key patterns (each read is a request to the card).
    """
    sep = os.sep
    try:
        driver = parse_driver_link(os.readlink(qdir + sep + "driver"))
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            reader.warn(qdir + sep + "driver", exc)
            driver = None
        elif not os.path.isdir(qdir):
            reader.notice("queue {0} went away while it was read ({1})".format(format_apqn(adapter, domain), qdir))
            return None
        else:
            driver = None  # not bound to any driver
    functions = None
    path = qdir + sep + "ap_functions"
    try:
        functions = parse_functions(read(path))
    except OSError as exc:
        if exc.errno == errno.ENOENT and not os.path.isdir(qdir):
            reader.notice("queue {0} went away while it was read ({1})".format(format_apqn(adapter, domain), qdir))
            return None
        reader.warn(path, exc)
    except ValueError as exc:
        reader.parse_failed(path, str(exc))
    value = reader.value
    vfio = driver == VFIO_AP_DRIVER
    queue = {
        "apqn": format_apqn(adapter, domain),
        "adapter": adapter,
        "domain": domain,
        "driver": driver,
        "functions": format_functions(functions) if functions is not None else None,
        "capabilities": capabilities(functions, hwtype) if functions is not None else None,
        "config": value(qdir + sep + "config", parse_bool),
        "chkstop": value(qdir + sep + "chkstop", parse_bool),
        "online": None if vfio else value(qdir + sep + "online", parse_bool, optional=driver is None),
        "vfio_status": value(qdir + sep + "status", parse_queue_status) if vfio else None,
        "mkvps": value(qdir + sep + "mkvps", parse_mkvps, optional=True) if master_keys and driver and not vfio else None,
        "driver_override": value(qdir + sep + "driver_override", _strip_or_none, optional=True) if overrides else None,
    }  # type: Dict[str, Any]
    if queue["mkvps"] is not None and not any(queue["mkvps"].values()):
        queue["mkvps"] = None  # every slot '- -' (or an empty file): no master-key state known
    return queue


def _gather_vfio_ap(reader, chosen, status_by_apqn):
    # type: (_Reader, set, Optional[Dict[str, Optional[str]]]) -> Dict[str, Any]
    join = os.path.join
    matrix_dir = reader.path(MATRIX_DIR)
    loaded = reader.isdir(matrix_dir)
    vfio = {
        "loaded": loaded,
        "features": [],
        "migration": "none",
        "available_instances": None,
        "migration_guard": _read_guard(reader),
        "mdevs": [],
        "definitions": [],
    }  # type: Dict[str, Any]
    definitions = {}  # type: Dict[str, Dict[str, Any]]
    if "definitions" in chosen:
        definitions = _gather_definitions(reader)
    mdevs = []  # type: List[Dict[str, Any]]
    has_attribute = False
    if loaded:
        vfio["features"] = reader.value(join(matrix_dir, "features"), parse_features, optional=True) or []
        vfio["available_instances"] = reader.value(reader.path(MDEV_TYPE_DIR + "/available_instances"), parse_int)
        for entry in reader.listdir(matrix_dir):
            uuid = parse_uuid_name(entry.name)
            if uuid is None or not entry.is_dir():
                continue
            if os.path.exists(join(entry.path, "migratable")):
                has_attribute = True
            if "mdevs" in chosen:
                mdev = _read_mdev(reader, entry.path, uuid, status_by_apqn)
                if mdev is not None:
                    mdevs.append(mdev)
    if loaded and "migratable" in vfio["features"]:
        vfio["migration"] = "attribute" if has_attribute else "kernel"
    guests = _gather_guests(reader) if "guests" in chosen else {}
    guard = vfio["migration_guard"]
    for mdev in mdevs:
        if vfio["migration"] == "attribute":
            mdev["migratable"] = mdev.pop("_migratable_file")
        else:
            mdev.pop("_migratable_file")
            mdev["migratable"] = (not is_guarded(guard, mdev["uuid"])) if vfio["migration"] == "kernel" else None
        definition = definitions.get(mdev["uuid"])
        if "definitions" in chosen:
            mdev["defined"] = definition is not None
            mdev["start"] = definition["start"] if definition else None
        mdev["guest"] = guests.get(mdev["uuid"]) if "guests" in chosen else None
    mdevs.sort(key=lambda m: m["uuid"])
    vfio["mdevs"] = mdevs
    active = {m["uuid"] for m in mdevs}
    if loaded and "mdevs" not in chosen:
        active = {e.name.lower() for e in reader.listdir(matrix_dir) if parse_uuid_name(e.name)}
    for uuid in sorted(definitions):
        definitions[uuid]["active"] = uuid in active
    vfio["definitions"] = [definitions[u] for u in sorted(definitions)]
    return vfio


def _read_guard(reader):
    # type: (_Reader) -> Dict[str, Any]
    path = reader.path(GUARD_PATH)
    text = reader.text(path, optional=True)
    if text is None:
        return {}
    try:
        return parse_guard(text)
    except ValueError as exc:
        reader.parse_failed(path, str(exc))
        return {}


def _read_mdev(reader, path, uuid, status_by_apqn):
    # type: (_Reader, str, str, Optional[Dict[str, Optional[str]]]) -> Optional[Dict[str, Any]]
    join = os.path.join
    matrix_text = reader.text(join(path, "matrix"))
    # guest_matrix exists from v6.0 (dynamic configuration); before, the guest gets the assignment unfiltered
    guest_text = reader.text(join(path, "guest_matrix"), optional=True)
    static = guest_text is None and not os.path.exists(join(path, "guest_matrix"))
    control = reader.value(join(path, "control_domains"), parse_control_domains)
    if matrix_text is None and guest_text is None and control is None and not os.path.isdir(path):
        reader.notice("mdev {0} went away while it was read ({1})".format(uuid, path))
        return None
    matrix = None  # type: Optional[Dict[str, Any]]
    if matrix_text is not None and page_full(matrix_text):
        # The kernel cut the listing at one page: ap_config holds the same assignment as three masks.
        config = reader.value(join(path, "ap_config"), parse_ap_config, optional=True)
        if config is None:
            reader.note(
                join(path, "matrix"),
                None,
                "the listing fills a whole page and the kernel cut it; without ap_config the assignment is unknown",
                "{0}: the listing fills a whole page and the kernel cut it; without ap_config the assignment of mdev {1} is unknown".format(
                    join(path, "matrix"), uuid
                ),
            )
        else:
            matrix = _matrix_of(config[0], config[1])
    elif matrix_text is not None:
        matrix = reader.parse(join(path, "matrix"), matrix_text, parse_matrix)
    guest_matrix = None  # type: Optional[Dict[str, Any]]
    if guest_text is not None and page_full(guest_text):
        if matrix is not None:
            host_adapters, host_domains = reader.qci_masks()
            if host_adapters is not None and host_domains is not None:
                guest_matrix = {
                    "apqns": filter_guest_apqns(
                        matrix["adapters"],
                        matrix["domains"],
                        host_adapters,
                        host_domains,
                        lambda a, d: _bound_to_vfio_ap(reader, a, d, status_by_apqn),
                    )
                }
        cut = "{0}: the listing fills a whole page and the kernel cut it; guest_apqns of mdev {1} {2}".format(
            join(path, "guest_matrix"),
            uuid,
            "are computed from the assignment, the host's AP configuration and the queue drivers"
            if guest_matrix is not None
            else "are unknown",
        )
        if guest_matrix is None:
            reader.note(join(path, "guest_matrix"), None, "the listing fills a whole page and the kernel cut it", cut)
        else:
            reader.notice(cut)
    elif guest_text is not None:
        guest_matrix = reader.parse(join(path, "guest_matrix"), guest_text, parse_matrix)
    elif static and matrix is not None:
        guest_matrix = matrix
    migratable_file = reader.value(join(path, "migratable"), parse_bool, optional=True)
    in_use = None  # type: Optional[bool]
    if guest_matrix is not None:
        in_use = False
        for apqn in guest_matrix["apqns"]:
            if status_by_apqn is not None and apqn in status_by_apqn:
                status = status_by_apqn[apqn]
            else:
                adapter, domain = parse_apqn(apqn)
                status = reader.value(
                    reader.path("sys/devices/ap/card{0:02x}/{1}/status".format(adapter, apqn)), parse_queue_status, optional=True
                )
            if status == "in use":
                in_use = True
                break
    return {
        "uuid": uuid,
        "adapters": matrix["adapters"] if matrix else None,
        "domains": matrix["domains"] if matrix else None,
        "control_domains": control,
        "apqns": matrix["apqns"] if matrix else None,
        "guest_apqns": guest_matrix["apqns"] if guest_matrix else None,
        "in_use": in_use,
        "_migratable_file": migratable_file,
        "migratable": None,
        "defined": None,
        "start": None,
        "guest": None,
    }


def _matrix_of(adapters, domains):
    # type: (List[int], List[int]) -> Dict[str, Any]
    return {
        "adapters": list(adapters),
        "domains": list(domains),
        "apqns": [format_apqn(a, d) for a, d in expand_apqns(adapters, domains)],
    }


def filter_guest_apqns(adapters, domains, host_adapters, host_domains, bound):
    # type: (Iterable[int], Iterable[int], Iterable[int], Iterable[int], Any) -> List[str]
    """Return the APQNs the kernel gives a guest for an mdev's assignment (its guest_matrix), sorted.

    As vfio_ap filters the shadow APCB: adapters and domains the LPAR does not have are dropped,
    then every adapter with an APQN (adapter x remaining domain) for which bound(adapter, domain)
    is False (no queue, or not bound to vfio_ap) is dropped whole.
    """
    apm = sorted(set(adapters) & set(host_adapters))
    aqm = sorted(set(domains) & set(host_domains))
    kept = [a for a in apm if all(bound(a, d) for d in aqm)]
    return [format_apqn(a, d) for a, d in expand_apqns(kept, aqm)]


def _bound_to_vfio_ap(reader, adapter, domain, status_by_apqn):
    # type: (_Reader, int, int, Optional[Dict[str, Optional[str]]]) -> bool
    apqn = format_apqn(adapter, domain)
    if status_by_apqn is not None:
        return status_by_apqn.get(apqn) is not None  # only vfio_ap-bound queues have a status
    try:
        target = os.readlink(reader.path("sys/devices/ap/card{0:02x}/{1}/driver".format(adapter, apqn)))
    except OSError:
        return False
    return parse_driver_link(target) == VFIO_AP_DRIVER


def _gather_definitions(reader):
    # type: (_Reader) -> Dict[str, Dict[str, Any]]
    found = {}  # type: Dict[str, Dict[str, Any]]
    for entry in reader.listdir(reader.path(DEFINITION_DIR)):
        uuid = parse_uuid_name(entry.name)
        if uuid is None or not entry.is_file():
            continue
        item = {"uuid": uuid, "start": None, "adapters": None, "domains": None, "control_domains": None, "active": False}
        text = reader.text(entry.path)
        if text is not None:
            try:
                parsed = parse_definition(text, entry.path)
            except ValueError as exc:
                reader.parse_failed(entry.path, str(exc), "could not parse {0}".format(exc))
            else:
                for key in ("start", "adapters", "domains", "control_domains"):
                    item[key] = parsed[key]
        found[uuid] = item
    return found


def _gather_guests(reader):
    # type: (_Reader) -> Dict[str, str]
    documents = []
    for rel in LIBVIRT_DIRS:
        for entry in sorted(reader.listdir(reader.path(rel)), key=lambda e: e.name):
            if not entry.name.endswith(".xml") or not entry.is_file():
                continue
            text = reader.text(entry.path)
            if text is None:
                continue
            try:
                doc = parse_domain_xml(text, entry.path)
            except ValueError as exc:
                reader.parse_failed(entry.path, str(exc), "could not parse {0}".format(exc))
                continue
            doc["running"] = doc["running"] or rel.startswith("run/")
            documents.append(doc)
    return guests_by_mdev(documents)
