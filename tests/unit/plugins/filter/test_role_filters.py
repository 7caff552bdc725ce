"""The filters the roles compute with (fleet_facts, mdev_selection, migration_plan(hosts=), destination_checks,
destination_result, blocker_summary).

Facts come from the demo fleet (tests/fleets/demo.yml) gathered with the real gatherer; ``hostvars`` is
a plain ``{host: variables}`` mapping shaped as Ansible's (``ansible_facts.vfio_ap`` plus inventory
variables).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter._blocker_summary import _blocker_summary as blocker_summary
from ansible_collections.s390x.vfio_ap.plugins.filter._destination_checks import _destination_checks as destination_checks
from ansible_collections.s390x.vfio_ap.plugins.filter._destination_result import _destination_result as destination_result
from ansible_collections.s390x.vfio_ap.plugins.filter._fleet_facts import _fleet_facts as fleet_facts
from ansible_collections.s390x.vfio_ap.plugins.filter._mdev_selection import _mdev_selection as mdev_selection
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan

DEMO = Path(__file__).resolve().parents[3] / "fleets" / "demo.yml"
WEB1, DB1, HSM1 = (f"6c1a0000-0000-4000-8000-00000000a10{i}" for i in (1, 2, 3))
SPARE_B202 = "6c1a0000-0000-4000-8000-00000000b202"


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    return facts_for_fleet(DEMO, tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def hostvars(facts):
    """hostvars of an inventory: kvm-b3 never gathered, kvm-a2 has no migration address, 'ctl' is not a KVM host."""
    out = {}
    for i, (name, host_facts) in enumerate(sorted(facts.items())):
        variables = {"inventory_hostname": name, "ansible_facts": {"vfio_ap": host_facts}}
        if name != "kvm-a2":
            variables["vfio_ap_migration_address"] = f"fd00:a::{i + 1}"
        out[name] = variables
    out["kvm-b3"] = {"inventory_hostname": "kvm-b3", "ansible_facts": {}}
    out["ctl"] = {"inventory_hostname": "ctl"}
    return out


# --------------------------------------------------------------------------- fleet_facts

FLEET_CASES = {
    "all gathered": (["kvm-a1", "kvm-b1"], ["kvm-a1", "kvm-b1"], []),
    "not gathered and not in inventory": (["kvm-a1", "kvm-b3", "nosuchhost", "ctl"], ["kvm-a1"], ["kvm-b3", "nosuchhost", "ctl"]),
    "duplicates dropped, order kept": (["kvm-b1", "kvm-a1", "kvm-b1"], ["kvm-b1", "kvm-a1"], []),
    "one name as a string": ("kvm-a2", ["kvm-a2"], []),
    "none": ([], [], []),
}


@pytest.mark.parametrize(("hosts", "gathered", "missing"), list(FLEET_CASES.values()), ids=list(FLEET_CASES))
def test_fleet_facts(hostvars, facts, hosts, gathered, missing):
    got = fleet_facts(hostvars, hosts)
    assert (got["gathered"], got["missing"]) == (gathered, missing)
    assert got["hosts"] == list(dict.fromkeys([hosts] if isinstance(hosts, str) else hosts))
    assert got["facts"] == {h: facts[h] for h in gathered}
    assert got["capacity"] == {h: facts[h]["driver"]["available_instances"] for h in gathered}
    assert got["addresses"] == {h: hostvars[h]["vfio_ap_migration_address"] for h in gathered if h != "kvm-a2"}


@pytest.mark.parametrize(
    ("source", "hosts", "message"),
    [
        ("hostvars", None, "hosts: expected a list of inventory host names, got None"),
        ("hostvars", [1, 2], "hosts: expected a list of inventory host names"),
        ("list", ["kvm-a1"], "expected hostvars (a mapping {host: variables}), got list"),
    ],
)
def test_fleet_facts_refuses(hostvars, source, hosts, message):
    with pytest.raises(AnsibleFilterError, match=r"^s390x\.vfio_ap\._fleet_facts: ") as caught:
        fleet_facts(hostvars if source == "hostvars" else [], hosts)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- mdev_selection

SELECTION_CASES = {
    "uuid text, upper case, commas and spaces": (["kvm-a1"], f"{WEB1.upper()}, {DB1}", None, [WEB1, DB1], [], []),
    "guest names as text": (["kvm-a1"], None, "hsm1 web1", [WEB1, HSM1], [], []),
    "uuids first, then the guests' mdevs, each once": (["kvm-a1"], [HSM1], ["web1", "hsm1"], [HSM1, WEB1], [], []),
    "unknown names": (["kvm-a1"], [SPARE_B202], ["nosuchguest", "web1"], [SPARE_B202, WEB1], [SPARE_B202], ["nosuchguest"]),
    "over several hosts": (["kvm-a1", "kvm-a2"], SPARE_B202, "app2", [SPARE_B202, "6c1a0000-0000-4000-8000-00000000a201"], [], []),
    "hosts without facts have no mdevs": (["kvm-b3", "ctl", "nosuchhost"], [], ["db3"], [], [], ["db3"]),
    "empty inputs": (["kvm-a1"], "", [], [], [], []),
}


@pytest.mark.parametrize(
    ("hosts", "uuids", "guests", "selected", "unknown_uuids", "unknown_guests"),
    list(SELECTION_CASES.values()),
    ids=list(SELECTION_CASES),
)
def test_mdev_selection(hostvars, hosts, uuids, guests, selected, unknown_uuids, unknown_guests):
    got = mdev_selection(hostvars, hosts, uuids=uuids, guests=guests)
    assert {k: got[k] for k in ("uuids", "unknown_uuids", "unknown_guests")} == {
        "uuids": selected, "unknown_uuids": unknown_uuids, "unknown_guests": unknown_guests
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uuids": {"a": 1}}, "uuids: expected a list of names or one comma-separated string, got dict"),
        ({"guests": [None]}, "guests: expected a list of names or one comma-separated string"),
        ({"guests": 5}, "guests: expected a list of names or one comma-separated string, got int"),
    ],
)
def test_mdev_selection_refuses(hostvars, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=r"^s390x\.vfio_ap\._mdev_selection: ") as caught:
        mdev_selection(hostvars, ["kvm-a1"], **kwargs)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- migration_plan(hosts=)


def test_plan_over_hostvars_equals_plan_over_facts(hostvars, facts):
    """hostvars + hosts plans exactly what the facts of those hosts plan, addresses read from hostvars."""
    hosts = ["kvm-a1", "kvm-a2", "kvm-b1"]
    addresses = {h: hostvars[h]["vfio_ap_migration_address"] for h in hosts if "vfio_ap_migration_address" in hostvars[h]}
    over_facts = migration_plan({h: facts[h] for h in hosts}, migration_addresses=addresses, migration_network="fd00:a::/64")
    over_hostvars = migration_plan(hostvars, hosts=hosts, migration_network="fd00:a::/64")
    assert over_hostvars == over_facts
    assert over_hostvars["sources"] == over_hostvars["destinations"] == sorted(hosts)
    assert any(g.get("command") for g in over_hostvars["guests"])  # the addresses came from hostvars


def test_plan_hosts_with_sources_and_destinations(hostvars, facts):
    got = migration_plan(hostvars, hosts=["kvm-a1", "kvm-b1", "kvm-b2"], sources=["kvm-a1"], destinations=["kvm-b1", "kvm-b2"])
    assert got == migration_plan(facts, sources=["kvm-a1"], destinations=["kvm-b1", "kvm-b2"])


def test_plan_existing_call_forms_still_work(hostvars, facts):
    """Without hosts: {host: facts}, and hostvars with sources/destinations (hosts without facts not read)."""
    gathered = sorted(facts)
    assert migration_plan(facts)["sources"] == gathered
    assert migration_plan(hostvars, sources=["kvm-a1"], destinations=["kvm-b1"])["destinations"] == ["kvm-b1"]


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        (["kvm-a1", "nosuchhost"], "hosts: nosuchhost not in hostvars (not inventory hosts)"),
        (["kvm-a1", "kvm-b3"], "hosts: kvm-b3 without vfio_ap facts (run s390x.vfio_ap.ap_facts there first)"),
        (
            ["nosuchhost", "kvm-b3", "ctl"],
            "hosts: nosuchhost not in hostvars (not inventory hosts); kvm-b3, ctl without vfio_ap facts",
        ),
        ([], "hosts: expected at least one inventory host, got an empty list"),
        ({"kvm-a1": 1}, "hosts: expected a list of inventory host names"),
    ],
)
def test_plan_hosts_refused(hostvars, hosts, message):
    with pytest.raises(AnsibleFilterError, match=r"^s390x\.vfio_ap\.migration_plan: ") as caught:
        migration_plan(hostvars, hosts=hosts)
    assert message in str(caught.value)


def test_plan_sources_outside_hosts_refused(hostvars):
    with pytest.raises(AnsibleFilterError, match="sources: kvm-b2 not in facts_by_host"):
        migration_plan(hostvars, hosts=["kvm-a1", "kvm-b1"], sources=["kvm-b2"])


# --------------------------------------------------------------------------- destination_checks / _result / blocker_summary

# (uuids, ready, ready_after, unfixable guests, ap_mask actions, mdev action UUIDs)
CHECK_CASES = {
    "ready (its landing mdev is made persistent)": ([WEB1], ["web1"], [], [], 0, [WEB1]),
    "ready after preparation": ([HSM1], [], ["hsm1"], [], 1, [HSM1]),
    "unfixable": ([DB1], [], [], ["db1"], 0, [DB1]),
    "all three, as text, in the order given": (f"{DB1},{HSM1} {WEB1}", ["web1"], ["hsm1"], ["db1"], 1, [DB1, HSM1, WEB1]),
    "a UUID given twice is checked once": ([HSM1, HSM1.upper()], [], ["hsm1"], [], 1, [HSM1]),
}


@pytest.mark.parametrize(
    ("uuids", "ready", "ready_after", "unfixable", "reservations", "mdevs"), list(CHECK_CASES.values()), ids=list(CHECK_CASES)
)
def test_destination_checks(facts, uuids, ready, ready_after, unfixable, reservations, mdevs):
    got = destination_checks(facts["kvm-a1"], facts["kvm-b1"], uuids, source="kvm-a1", destination="kvm-b1")
    assert [c["guest"] for c in got["checks"] if c["ready"]] == ready
    assert [c["guest"] for c in got["checks"] if c["ready_after"]] == ready_after
    assert [c["guest"] for c in got["unfixable"]] == unfixable
    assert sorted(got["actions"]) == ["ap_mask", "mdev", "migratable"]
    assert len(got["actions"]["ap_mask"]) == reservations
    assert [a["uuid"] for a in got["actions"]["mdev"]] == mdevs
    assert all(a["type"] == kind for kind, actions in got["actions"].items() for a in actions)
    assert all(c["source"] == "kvm-a1" and c["destination"] == "kvm-b1" for c in got["checks"])


def test_destination_checks_actions_once_in_order(facts, monkeypatch):
    """The same reservation wanted by two guests is one action; each type keeps the checks' order."""
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _destination

    reserve = {"type": "ap_mask", "adapters": [], "domains": [3], "state": "reserved", "persistent": True}
    actions = {
        WEB1: [reserve, {"type": "mdev", "uuid": WEB1}],
        HSM1: [{"type": "migratable", "uuid": HSM1}, reserve, {"type": "mdev", "uuid": HSM1}],
    }

    def fake(_src, _dst, uuid, _rules):
        return {"uuid": uuid, "guest": None, "ready": False, "ready_after": True, "actions": actions[uuid]}

    monkeypatch.setattr(_destination, "check_pair", fake)
    got = destination_checks(facts["kvm-a1"], facts["kvm-b1"], [WEB1, HSM1])
    assert got["actions"] == {
        "ap_mask": [reserve],
        "mdev": [{"type": "mdev", "uuid": WEB1}, {"type": "mdev", "uuid": HSM1}],
        "migratable": [{"type": "migratable", "uuid": HSM1}],
    }


