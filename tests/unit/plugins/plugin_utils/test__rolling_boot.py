"""A host's AP configuration across a reboot (_rolling_boot): the prediction against the simulator's boot.

Each case builds one simulated host from a small fleet dict, gathers its facts as ap_facts does,
takes the snapshot the rolling run takes before a reboot, reboots the host with the simulator
(``apsim.boot.reboot``: written from the kernel's, udev's and mdevctl's documented behaviour,
independently of the collection) and gathers again. The collection's prediction of what comes
back must be what the simulator's boot left: ``verify`` finds no difference, and the snapshot's
findings say, before the reboot, what would not come back as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from apsim.boot import reboot
from apsim.fleet import build_fleet
from apsim.render import _render_dir, render_host
from apsim.view import HostView

from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _rolling_boot as B

U1 = "82000000-0000-4000-8000-000000000001"
U2 = "82000000-0000-4000-8000-000000000002"
U3 = "82000000-0000-4000-8000-000000000003"
CARDS = [{"id": 1, "type": "CEX8C", "domains": "0-15"}, {"id": 2, "type": "CEX8P", "domains": "0-15"}]
RULES = "etc/udev/rules.d/41-ap.rules"
KEPT = {"aqmask": "0-7,16-255"}  # domains 8-15 reserved for vfio_ap, persistently


def host(**spec: Any) -> dict[str, Any]:
    return {"hosts": {"h": {"cards": CARDS, **spec}}}


def mdev(uuid: str, domains: Any = (9,), guest: str | None = None, start: str | None = "auto", adapters: Any = (1,)) -> dict[str, Any]:
    item: dict[str, Any] = {"uuid": uuid, "adapters": list(adapters), "domains": list(domains), "control_domains": list(domains)}
    if guest:
        item["guest"] = guest
    if start:
        item["start"] = start
    return item


class Booted:
    """One simulated host rendered under a directory: its facts before, the snapshot, and its facts after a reboot."""

    def __init__(self, fleet: dict[str, Any], root: Path, files: dict[str, str] | None = None, needed: tuple[str, ...] = ()):
        self.host = build_fleet(fleet)["h"]
        self.root = root
        render_host(self.host, root)
        for rel, text in (files or {}).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        self.before = self.gather()
        rules = root / RULES
        cmdline = root / "proc/cmdline"
        others = [str(p.relative_to(root)) for p in (root / "etc/udev/rules.d").glob("*.rules") if p.name != "41-ap.rules"
                  and ("apmask" in p.read_text() or "aqmask" in p.read_text())]  # fmt: skip
        self.snapshot = B.snapshot(
            self.before,
            rules.read_text() if rules.exists() else None,
            cmdline.read_text() if cmdline.exists() else None,
            others,
            needed,
            "h",
        )
        self.record = reboot(self.host, root)
        self.after = self.gather()

    def gather(self) -> dict[str, Any]:
        shutil.rmtree(self.root / "sys", ignore_errors=True)
        _render_dir(HostView(self.host).root(), str(self.root / "sys"))
        facts, _warnings = gather_facts(str(self.root), ["all"])
        return facts


def codes(findings: list[dict[str, Any]], blocking: bool | None = None) -> list[tuple[str, str | None]]:
    return sorted((f["code"], f.get("uuid") or f.get("mask")) for f in findings if blocking is None or f["blocking"] is blocking)


# (case, fleet, extra files, needed, blocking findings, other findings)
CASES = [
    (
        "persistent reservation, a guest on an auto-start mdev: everything comes back",
        host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, mdevs=[mdev(U1, guest="g1")]),
        {},
        (),
        [],
        [],
    ),
    (
        "a reservation made only live is lost at the boot, and with it the guest's mdev",
        host(aqmask="0-7,16-255", mdevs=[mdev(U1, guest="g1")]),
        {},
        (),
        [("masks_not_persistent", "aqmask"), ("mdev_fails", U1)],
        [],
    ),
    (
        "a guest's mdev without a definition does not come back; an idle one is only noted",
        host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, mdevs=[mdev(U1, guest="g1", start=None), mdev(U2, (10,), start=None)]),
        {},
        (),
        [("mdev_not_defined", U1)],
        [("mdev_not_defined", U2)],
    ),
    (
        "an idle mdev a guest comes back to is needed",
        host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, mdevs=[mdev(U2, (10,), start="manual")]),
        {},
        (U2,),
        [("mdev_manual", U2)],
        [],
    ),
    (
        "a guest's mdev that differs from its definition comes back as defined",
        host(
            aqmask=KEPT["aqmask"],
            persistent_masks=KEPT,
            mdevs=[mdev(U1, guest="g1", start=None)],
            definitions=[{"uuid": U1, "start": "auto", "adapters": [1], "domains": [9, 10]}],
        ),
        {},
        (),
        [("mdev_drift", U1)],
        [],
    ),  # fmt: skip
    (
        "an auto-start definition that is not active starts at the boot (noted, expected after it)",
        host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, definitions=[{"uuid": U3, "start": "auto", "adapters": [2], "domains": [11]}]),
        {},
        (),
        [],
        [("starts_at_boot", U3)],
    ),
    (
        "two auto-start definitions sharing an APQN: the second in name order is refused at the boot",
        host(
            aqmask=KEPT["aqmask"],
            persistent_masks=KEPT,
            mdevs=[mdev(U2, guest="g2")],
            definitions=[{"uuid": U1, "start": "auto", "adapters": [1], "domains": [9, 10]}],
        ),
        {},
        (),
        [("mdev_fails", U2)],
        [("starts_at_boot", U1)],
    ),  # fmt: skip
    (
        "the masks of the kernel command line (absolute and relative) are the boot masks",
        host(
            cmdline="root=/dev/dasda1 ap.aqmask=0xff00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff ap.apmask=+0-255",
            aqmask="0-7,16-255",
            definitions=[{"uuid": U1, "start": "auto", "adapters": [1], "domains": [9]}],
        ),
        {},
        (),
        [],
        [("starts_at_boot", U1)],
    ),  # fmt: skip
    (
        "the persistent rule wins over the command line",
        host(cmdline="ap.aqmask=0xf", persistent_masks=KEPT, aqmask=KEPT["aqmask"]),
        {},
        (),
        [],
        [],
    ),
    (
        "a definition mdevctl cannot read: nothing starts at the boot",
        host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, mdevs=[mdev(U1, guest="g1")]),
        {"etc/mdevctl.d/matrix/" + U2: "{not json"},
        (),
        [("definitions_unreadable", None), ("mdev_not_defined", U1)],
        [],
    ),
]


@pytest.mark.parametrize(("name", "fleet", "files", "needed", "blocking", "other"), CASES, ids=[c[0] for c in CASES])
def test_the_prediction_is_what_the_boot_does(tmp_path, name, fleet, files, needed, blocking, other):
    booted = Booted(fleet, tmp_path / "h", files, needed)
    snap = booted.snapshot
    found = codes(snap["findings"], True)
    if ("definitions_unreadable", None) in blocking:
        # the facts say a definition could not be read: nothing about the host is known for sure, before or after
        assert ("not_audited", None) in found and ("definitions_unreadable", None) in found
        assert not booted.after["driver"]["mdevs"], booted.record  # mdevctl started nothing
        result = B.verify(snap, booted.after, "h")
        assert not result["verified"] and [d["code"] for d in result["differences"]] == ["not_audited"]
        return
    else:
        assert found == sorted(blocking), snap["findings"]
        assert codes(snap["findings"], False) == sorted(other), snap["findings"]
    assert snap["blocking"] == [f for f in snap["findings"] if f["blocking"]]
    # the collection's prediction is what the simulator's boot left
    result = B.verify(snap, booted.after, "h")
    assert result["verified"], (result["differences"], booted.record)
    assert result["repairs"] == {"ap_mask": [], "mdev": []}
    started = {m["uuid"] for m in booted.after["driver"]["mdevs"]}
    assert started == set(snap["boot"]["mdevs"]), booted.record
    assert result["lost"] == snap["findings"]


def test_what_the_boot_did_not_restore_is_repaired(tmp_path):
    """A boot that left the reservation out and an auto-start mdev down (udev or mdevctl failed): verify says what to set again."""
    fleet = host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, mdevs=[mdev(U1, guest="g1"), mdev(U2, (10,), guest="g2")])
    booted = Booted(fleet, tmp_path / "h")
    with booted.host.lock:
        booted.host.mdevs.pop(U2)
        booted.host.write_mask("aqmask", "+8")
    result = B.verify(booted.snapshot, booted.gather(), "h")
    assert not result["verified"]
    assert [d["code"] for d in result["differences"]] == ["masks", "mdev_missing"]
    assert result["repairs"] == {
        "ap_mask": [{"domains": [8], "state": "reserved"}],
        "mdev": [{"uuid": U2, "adapters": [1], "domains": [10], "control_domains": [10]}],
    }


def test_changed_definitions_guard_and_unknown_masks_are_differences(tmp_path):
    guard = {"schema": 1, "mdevs": {U1: {"migratable": False, "reason": "CHG1", "guest": "g1", "changed": "2026-01-01T00:00:00Z"}}}
    fleet = host(aqmask=KEPT["aqmask"], persistent_masks=KEPT, mdevs=[mdev(U1, guest="g1")])
    booted = Booted(fleet, tmp_path / "h", {"etc/vfio_ap/migration-guard.json": json.dumps(guard)})
    (booted.root / "etc/vfio_ap/migration-guard.json").write_text(json.dumps({"schema": 1, "mdevs": {}}))
    (booted.root / "etc/mdevctl.d/matrix" / U1).unlink()
    result = B.verify(booted.snapshot, booted.gather(), "h")
    assert sorted(d["code"] for d in result["differences"]) == ["definitions_changed", "guard_changed"], result["differences"]
    # another udev rule sets a mask: the boot masks cannot be known, so the host is never "verified"
    booted = Booted(fleet, tmp_path / "h2", {"etc/udev/rules.d/99-mine.rules": 'ACTION=="add", ATTR{../../bus/ap/aqmask}="0x0"\n'})
    assert codes(booted.snapshot["blocking"]) == [("masks_unknown", "apmask"), ("masks_unknown", "aqmask")]
    result = B.verify(booted.snapshot, booted.after, "h")
    assert not result["verified"] and result["repairs"] == {"ap_mask": [], "mdev": []}


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (None, "0-255"),
        ("root=/dev/dasda1", "0-255"),
        ("ap.aqmask=0xf0", "0-3"),
        ("ap.aqmask=f0", "0-3"),
        ("ap.aqmask=+0-3,+9 quiet", "0-3,9"),
        ("ap.aqmask=+0-7,-2", "0-1,3-7"),
        ("ap.aqmask=0xff ap.aqmask=0x0f", "4-7"),
        ("ap.aqmask=+x", None),
        ("ap.aqmask=0xzz", None),
    ],
)
def test_cmdline_masks(cmdline, expected):
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_ids

    ids, _where = B.cmdline_mask(cmdline, "aqmask")
    assert ids == (parse_ids(expected) if expected is not None else None)


def test_garbage_is_one_error():
    with pytest.raises(ValueError, match="snapshot"):
        B.verify({"schema": 7}, {}, "h")
    with pytest.raises(ValueError, match="h: "):
        B.snapshot({"bus": "x"}, host="h")
