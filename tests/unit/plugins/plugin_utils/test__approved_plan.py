"""An approved plan is checked against fresh facts before the drain changes anything (plugin_utils/_approved_plan.py).

The approved plan is the evacuation.json of a plan-only run of the demo fleet's kvm-a1; each case
tampers with it as a careless or hostile hand would, and the check must name the entry index and
key in one line, never in Python's words, and never hand a tampered entry to the drain.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter._maintenance_approved_plan import (
    _maintenance_approved_plan as maintenance_approved_plan,
)
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._approved_plan import MAX_GUESTS, approved_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_document import Progress, drain_document
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import evacuation_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._waves import order_waves
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan

DEMO = Path(__file__).resolve().parents[3] / "fleets" / "demo.yml"
WEB1, DB1, HSM1 = (f"6c1a0000-0000-4000-8000-00000000a10{i}" for i in (1, 2, 3))
APP2 = "6c1a0000-0000-4000-8000-00000000a201"
FINDING = re.compile(
    r"^(the plan file|schema|hosts|guests(\[\d+\](\.(uuid|guest|source|destination|status|apqns|reason|prepare|blockers))?)?)\b"
)
PYTHON_WORDS = ("object has no attribute", "unhashable", "not subscriptable", "Traceback", "NoneType", "KeyError", "TypeError")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """{host: ansible_facts.vfio_ap} of the demo fleet."""
    return facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def approved(fleet):
    """The evacuation.json of a plan-only run for kvm-a1 (what a change board approves)."""
    plan = build_plan(fleet, sources=["kvm-a1"], destinations=sorted(set(fleet) - {"kvm-a1"}), limit=10)
    return json.loads(json.dumps(drain_document(evacuation_plan(plan, prepare=True), Progress("plan"), {}, plan)))


def index(document, uuid):
    return next(i for i, g in enumerate(document["guests"]) if g["uuid"] == uuid)


def check(document, fleet, hosts=("kvm-a1",)):
    result = approved_plan(document, list(hosts), fleet, prepare=True)
    for line in result["problems"]:
        assert FINDING.match(line) and "\n" not in line, line
        assert not any(words in line for words in PYTHON_WORDS), line
    return result


def test_the_approved_plan_as_written(approved, fleet):
    result = check(approved, fleet)
    assert result["problems"] == [] and result["skipped"] == []
    plan = result["plan"]
    assert [(g["uuid"], g["destination"], g["status"]) for g in plan["guests"]] == [
        (g["uuid"], g["destination"], g["status"]) for g in approved["guests"]
    ]
    assert plan["hosts"] == ["kvm-a1"] and plan["destinations"] == approved["destinations"]
    assert plan["summary"] == approved["summary"] and plan["verdict"] == approved["verdict"]


def tamper(document, change):
    changed = copy.deepcopy(document)
    change(changed)
    return changed


def swap_name(d):
    d["guests"][index(d, WEB1)]["guest"] = "db1"


def foreign_source(d):
    d["guests"][index(d, WEB1)]["source"] = "kvm-b2"


def twice(d):
    d["guests"].append(copy.deepcopy(d["guests"][index(d, WEB1)]))


def all_null(d):
    d["guests"][0] = dict.fromkeys(d["guests"][0])


def number(d):
    d["guests"][1] = 7


def unhashable(d):
    d["guests"][0]["uuid"] = ["a", "b"]


def into_maintenance(d):
    d["guests"][index(d, WEB1)]["destination"] = "kvm-a1"


def unknown_destination(d):
    d["guests"][index(d, WEB1)]["destination"] = "kvm-zz9$(reboot)"


def bad_status(d):
    d["guests"][index(d, WEB1)]["status"] = "go"


def stranded_with_destination(d):
    d["guests"][index(d, DB1)]["destination"] = "kvm-b1"


def apqns_text(d):
    d["guests"][index(d, WEB1)]["apqns"] = "01.0004"


TAMPERED = {
    # change -> expected findings (substrings, one per line, in order)
    "another host's plan": (lambda d: d.update(hosts=["kvm-a2"]), ["hosts: the plan is for kvm-a2, not for kvm-a1"]),
    "hosts not a list": (lambda d: d.update(hosts="kvm-a1"), ["hosts: expected a list of host names"]),
    "schema": (lambda d: d.update(schema=2), ["schema: expected 1"]),
    "guests not a list": (lambda d: d.update(guests={"a": 1}), ["guests: expected a list of entries, got a mapping"]),
    "a bystander's entry": (foreign_source, ["guests[0].source: 'kvm-b2' is not a host going into maintenance (kvm-a1)"]),
    "another guest's name": (swap_name, [f"guests[0].guest: the plan names 'db1', but mdev {WEB1} is used by guest 'web1' (kvm-a1)"]),
    "listed twice": (twice, [f"guests[6].uuid: {WEB1} is listed again (first at guests[0])"]),
    "all null": (
        all_null,
        ["guests[0].uuid: expected an mdev UUID, got None", "guests[0].source: None is not a host", "guests[0].status: expected one of"],
    ),
    "a number for an entry": (
        number,
        ["guests[1]: expected an entry (a mapping with uuid, guest, source, destination, status), got a number"],
    ),
    "a list for a UUID": (unhashable, ["guests[0].uuid: expected an mdev UUID, got ['a', 'b']"]),
    "into a host going down": (into_maintenance, ["guests[0].destination: 'kvm-a1' is not a host of the play that stays up"]),
    "a destination not in the play": (unknown_destination, ["guests[0].destination: 'kvm-zz9$(reboot)' is not a host of the play"]),
    "a status the drain does not know": (bad_status, ["guests[0].status: expected one of ready, prepare, stranded, got 'go'"]),
    "a stranded guest with a destination": (stranded_with_destination, ["guests[1].destination: a stranded entry has no destination"]),
    "APQNs as text": (apqns_text, ["guests[0].apqns: expected a list of APQNs (AA.DDDD), got '01.0004'"]),
}


@pytest.mark.parametrize("change, findings", list(TAMPERED.values()), ids=list(TAMPERED))
def test_a_tampered_plan_is_refused_with_one_line_per_finding(approved, fleet, change, findings):
    """Issue 20, finding 2: every tampering is found before anything changes, in the drain's terms."""
    assert index(approved, WEB1) == 0 and index(approved, DB1) == 1
    result = check(tamper(approved, change), fleet)
    assert result["plan"] is None
    assert len(result["problems"]) == len(findings), result["problems"]
    for line, expected in zip(result["problems"], findings, strict=True):
        assert expected in line, line


