"""No green job that did nothing, no "safe" from what was not seen: the audit and prepare_destination
as a user runs them (docs/audit.md, "Hosts that are not fully audited").

- kvm-a1's facts are gathered by an unprivileged user (uid 65534, through an
  ``ansible_python_interpreter`` that drops to it; the module comes on stdin with pipelining) while
  its libvirt directories are root-only, as on a real KVM host;
- kvm-z9's sysroot holds ``sys/`` but no AP bus (a forgotten or wrong ``vfio_ap_sysroot``);
- host patterns and names that match no inventory host;
- variables with a typo.

Each case asserts the report a user reads and the exit code.
"""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from apsim.fleet import load_fleet
from apsim.render import render_fleet
from helpers.ansible_run import local_inventory, run_playbook
from helpers.needs import require
from helpers.other_user import interpreter_wrapper, shared_dir, why_not

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "playbooks" / "audit.yml"
PREPARE = ROOT / "playbooks" / "prepare_destination.yml"
DEMO = ROOT / "tests" / "fleets" / "demo.yml"
FACTS_TASK = "s390x.vfio_ap.audit : Gather AP facts (s390x.vfio_ap.ap_facts)"
GATE_TASK = "s390x.vfio_ap.audit : Fail when a host was not (fully) audited"
PIPELINING = {"ANSIBLE_PIPELINING": "1"}


def results(run) -> list[tuple[str, str, dict]]:
    """Return (task name, host, result) of every task result of a run."""
    return [(t["task"]["name"], h, r) for p in run.data.get("plays", []) for t in p["tasks"] for h, r in t["hosts"].items()]


def failures(run) -> list[str]:
    return [r.get("msg", "") for _t, _h, r in results(run) if r.get("failed")]


def warnings(run) -> list[str]:
    return [w for _t, _h, r in results(run) for w in r.get("warnings") or []]


@pytest.fixture(scope="module")
def fleet():
    """The demo fleet in a directory every user can read, kvm-a1's libvirt directories root-only, plus kvm-z9."""
    require(why_not())
    dest = shared_dir("vfio-ap-unaudited-")
    hosts = dest / "hosts"
    render_fleet(load_fleet(DEMO), hosts)
    for rel in ("run/libvirt/qemu", "etc/libvirt/qemu"):
        (hosts / "kvm-a1" / rel).chmod(0o700)  # owned by root, as libvirt leaves them
    (hosts / "kvm-z9" / "sys").mkdir(parents=True)
    wrapper = interpreter_wrapper(dest)
    yield hosts, wrapper
    shutil.rmtree(dest, ignore_errors=True)


def inventory(hosts: Path, wrapper: Path, path: Path, names: list[str] | None = None) -> Path:
    chosen = names or sorted(p.name for p in hosts.iterdir())
    return local_inventory(
        {
            name: {
                "vfio_ap_sysroot": str(hosts / name),
                **({"ansible_python_interpreter": str(wrapper)} if name == "kvm-a1" else {"ansible_python_interpreter": sys.executable}),
            }
            for name in chosen
        },
        path,
    )


@pytest.fixture(scope="module")
def audited(fleet, tmp_path_factory):
    """The audit of the fleet with the defaults: it fails, after writing the reports."""
    hosts, wrapper = fleet
    work = tmp_path_factory.mktemp("unaudited")
    extra = {"vfio_ap_audit_report_dir": str(work / "out")}
    result = run_playbook(AUDIT, inventory(hosts, wrapper, work / "inventory.yml"), extra_vars=extra, env=PIPELINING)
    return result, work


def test_the_unprivileged_gather_records_what_it_could_not_read(audited, fleet):
    result, _work = audited
    hosts, _wrapper = fleet
    gathered = result.task_results(FACTS_TASK)
    facts = gathered["kvm-a1"]["ansible_facts"]["vfio_ap"]
    assert facts["complete"] is False
    assert [(r["what"], r["path"], r["errno"]) for r in facts["unread"]] == [
        ("libvirt_status", str(hosts / "kvm-a1/run/libvirt/qemu"), "EACCES"),
        ("libvirt_config", str(hosts / "kvm-a1/etc/libvirt/qemu"), "EACCES"),
    ]
    assert all(m["guest"] is None for m in facts["driver"]["mdevs"])  # nothing else tells the guests
    assert gathered["kvm-b1"]["ansible_facts"]["vfio_ap"]["complete"] is True  # gathered as root


