"""Load and validate a fleet description (keys: tests/apsim/README.md) into simulated hosts.

Every mistake is reported as one ``FleetError`` line naming the host and the key.
ID sets use the collection's own ID syntax (``_ids.parse_ids``): that is the fleet file's input
language, not a kernel interface, so sharing it keeps one grammar for users.
"""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape as xml_escape
import uuid as uuidlib
from pathlib import Path
from typing import Any

import yaml

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_ids

from . import identity as ident_mod
from . import kparse
from .model import ALL_IDS, DEFAULT_FUNCTIONS, GENERATIONS, KERNELS, MIGRATION_KERNELS, MODE_BIT, Card, Host, Mdev, Queue, cmdline_params

HOST_KEYS = {
    "kernel", "migration", "max_adapter_id", "max_domain_id", "adapters", "control_domains", "usage_domains",
    "apmask", "aqmask", "vfio_ap_loaded", "ap_bus", "features", "cards", "mdevs", "definitions", "guests",
    "machine_id", "cpc", "lpar", "same_as", "ap_domain", "cmdline", "persistent_masks",
}  # fmt: skip
PERSISTENT_KEYS = {"apmask", "aqmask"}
IDENTITY_KEYS = ("machine_id", "cpc", "lpar")
CPC_KEYS = {"type", "model", "sequence", "name"}
LPAR_KEYS = {"name", "number"}
CARD_KEYS = {
    "id", "type", "functions", "raw_hwtype", "depth", "domains", "online", "config", "chkstop",
    "serialnr", "bs", "mkvps", "queues",
}  # fmt: skip
QUEUE_KEYS = {"bs", "mkvps", "online", "config", "chkstop", "eio", "tapq_rc", "tapq_async", "driver_override"}
EIO_TAPQ_RC = 6  # ``eio: true`` is a TAPQ answer above BUSY: 6 (invalid address)
MDEV_KEYS = {"uuid", "adapters", "domains", "control_domains", "guest", "migratable", "migrating", "start"}
DEF_KEYS = {"uuid", "start", "adapters", "domains", "control_domains"}
GUEST_KEYS = {"name", "mdevs", "running"}
CCA_MKVP_KEYS = {f"{r}_{s}" for r in ("aes", "apka", "asym") for s in ("new", "cur", "old")}
EP11_MKVP_KEYS = {"wk_cur", "wk_new"}
TYPE_RE = re.compile(r"^CEX([4-8])([ACP])$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# libyaml's safe loader when PyYAML has it (about 3x faster on fleet-scale files), else the pure one
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FleetError(ValueError):
    """A mistake in a fleet file: the message is one line naming the host and the key."""


class _Ctx:
    def __init__(self, source: str, host: str):
        self.source, self.host = source, host

    def fail(self, key: str, text: str) -> FleetError:
        return FleetError(f"{self.source}: host {self.host}: {key}: {text}")

    def ids(self, value: Any, key: str, allow_mask: bool = True) -> set[int]:
        try:
            return set(parse_ids(value, key, 255, allow_mask=allow_mask))
        except ValueError as exc:
            raise self.fail(key, str(exc).split(": ", 1)[-1]) from None

    def ids_max(self, value: Any, key: str, maximum: int, what: str) -> set[int]:
        found = self.ids(value, key)
        over = sorted(i for i in found if i > maximum)
        if over:
            raise self.fail(key, f"ID {over[0]} is above the host's {what} ({maximum})")
        return found

    def keys(self, value: Any, allowed: set[str], key: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise self.fail(key, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def integer(self, value: Any, key: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value), 0)
            except ValueError:
                raise self.fail(key, f"expected an integer, got {value!r}") from None
        if not low <= value <= high:
            raise self.fail(key, f"{value} is outside {low}..{high}")
        return value

    def uuid(self, value: Any, key: str) -> str:
        text = str(value).lower()
        if not UUID_RE.match(text):
            raise self.fail(key, f"{value!r} is not a canonical UUID")
        return str(uuidlib.UUID(text))


def load_fleet(path: str | Path) -> dict[str, Host]:
    """Return the hosts of a fleet file by name; FleetError (one line) for any mistake."""
    source = str(path)
    try:
        data = yaml.load(Path(path).read_text(), Loader=_LOADER)  # noqa: S506 (a safe loader)
    except OSError as exc:
        raise FleetError(f"{source}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise FleetError(f"{source}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return build_fleet(data, source)


def build_fleet(data: Any, source: str = "fleet") -> dict[str, Host]:
    """Return the hosts described by already-parsed fleet data."""
    if not isinstance(data, dict) or set(data) != {"hosts"} or not isinstance(data["hosts"], dict):
        raise FleetError(f"{source}: expected one top-level key 'hosts' mapping host names to hosts")
    hosts = {}
    identities: dict[str, ident_mod.Identity] = {}
    same_as: dict[str, str] = {}
    for name, spec in data["hosts"].items():
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", str(name)):
            raise FleetError(f"{source}: host {name!r}: not a valid host name")
        hosts[str(name)] = build_host(str(name), spec or {}, source)
        found = build_identity(_Ctx(source, str(name)), str(name), spec or {})
        if isinstance(found, str):
            same_as[str(name)] = found
        else:
            identities[str(name)] = found
    for name, other in same_as.items():
        ctx = _Ctx(source, name)
        if other not in hosts:
            raise ctx.fail("same_as", f"no host {other!r} in this fleet")
        if other in same_as:
            raise ctx.fail("same_as", f"host {other} itself has same_as; name the host that describes the LPAR")
        identities[name] = identities[other]
    for name, found in identities.items():
        hosts[name].etc_files.update(ident_mod.host_files(found))
        hosts[name].cpc_name = found.cpc_name
    return hosts


def build_identity(ctx: _Ctx, name: str, spec: Any) -> ident_mod.Identity | str:
    """Return the host's machine identity from machine_id/cpc/lpar (defaults from the name), or the
    name of the host given in ``same_as`` (resolved by build_fleet)."""
    if not isinstance(spec, dict):
        return ident_mod.default_identity(name)
    if "same_as" in spec:
        given = [k for k in IDENTITY_KEYS if k in spec]
        if given:
            raise ctx.fail(given[0], "a host with same_as takes its identity from that host; remove one of them")
        other = spec["same_as"]
        if not isinstance(other, str) or other == name:
            raise ctx.fail("same_as", f"expected the name of another host, got {other!r}")
        return other
    found = ident_mod.default_identity(name)
    changes: dict[str, Any] = {}
    if "machine_id" in spec:
        value = str(spec["machine_id"])
        if not ident_mod.MACHINE_ID_RE.match(value):
            raise ctx.fail("machine_id", f"{value!r} is not 32 lowercase hexadecimal digits")
        changes["machine_id"] = value
    if "cpc" in spec:
        cpc = ctx.keys(spec["cpc"], CPC_KEYS, "cpc")
        if "type" in cpc:
            ctype = str(cpc["type"])
            if not re.match(r"^[0-9]{4}$", ctype):
                raise ctx.fail("cpc.type", f"{ctype!r} is not a 4-digit machine type (e.g. 3931 for z16, 9175 for z17)")
            changes["cpc_type"] = ctype
            changes["cpc_model"] = ident_mod.CPC_MODELS.get(ctype, "")
        if "model" in cpc:
            model = str(cpc["model"])
            if not re.match(r"^[0-9A-Z]{1,16}$", model):
                raise ctx.fail("cpc.model", f"{model!r} is not 1-16 upper-case letters or digits")
            changes["cpc_model"] = model
        if "sequence" in cpc:
            seq = str(cpc["sequence"])
            if not ident_mod.SEQUENCE_RE.match(seq):
                raise ctx.fail("cpc.sequence", f"{seq!r} is not 1-16 upper-case letters or digits")
            changes["cpc_sequence"] = seq.rjust(16, "0")
        if "name" in cpc:
            cname = str(cpc["name"])
            if cname and not ident_mod.NAME_RE.match(cname):
                raise ctx.fail("cpc.name", f"{cname!r} is not 1-8 upper-case letters, digits, @, # or $")
            changes["cpc_name"] = cname
    if "lpar" in spec:
        lpar = ctx.keys(spec["lpar"], LPAR_KEYS, "lpar")
        if "name" in lpar:
            lname = str(lpar["name"])
            if not ident_mod.NAME_RE.match(lname):
                raise ctx.fail("lpar.name", f"{lname!r} is not 1-8 upper-case letters, digits, @, # or $")
            changes["lpar_name"] = lname
        if "number" in lpar:
            changes["lpar_number"] = ctx.integer(lpar["number"], "lpar.number", 0, 255)
    return ident_mod.with_changes(found, **changes)


def build_host(name: str, spec: Any, source: str) -> Host:
    ctx = _Ctx(source, name)
    ctx.keys(spec, HOST_KEYS, "host")
    kernel = spec.get("kernel", KERNELS[0])
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ctx.fail("kernel", f"{kernel!r} is not one of {', '.join(KERNELS)}")
    migration = spec.get("migration", "kernel" if kernel in MIGRATION_KERNELS else "none")
    if migration not in ("none", "attribute", "kernel"):
        raise ctx.fail("migration", f"{migration!r} is not one of none, attribute, kernel")
    if migration != "none" and kernel not in MIGRATION_KERNELS:
        raise ctx.fail("migration", f"the vfio_ap migration series applies to kernel {MIGRATION_KERNELS[-1]} and later, not {kernel}")
    host = Host(name=name, migration=migration, kernel=kernel)
    host.max_adapter_id = ctx.integer(spec.get("max_adapter_id", 255), "max_adapter_id", 0, 255)
    host.max_domain_id = ctx.integer(spec.get("max_domain_id", 84), "max_domain_id", 0, 255)
    host.bus_present = ctx.boolean(spec.get("ap_bus", True), "ap_bus")
    host.vfio_ap_loaded = ctx.boolean(spec.get("vfio_ap_loaded", host.bus_present), "vfio_ap_loaded")
    if host.vfio_ap_loaded and not host.bus_present:
        raise ctx.fail("vfio_ap_loaded", "vfio_ap cannot be loaded on a host without the AP bus")
    if "features" in spec:
        feats = str(spec["features"]).split()
        bad = [f for f in feats if f not in ("APSC", "APXA", "QACT", "RC8A", "APSB")]
        if bad:
            raise ctx.fail("features", f"unknown AP bus feature {bad[0]!r}")
        host.bus_features = " ".join(feats)
    host.boot_vfio_ap = host.vfio_ap_loaded
    # the live masks default to what the last boot left: the command line's, then the persistent rule's
    host.apmask, host.aqmask = boot_settings(ctx, host, spec)
    if "apmask" in spec:
        host.apmask = ctx.ids(spec["apmask"], "apmask")
    if "aqmask" in spec:
        host.aqmask = ctx.ids(spec["aqmask"], "aqmask")

    cards = spec.get("cards") or []
    if not isinstance(cards, list):
        raise ctx.fail("cards", "expected a list of cards")
    for index, card_spec in enumerate(cards):
        card = build_card(ctx, host, card_spec, f"cards[{index}]")
        if card.id in host.cards:
            raise ctx.fail(f"cards[{index}].id", f"card {card.id} is listed twice")
        host.cards[card.id] = card
    if host.cards and not host.bus_present:
        raise ctx.fail("cards", "a host without the AP bus has no cards")

    card_domains = set().union(*(set(c.queues) for c in host.cards.values())) if host.cards else set()
    host.qci_apm = (
        ctx.ids_max(spec["adapters"], "adapters", host.max_adapter_id, "max_adapter_id") if "adapters" in spec else set(host.cards)
    )
    host.qci_aqm = (
        ctx.ids_max(spec["usage_domains"], "usage_domains", host.max_domain_id, "max_domain_id")
        if "usage_domains" in spec
        else card_domains
    )
    host.qci_adm = (
        ctx.ids_max(spec["control_domains"], "control_domains", host.max_domain_id, "max_domain_id")
        if "control_domains" in spec
        else set(host.qci_aqm)
    )
    check_bus_extras(ctx, host, spec)
    missing = sorted(set(host.cards) - host.qci_apm)
    if missing:
        raise ctx.fail("adapters", f"card {missing[0]} is not in the host's adapter mask")
    for card in host.cards.values():
        outside = sorted(set(card.queues) - host.qci_aqm)
        if outside:
            raise ctx.fail("usage_domains", f"card {card.id} has domain {outside[0]}, which is not a usage domain of the host")

    guests_by_mdev: dict[str, str] = {}
    mdevs = spec.get("mdevs") or []
    if not isinstance(mdevs, list):
        raise ctx.fail("mdevs", "expected a list of mdevs")
    definitions: list[dict[str, Any]] = []
    for index, mspec in enumerate(mdevs):
        key = f"mdevs[{index}]"
        ctx.keys(mspec, MDEV_KEYS, key)
        if "uuid" not in mspec:
            raise ctx.fail(f"{key}.uuid", "missing")
        mdev = Mdev(uuid=ctx.uuid(mspec["uuid"], f"{key}.uuid"))
        if mdev.uuid in host.mdevs:
            raise ctx.fail(f"{key}.uuid", f"mdev {mdev.uuid} is listed twice")
        mdev.apm = ctx.ids_max(mspec.get("adapters"), f"{key}.adapters", host.max_adapter_id, "max_adapter_id")
        mdev.aqm = ctx.ids_max(mspec.get("domains"), f"{key}.domains", host.max_domain_id, "max_domain_id")
        mdev.adm = ctx.ids_max(mspec.get("control_domains"), f"{key}.control_domains", host.max_domain_id, "max_domain_id")
        if "migratable" in mspec:
            if migration != "attribute":
                raise ctx.fail(f"{key}.migratable", "only hosts with migration: attribute have a per-mdev migratable file")
            mdev.migratable = ctx.integer(mspec["migratable"], f"{key}.migratable", 0, 1)
        mdev.migrating = ctx.boolean(mspec.get("migrating", False), f"{key}.migrating")
        if mspec.get("guest") is not None:
            mdev.guest = str(mspec["guest"])
            if not _DOMAIN_NAME.match(mdev.guest) or mdev.guest in (".", "..") or len(mdev.guest.encode("utf-8", "replace")) > 251:
                raise ctx.fail(f"{key}.guest", f"{mdev.guest!r} is not a valid libvirt domain name")
            if mdev.guest in guests_by_mdev.values():
                raise ctx.fail(f"{key}.guest", f"guest {mdev.guest} already has an mdev on this host")
            guests_by_mdev[mdev.uuid] = mdev.guest
        for a in sorted(mdev.apm):
            for d in sorted(mdev.aqm):
                if host.host_owned(a, d):
                    raise ctx.fail(
                        f"{key}.adapters",
                        f"APQN {a:02x}.{d:04x} is owned by the host drivers (apmask/aqmask bits set), so vfio_ap cannot hold it",
                    )
                other = host.mdev_of(a, d)
                if other:
                    raise ctx.fail(f"{key}.domains", f"APQN {a:02x}.{d:04x} is already assigned to mdev {other.uuid}")
        host.mdevs[mdev.uuid] = mdev
        if "start" in mspec:
            definitions.append({"uuid": mdev.uuid, "start": mspec["start"], "adapters": mdev.apm,
                                "domains": mdev.aqm, "control_domains": mdev.adm, "key": f"{key}.start"})  # fmt: skip

    defs = spec.get("definitions") or []
    if not isinstance(defs, list):
        raise ctx.fail("definitions", "expected a list of mdevctl definitions")
    for index, dspec in enumerate(defs):
        key = f"definitions[{index}]"
        ctx.keys(dspec, DEF_KEYS, key)
        if "uuid" not in dspec:
            raise ctx.fail(f"{key}.uuid", "missing")
        definitions.append({
            "uuid": ctx.uuid(dspec["uuid"], f"{key}.uuid"),
            "start": dspec.get("start", "manual"),
            "adapters": ctx.ids_max(dspec.get("adapters"), f"{key}.adapters", host.max_adapter_id, "max_adapter_id"),
            "domains": ctx.ids_max(dspec.get("domains"), f"{key}.domains", host.max_domain_id, "max_domain_id"),
            "control_domains": ctx.ids_max(dspec.get("control_domains"), f"{key}.control_domains", host.max_domain_id, "max_domain_id"),
            "key": f"{key}.start",
        })  # fmt: skip
    seen = set()
    for d in definitions:
        if d["start"] not in ("auto", "manual"):
            raise ctx.fail(d["key"], f"{d['start']!r} is not auto or manual")
        if d["uuid"] in seen:
            raise ctx.fail(d["key"].rsplit(".", 1)[0] + ".uuid", f"mdev {d['uuid']} is defined twice")
        seen.add(d["uuid"])
        host.etc_files[f"etc/mdevctl.d/matrix/{d['uuid']}"] = mdevctl_json(d)

    guests = spec.get("guests") or []
    if not isinstance(guests, list):
        raise ctx.fail("guests", "expected a list of libvirt guests")
    for index, gspec in enumerate(guests):
        key = f"guests[{index}]"
        ctx.keys(gspec, GUEST_KEYS, key)
        gname = str(gspec.get("name", ""))
        if not gname:
            raise ctx.fail(f"{key}.name", "missing")
        listed = gspec.get("mdevs") or []
        if not isinstance(listed, list):
            raise ctx.fail(f"{key}.mdevs", "expected a list of mdev UUIDs")
        uuids = [ctx.uuid(u, f"{key}.mdevs") for u in listed]
        running = ctx.boolean(gspec.get("running", False), f"{key}.running")
        if running:
            raise ctx.fail(f"{key}.running", "a running guest is described by the mdev's 'guest' key")
        host.etc_files[f"etc/libvirt/qemu/{gname}.xml"] = domain_xml(gname, uuids)
    for uuid, gname in guests_by_mdev.items():
        host.etc_files[f"etc/libvirt/qemu/{gname}.xml"] = domain_xml(gname, [uuid])
        host.etc_files[f"run/libvirt/qemu/{gname}.xml"] = domain_status_xml(gname, [uuid])
    if "ap_domain" in spec:
        dom = ctx.integer(spec["ap_domain"], "ap_domain", 0, host.max_domain_id)
        if dom not in host.aqmask:
            raise ctx.fail("ap_domain", f"domain {dom} is not in aqmask (the kernel accepts only such a default domain)")
        host.ap_domain = dom
        host.cmdline = f"{host.cmdline} ap.domain={dom}".strip()  # the kernel parameter it stands for
        host.etc_files["proc/cmdline"] = host.cmdline + "\n"
    host.select_domain()
    return host


def boot_settings(ctx: _Ctx, host: Host, spec: dict) -> tuple[set[int], set[int]]:
    """Check ``cmdline`` and ``persistent_masks``, write ``proc/cmdline`` and ``41-ap.rules``; return the
    (apmask, aqmask) a boot of the host ends with: the command line's masks, then the rule's."""
    cmdline = spec.get("cmdline", "")
    if not isinstance(cmdline, str) or "\n" in cmdline:
        raise ctx.fail("cmdline", f"expected the kernel command line as one string, got {cmdline!r}")
    host.cmdline = cmdline
    params = cmdline_params(cmdline)
    for name in ("ap.apmask", "ap.aqmask"):
        if name in params:
            try:
                kparse.parse_mask_write(params[name], set())
            except OSError:
                raise ctx.fail(
                    "cmdline", f"{name}={params[name]} is not a mask the kernel accepts (0x + hex digits, or +N/-N terms)"
                ) from None
    if "ap.domain" in params:
        if "ap_domain" in spec:
            raise ctx.fail("cmdline", "ap.domain= and the ap_domain key both set the default domain; give one")
        try:
            kparse.kstrtoint_base0(params["ap.domain"])
        except OSError:
            raise ctx.fail("cmdline", f"ap.domain={params['ap.domain']} is not a number") from None
    host.etc_files["proc/cmdline"] = cmdline + "\n"
    apmask, aqmask = host.boot_masks()
    if "persistent_masks" in spec:
        persistent = ctx.keys(spec["persistent_masks"], PERSISTENT_KEYS, "persistent_masks")
        if not persistent:
            raise ctx.fail("persistent_masks", "name apmask, aqmask or both (a rule that sets neither is no rule)")
        found = {name: ctx.ids(value, f"persistent_masks.{name}") for name, value in persistent.items()}
        host.etc_files[RULES_FILE] = chzdev_rules(found.get("apmask"), found.get("aqmask"))
        apmask, aqmask = found.get("apmask", apmask), found.get("aqmask", aqmask)
    return set(apmask), set(aqmask)


RULES_FILE = "etc/udev/rules.d/41-ap.rules"


def chzdev_rules(apmask: set[int] | None, aqmask: set[int] | None) -> str:
    """Return a 41-ap.rules in the layout ``chzdev --type ap --persistent`` writes (s390-tools zdev/src/ap.c).

    A mask that is None is not set by the rule (chzdev leaves out a mask without a persistent setting).
    """

    def text(ids: set[int]) -> str:
        return f"0x{sum(1 << (255 - i) for i in ids):064x}"

    lines = [
        "# Generated by chzdev",
        'ACTION=="add", SUBSYSTEM=="ap", DEVPATH=="/bus/ap", ATTR{bindings_complete_count}!="0", GOTO="cfg_ap"',
        'ACTION=="change", SUBSYSTEM=="ap", DEVPATH=="/devices/ap", ENV{BINDINGS}=="complete", ENV{COMPLETECOUNT}=="1", GOTO="cfg_ap"',
        'GOTO="end_ap"',
        "",
        'LABEL="cfg_ap"',
        "",
    ]
    if apmask is not None:
        lines.append(f'ATTR{{../../bus/ap/apmask}}="{text(apmask)}"')
    if aqmask is not None:
        lines.append(f'ATTR{{../../bus/ap/aqmask}}="{text(aqmask)}"')
    lines += ['RUN{builtin}+="kmod load vfio_ap"', "", 'LABEL="end_ap"']
    return "\n".join(lines) + "\n"


def check_bus_extras(ctx: _Ctx, host: Host, spec: dict) -> None:
    """Check what the cards ask of the bus: SE bind states need the APSB facility (added to the
    default features, an error against explicit ``features``); a driver_override needs kernel v6.19
    and apmask/aqmask all ones."""
    bound = [(c, d) for c in host.cards.values() for d, q in sorted(c.queues.items()) if q.bs]
    if bound and "APSB" not in host.bus_features.split():
        if "features" in spec:
            card, dom = bound[0]
            raise ctx.fail(
                _queue_key(spec, card.id, dom, "bs"),
                "a Secure Execution bind state needs the APSB bus facility; add APSB to the host's features",
            )
        host.bus_features += " APSB"
    for card in host.cards.values():
        for dom, q in sorted(card.queues.items()):
            if not q.driver_override:
                continue
            key = _queue_key(spec, card.id, dom, "driver_override")
            if not host.has_driver_override:
                raise ctx.fail(key, f"queues have driver_override from kernel v6.19, this host runs {host.kernel}")
            if host.apmask != ALL_IDS or host.aqmask != ALL_IDS:
                raise ctx.fail(key, "the kernel accepts a driver_override only while apmask and aqmask are all ones")


def _queue_key(spec: dict, card_id: int, dom: int, leaf: str) -> str:
    """Return the fleet key of a card's queue setting (or of the card's own setting)."""
    for index, cspec in enumerate(spec.get("cards") or []):
        if isinstance(cspec, dict) and cspec.get("id") is not None and int(str(cspec["id"]), 0) == card_id:
            for qkey in cspec.get("queues") or {}:
                if dom in parse_ids(qkey, "queues", 255, allow_mask=False):
                    return f"cards[{index}].queues.{qkey}.{leaf}"
            return f"cards[{index}].{leaf}"
    return leaf


def build_card(ctx: _Ctx, host: Host, spec: Any, key: str) -> Card:
    ctx.keys(spec, CARD_KEYS, key)
    if "id" not in spec:
        raise ctx.fail(f"{key}.id", "missing")
    ids = ctx.ids(spec["id"], f"{key}.id", allow_mask=False)
    if len(ids) != 1:
        raise ctx.fail(f"{key}.id", "a card has exactly one adapter ID")
    card_id = ids.pop()
    if card_id > host.max_adapter_id:
        raise ctx.fail(f"{key}.id", f"ID {card_id} is above the host's max_adapter_id ({host.max_adapter_id})")
    ctype = str(spec.get("type", ""))
    match = TYPE_RE.match(ctype)
    if not match:
        raise ctx.fail(f"{key}.type", f"{ctype!r} is not a card type CEX4..CEX8 with mode letter A, C or P")
    mode = {"A": "accel", "C": "cca", "P": "ep11"}[match.group(2)]
    functions = DEFAULT_FUNCTIONS[mode]
    if "functions" in spec:
        functions = ctx.integer(spec["functions"], f"{key}.functions", 0, 0xFFFFFFFF) & 0xFFFF0000
        modes = [m for m, bit in MODE_BIT.items() if functions & bit]
        if mode not in modes:  # further mode bits may be set: the kernel compares each bit
            raise ctx.fail(f"{key}.functions", f"mode bits say {modes or 'none'}, the type says {mode}")
    raw = ctx.integer(spec.get("raw_hwtype", GENERATIONS[int(match.group(1))]), f"{key}.raw_hwtype", 10, 255)
    domains = ctx.ids_max(spec.get("domains"), f"{key}.domains", host.max_domain_id, "max_domain_id")
    bs = ctx.integer(spec.get("bs", 0), f"{key}.bs", 0, 3)
    mkvps = check_mkvps(ctx, mode, spec.get("mkvps"), f"{key}.mkvps")
    card = Card(
        id=card_id,
        type=ctype,
        functions=functions,
        raw_hwtype=raw,
        queues={d: Queue(bs=bs, mkvps=mkvps) for d in sorted(domains)},
        online=ctx.boolean(spec.get("online", True), f"{key}.online"),
        config=ctx.boolean(spec.get("config", True), f"{key}.config"),
        chkstop=ctx.boolean(spec.get("chkstop", False), f"{key}.chkstop"),
        serialnr=check_serial(ctx, mode, card_id, spec.get("serialnr"), f"{key}.serialnr"),
        depth=ctx.integer(spec.get("depth", 8), f"{key}.depth", 0, 15),
    )
    queues = spec.get("queues") or {}
    if not isinstance(queues, dict):
        raise ctx.fail(f"{key}.queues", f"expected a mapping of domain IDs to queue settings, got {type(queues).__name__}")
    for dom_key, qspec in queues.items():
        qkey = f"{key}.queues.{dom_key}"
        dom_ids = ctx.ids(dom_key, qkey, allow_mask=False)
        ctx.keys(qspec, QUEUE_KEYS, qkey)
        for dom in dom_ids:
            if dom not in card.queues:
                raise ctx.fail(qkey, f"domain {dom} is not in the card's domains")
            q = card.queues[dom]
            q.bs = ctx.integer(qspec.get("bs", q.bs), f"{qkey}.bs", 0, 3)
            if "mkvps" in qspec:
                q.mkvps = check_mkvps(ctx, mode, qspec["mkvps"], f"{qkey}.mkvps")
            q.online = ctx.boolean(qspec.get("online", q.online), f"{qkey}.online")
            q.config = ctx.boolean(qspec.get("config", q.config), f"{qkey}.config")
            q.chkstop = ctx.boolean(qspec.get("chkstop", q.chkstop), f"{qkey}.chkstop")
            if "eio" in qspec and "tapq_rc" in qspec:
                raise ctx.fail(f"{qkey}.eio", "give either eio or tapq_rc (eio: true is tapq_rc 6)")
            if ctx.boolean(qspec.get("eio", False), f"{qkey}.eio"):
                q.tapq_rc = EIO_TAPQ_RC
            if "tapq_rc" in qspec:
                q.tapq_rc = ctx.integer(qspec["tapq_rc"], f"{qkey}.tapq_rc", 0, 255)
            q.tapq_async = ctx.boolean(qspec.get("tapq_async", q.tapq_async), f"{qkey}.tapq_async")
            if "driver_override" in qspec:
                name = qspec["driver_override"]
                if not isinstance(name, str) or not re.match(r"^[a-z0-9_]{1,64}$", name):
                    raise ctx.fail(f"{qkey}.driver_override", f"{name!r} is not a driver name")
                q.driver_override = name
    if not card.online:
        for q in card.queues.values():
            q.online = False
    return card


def check_serial(ctx: _Ctx, mode: str, card_id: int, value: Any, key: str) -> str:
    """Return a card's serial number, derived from the card ID by default. Accelerators have none.

    The firmware answers with a fixed-width field and the kernel passes it on as it is: a CCA card's
    8 characters (the STATICSA query in zcrypt_ccamisc.c copies 8 bytes), an EP11 card's 16 ASCII
    characters without a NUL (ep11_card_info.serial in zcrypt_ep11misc.h)."""
    if mode == "accel":
        if value is not None:
            raise ctx.fail(key, "accelerator cards have no serial number")
        return ""
    width = 8 if mode == "cca" else 16
    if value is None:
        return f"93AA{card_id:04X}" if mode == "cca" else f"93AA{card_id:04X}00000000"
    text = str(value)
    if not re.match(r"^[0-9A-Z]{%d}$" % width, text):
        raise ctx.fail(key, f"{text!r} is not {width} upper-case letters or digits (a {mode.upper()} card's serial number)")
    return text


def check_mkvps(ctx: _Ctx, mode: str, value: Any, key: str) -> dict[str, Any] | None:
    """Return mkvps as {slot: {state, mkvp}}; a bare hex string means the slot's usual good state."""
    if value is None:
        return None
    allowed = CCA_MKVP_KEYS if mode == "cca" else EP11_MKVP_KEYS if mode == "ep11" else set()
    if not allowed:
        raise ctx.fail(key, "accelerator cards have no master keys")
    ctx.keys(value, allowed, key)
    out = {}
    for slot, entry in value.items():
        width = 64 if slot.startswith("wk") else 32 if slot.startswith("asym") else 16
        if isinstance(entry, str):
            state = "full" if slot.endswith("new") and mode == "cca" else "committed" if slot == "wk_new" else "valid"
            entry = {"state": state, "mkvp": entry}
        if not isinstance(entry, dict) or set(entry) - {"state", "mkvp"}:
            raise ctx.fail(f"{key}.{slot}", "expected a 0x hex string or {state, mkvp}")
        mkvp = entry.get("mkvp")
        if mkvp is not None and not re.match(r"^0x[0-9a-f]{%d}$" % width, str(mkvp)):
            raise ctx.fail(f"{key}.{slot}", f"{mkvp!r} is not 0x followed by {width} lowercase hex digits")
        out[slot] = {"state": str(entry.get("state", "valid")), "mkvp": mkvp}
    return out


def mdevctl_json(definition: dict[str, Any]) -> str:
    """Return an mdevctl definition file for a vfio_ap mdev (attrs with decimal values)."""
    attrs = [{"assign_adapter": str(a)} for a in sorted(definition["adapters"])]
    attrs += [{"assign_domain": str(d)} for d in sorted(definition["domains"])]
    attrs += [{"assign_control_domain": str(d)} for d in sorted(definition["control_domains"])]
    doc = {"mdev_type": "vfio_ap-passthrough", "start": definition["start"], "attrs": attrs}
    return json.dumps(doc, indent=2) + "\n"


# libvirt refuses a domain name that is empty, holds '/' or a newline; a host keeps it as <name>.xml.
_DOMAIN_NAME = re.compile(r"^[^/\n\x00]+$")


def _domain_body(name: str, uuids: list[str], indent: str, domid: str = "") -> str:
    dom_uuid = uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)
    hostdevs = "".join(
        f"{indent}    <hostdev mode='subsystem' type='mdev' managed='no' model='vfio-ap'>\n"
        f"{indent}      <source>\n{indent}        <address uuid='{u}'/>\n{indent}      </source>\n"
        f"{indent}    </hostdev>\n"
        for u in uuids
    )
    return (
        f"{indent}<domain type='kvm'{domid}>\n{indent}  <name>{xml_escape(name)}</name>\n{indent}  <uuid>{dom_uuid}</uuid>\n"
        f"{indent}  <memory unit='KiB'>4194304</memory>\n{indent}  <vcpu placement='static'>2</vcpu>\n"
        f"{indent}  <os>\n{indent}    <type arch='s390x' machine='s390-ccw-virtio'>hvm</type>\n{indent}  </os>\n"
        f"{indent}  <devices>\n{indent}    <emulator>/usr/bin/qemu-system-s390x</emulator>\n{hostdevs}"
        f"{indent}  </devices>\n{indent}</domain>\n"
    )


def domain_xml(name: str, uuids: list[str]) -> str:
    """Return a persistent libvirt domain definition using the vfio-ap mdevs."""
    return _domain_body(name, uuids, "")


def domain_status_xml(name: str, uuids: list[str]) -> str:
    """Return libvirt's status XML of a running domain using the vfio-ap mdevs."""
    return "<domstatus state='running' reason='booted' pid='4242'>\n" + _domain_body(name, uuids, "  ", " id='1'") + "</domstatus>\n"
