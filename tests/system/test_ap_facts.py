"""ap_facts through real ansible-playbook / ansible runs against the rendered demo fleet.

Expectations are computed from tests/fleets/demo.yml itself, so the facts are checked against
what the fleet file says about every host.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers.ansible_run import VENV_BIN, ansible_env, local_inventory, run_module, run_playbook
from helpers.fleet_facts import queues_by_apqn
from helpers.hang import HANG_GUARD

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import format_apqn, parse_ids

GATHER = """
- name: Gather AP facts
  hosts: all
  gather_facts: false
  tasks:
    - name: ap_facts
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ vfio_ap_sysroot }}"
    - name: keep
      ansible.builtin.set_fact:
        gathered: "{{ ansible_facts.vfio_ap }}"
    - name: unknown subset
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ vfio_ap_sysroot }}"
        gather_subset: [all, "!disks"]
      ignore_errors: true
    - name: missing sysroot
      s390x.vfio_ap.ap_facts:
        sysroot: /nonexistent/sysroot
      ignore_errors: true
"""


def _ids(value, maximum=255):
    return parse_ids(value, "fleet", maximum, allow_mask=True)


def expected_host(spec: dict) -> dict:
    """Return what ap_facts must report for one demo.yml host (the fields the fleet file decides)."""
    migration = spec.get("migration", "kernel")
    max_dom = spec.get("max_domain_id", 84)
    apmask = set(_ids(spec.get("apmask", "0-255")))
    aqmask = set(_ids(spec.get("aqmask", "0-255")))
    cards = {}
    queues = {}
    for card in spec.get("cards", []):
        cid = _ids(card["id"])[0]
        cards[cid] = {"type": card["type"], "serialnr": card.get("serialnr")}
        for dom in _ids(card.get("domains")):
            owned = cid in apmask and dom in aqmask
            queues[format_apqn(cid, dom)] = "cex4queue" if owned else "vfio_ap"
    definitions = {}
    mdevs = {}
    for m in spec.get("mdevs", []):
        adapters, domains = _ids(m.get("adapters")), _ids(m.get("domains"))
        migratable = {"attribute": bool(m.get("migratable", 0)), "kernel": True, "none": None}[migration]
        mdevs[m["uuid"]] = {
            "adapters": adapters,
            "domains": domains,
            "control_domains": _ids(m.get("control_domains")),
            "apqns": [format_apqn(a, d) for a in adapters for d in domains],
            "guest": m.get("guest"),
            "start": m.get("start"),
            "defined": "start" in m,
            "migratable": migratable,
        }
        if "start" in m:
            definitions[m["uuid"]] = {"start": m["start"], "adapters": adapters, "domains": domains,
                                      "control_domains": _ids(m.get("control_domains")), "active": True}  # fmt: skip
    for d in spec.get("definitions", []):
        definitions[d["uuid"]] = {"start": d.get("start", "manual"), "adapters": _ids(d.get("adapters")),
                                  "domains": _ids(d.get("domains")), "control_domains": _ids(d.get("control_domains")),
                                  "active": d["uuid"] in mdevs}  # fmt: skip
        if d["uuid"] in mdevs:
            mdevs[d["uuid"]].update(defined=True, start=d.get("start", "manual"))
    return {
        "migration": migration,
        "vfio_domains": [d for d in range(max_dom + 1) if d not in aqmask],
        "vfio_adapters": [a for a in range(256) if a not in apmask],
        "host_usage_domains": _ids(spec["usage_domains"]) if "usage_domains" in spec else None,
        "cards": cards,
        "queues": queues,
        "mdevs": mdevs,
        "definitions": definitions,
    }


@pytest.fixture(scope="module")
def demo_spec(demo_fleet_path) -> dict:
    return yaml.safe_load(Path(demo_fleet_path).read_text())["hosts"]


class AdhocRun:
    """Results of one ``ansible all -m s390x.vfio_ap.ap_facts`` run, in the PlayResult shape the tests use."""

    def __init__(self, data: dict):
        self.data = data

    def task_results(self, _name: str) -> dict:
        return self.data["plays"][0]["tasks"][0]["hosts"]


@pytest.fixture(scope="module")
def demo_inventory(rendered_demo, demo_spec, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("ap-facts-play")
    return local_inventory({h: {"vfio_ap_sysroot": str(rendered_demo / h)} for h in demo_spec}, work / "inventory.yml")


@pytest.fixture(scope="module")
def demo_run(demo_inventory):
    """The issue's own command, for every demo host at once: ansible -m s390x.vfio_ap.ap_facts -a sysroot=..."""
    cmd = [str(VENV_BIN / "ansible"), "all", "-i", str(demo_inventory), "-m", "s390x.vfio_ap.ap_facts",
           "-a", "sysroot={{ vfio_ap_sysroot }}"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}),
                          timeout=HANG_GUARD, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return AdhocRun(json.loads(proc.stdout[proc.stdout.find("{") :]))