def test_the_audit_fails_naming_what_could_not_be_seen(audited, fleet):
    result, work = audited
    hosts, _wrapper = fleet
    assert result.rc == 2, result.stdout[-3000:] + result.stderr[-3000:]
    message = next(iter(result.task_results(GATE_TASK).values()))["msg"]
    assert message.startswith(
        f"not fully audited: kvm-a1: could not read {hosts}/kvm-a1/run/libvirt/qemu (EACCES): run with become: true; "
        f"kvm-a1: could not read {hosts}/kvm-a1/etc/libvirt/qemu (EACCES): run with become: true; "
        f"kvm-z9: no AP bus under {hosts}/kvm-z9 (no sys/bus/ap): check vfio_ap_sysroot"
    ), message
    assert "vfio_ap_audit_fail_on_not_audited: false" in message
    assert sorted(p.name for p in (work / "out").iterdir()) == ["readiness.html", "readiness.json", "readiness.md", "readiness.xml"]


def test_the_reports_say_not_fully_audited(audited, fleet):
    _result, work = audited
    hosts, _wrapper = fleet
    markdown = (work / "out" / "readiness.md").read_text().replace("\\", "")  # without Markdown escapes
    assert "Not fully audited: kvm-a1, kvm-z9." in markdown
    assert f"| kvm-a1 | could not read {hosts}/kvm-a1/run/libvirt/qemu (EACCES) | run with become: true |" in markdown
    assert f"| kvm-z9 | no AP bus under {hosts}/kvm-z9 (no sys/bus/ap) |" in markdown
    rows = {line.split(" | ")[0][2:]: line for line in markdown.splitlines() if line.startswith("| kvm-")}
    assert "kvm-a1 is not fully audited: could not read " in rows["kvm-a1"] and "can leave" not in rows["kvm-a1"]
    assert "kvm-z9 is not fully audited: no AP bus" in rows["kvm-z9"] and "can leave" not in rows["kvm-z9"]
    idle = [line for line in markdown.splitlines() if line.startswith("Idle mdevs")]
    assert not any("on kvm-a1" in line for line in idle)
    document = json.loads((work / "out" / "readiness.json").read_text())
    summary = document["summary"]
    assert (summary["fully_audited"], summary["not_fully_audited"]) == (False, ["kvm-a1", "kvm-z9"])
    assert {"kvm-a1", "kvm-z9"} <= set(summary["hosts_not_evacuable"])
    plan = document["plan"]
    assert all(not g["idle"] and g["verdict"] == "blocked" for g in plan["guests"] if g["source"] == "kvm-a1")
    for guest in plan["guests"]:  # offered to no guest
        assert not {"kvm-a1", "kvm-z9"} & set(guest["ready"]["hosts"]) and guest["suggested"] not in ("kvm-a1", "kvm-z9")
    junit = ET.fromstring((work / "out" / "readiness.xml").read_text())
    coverage = next(s for s in junit.iter("testsuite") if s.get("name") == "vfio_ap audit coverage")
    failed = sorted(c.get("name") for c in coverage.iter("testcase") if c.find("failure") is not None)
    assert failed == ["kvm-a1 fully audited", "kvm-z9 fully audited"]
    html = (work / "out" / "readiness.html").read_text()
    assert '<tr data-host="kvm-a1" data-evacuation="not_audited">' in html


@pytest.mark.parametrize(
    ("extra", "check", "rc"),
    [
        ({"vfio_ap_audit_fail_on_not_audited": "false"}, False, 0),  # relaxed (survey text): same reports, green
        ({}, True, 2),  # check mode changes nothing on the hosts; the audit still did not see everything
    ],
    ids=["relaxed", "check-mode"],
)
def test_relaxing_and_check_mode(audited, fleet, tmp_path, extra, check, rc):
    hosts, wrapper = fleet
    _first, work = audited
    result = run_playbook(AUDIT, inventory(hosts, wrapper, tmp_path / "inventory.yml"),
                          extra_vars={"vfio_ap_audit_report_dir": str(tmp_path / "out"), **extra}, check=check, env=PIPELINING)  # fmt: skip
    assert result.rc == rc, result.stdout[-3000:]
    assert (tmp_path / "out" / "readiness.md").read_text() == (work / "out" / "readiness.md").read_text()


def test_an_empty_sysroot_alone(fleet, tmp_path):
    """One host whose sysroot has sys/ but no AP bus: before, 'every guest of kvm-z9 can leave' and rc 0."""
    hosts, wrapper = fleet
    result = run_playbook(AUDIT, inventory(hosts, wrapper, tmp_path / "inventory.yml", ["kvm-z9"]),
                          extra_vars={"vfio_ap_audit_report_dir": str(tmp_path / "out")})  # fmt: skip
    assert result.rc == 2
    markdown = (tmp_path / "out" / "readiness.md").read_text().replace("\\", "")  # without Markdown escapes
    row = next(line for line in markdown.splitlines() if line.startswith("| kvm-z9 |") and "not fully audited" in line)
    assert f"kvm-z9 is not fully audited: no AP bus under {hosts}/kvm-z9 (no sys/bus/ap)" in row