@pytest.mark.parametrize(
    ("uuids", "kwargs", "message"),
    [
        (["6c1a0000-0000-4000-8000-0000000000ff"], {}, "uuid: 6c1a0000-0000-4000-8000-0000000000ff is not an mdev of the source"),
        ([], {}, "uuids: expected at least one mdev UUID of the source"),
        ("", {}, "uuids: expected at least one mdev UUID of the source"),
        ([HSM1], {"rules": "lenient"}, "rules: expected one of"),
        ([HSM1], {"source": 5}, "source: expected a host name, got int"),
    ],
)
def test_destination_checks_refuses(facts, uuids, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=r"^s390x\.vfio_ap\._destination_checks: ") as caught:
        destination_checks(facts["kvm-a1"], facts["kvm-b1"], uuids, **kwargs)
    assert message in str(caught.value)


def test_destination_checks_refuses_unknown_action_type(facts, monkeypatch):
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _destination

    def odd(*args):
        return {"uuid": HSM1, "guest": "hsm1", "ready": False, "ready_after": True, "actions": [{"type": "reboot"}]}

    monkeypatch.setattr(_destination, "check_pair", odd)
    with pytest.raises(AnsibleFilterError, match="migration_check returned an action of unknown type: {'type': 'reboot'}"):
        destination_checks(facts["kvm-a1"], facts["kvm-b1"], [HSM1])