def test_demo_facts_match_the_fleet_file(demo_run, demo_spec, rendered_demo):
    results = demo_run.task_results("ap_facts")
    assert sorted(results) == sorted(demo_spec)
    for host, spec in demo_spec.items():
        res = results[host]
        assert res.get("changed") is False and not res.get("failed"), (host, res.get("msg"))
        assert not res.get("warnings"), (host, res.get("warnings"))
        facts = res["ansible_facts"]["vfio_ap"]
        want = expected_host(spec)
        assert facts["sysroot"] == str(rendered_demo / host)
        assert facts["bus"]["present"] is True and facts["driver"]["loaded"] is True
        assert facts["driver"]["migration"] == want["migration"], host
        assert facts["bus"]["vfio_domains"] == want["vfio_domains"], host
        assert facts["bus"]["vfio_adapters"] == want["vfio_adapters"], host
        if want["host_usage_domains"] is not None:
            assert facts["bus"]["host_usage_domains"] == want["host_usage_domains"], host
        assert {c["id"]: {"type": c["type"], "serialnr": c["serialnr"]} for c in facts["cards"]} == want["cards"], host
        assert {q["apqn"]: q["driver"] for q in facts["queues"]} == want["queues"], host
        got_mdevs = {m["uuid"]: m for m in facts["driver"]["mdevs"]}
        assert sorted(got_mdevs) == sorted(want["mdevs"]), host
        for uuid, expect in want["mdevs"].items():
            got = got_mdevs[uuid]
            assert {k: got[k] for k in expect} == expect, (host, uuid)
            # a guest is attached exactly when the fleet names one (and it has queues to use)
            assert got["in_use"] is bool(expect["guest"] and got["guest_apqns"]), (host, uuid)
        got_defs = {d["uuid"]: {k: v for k, v in d.items() if k != "uuid"} for d in facts["driver"]["definitions"]}
        assert got_defs == want["definitions"], host


@pytest.mark.parametrize(
    ("host", "uuid", "field", "value"),
    [
        # db1: adapter 0x0a is assigned but not installed, so the guest only gets 00.0005
        ("kvm-a1", "6c1a0000-0000-4000-8000-00000000a102", "guest_apqns", ["00.0005"]),
        ("kvm-a1", "6c1a0000-0000-4000-8000-00000000a102", "apqns", ["00.0005", "0a.0005"]),
        # web1's landing mdev on kvm-b1: nothing assigned, nobody using it
        ("kvm-b1", "6c1a0000-0000-4000-8000-00000000a101", "guest_apqns", []),
        ("kvm-b1", "6c1a0000-0000-4000-8000-00000000a101", "in_use", False),
        # the kvm-a2 landing mdev for v1ok: defined manual, not used
        ("kvm-a2", "6c1a0000-0000-4000-8000-00000000b202", "start", "manual"),
        ("kvm-b2", "6c1a0000-0000-4000-8000-00000000b201", "migratable", False),
    ],
)
def test_demo_verdict_inputs(demo_run, host, uuid, field, value):
    facts = demo_run.task_results("ap_facts")[host]["ansible_facts"]["vfio_ap"]
    assert {m["uuid"]: m for m in facts["driver"]["mdevs"]}[uuid][field] == value