@pytest.mark.parametrize("document, finding", [(None, "holds null"), ([], "holds a list"), ("x", "holds a string")])
def test_not_a_plan(fleet, document, finding):
    assert finding in check(document, fleet)["problems"][0]


def test_a_huge_plan_is_refused_before_any_other_check(approved, fleet):
    """200,000 entries of other hosts' guests: one finding, no per-entry work (the limit is documented)."""
    other = {**approved["guests"][0], "source": "kvm-b1"}
    result = check({**approved, "guests": [other] * 200_000}, fleet)
    assert result["problems"] == [f"guests: 200000 entries, more than the {MAX_GUESTS} an approved plan may hold"]
    assert "10000" in (Path(__file__).resolve().parents[4] / "docs" / "maintenance.md").read_text()


def test_gone_guests_are_skipped_and_moved_guests_kept(approved, fleet):
    facts = copy.deepcopy(fleet)
    # hsm1's mdev is gone from kvm-a1; web1 runs on kvm-b1 now (an earlier run moved it)
    facts["kvm-a1"]["driver"]["mdevs"] = [m for m in facts["kvm-a1"]["driver"]["mdevs"] if m["uuid"] != HSM1]
    src = next(m for m in facts["kvm-a1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    dst = next(m for m in facts["kvm-b1"]["driver"]["mdevs"] if m["uuid"] == WEB1)
    src.update(in_use=False, guest=None)
    dst.update(in_use=True, guest="web1")
    result = check(approved, facts)
    assert result["problems"] == [] and result["skipped"] == [HSM1]
    by_uuid = {g["uuid"]: g for g in result["plan"]["guests"]}
    assert by_uuid[HSM1]["status"] == "skipped" and "not on kvm-a1" in by_uuid[HSM1]["reason"]
    assert by_uuid[WEB1]["status"] == "ready" and result["plan"]["summary"]["skipped"] == 1
    # moved onto another host going down: the plan no longer describes the guest
    dst.update(in_use=False, guest=None)
    facts["kvm-a2"]["driver"]["mdevs"].append({**src, "in_use": True, "guest": "web1"})
    result = check(approved, facts, hosts=("kvm-a1", "kvm-a2"))
    assert any(f"guests[0].source: kvm-a1, but mdev {WEB1} runs guest 'web1' on kvm-a2 now" in p for p in result["problems"])


def test_a_bystanders_entry_is_skipped_never_moved(approved, fleet):
    """An entry for a guest of a host that stays up (its mdev on no host going down) is skipped and reported."""
    host, mdev = next((h, m) for h in sorted(fleet) if h != "kvm-a1" for m in fleet[h]["driver"]["mdevs"] if m.get("in_use"))
    entry = {**approved["guests"][0], "uuid": mdev["uuid"], "guest": mdev["guest"]}
    result = check({**approved, "guests": approved["guests"] + [entry]}, fleet)
    assert result["problems"] == [] and result["skipped"] == [mdev["uuid"]]
    skipped = result["plan"]["guests"][-1]
    assert (skipped["status"], skipped["destination"]) == ("skipped", None)
    assert f"it is used by guest {mdev['guest']!r} on {host}" in skipped["reason"]
    waves = order_waves(result["plan"], None, DrainOptions.of(prepare=True))
    assert waves["held"][mdev["uuid"]] == "skipped" and mdev["uuid"] not in {g["uuid"] for w in waves["waves"] for g in w["guests"]}


def test_what_the_drain_uses_is_rebuilt_from_the_facts(approved, fleet):
    tampered = copy.deepcopy(approved)
    web1 = tampered["guests"][index(tampered, WEB1)]
    web1.update(command="virsh destroy db1", apqns=["01.0004", "02.0003"])
    tampered["destinations"] = {"kvm-b2": {"guests": [WEB1], "prepare": [{"source": "kvm-a1", "uuids": [APP2]}]}}
    tampered["summary"] = {"guests": 0}
    plan = check(tampered, fleet)["plan"]
    entry = plan["guests"][0]
    assert entry["command"].startswith("virsh migrate --live") and "--domain web1" in entry["command"]
    assert entry["apqns"] == ["01.0004"]
    assert plan["destinations"] == approved["destinations"] and plan["summary"] == approved["summary"]


def test_the_filter_reads_the_file_text(approved, fleet):
    text = json.dumps(approved)
    assert maintenance_approved_plan(text, ["kvm-a1"], fleet)["problems"] == []
    (problem,) = maintenance_approved_plan(text[:-5], ["kvm-a1"], fleet)["problems"]
    assert re.fullmatch(r"the plan file is not JSON \(line 1, column \d+\)", problem)
    deep = "[" * 100_000 + "]" * 100_000
    assert "nests its JSON too deeply" in maintenance_approved_plan(deep, ["kvm-a1"], fleet)["problems"][0]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from([WEB1, DB1, "kvm-a1", "kvm-b1", "ready", "prepare"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["uuid", "guest", "source", "destination", "status", "apqns", "reason", "prepare", "blockers", "x"]),
            inner,
            max_size=6,
        )
    ),  # fmt: skip
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(JSON, max_size=6), hosts=st.sampled_from([["kvm-a1"], "kvm-a1", None, [1]]))
def test_garbage_never_raises_and_every_finding_is_one_line(fleet, entries, hosts):
    result = check({"schema": 1, "hosts": hosts, "guests": entries}, fleet)
    assert (result["plan"] is None) == bool(result["problems"])
    if result["plan"] is not None:
        for g in result["plan"]["guests"]:
            assert g["source"] == "kvm-a1" and (g["destination"] is None or g["destination"] not in ("kvm-a1",))
