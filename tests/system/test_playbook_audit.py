"""playbooks/audit.yml with real ansible-playbook on rendered simulated hosts.

What a user relies on: the four reports and their content, the set_stats summary, idempotence
and check mode (reports identical, hosts untouched), fail_on_blockers (also as survey text),
bad input refused by the argument spec, reporting from a jsonfile fact cache filled by --limit
slices (the AWX sliced-gather workflow), and a 100-host fleet.
"""

from __future__ import annotations

import hashlib
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from apsim.fleet import build_fleet
from apsim.render import render_fleet
from helpers.ansible_run import local_inventory, run_playbook

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "playbooks" / "audit.yml"
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"
REPORTS = ("readiness.json", "readiness.md", "readiness.html", "readiness.xml")


def tree_digest(root: Path) -> str:
    """Digest of every path, link target and file content below root (what a write would change)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = Path(dirpath, name)
            digest.update(str(path.relative_to(root)).encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


def inventory_for(rendered: Path, path: Path) -> Path:
    hosts = {
        p.name: {"vfio_ap_sysroot": str(p), "vfio_ap_migration_address": f"192.0.2.{i + 10}"}
        for i, p in enumerate(sorted(rendered.iterdir()))
        if (p / "sys").is_dir()
    }
    return local_inventory(hosts, path)


@pytest.fixture(scope="module")
def demo_inventory(rendered_demo, tmp_path_factory) -> Path:
    return inventory_for(rendered_demo, tmp_path_factory.mktemp("audit") / "inventory.yml")


@pytest.fixture(scope="module")
def first_run(demo_inventory, tmp_path_factory):
    report_dir = tmp_path_factory.mktemp("reports") / "out"
    result = run_playbook(AUDIT, demo_inventory, extra_vars={"vfio_ap_audit_report_dir": str(report_dir)})
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, report_dir


def test_reports_are_written_and_agree(first_run):
    result, report_dir = first_run
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(REPORTS)
    document = json.loads((report_dir / "readiness.json").read_text())
    assert document["schema"] == 1 and document["not_audited"] == []
    summary = document["summary"]
    assert (summary["guests"], summary["ready"], summary["ready_after"], summary["blocked"]) == (15, 2, 2, 11)
    hsm1 = next(g for g in document["plan"]["guests"] if g["uuid"] == HSM1)
    assert hsm1["verdict"] == "ready_after" and [g["hosts"] for g in hsm1["ready_after"]["preparations"]] == [["kvm-b1"]]
    stranded = {g["guest"] for g in summary["guests_without_destination"]}
    assert {"db1", "legacy3", "v1app"} <= stranded and "hsm1" not in stranded

    markdown = (report_dir / "readiness.md").read_text()
    assert "| hsm1 | kvm-a1 | ready after preparation |" in markdown
    assert "db1" in markdown.split("## Guests without a destination")[1]

    junit = ET.fromstring((report_dir / "readiness.xml").read_text())
    suites = {s.get("name"): s for s in junit.iter("testsuite")}
    coverage = suites.pop("vfio_ap audit coverage")  # a case per host: was it fully audited?
    assert [c.get("name") for c in coverage.iter("testcase")] == [f"{h} fully audited" for h in document["plan"]["sources"]]
    assert coverage.get("failures") == "0" and document["summary"]["fully_audited"] is True
    cases = {c.get("name").split(" ")[0]: c for s in suites.values() for c in s.iter("testcase")}
    assert len(cases) == 15 and int(junit.get("tests")) == 15 + 6
    assert cases["web1"].find("failure") is None
    assert cases["hsm1"].find("failure").get("type") == "ready_after"
    assert cases["db1"].find("failure").get("type") == "blocked"
    assert "hw_type_older" in cases["db1"].find("failure").get("message")


def test_set_stats_publishes_the_summary(first_run):
    result, report_dir = first_run
    published = result.data["custom_stats"]["_run"]["vfio_ap_audit_summary"]
    assert published["blocked"] == 11 and published["guests"] == 15
    assert published["report_dir"] == str(report_dir)
    assert {g["guest"] for g in published["guests_without_destination"]} >= {"db1", "sec1"}


def test_plan_and_summary_variables_hold_what_the_report_holds(demo_inventory, tmp_path):
    """vfio_ap_audit_plan and vfio_ap_audit_summary, read by tasks after the role: readiness.json's plan and summary (data, not text)."""
    report_dir, dumped = tmp_path / "out", tmp_path / "variables.json"
    playbook = tmp_path / "after_audit.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": ["s390x.vfio_ap.audit"],
                    "tasks": [
                        {
                            "name": "Read the audit's variables as a later task would",
                            "ansible.builtin.copy": {
                                "content": "{{ {'plan': vfio_ap_audit_plan, 'summary': vfio_ap_audit_summary,"
                                " 'kinds': [vfio_ap_audit_plan is mapping, vfio_ap_audit_plan.guests | length]} | to_json }}",
                                "dest": str(dumped),
                                "mode": "0644",
                            },
                            "run_once": True,
                        }
                    ],
                }
            ]
        )
    )
    result = run_playbook(playbook, demo_inventory, extra_vars={"vfio_ap_audit_report_dir": str(report_dir)})
    assert result.rc == 0, result.stdout[-3000:] + result.stderr[-3000:]
    variables = json.loads(dumped.read_text())
    document = json.loads((report_dir / "readiness.json").read_text())
    assert variables["kinds"] == [True, 15]
    assert variables["plan"] == document["plan"]
    assert variables["summary"] == {**document["summary"], "report_dir": str(report_dir)}