@pytest.mark.parametrize(
    ("after", "before", "after_ready"),
    [
        (None, ["ready", "ready_after"], [None, None]),
        ("unchanged", ["ready", "ready_after"], [True, False]),
    ],
    ids=["no verification", "verified with facts gathered again"],
)
def test_destination_result(facts, after, before, after_ready):
    checks = destination_checks(facts["kvm-a1"], facts["kvm-b1"], [WEB1, HSM1], source="kvm-a1", destination="kvm-b1")["checks"]
    got = destination_result(checks, facts["kvm-a1"], facts["kvm-b1"] if after else None, source="kvm-a1", destination="kvm-b1")
    assert [r["before"] for r in got] == before
    assert [None if r["after"] is None else r["after"]["ready"] for r in got] == after_ready
    assert [(r["uuid"], r["guest"], r["source"], r["destination"]) for r in got] == [
        (WEB1, "web1", "kvm-a1", "kvm-b1"),
        (HSM1, "hsm1", "kvm-a1", "kvm-b1"),
    ]
    assert [r["actions"] for r in got] == [c["actions"] for c in checks]
    assert all(sorted(r) == ["actions", "after", "before", "destination", "guest", "source", "uuid"] for r in got)


@pytest.mark.parametrize(("verify", "checked"), [(True, True), ("yes", True), (False, False), ("false", False), (0, False)])
def test_destination_result_checks_again_only_when_verifying(facts, verify, checked):
    """The role passes its current facts always and says with verify whether they count (check mode: not)."""
    checks = destination_checks(facts["kvm-a1"], facts["kvm-b1"], [WEB1], source="kvm-a1", destination="kvm-b1")["checks"]
    got = destination_result(checks, facts["kvm-a1"], facts["kvm-b1"], source="kvm-a1", destination="kvm-b1", verify=verify)
    assert (got[0]["after"] is not None) is checked


