"""s390-tools' own lszcrypt reads the simulator's rendered hosts as a real host's sysfs.

lszcrypt (Debian's s390x build under qemu-user, tools/s390-tools.sh) runs in each host's
private mount namespace (``apsim ns-exec``: the host's sys/ bound over /sys). What it prints is
compared with the fleet file, through the kernel's rules for what a host shows:

- ``lszcrypt -b``: ``ap_domain`` is the default domain ap_select_domain() picks
  (drivers/s390/crypto/ap_bus.c: the first usage domain of the LPAR in aqmask served by an adapter of
  the LPAR in apmask with a queue answering TAPQ normally; the ``domain=`` parameter when given;
  -1 when nothing qualifies, which lszcrypt prints as ``0xffffffffffffffff``);
- ``lszcrypt -V``: one row per card and queue of the fleet, with its type, mode, hardware type
  (CEX4..CEX8 = 10..14), queue depth (+1), functions, driver (apmask x aqmask: cex4queue, else
  vfio_ap), status (zcrypt's online/chkstop/deconfig, else vfio_ap's in use/assigned/unassigned)
  and, with the APSB facility, the SE bind state;
- ``lszcrypt -s``: CCA cards answer through their queue in the default domain (zcrypt_cex4.c,
  cca_serialnr_show), EP11 cards through any host queue, 16 characters (zcrypt_ep11misc.h) of
  which lszcrypt shows the first 8; a card that cannot answer has an empty ``serialnr`` line,
  which lszcrypt shows as ``-``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from apsim.fleet import build_fleet, load_fleet
from apsim.render import render_fleet
from apsim.testing import fresh_live_fleet, sysfs_write  # noqa: F401  # pylint: disable=unused-import
from helpers.needs import require
from helpers.s390_tools import require_lszcrypt, run_lszcrypt
from helpers.hang import HANG_GUARD

ROOT = Path(__file__).resolve().parents[2]
FLEETS = {"demo": ROOT / "tests" / "fleets" / "demo.yml", "old-kernels": ROOT / "tests" / "fleets" / "old-kernels.yml"}

# Hosts whose masks leave no default domain, and one with the domain= kernel parameter.
CCA = {"id": 1, "type": "CEX8C", "domains": "0-15", "serialnr": "93AA0E01"}
EP11 = {"id": 2, "type": "CEX8P", "domains": "0-15", "serialnr": "93AA0E0200000042"}
EDGE_FLEET = {
    "hosts": {
        # every usage domain reserved for vfio_ap
        "no-domain-aqmask": {"apmask": "0-255", "aqmask": "16-255", "cards": [CCA, EP11]},
        # every adapter reserved for vfio_ap
        "no-domain-apmask": {"apmask": "3-255", "aqmask": "0-255", "cards": [CCA, EP11]},
        # the LPAR's usage domains (8-15) are all reserved for vfio_ap
        "no-domain-lpar": {"usage_domains": "8-15", "aqmask": "0-7", "cards": [{**CCA, "domains": "8-15"}, {**EP11, "domains": "8-15"}]},
        # domain=5 on the kernel command line: kept although domain 0 would qualify
        "domain-param": {"ap_domain": 5, "cards": [CCA, EP11]},
        # domain 0 is the default (the EP11 card serves it) but the CCA card's queue there is check-stopped
        "default-queue-check-stopped": {"cards": [{**CCA, "queues": {0: {"chkstop": True}}}, EP11]},
    }
}
HWTYPE = {4: 10, 5: 11, 6: 12, 7: 13, 8: 14}  # CEXn -> hwtype (lszcrypt(8))
MODE = {"A": "Accelerator", "C": "CCA-Coproc", "P": "EP11-Coproc"}
SESTAT = {0: "usable", 1: "bound", 2: "unbound", 3: "illicit"}  # bind state bits (lszcrypt -V, APSB)
FUNCTION_LETTERS = [(0x80000000, "S"), (0x40000000, "M"), (0x20000000, "C"), (0x10000000, "D"), (0x08000000, "A"),
                    (0x04000000, "X"), (0x02000000, "N"), (0x01000000, "H"), (0x00800000, "F"), (0x00400000, "R")]  # fmt: skip


def _fleet_data(name: str) -> dict:
    return EDGE_FLEET if name == "edge" else yaml.safe_load(FLEETS[name].read_text())


def _hosts(name: str):
    return build_fleet(EDGE_FLEET, "edge") if name == "edge" else load_fleet(FLEETS[name])


CASES = [(fleet, host) for fleet in ("demo", "old-kernels", "edge") for host in _fleet_data(fleet)["hosts"]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every fleet rendered once: {fleet: (hosts, directory)}."""
    out = {}
    for fleet in ("demo", "old-kernels", "edge"):
        hosts = _hosts(fleet)
        dest = tmp_path_factory.mktemp(f"lszcrypt-{fleet}")
        render_fleet(hosts, dest)
        out[fleet] = (hosts, dest)
    return out