@pytest.mark.parametrize(
    ("host", "apqn", "field", "value"),
    [
        ("kvm-b1", "02.000a", "capabilities", {"apsc": False, "mex4k": False, "crt4k": False, "mode": "ep11",
                                               "cca": False, "accel": False, "ep11": True,
                                               "apxa": True, "slcf": False, "native": True, "stateless": False,
                                               "bs": 1, "hwtype": 14}),
        ("kvm-b1", "01.000c", "chkstop", True),
        ("kvm-b1", "03.0007", "functions", "0x6B800000"),
        ("kvm-a1", "00.0001", "mkvps", {"aes_new": None, "aes_cur": {"state": "valid", "mkvp": "0x1111aaaa2222bbbb"},
                                        "aes_old": None, "apka_new": None,
                                        "apka_cur": {"state": "valid", "mkvp": "0x3333cccc4444dddd"}, "apka_old": None,
                                        "asym_new": None, "asym_cur": None, "asym_old": None}),
        ("kvm-a1", "02.0001", "mkvps", {"wk_cur": {"state": "valid", "mkvp": "0x" + "5555eeee6666ffff" * 4},
                                        "wk_new": None}),
        ("kvm-a1", "00.0005", "vfio_status", "in use"),
        ("kvm-a1", "00.0006", "vfio_status", "unassigned"),
    ],
)  # fmt: skip
def test_demo_queue_details(demo_run, host, apqn, field, value):
    facts = demo_run.task_results("ap_facts")[host]["ansible_facts"]["vfio_ap"]
    assert queues_by_apqn(facts)[apqn][field] == value


@pytest.fixture(scope="module")
def checked(demo_inventory):
    """The gathering playbook (plus two tasks with bad options, errors ignored) run in check mode."""
    result = run_playbook(GATHER, demo_inventory, check=True)
    assert result.rc == 0, result.stderr[-2000:]
    return result


def test_playbook_in_check_mode_gives_the_same_facts_to_hostvars(checked, demo_run):
    assert checked.changed_total() == 0
    adhoc = demo_run.task_results("ap_facts")
    for host, res in checked.task_results("ap_facts").items():
        assert res["ansible_facts"] == adhoc[host]["ansible_facts"], host
    kept = checked.task_results("keep")
    assert kept["kvm-a3"]["ansible_facts"]["gathered"]["driver"]["migration"] == "none"
    assert len(kept["kvm-a1"]["ansible_facts"]["gathered"]["queues"]) == 96


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (
            "unknown subset",
            "gather_subset: unknown subset '!disks'; valid subsets are all, bus, cards, definitions, "
            "guests, mdevs, mkvps, queues (prefix ! to exclude)",
        ),
        (
            "missing sysroot",
            "sysroot: /nonexistent/sysroot does not exist; "
            "it must be / or an existing directory holding sys/ (the root of the host to manage)",
        ),
    ],
)
def test_bad_options_fail_clearly(checked, task, message):
    for host, res in checked.task_results(task).items():
        assert res.get("failed") is True, host
        assert res["msg"] == message
        assert "ansible_facts" not in res


def test_adhoc_subset_run(rendered_demo):
    res = run_module("s390x.vfio_ap.ap_facts", {"sysroot": str(rendered_demo / "kvm-b1"), "gather_subset": ["!queues", "!cards"]})
    facts = res["ansible_facts"]["vfio_ap"]
    assert res["changed"] is False
    assert facts["queues"] == [] and facts["cards"] == []
    assert facts["gather_subset"] == ["bus", "definitions", "guests", "mdevs"]
    assert [m["guest"] for m in facts["driver"]["mdevs"]] == [None, "mq1", "sec1", "ai1"]
    assert [m["in_use"] for m in facts["driver"]["mdevs"]] == [False, True, True, True]