def test_destination_result_refuses(facts):
    with pytest.raises(AnsibleFilterError, match="verify: "):
        destination_result([], facts["kvm-a1"], verify="maybe")
    with pytest.raises(AnsibleFilterError, match="checks: expected migration_check results"):
        destination_result([{"guest": "x"}], facts["kvm-a1"])


SUMMARY_CASES = {
    "none": ([], ""),
    "one guest, codes once each in order": (
        [{"guest": "hsm1", "uuid": HSM1, "blockers": [{"code": "b"}, {"code": "a"}, {"code": "b"}]}],
        "hsm1 (b; a)",
    ),
    "only what preparation cannot fix, with the APQNs it names": (
        [
            {
                "guest": "app9",
                "blockers": [
                    {"code": "no_migration_support"},
                    {"code": "mdev_missing"},
                    {"code": "apqn_not_bound", "apqn": "02.0003"},
                    {"code": "apqn_not_installed", "apqn": "02.0003"},
                    {"code": "apqn_not_installed", "apqn": "02.0004"},
                ],
            }
        ],  # fmt: skip
        "app9 (no_migration_support; apqn_not_installed 02.0003, 02.0004)",
    ),
    "all fixable (preparation failed): all shown": (
        [{"guest": "web1", "blockers": [{"code": "mdev_missing"}]}],
        "web1 (mdev_missing)",
    ),
    "an unnamed mdev by UUID, several joined": (
        [{"guest": None, "uuid": HSM1, "blockers": [{"code": "mdev_missing"}]}, {"guest": "db1", "blockers": []}],
        f"{HSM1} (mdev_missing); db1 ()",
    ),
}


@pytest.mark.parametrize(("checks", "text"), list(SUMMARY_CASES.values()), ids=list(SUMMARY_CASES))
def test_blocker_summary(checks, text):
    assert blocker_summary(checks) == text


def test_blocker_summary_of_real_checks(facts):
    got = destination_checks(facts["kvm-a1"], facts["kvm-b1"], [DB1, HSM1], source="kvm-a1", destination="kvm-b1")
    assert blocker_summary(got["unfixable"]) == "db1 (hw_type_older 00.0005)"


def test_blocker_summary_refuses():
    with pytest.raises(AnsibleFilterError, match="expected migration_check results, got str"):
        blocker_summary(["hsm1"])
