"""No positive verdict from what was not seen (docs/audit.md, "Hosts that are not fully audited").

A host whose facts record a failed read that matters (the root-only libvirt directories read
without root), that has no AP bus under its sysroot, that lacks a subset, or whose facts do not
say what they could not read, is not fully audited: never "can leave", never "empty", its mdevs
never "idle", and offered to no guest as a destination. The facts here are gathered from the
rendered demo fleet with the refusals injected at ``os.scandir`` (the unit tests run as root);
tests/system/test_unaudited.py runs the module as another user.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from apsim.fleet import build_fleet, load_fleet
from apsim.render import render_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.migration_check import migration_check
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan
from ansible_collections.s390x.vfio_ap.plugins.module_utils import _facts
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import BECOME, host_gaps
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import host_status
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._reports import readiness_report, readiness_summary

LIBVIRT = {"run/libvirt/qemu": errno.EACCES, "etc/libvirt/qemu": errno.EACCES}


def gather(root: Path, refused: dict[str, int] | None = None) -> dict:
    """Return the facts of a rendered host, with scandir of the directories ending in ``refused`` failing."""
    refused = refused or {}
    original = os.scandir

    def scandir(path="."):
        for rel, code in refused.items():
            if os.fspath(path).endswith(rel):
                raise OSError(code, os.strerror(code), os.fspath(path))
        return original(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_facts.os, "scandir", scandir)
        return _facts.gather_facts(str(root))[0]


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory, demo_fleet_path) -> Path:
    dest = tmp_path_factory.mktemp("gaps-demo")
    hosts = load_fleet(demo_fleet_path)
    render_fleet(hosts, dest)
    render_fleet(build_fleet({"hosts": {"kvm-z9": {"ap_bus": False}}}), dest)  # sys/ without an AP bus
    return dest


@pytest.fixture(scope="module")
def complete(demo_root) -> dict[str, dict]:
    return {p.name: gather(p) for p in sorted(demo_root.iterdir()) if p.name != "kvm-z9"}


@pytest.fixture(scope="module")
def a1_unprivileged(demo_root, complete) -> dict[str, dict]:
    """The demo fleet where kvm-a1 was gathered by a user that may not read the libvirt directories."""
    return dict(complete, **{"kvm-a1": gather(demo_root / "kvm-a1", LIBVIRT)})


def record(what, path, code=None, error="permission denied"):
    return {"what": what, "path": path, "errno": code, "error": error}


def facts_with(**changes):
    base = {"schema": 2, "sysroot": "/", "gather_subset": ["bus", "cards", "definitions", "guests", "mdevs", "mkvps", "queues"],
            "bus": {"present": True}, "complete": True, "unread": [], "unread_count": 0}  # fmt: skip
    base.update(changes)
    return base


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (facts_with(), []),
        (facts_with(complete=False, unread=[record("libvirt_status", "/run/libvirt/qemu", "EACCES")], unread_count=1),
         ["could not read /run/libvirt/qemu (EACCES): run with become: true"]),
        (facts_with(complete=False, unread=[record("guard", "/etc/vfio_ap/migration-guard.json", None, "not JSON")], unread_count=1),
         ["could not parse /etc/vfio_ap/migration-guard.json: not JSON: fix or remove the malformed migration guard "
          "(s390x.vfio_ap.migratable writes a valid one)"]),
        (facts_with(complete=False, unread=[record("mdev", "/sys/x/matrix", "EIO", "I/O error")], unread_count=1),
         ["could not read /sys/x/matrix (EIO): the kernel refused the read: look at the host's kernel log, then gather "
          "the facts again"]),
        # judged per queue by the readiness rules, not a hole in the host's facts
        (facts_with(complete=False, unread=[record("queue_functions", "/q/ap_functions", "EIO"), record("mkvps", "/q/mkvps", "EIO")],
                    unread_count=2), []),
        # a bounded list: what was left out is after the last listed kind
        (facts_with(complete=False, unread=[record("queue_functions", "/q/ap_functions", "EIO")], unread_count=900), []),
        (facts_with(complete=False, unread=[record("queue", "/q/status", "EIO")], unread_count=3),
         ["could not read /q/status (EIO): the kernel refused the read: look at the host's kernel log, then gather the facts again",
          "2 more reads failed: see the host's ap_facts warnings, then gather the facts again with this version of s390x.vfio_ap "
          "(s390x.vfio_ap.ap_facts)"]),
        (facts_with(complete=False), ["the facts say a read failed but do not say which: gather the facts again with this "
                                      "version of s390x.vfio_ap (s390x.vfio_ap.ap_facts)"]),
        (facts_with(sysroot="/srv/kvm-z9", bus={"present": False}),
         ["no AP bus under /srv/kvm-z9 (no sys/bus/ap): check vfio_ap_sysroot, or that this is an s390x KVM host with the "
          "AP bus (the ap module)"]),
        (facts_with(gather_subset=["bus", "cards", "mdevs", "queues"]),
         ["the facts were gathered without definitions, guests: gather them with gather_subset: all (leaving out mkvps is fine)"]),
        ({k: v for k, v in facts_with().items() if k not in ("complete", "unread", "unread_count")},
         ["the facts do not say what could not be read (gathered by s390x.vfio_ap 0.1.0, or built by hand): gather the facts "
          "again with this version of s390x.vfio_ap (s390x.vfio_ap.ap_facts)"]),
    ],
    ids=["complete", "eacces", "bad-guard", "eio", "per-queue", "bounded-per-queue", "bounded", "unsaid-which", "no-bus",
         "subsets", "schema-1"],
)  # fmt: skip
def test_host_gaps(facts, expected):
    assert [f"{g['detail']}: {g['fix']}" for g in host_gaps(facts)] == expected


def test_unreadable_libvirt_source_is_not_fully_audited(a1_unprivileged, demo_root):
    facts = a1_unprivileged["kvm-a1"]
    assert facts["complete"] is False and {r["what"] for r in facts["unread"]} == {"libvirt_status", "libvirt_config"}
    assert all(m["guest"] is None for m in facts["driver"]["mdevs"])  # every guest unknown: they all looked idle
    plan = migration_plan(a1_unprivileged)
    host = plan["summary"]["hosts"]["kvm-a1"]
    root = demo_root / "kvm-a1"
    assert host["verdict"] == (
        f"kvm-a1 is not fully audited: could not read {root}/run/libvirt/qemu (EACCES), could not read "
        f"{root}/etc/libvirt/qemu (EACCES): run with become: true"
    )
    assert (host["audited"], host["evacuable"], host["evacuable_after_preparation"]) == (False, False, False)
    assert sorted(plan["facts_gaps"]) == ["kvm-a1"] and plan["facts_gaps"]["kvm-a1"][0]["fix"] == BECOME
    mine = [g for g in plan["guests"] if g["source"] == "kvm-a1"]
    assert mine and all(not g["idle"] and g["verdict"] == "blocked" for g in mine)
    assert all([b["code"] for b in g["source_blockers"]][:1] == ["source_facts_incomplete"] for g in mine)
    # the in-use mdevs count as guests that must leave, not as idle mdevs
    assert host["guests"] == len(mine) and plan["summary"]["idle_mdevs"] == len([g for g in plan["guests"] if g["idle"]])


def test_host_not_fully_audited_is_no_destination(a1_unprivileged):
    plan = migration_plan(a1_unprivileged, detail=True)
    others = [g for g in plan["guests"] if g["source"] != "kvm-a1"]
    assert others
    for guest in others:
        cell = guest["destinations"]["kvm-a1"]
        assert cell["verdict"] == "blocked" and "destination_facts_incomplete" in {b["code"] for b in cell["blockers"]}
        assert "kvm-a1" not in guest["ready"]["hosts"] and guest["suggested"] != "kvm-a1"


def test_migration_check_refuses_a_destination_not_fully_audited(a1_unprivileged, complete):
    web1 = next(m for m in complete["kvm-a2"]["driver"]["mdevs"] if m["guest"]) if any(
        m["guest"] for m in complete["kvm-a2"]["driver"]["mdevs"]) else None  # fmt: skip
    assert web1 is not None
    result = migration_check(complete["kvm-a2"], a1_unprivileged["kvm-a1"], web1["uuid"], source="kvm-a2", destination="kvm-a1")
    assert result["ready"] is False and result["ready_after"] is False
    (finding,) = [b for b in result["blockers"] if b["code"] == "destination_facts_incomplete"]
    assert finding["detail"].startswith("kvm-a1 not fully audited: could not read ") and finding["detail"].endswith(BECOME)


def test_no_ap_bus_is_not_fully_audited(demo_root, complete):
    fleet = dict(complete, **{"kvm-z9": gather(demo_root / "kvm-z9")})
    assert fleet["kvm-z9"]["complete"] is True and fleet["kvm-z9"]["bus"]["present"] is False
    plan = migration_plan(fleet)
    host = plan["summary"]["hosts"]["kvm-z9"]
    assert host["verdict"].startswith(f"kvm-z9 is not fully audited: no AP bus under {demo_root / 'kvm-z9'} (no sys/bus/ap)")
    assert host["evacuable"] is False and host["guests"] == 0


def test_reports_show_hosts_not_fully_audited(a1_unprivileged, demo_root):
    plan = migration_plan(a1_unprivileged)
    files = readiness_report(plan, ["json", "markdown", "html", "junit"], "t", not_audited=["kvm-x9"])
    root = demo_root / "kvm-a1"
    markdown = files["readiness.md"].replace("\\", "")  # the text without Markdown's escapes
    assert "Not fully audited: kvm-a1, kvm-x9." in markdown
    assert f"| kvm-a1 | could not read {root}/run/libvirt/qemu (EACCES) | run with become: true |" in markdown
    assert "| kvm-x9 | no vfio_ap facts (unreachable, its gather failed, or not in the fact cache) |" in markdown
    assert "can leave" not in [line for line in markdown.splitlines() if line.startswith("| kvm-a1 |")][-1]
    assert "Idle mdevs" not in markdown or "on kvm-a1" not in markdown.split("Idle mdevs")[1].split("\n")[0]
    document = json.loads(files["readiness.json"])
    summary = document["summary"]
    assert (summary["fully_audited"], summary["not_fully_audited"], summary["not_audited"]) == (False, ["kvm-a1"], ["kvm-x9"])
    assert summary["audit_gaps"][0] == f"kvm-a1: could not read {root}/run/libvirt/qemu (EACCES): run with become: true"
    assert summary["audit_gaps"][-1].startswith("kvm-x9: no vfio_ap facts")
    assert "kvm-a1" in summary["hosts_not_evacuable"]
    html = files["readiness.html"]
    assert '<table id="not-fully-audited">' in html and 'data-evacuation="not_audited"' in html
    junit = ET.fromstring(files["readiness.xml"])
    coverage = next(s for s in junit.iter("testsuite") if s.get("name") == "vfio_ap audit coverage")
    failed = {c.get("name"): c.find("failure") for c in coverage.iter("testcase") if c.find("failure") is not None}
    assert sorted(failed) == ["kvm-a1 fully audited", "kvm-x9 fully audited"]
    assert failed["kvm-a1 fully audited"].get("type") == "not_fully_audited"
    assert failed["kvm-a1 fully audited"].get("message").endswith("(EACCES): run with become: true")
    assert failed["kvm-x9 fully audited"].get("type") == "not_audited"
    assert int(junit.get("failures")) == sum(int(s.get("failures")) for s in junit.iter("testsuite"))


def test_complete_fleet_is_fully_audited(complete):
    plan = migration_plan(complete)
    assert plan["facts_gaps"] == {} and all(h["audited"] for h in plan["summary"]["hosts"].values())
    assert readiness_summary(plan)["fully_audited"] is True
    junit = ET.fromstring(readiness_report(plan, ["junit"], "t")["readiness.xml"])
    coverage = next(s for s in junit.iter("testsuite") if s.get("name") == "vfio_ap audit coverage")
    assert coverage.get("failures") == "0" and int(coverage.get("tests")) == len(complete)


def test_evacuation_of_a_host_not_fully_audited(a1_unprivileged):
    plan = migration_plan(a1_unprivileged, sources=["kvm-a1"])
    evacuation = evacuation_plan(plan)
    assert evacuation["evacuable"] is False
    assert evacuation["verdict"].startswith("kvm-a1 is not fully audited: could not read ")
    assert "has a destination" not in evacuation["verdict"]


def test_drain_never_says_empty_from_facts_with_gaps(a1_unprivileged, complete):
    idle = copy.deepcopy(a1_unprivileged["kvm-a1"])
    for mdev in idle["driver"]["mdevs"]:
        mdev["in_use"] = False  # no guest seen at all
    seen = copy.deepcopy(idle)
    seen["driver"]["mdevs"][0]["in_use"] = True
    status = host_status({"gaps": idle, "seen": seen, "clean": complete["kvm-b3"]}, ["gaps", "seen", "clean"])
    assert status["gaps"]["empty"] is None  # unknown, shown as such
    assert status["seen"]["empty"] is False
    assert status["clean"]["empty"] is (not any(m["in_use"] for m in complete["kvm-b3"]["driver"]["mdevs"]))