def expected_default_domain(spec: dict, host) -> int:
    """Return the default domain the kernel picks for a fleet host (ap_select_domain()).

    Written from the fleet's values (the LPAR's adapters and usage domains, the masks, the cards'
    queues and their config/chkstop), not from the simulator's own choice.
    """
    if "ap_domain" in spec:
        return int(spec["ap_domain"])
    for dom in range(host.max_domain_id + 1):
        if dom not in host.qci_aqm or dom not in host.aqmask:
            continue
        for card_id, card in sorted(host.cards.items()):
            if card_id not in host.qci_apm or card_id not in host.apmask or dom not in card.queues:
                continue
            queue = card.queues[dom]
            if card.config and queue.config and not card.chkstop and not queue.chkstop:
                return dom
    return -1


def parse_table(text: str) -> list[dict[str, str]]:
    """Return the rows of an lszcrypt table as {header: value}, columns cut at the header's word starts."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for line in lines[2:]:  # the header, then a line of dashes
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def _driver(host, adapter: int, domain: int) -> str:
    return "cex4queue" if adapter in host.apmask and domain in host.aqmask else "vfio_ap"


def _vfio_status(host, adapter: int, domain: int) -> str:
    for mdev in host.mdevs.values():
        if adapter in mdev.apm and domain in mdev.aqm:
            return "in use" if mdev.guest else "assigned"
    return "unassigned"


def _functions(value: int) -> str:
    return "".join(letter if value & mask else "-" for mask, letter in FUNCTION_LETTERS)


def _run(lszcrypt_dir: Path, args: list[str]) -> str:
    proc = run_lszcrypt(lszcrypt_dir, args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no warning of any kind
    return proc.stdout


@pytest.mark.parametrize("fleet, name", CASES)
def test_bus_shows_the_kernels_default_domain(rendered, fleet, name):
    require_lszcrypt()
    hosts, dest = rendered[fleet]
    host, spec = hosts[name], _fleet_data(fleet)["hosts"][name]
    out = _run(dest / name, ["-b"])
    want = expected_default_domain(spec, host)
    assert f"ap_domain=0x{want & 0xFFFFFFFFFFFFFFFF:x}\n" in out, out
    assert f"ap_max_domain_id=0x{host.max_domain_id:x}\n" in out
    assert "not available" not in out
    listed = re.search(r"^features: (.*)$", out, re.M)
    features = spec.get("features") or "APSC APXA QACT RC8A"
    if any(q.bs for card in host.cards.values() for q in card.queues.values()) and "APSB" not in features:
        features += " APSB"
    assert listed and listed.group(1).split() == features.split(), out


@pytest.mark.parametrize("fleet, name", CASES)
def test_verbose_lists_the_fleets_cards_and_queues(rendered, fleet, name):
    require_lszcrypt()
    hosts, dest = rendered[fleet]
    host, spec = hosts[name], _fleet_data(fleet)["hosts"][name]
    rows = {row["CARD.DOM"]: row for row in parse_table(_run(dest / name, ["-V"]))}
    se = "APSB" in host.bus_features.split()
    want = {}
    for card_spec in spec.get("cards") or []:
        card = host.cards[int(card_spec["id"])]
        letter, gen = card_spec["type"][4], int(card_spec["type"][3])  # the cex4 driver serves CEX4-CEX8
        common = {"TYPE": card_spec["type"], "MODE": MODE[letter], "HWTYPE": str(HWTYPE[gen]),
                  "QDEPTH": f"{int(card_spec.get('depth', 8)) + 1:02d}"}  # fmt: skip
        if "functions" in card_spec:
            common["FUNCTIONS"] = _functions(int(card_spec["functions"]))
        want[f"{card.id:02x}"] = {**common, "STATUS": "online", "DRIVER": "cex4card"}
        if se:
            want[f"{card.id:02x}"]["SESTAT"] = "-"
        for dom, queue in card.queues.items():
            driver = _driver(host, card.id, dom)
            if queue.chkstop or card.chkstop:
                status = "chkstop"
            elif driver == "cex4queue":
                status = "online" if queue.online else "offline"
            else:
                status = _vfio_status(host, card.id, dom)
            row = {**common, "STATUS": status, "DRIVER": driver}
            if se:
                row["SESTAT"] = SESTAT[queue.bs]
            want[f"{card.id:02x}.{dom:04x}"] = row
    assert sorted(rows) == sorted(want)
    got = {key: {col: rows[key][col] for col in want[key]} for key in want}
    assert got == want
    assert ("SESTAT" in next(iter(rows.values()), {})) == se


@pytest.mark.parametrize("fleet, name", CASES)
def test_serial_numbers_follow_the_default_domain(rendered, fleet, name):
    require_lszcrypt()
    hosts, dest = rendered[fleet]
    host, spec = hosts[name], _fleet_data(fleet)["hosts"][name]
    rows = {row["CARD.DOM"]: row["SERIALNR"] for row in parse_table(_run(dest / name, ["-s"]))}
    dom = expected_default_domain(spec, host)
    want = {}
    for card_spec in spec.get("cards") or []:
        card = host.cards[int(card_spec["id"])]
        if card.mode == "accel":
            continue
        serial = card_spec.get("serialnr") or card.serialnr  # the fleet's, or the simulator's default

        def answers(d, q, card=card):
            return _driver(host, card.id, d) == "cex4queue" and q.config and not q.chkstop and q.online

        if card.mode == "cca":
            ok = dom >= 0 and dom in card.queues and answers(dom, card.queues[dom])
        else:
            ok = any(answers(d, q) for d, q in card.queues.items())
        want[f"{card.id:02x}"] = serial[:8] if ok else "-"  # the kernel's empty line, shown as '-'
    assert rows == want


@pytest.mark.parametrize("fleet", ["demo", "old-kernels"])
def test_every_link_resolves_inside_the_namespace(rendered, fleet):
    """Every symlink of the rendered sys/ resolves within the namespace's /sys (none is absolute)."""
    from apsim.live import ns_exec

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        require("a private mount namespace (apsim ns-exec) needs root and unshare")
    hosts, dest = rendered[fleet]
    for name in hosts:
        links = [p for p in (dest / name / "sys").rglob("*") if p.is_symlink()]
        assert links and not [p for p in links if Path(p.readlink()).is_absolute()]
        # the number of links, then any that dangle, then any that leave /sys
        script = """find /sys -type l | wc -l
find /sys -xtype l
find /sys -type l | while read -r l; do readlink -f "$l"; done | grep -v '^/sys/' || true"""
        proc = ns_exec(dest / name, ["sh", "-c", script], capture_output=True, text=True, timeout=HANG_GUARD)
        lines = proc.stdout.split()
        assert lines == [str(len(links))], (name, proc.stdout[:2000], proc.stderr)