@pytest.mark.parametrize(
    ("playbook", "extra", "rc", "words"),
    [
        (PREPARE, {"vfio_ap_destination_host": "kvm-zz9", "vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_guests": "hsm1"},
         2, 'vfio_ap_destination_host "kvm-zz9" matches no inventory host: nothing would be prepared'),
        (PREPARE, {"vfio_ap_destination_host": "kvm-zz*", "vfio_ap_destination_source": "kvm-a1", "vfio_ap_destination_guests": "hsm1",
                   "vfio_ap_destination_fail_on_no_match": False}, 0, None),
        (PREPARE, {"vfio_ap_destination_host": "kvm-b1", "vfio_ap_destination_source": "kvm-aa1", "vfio_ap_destination_guests": "hsm1"},
         2, 'vfio_ap_destination_source "kvm-aa1" is not an inventory host'),
        (AUDIT, {"vfio_ap_audit_hosts": "kvm-zz9", "vfio_ap_audit_report_directory": "/srv"},
         2, 'vfio_ap_audit_hosts "kvm-zz9" matches no inventory host: nothing would be audited'),
    ],
    ids=["prepare-no-match", "prepare-no-match-allowed", "prepare-unknown-source", "audit-no-match"],
)  # fmt: skip
def test_a_pattern_matching_no_host_fails(fleet, tmp_path, playbook, extra, rc, words):
    hosts, wrapper = fleet
    result = run_playbook(playbook, inventory(hosts, wrapper, tmp_path / "inventory.yml", ["kvm-a1", "kvm-b1"]), extra_vars=extra,
                          env=PIPELINING)  # fmt: skip
    assert result.rc == rc, result.stdout[-3000:] + result.stderr[-2000:]
    if words:
        assert any(words in message for message in failures(result)), failures(result)
    else:
        assert set(result.stats) == {"localhost"}  # nothing ran on any host
    if "vfio_ap_audit_report_directory" in extra:
        assert "vfio_ap_audit_report_directory is not a variable of s390x.vfio_ap.audit; did you mean vfio_ap_audit_report_dir?" in (
            warnings(result)
        )


REPORT_ONLY = {"vfio_ap_audit_gather": False, "vfio_ap_audit_report": False}


@pytest.mark.parametrize(
    ("role", "extra", "typo", "nearest"),
    [
        ("audit", REPORT_ONLY, "vfio_ap_audit_fail_on_blocker", "vfio_ap_audit_fail_on_blockers"),
        ("destination", {"vfio_ap_destination_source": "nowhere"}, "vfio_ap_destination_guest", "vfio_ap_destination_guests"),
        ("migratable", {}, "vfio_ap_migratable_uuid", "vfio_ap_migratable_uuids"),
        ("maintenance", {"vfio_ap_maintenance_hosts": "nowhere"}, "vfio_ap_maintenance_execut", "vfio_ap_maintenance_execute"),
        ("audit", REPORT_ONLY, "vfio_ap_audit_zzz_qqq", None),
    ],
    ids=["audit", "destination", "migratable", "maintenance", "audit-far"],
)  # fmt: skip
def test_each_role_warns_about_typos(tmp_path, role, extra, typo, nearest):
    inv = local_inventory({"h1": {}}, tmp_path / "inventory.yml")
    play = f"- hosts: h1\n  gather_facts: false\n  roles:\n    - role: s390x.vfio_ap.{role}\n"
    output = {"audit": "summary", "destination": "result", "migratable": "result", "maintenance": "report"}[role]
    result = run_playbook(play, inv, extra_vars={**extra, typo: "x", f"vfio_ap_{role}_{output}": "a result of the role is no typo"})
    found = warnings(result)
    expected = f"{typo} is not a variable of s390x.vfio_ap.{role}" + (f"; did you mean {nearest}?" if nearest else "")
    assert any(w.startswith(expected) for w in found), found
    assert len(found) == 1, found  # the role's own result is no typo
    if nearest is None:
        assert found[0] == f"{typo} is not a variable of s390x.vfio_ap.{role} (see its meta/argument_specs.yml or README); it is ignored"


def test_audit_warns_once_about_a_typo_of_any_host(tmp_path):
    # The audit role checks every host's variables in one run (run_once): a typo in the host vars of a host that
    # is not the one the check runs on is found, and one typo on two hosts is one warning.
    inv = local_inventory(
        {"h1": {}, "h2": {"vfio_ap_audit_report_directory": "/srv"}, "h3": {"vfio_ap_audit_report_directory": "/srv"}},
        tmp_path / "inventory.yml",
    )
    play = "- hosts: all\n  gather_facts: false\n  roles:\n    - role: s390x.vfio_ap.audit\n"
    result = run_playbook(play, inv, extra_vars=REPORT_ONLY)
    assert warnings(result) == [
        "vfio_ap_audit_report_directory is not a variable of s390x.vfio_ap.audit; did you mean vfio_ap_audit_report_dir?"
    ], warnings(result)
