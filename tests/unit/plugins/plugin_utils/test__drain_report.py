"""_drain_report: the drain document as the files and the lines the maintenance role shows."""

from __future__ import annotations

import json

import pytest

from helpers.drain_cases import DEMO, planned_drain
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document, drain_summary
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import drain_messages, drain_report


def _guest(name, result, destination=None, codes=(), message="", command=None):
    return {"uuid": f"u-{name}", "guest": name, "result": result, "actual_destination": destination, "codes": list(codes),
            "message": message, "command": command}  # fmt: skip


DRAIN_CASES = {
    "plan: the verdict and the commands": (
        {
            "mode": "plan",
            "outcome": "kvm-a1 can be evacuated",
            "guests": [
                _guest("web1", "planned", command="virsh migrate web1"),
                _guest("db1", "stranded"),
                _guest("app9", "needs_preparation", command="virsh migrate app9"),
            ],
        },  # fmt: skip
        ["kvm-a1 can be evacuated", "virsh migrate web1", "virsh migrate app9"],
        "",
        "",
    ),
    "execute: one line per guest and the failures": (
        {
            "mode": "execute",
            "outcome": "1 of 3 vfio-ap guests of kvm-a1 left",
            "guests": [
                _guest("web1", "moved", "kvm-b1"),
                _guest("hsm1", "failed", codes=["mdev_missing"], message="no mdev"),
                _guest("pay2", "failed", "kvm-b2", codes=["verification_failed"], message="x"),
                _guest(None, "not_attempted", codes=["not_attempted"]),
            ],
        },  # fmt: skip
        [
            "1 of 3 vfio-ap guests of kvm-a1 left",
            "web1: moved to kvm-b1",
            "hsm1: failed (mdev_missing)",
            "pay2: failed, now on kvm-b2 (verification_failed)",
            "mdev u-None: not attempted (not_attempted)",
        ],
        "1 of 3 vfio-ap guests of kvm-a1 left: hsm1 (mdev_missing: no mdev); pay2 (verification_failed: x) (see /srv/r/evacuation.md)",
        "",
    ),
    "execute: a host not empty, terminal escapes shown as text": (
        {
            "mode": "execute",
            "outcome": "0 of 1 vfio-ap guests of kvm-a1 left",
            "host_status": {"kvm-a1": {"empty": False, "running": ["db\x1b[31m1"]}, "kvm-a2": {"empty": True, "running": []}},
            "guests": [_guest("db\x1b[31m1", "stranded", codes=["hw_type_older"])],
        },  # fmt: skip
        ["0 of 1 vfio-ap guests of kvm-a1 left", "db\\x1b[31m1: stranded (hw_type_older)"],
        "",
        "not empty after the drain - kvm-a1: db\\x1b[31m1 (see /srv/r/evacuation.md; "
        "vfio_ap_maintenance_fail_when_not_empty: false lets the run end without failing)",
    ),
}


@pytest.mark.parametrize(("document", "lines", "failed", "not_empty"), list(DRAIN_CASES.values()), ids=list(DRAIN_CASES))
def test_drain_messages(document, lines, failed, not_empty):
    got = drain_messages(document, report_dir="/srv/r")
    assert got == {"lines": lines, "failed": failed, "not_empty": not_empty}


def test_drain_messages_refuses():
    with pytest.raises(ValueError, match=r"^expected a drain document"):
        drain_messages({"outcome": "x"})


def test_drain_report_hands_out_the_files_the_summary_and_the_lines(tmp_path):
    plan, evacuation = planned_drain(facts_for_fleet(DEMO, tmp_path))
    document = drain_document(evacuation, Progress("plan"), {}, plan)
    got = drain_report(document, "/srv/r")
    assert set(got) == {"document", "files", "summary", "messages"} and got["document"] is document
    assert json.loads(got["files"]["evacuation.json"]) == document
    assert set(got["files"]) == {"evacuation.json", "evacuation.md", "evacuation.html", "evacuation.xml"}
    assert got["summary"] == drain_summary(document, "/srv/r") and got["summary"]["report_dir"] == "/srv/r"
    assert got["messages"] == drain_messages(document, "/srv/r")


def test_the_deprecated_evacuation_report_is_the_drain_report_of_a_plan(tmp_path):
    from ansible_collections.s390x.vfio_ap.plugins.filter.evacuation_report import evacuation_report
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_report import render_markdown

    plan, evacuation = planned_drain(facts_for_fleet(DEMO, tmp_path))
    text = evacuation_report(evacuation)
    assert text == render_markdown(drain_document(evacuation, Progress("plan"), {}))
    assert text.startswith("# Evacuation of kvm-a1 (plan)") and "virsh migrate" in text
    assert plan["sources"] == ["kvm-a1"]