def test_check_mode_second_run_changes_nothing(first_run, demo_inventory, rendered_demo):
    """A second run, in check and diff mode: no change reported, no host file touched, reports identical."""
    _unused, report_dir = first_run
    before_tree = tree_digest(rendered_demo)
    before_reports = {name: (report_dir / name).read_bytes() for name in REPORTS}
    result = run_playbook(AUDIT, demo_inventory, extra_vars={"vfio_ap_audit_report_dir": str(report_dir)}, check=True, diff=True)
    assert result.rc == 0, result.stdout[-3000:]
    assert result.changed_total() == 0
    assert tree_digest(rendered_demo) == before_tree
    assert {name: (report_dir / name).read_bytes() for name in REPORTS} == before_reports


@pytest.mark.parametrize(
    "extra, fails, message",
    [
        # survey text "true" fails the play (after the reports are written) naming the stranded guests
        ({"vfio_ap_audit_fail_on_blockers": "true", "vfio_ap_audit_report_formats": ["markdown"]}, True, "db1"),
        # bad input: the argument spec refuses an unknown report format before anything runs
        ({"vfio_ap_audit_report_formats": ["pdf"]}, True, "pdf"),
    ],
)
def test_failures_are_clear(demo_inventory, tmp_path, extra, fails, message):
    report_dir = tmp_path / "out"
    result = run_playbook(AUDIT, demo_inventory, extra_vars={"vfio_ap_audit_report_dir": str(report_dir), **extra})
    assert (result.rc != 0) is fails
    assert message in result.stdout
    if "pdf" in message:
        assert not report_dir.exists()
    else:
        assert (report_dir / "readiness.md").exists()