def test_live_default_domain_is_picked_when_a_mask_write_allows_one(fresh_live_fleet):  # noqa: F811
    """On the live mount: no default domain while aqmask holds none; the scan after a mask write
    picks one (and the CCA card then answers through it); a later mask change keeps it."""
    require_lszcrypt()
    live = fresh_live_fleet({"hosts": {"h": {"aqmask": "", "cards": [CCA, EP11]}}})
    root = live.host_dir("h")

    def bus_domain() -> str:
        return re.search(r"^ap_domain=(\S+)$", _run(root, ["-b"]), re.M).group(1)

    def serials() -> dict[str, str]:
        return {row["CARD.DOM"]: row["SERIALNR"] for row in parse_table(_run(root, ["-s"]))}

    assert bus_domain() == "0xffffffffffffffff"
    assert serials() == {"01": "-", "02": "-"}
    assert sysfs_write(root / "sys/bus/ap/aqmask", "+9") == 0
    assert bus_domain() == "0x9"
    assert serials() == {"01": CCA["serialnr"], "02": EP11["serialnr"][:8]}
    assert sysfs_write(root / "sys/bus/ap/aqmask", "-9,+2") == 0
    assert bus_domain() == "0x9"  # once chosen it stays
    assert serials() == {"01": "-", "02": EP11["serialnr"][:8]}  # queue 01.0009 is vfio_ap's now
