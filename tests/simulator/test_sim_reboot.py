"""A reboot of a simulated host (apsim.boot): what was persistent comes back, what was not does not.

The table runs the boot in-process on hosts built from small fleet dicts (``build_fleet`` plus the
host's etc/run tree from ``write_host_files``), each case naming only what it checks; the CLI test
reboots a host of a live mount.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from apsim.boot import parse_rules, reboot
from apsim.fleet import FleetError, build_fleet, chzdev_rules
from apsim.live import subprocess_env
from apsim.render import write_host_files
from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import

APSIM = [sys.executable, "-m", "apsim"]
U1 = "80000000-0000-4000-8000-000000000001"
U2 = "80000000-0000-4000-8000-000000000002"
U3 = "80000000-0000-4000-8000-000000000003"
CARDS = [{"id": 1, "type": "CEX8C", "domains": "0-15"}, {"id": 2, "type": "CEX8P", "domains": "0-15"}]
RULES = "etc/udev/rules.d/41-ap.rules"
GUARD = "etc/vfio_ap/migration-guard.json"


def host(**spec: Any) -> dict[str, Any]:
    """Return a one-host fleet ('h'): two cards with domains 0-15, plus the keys given."""
    return {"hosts": {"h": {"cards": CARDS, **spec}}}


def definition(uuid: str, start: str = "auto", adapters: Any = (1,), domains: Any = (9,)) -> dict[str, Any]:
    return {"uuid": uuid, "start": start, "adapters": list(adapters), "domains": list(domains)}


def ids(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        low, _sep, high = part.partition("-")
        out += range(int(low), int(high or low) + 1)
    return out


def compress(values: Any) -> str:
    values = sorted(values)
    runs: list[str] = []
    start = prev = None
    for v in values + [None]:
        if start is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    return ",".join(runs)


# (case, fleet, files written into the host's tree before the reboot, what the boot must leave)
CASES = [
    (
        "live reservations, a live-only mdev and its guest do not survive",
        host(aqmask="0-7", mdevs=[{"uuid": U1, "adapters": [1], "domains": [9], "guest": "g1"}]),
        {},
        {"apmask": "0-255", "aqmask": "0-255", "mdevs": {}, "guests_stopped": ["g1"], "vfio_ap": True},
    ),
    (
        "the command line's ap.aqmask= (absolute) is the boot mask",
        host(cmdline="root=/dev/dasda1 ap.aqmask=0xff"),
        {},
        {"apmask": "0-255", "aqmask": "0-7"},
    ),
    (
        "a relative ap.apmask= starts from zeros",
        host(cmdline="ap.apmask=+0-3,+9"),
        {},
        {"apmask": "0-3,9", "aqmask": "0-255"},
    ),
    (
        "the persistent rule (41-ap.rules) sets the masks and loads vfio_ap",
        host(vfio_ap_loaded=False, persistent_masks={"aqmask": "0-7"}),
        {},
        {"apmask": "0-255", "aqmask": "0-7", "vfio_ap": True},
    ),
    (
        "the rule wins over the command line",
        host(cmdline="ap.aqmask=0xf", persistent_masks={"apmask": "0-255", "aqmask": "0-7"}),
        {},
        {"apmask": "0-255", "aqmask": "0-7"},
    ),
    (
        "an auto-start definition on persistently reserved APQNs comes back; manual ones and live-only mdevs do not",
        host(
            persistent_masks={"aqmask": "0-7"},
            mdevs=[{"uuid": U3, "adapters": [2], "domains": [10], "guest": "g3"}],
            definitions=[definition(U1, domains=[9, 11]), definition(U2, "manual", domains=[12])],
        ),
        {},
        {"mdevs": {U1: ("1", "9,11", "")}, "manual": [U2], "guests_stopped": ["g3"]},
    ),
    (
        "an auto-start definition on APQNs that were reserved only live is refused (EADDRNOTAVAIL)",
        host(aqmask="0-7", definitions=[definition(U1)]),
        {},
        {"mdevs": {}, "failed": {U1: "EADDRNOTAVAIL"}},
    ),
    (
        "two auto-start definitions sharing an APQN: the first (name order) starts, the second is EADDRINUSE",
        host(persistent_masks={"aqmask": "0-7"}, definitions=[definition(U2, domains=[9]), definition(U1, domains=[9, 10])]),
        {},
        {"mdevs": {U1: ("1", "9-10", "")}, "failed": {U2: "EADDRINUSE"}},
    ),
    (
        "attributes are written as mdevctl writes them: '08' is octal to the kernel (EINVAL)",
        host(persistent_masks={"aqmask": "0-7"}),
        {
            "etc/mdevctl.d/matrix/" + U1: json.dumps(
                {"mdev_type": "vfio_ap-passthrough", "start": "auto", "attrs": [{"assign_adapter": "1"}, {"assign_domain": "08"}]}
            )
        },  # fmt: skip
        {"mdevs": {}, "failed": {U1: "EINVAL"}},
    ),
    (
        "attributes in the definition's order, control domains kept",
        host(persistent_masks={"aqmask": "0-7"}),
        {
            "etc/mdevctl.d/matrix/" + U1: json.dumps(
                {
                    "mdev_type": "vfio_ap-passthrough",
                    "start": "auto",
                    "attrs": [{"assign_domain": "0xc"}, {"assign_control_domain": "12"}, {"assign_adapter": "2"}],
                }
            )
        },  # fmt: skip
        {"mdevs": {U1: ("2", "12", "12")}},
    ),
    (
        "a definition mdevctl cannot read fails start-parent-mdevs: nothing starts",
        host(persistent_masks={"aqmask": "0-7"}, definitions=[definition(U1)]),
        {"etc/mdevctl.d/matrix/" + U2: "{not json"},
        {"mdevs": {}, "failed": {U2: "cannot be read"}},
    ),
    (
        "a definition of another mdev type is not started",
        host(persistent_masks={"aqmask": "0-7"}),
        {"etc/mdevctl.d/matrix/" + U1: json.dumps({"mdev_type": "i915-GVTg_V5_4", "start": "auto", "attrs": []})},
        {"mdevs": {}, "failed": {U1: "does not support mdev type i915-GVTg_V5_4"}},
    ),
    (
        "series v1: a recreated mdev's migratable file is back at 0",
        host(
            migration="attribute",
            persistent_masks={"aqmask": "0-7"},
            mdevs=[{"uuid": U1, "adapters": [1], "domains": [9], "migratable": 1, "guest": "g1", "start": "auto"}],
        ),  # fmt: skip
        {},
        {"mdevs": {U1: ("1", "9", "")}, "migratable": {U1: 0}, "guests_stopped": ["g1"]},
    ),
    (
        "the ap_domain key is a kernel parameter: it is the default domain again",
        host(ap_domain=5),
        {},
        {"ap_domain": 5},
    ),
    (
        "ap.domain= outside the boot aqmask is refused by the kernel, which then picks the first usable domain",
        host(cmdline="ap.aqmask=0xff ap.domain=12"),
        {},
        {"ap_domain": 0, "kernel": "12 is not a valid cryptographic domain"},
    ),
    (
        "without a rule or modules-load entry vfio_ap stays unloaded and nothing starts",
        host(vfio_ap_loaded=False, definitions=[definition(U1)]),
        {},
        {"vfio_ap": False, "mdevs": {}},
    ),
    (
        "a rules line udev rejects is ignored, the rest applies",
        host(),
        {RULES: 'ACTION=="change", FOO=="bar", GOTO="x"\n' + chzdev_rules(None, set(ids("0-3")))},
        {"aqmask": "0-3", "log": "invalid key 'FOO'"},
    ),
    (
        "a rule whose trigger the AP bus never sends does nothing",
        host(),
        {RULES: 'ACTION=="remove", SUBSYSTEM=="ap", ATTR{../../bus/ap/aqmask}="0x0"\n'},
        {"aqmask": "0-255"},
    ),
    (
        "card and queue online states are reset by zcrypt, configuration and check-stops stay",
        host(
            cards=[
                {"id": 1, "type": "CEX8C", "domains": "0-3", "online": False},
                {"id": 2, "type": "CEX8C", "domains": "0-3", "chkstop": True},
            ]
        ),
        {},
        {"cards": {1: (True, False), 2: (True, True)}},
    ),
    (
        "run/ is emptied (locks, status XML), etc/ (guard, definitions) is kept",
        host(),
        {"run/lock/s390apconfig.lock": "4242\n", "run/libvirt/qemu/old.xml": "<domstatus/>", "run/other/x": "1", GUARD: "{}"},
        {
            "files": {
                "run/lock/s390apconfig.lock": False,
                "run/libvirt/qemu/old.xml": False,
                "run/other": False,
                "run/lock": True,
                "run/libvirt/qemu": True,
                GUARD: True,
            },
            "guests_stopped": ["old"],
        },  # fmt: skip
    ),
]


def observe(hosts: dict, record: dict[str, Any], root: Path, keys: Any) -> dict[str, Any]:
    """Return what the boot left, for the keys a case names."""
    h = hosts["h"]
    seen: dict[str, Any] = {
        "apmask": compress(h.apmask),
        "aqmask": compress(h.aqmask),
        "mdevs": {u: (compress(m.apm), compress(m.aqm), compress(m.adm)) for u, m in h.mdevs.items()},
        "manual": record["mdevs"]["manual"],
        "guests_stopped": record["guests_stopped"],
        "vfio_ap": h.vfio_ap_loaded,
        "ap_domain": h.ap_domain,
        "migratable": {u: m.migratable for u, m in h.mdevs.items()},
        "cards": {c.id: (c.online, c.chkstop) for c in h.cards.values()},
    }
    out = {k: seen[k] for k in keys if k in seen}
    if "failed" in keys:
        out["failed"] = {f["uuid"]: f["error"] for f in record["mdevs"]["failed"]}
    if "files" in keys:
        out["files"] = {rel: (root / rel).exists() for rel in keys["files"]}
    return out


@pytest.mark.parametrize(("name", "fleet", "files", "expect"), CASES, ids=[c[0] for c in CASES])
def test_reboot(tmp_path, name, fleet, files, expect):
    hosts = build_fleet(fleet)
    write_host_files(hosts["h"], tmp_path)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    record = reboot(hosts["h"], tmp_path)
    seen = observe(hosts, record, tmp_path, expect)
    for key in ("failed",):
        if key in expect:  # the error names the errno or the reason: compare by containment
            assert set(seen[key]) == set(expect[key]), name
            for uuid, words in expect[key].items():
                assert words in seen[key][uuid], (name, seen[key][uuid])
    for key in ("kernel", "log"):
        if key in expect:
            assert any(expect[key] in line for line in record[key]), (name, record[key])
    plain = {k: v for k, v in expect.items() if k not in ("failed", "kernel", "log")}
    assert {k: seen[k] for k in plain} == plain, name


def test_reboot_twice_is_the_same_boot(tmp_path):
    """A second reboot without changes in between leaves exactly the state of the first."""
    fleet = host(persistent_masks={"aqmask": "0-7"}, definitions=[definition(U1), definition(U2, domains=[9])],
                 mdevs=[{"uuid": U3, "adapters": [2], "domains": [10], "guest": "g3"}])  # fmt: skip
    hosts = build_fleet(fleet)
    write_host_files(hosts["h"], tmp_path)
    reboot(hosts["h"], tmp_path)
    first = hosts["h"].dump_state()
    again = reboot(hosts["h"], tmp_path)
    assert hosts["h"].dump_state() == first
    assert again["guests_stopped"] == []


def test_persistent_masks_default_the_live_masks():
    """A host described with a rule or command line runs with those masks unless apmask/aqmask say otherwise."""
    assert build_fleet(host(persistent_masks={"aqmask": "0-7"}))["h"].aqmask == set(range(8))
    assert build_fleet(host(cmdline="ap.aqmask=0xff"))["h"].aqmask == set(range(8))
    assert build_fleet(host(cmdline="ap.aqmask=0xff", aqmask="0-3"))["h"].aqmask == set(range(4))


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"cmdline": "ap.apmask=0xfg"}, "cmdline: ap.apmask=0xfg is not a mask the kernel accepts"),
        ({"cmdline": "ap.domain=seven"}, "cmdline: ap.domain=seven is not a number"),
        ({"cmdline": "ap.domain=3", "ap_domain": 3}, "cmdline: ap.domain= and the ap_domain key both"),
        ({"cmdline": ["ap.apmask=0xff"]}, "cmdline: expected the kernel command line as one string"),
        ({"persistent_masks": {"apmask": "0-3", "bmask": 1}}, "persistent_masks: unknown key 'bmask'"),
        ({"persistent_masks": {}}, "persistent_masks: name apmask, aqmask or both"),
        ({"persistent_masks": {"aqmask": "0-300"}}, "persistent_masks.aqmask"),
    ],
)
def test_boot_keys_errors(spec, words):
    with pytest.raises(FleetError) as caught:
        build_fleet(host(**spec))
    assert words in str(caught.value)
    assert "host h" in str(caught.value)


def test_rules_parser_reads_the_chzdev_layout():
    """The rule file chzdev writes parses into its two triggers, the label and the mask writes."""
    rules = parse_rules(chzdev_rules(set(range(256)), set(range(8))), "41-ap.rules")
    assert not [r.error for r in rules if r.error]
    writes = [(a[1], a[3][:6]) for r in rules for a in r.assigns if a[0] == "ATTR"]
    assert writes == [("../../bus/ap/apmask", "0xffff"), ("../../bus/ap/aqmask", "0xff00")]
    assert [r.goto for r in rules if r.goto] == ["cfg_ap", "cfg_ap", "end_ap"]


@pytest.mark.live
def test_reboot_cli_on_a_live_mount(fresh_live_fleet, tmp_path):  # noqa: F811
    """``apsim reboot MOUNT HOST``: one line, the state rebuilt, status XML and locks gone, kern.log marked."""
    fleet = host(
        persistent_masks={"aqmask": "0-7"},
        mdevs=[{"uuid": U1, "adapters": [1], "domains": [9], "guest": "g1", "start": "auto"},
               {"uuid": U3, "adapters": [2], "domains": [10]}],
    )  # fmt: skip
    live = fresh_live_fleet(fleet)
    root = live.host_dir("h")
    (root / "run/lock/s390apconfig.lock").write_text("1\n")
    assert (root / "run/libvirt/qemu/g1.xml").exists()
    done = subprocess.run([*APSIM, "reboot", str(live.root), "h"], capture_output=True, text=True, env=subprocess_env(), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("apsim: h rebooted; rules etc/udev/rules.d/41-ap.rules; 1 mdevs started")
    assert "guests stopped: g1" in done.stdout
    state = live.state("h")
    assert sorted(state["mdevs"]) == [U1]
    assert state["mdevs"][U1]["guest"] is None
    assert state["aqmask"] == list(range(8))
    assert not (root / "run/libvirt/qemu/g1.xml").exists()
    assert not (root / "run/lock/s390apconfig.lock").exists() and (root / "run/lock").is_dir()
    assert (root / "etc/libvirt/qemu/g1.xml").exists()  # the persistent domain definition stays
    assert "Linux version v6.19 (apsim)" in (root / "var/log/kern.log").read_text()
    assert "mdevctl: started " + U1 in (root / "var/log/syslog").read_text()
    assert live.boots("h")[-1]["mdevs"]["started"] == [U1]
    record = live.reboot("h")  # the Python API: the same boot again
    assert record["mdevs"]["started"] == [U1] and record["guests_stopped"] == []


@pytest.mark.live
def test_reboot_cli_wrong_requests(fresh_live_fleet, tmp_path):  # noqa: F811
    live = fresh_live_fleet(host())
    for args, words in (
        (["reboot", str(live.root), "nohost"], "no host 'nohost'"),
        (["reboot", str(tmp_path), "h"], "not a live apsim mount"),
    ):
        done = subprocess.run([*APSIM, *args], capture_output=True, text=True, env=subprocess_env(), check=False)
        assert done.returncode == 2
        assert words in done.stderr and done.stderr.count("\n") == 1