def test_report_from_fact_cache_of_sliced_gathers(demo_inventory, first_run, tmp_path):
    """AWX job slicing: gather per --limit slice into a jsonfile cache, then one report-only run."""
    cache = {
        "ANSIBLE_CACHE_PLUGIN": "jsonfile",
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "cache"),
        "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "3600",
    }
    report_only = {"vfio_ap_audit_gather": False}

    gathered = run_playbook(AUDIT, demo_inventory, extra_vars={"vfio_ap_audit_report": "false"}, args=["--limit", "kvm-a*"], env=cache)
    assert gathered.rc == 0, gathered.stdout[-3000:]
    assert sorted(set(gathered.stats) - {"localhost"}) == ["kvm-a1", "kvm-a2", "kvm-a3"]  # localhost: the host-pattern check

    partial = run_playbook(
        AUDIT, demo_inventory, extra_vars={**report_only, "vfio_ap_audit_report_dir": str(tmp_path / "partial")}, env=cache
    )
    # half the fleet is not in the cache: the report is written, and the job fails naming those hosts
    assert partial.rc == 2, partial.stdout[-3000:]
    assert "not fully audited: kvm-b1: no vfio_ap facts (unreachable, its gather failed, or not in the fact cache)" in partial.stdout
    document = json.loads((tmp_path / "partial" / "readiness.json").read_text())
    assert document["not_audited"] == ["kvm-b1", "kvm-b2", "kvm-b3"]
    assert document["plan"]["sources"] == ["kvm-a1", "kvm-a2", "kvm-a3"]
    relaxed = run_playbook(
        AUDIT,
        demo_inventory,
        extra_vars={**report_only, "vfio_ap_audit_report_dir": str(tmp_path / "relaxed"), "vfio_ap_audit_fail_on_not_audited": False},
        env=cache,
    )
    assert relaxed.rc == 0, relaxed.stdout[-3000:]
    assert (tmp_path / "relaxed" / "readiness.json").read_text() == (tmp_path / "partial" / "readiness.json").read_text()

    gathered = run_playbook(AUDIT, demo_inventory, extra_vars={"vfio_ap_audit_report": False}, args=["--limit", "kvm-b*"], env=cache)
    assert gathered.rc == 0, gathered.stdout[-3000:]
    full = run_playbook(AUDIT, demo_inventory, extra_vars={**report_only, "vfio_ap_audit_report_dir": str(tmp_path / "full")}, env=cache)
    assert full.rc == 0, full.stdout[-3000:]
    assert (tmp_path / "full" / "readiness.json").read_text() == (first_run[1] / "readiness.json").read_text()


def small_host(index: int) -> dict:
    """A light kernel-series LPAR: two CEX8C cards, domains 0-7 (4-7 reserved), two guests.

    Hosts come in mirrored pairs (same domains), so every guest has one candidate destination."""
    uuid = "6c1a0000-0000-4000-8000-{:012x}"
    return {
        "migration": "kernel",
        "usage_domains": "0-7",
        "control_domains": "0-7",
        "aqmask": "0-3,8-255",
        "cards": [{"id": 1, "type": "CEX8C", "domains": "0-7"}, {"id": 2, "type": "CEX8C", "domains": "0-7"}],
        "mdevs": [
            {"uuid": uuid.format(index * 2), "adapters": [1], "domains": [4 + index % 2], "guest": f"g{index}a"},
            {"uuid": uuid.format(index * 2 + 1), "adapters": [2], "domains": [6], "guest": f"g{index}b"},
        ],
    }


def test_fleet_of_100_hosts(tmp_path):
    hosts = build_fleet({"hosts": {f"kvm{i:03d}": small_host(i) for i in range(100)}})
    render_fleet(hosts, tmp_path / "hosts")
    inventory = inventory_for(tmp_path / "hosts", tmp_path / "inventory.yml")
    result = run_playbook(AUDIT, inventory, extra_vars={"vfio_ap_audit_report_dir": str(tmp_path / "out")})
    assert result.rc == 0, result.stdout[-3000:]
    assert len(set(result.stats) - {"localhost"}) == 100
    document = json.loads((tmp_path / "out" / "readiness.json").read_text())
    assert len(document["plan"]["sources"]) == 100 and document["not_audited"] == []
    summary = document["summary"]
    assert summary["guests"] == 200
    assert summary["ready_after"] + summary["ready"] + summary["blocked"] == 200
    junit = ET.fromstring((tmp_path / "out" / "readiness.xml").read_text())
    assert int(junit.get("tests")) == 200 + 100  # a case per guest, and per host (fully audited)
