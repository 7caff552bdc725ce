"""migration_plan (plan schema 2) over the demo fleet and small scenario fleets: verdicts, agreement
with migration_check, the bounded shape, summary, virsh commands, queries and bad input."""

from __future__ import annotations

import copy
import importlib.util
import json
import shlex
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.filter.migration_check import migration_check
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _reason_codes

EXPECTED = Path(__file__).resolve().parents[3] / "fleets" / "demo.expected.yml"


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory, demo_fleet_path):
    return facts_for_fleet(demo_fleet_path, tmp_path_factory.mktemp("plan-demo"))


@pytest.fixture(scope="module")
def demo_plan(demo_facts):
    return migration_plan(demo_facts, detail=True)


def _guests(plan):
    return {g["guest"]: g for g in plan["guests"] if g["guest"]}


def _cells():
    expected = yaml.safe_load(EXPECTED.read_text())["guests"]
    return [(guest, dest, cell) for guest, spec in expected.items() for dest, cell in spec["destinations"].items()]


@pytest.mark.parametrize(("guest", "destination", "cell"), _cells(), ids=[f"{g}->{d}" for g, d, _unused in _cells()])
def test_demo_plan_matches_the_fleet_intent(demo_plan, guest, destination, cell):
    found = _guests(demo_plan)[guest]["destinations"][destination]
    assert found["verdict"] == cell["verdict"]
    assert sorted({b["code"] for b in found["blockers"]}) == sorted(cell["blockers"])
    assert set(cell.get("warnings", [])) <= {w["code"] for w in found["warnings"]}


def test_every_demo_guest_is_planned(demo_plan):
    expected = yaml.safe_load(EXPECTED.read_text())["guests"]
    assert set(_guests(demo_plan)) == set(expected)
    for guest, spec in expected.items():
        assert _guests(demo_plan)[guest]["verdict"] == spec["verdict"], guest
        assert _guests(demo_plan)[guest]["source"] == spec["source"]


def test_plan_agrees_with_migration_check_for_every_pair(demo_facts, demo_plan):
    for entry in demo_plan["guests"]:
        assert set(entry["destinations"]) == set(demo_plan["destinations"]) - {entry["source"]}
        for destination, cell in entry["destinations"].items():
            result = migration_check(
                demo_facts[entry["source"]], demo_facts[destination], entry["uuid"], source=entry["source"], destination=destination
            )
            assert cell["verdict"] == ("ready" if result["ready"] else "ready_after" if result["ready_after"] else "blocked")
            assert cell["blockers"] == result["blockers"], (entry["uuid"], destination)
            assert cell["warnings"] == result["warnings"], (entry["uuid"], destination)
            assert cell["actions"] == result["actions"], (entry["uuid"], destination)


def test_bounded_plan_summarises_what_detail_lists(demo_facts, demo_plan):
    """Without detail the lists are capped but the counts, reasons and nearest agree with the full cells."""
    bounded = {g["uuid"]: g for g in migration_plan(demo_facts, limit=1, nearest=2)["guests"]}
    for entry in demo_plan["guests"]:
        small = bounded[entry["uuid"]]
        cells = entry["destinations"]
        by_verdict = {v: sorted(h for h, c in cells.items() if c["verdict"] == v) for v in ("ready", "ready_after", "blocked")}
        assert small["ready"]["count"] == len(by_verdict["ready"])
        assert set(small["ready"]["hosts"]) <= set(by_verdict["ready"]) and len(small["ready"]["hosts"]) == min(1, len(by_verdict["ready"]))
        assert small["ready_after"]["count"] == len(by_verdict["ready_after"])
        listed = [h for group in small["ready_after"]["preparations"] for h in group["hosts"]]
        assert set(listed) <= set(by_verdict["ready_after"]) and len(listed) == min(1, len(by_verdict["ready_after"]))
        for group in small["ready_after"]["preparations"]:
            for host in group["hosts"]:
                assert group["actions"] == cells[host]["actions"]
                assert group["codes"] == list(dict.fromkeys(b["code"] for b in cells[host]["blockers"]))
        assert small["blocked"]["count"] == len(by_verdict["blocked"])
        counts = {}
        for host in by_verdict["blocked"]:
            for code in {b["code"] for b in cells[host]["blockers"]}:
                counts[code] = counts.get(code, 0) + 1
        assert small["blocked"]["reasons"] == counts
        ranks = {
            h: (
                len({b["code"] for b in cells[h]["blockers"]}),
                len({b["code"] for b in cells[h]["blockers"]} - _reason_codes.FIXABLE_CODES),
                h,
            )
            for h in by_verdict["blocked"]
        }
        assert [n["host"] for n in small["blocked"]["nearest"]] == sorted(ranks, key=ranks.get)[:2]
        for near in small["blocked"]["nearest"]:
            blockers = cells[near["host"]]["blockers"]
            assert set(near["blockers"]) == {b["code"] for b in blockers}
            for code, apqns in near["blockers"].items():
                assert apqns == sorted({b["apqn"] for b in blockers if b["code"] == code and b["apqn"]})


def test_demo_summary(demo_plan):
    summary = demo_plan["summary"]
    assert (summary["guests"], summary["ready"], summary["ready_after"], summary["blocked"]) == (15, 2, 2, 11)
    assert summary["idle_mdevs"] == 0  # the two landing mdevs share their guests' UUIDs: one entry each
    assert [g["also_on"] for g in demo_plan["guests"] if g["also_on"]] == [["kvm-b1"], ["kvm-a2"]]
    stranded = {s["guest"]: s["top_blockers"] for s in summary["stranded"]}
    assert stranded["db1"] == ["hw_type_older"]
    assert stranded["legacy3"][0] == "no_migration_support"
    assert summary["hosts"]["kvm-a3"]["verdict"] == "1 of 1 guests of kvm-a3 cannot leave"
    assert not summary["hosts"]["kvm-a1"]["evacuable"]


def test_suggestion_and_actions_for_the_role(demo_plan):
    hsm1 = _guests(demo_plan)["hsm1"]
    assert hsm1["suggested"] == "kvm-b1"
    assert [a["type"] for a in hsm1["actions"]] == ["ap_mask", "mdev"]
    assert hsm1["actions"][0]["domains"] == [3]
    assert _guests(demo_plan)["web1"]["suggested"] == "kvm-b1"
    assert _guests(demo_plan)["db1"]["suggested"] is None


def _pair_fleet(n_guests=2):
    def host():
        return {
            "usage_domains": "0-15",
            "control_domains": "0-15",
            "apmask": "0-255",
            "aqmask": "0-3,16-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
        }

    src, dst1, dst2 = host(), host(), host()
    src["mdevs"] = [
        {
            "uuid": f"6c1a0000-0000-4000-8000-0000000000{i:02x}",
            "adapters": [1],
            "domains": [4 + i],
            "control_domains": [4 + i],
            "guest": f"g{i}",
        }
        for i in range(n_guests)
    ]
    return {"hosts": {"src": src, "dst1": dst1, "dst2": dst2}}


@pytest.fixture(scope="module")
def pair_facts(tmp_path_factory):
    return facts_for_fleet(_pair_fleet(), tmp_path_factory.mktemp("plan-pair"))


def test_evacuation_after_preparation_spreads_guests(pair_facts):
    plan = migration_plan(pair_facts, sources=["src"])
    host = plan["summary"]["hosts"]["src"]
    assert host["evacuable_after_preparation"] and not host["evacuable"]
    assert host["verdict"] == "every guest of src can leave after preparation"
    assert sorted(g["suggested"] for g in plan["guests"]) == ["dst1", "dst2"]


@pytest.mark.parametrize(
    ("network", "addresses", "command_end", "error"),
    [
        ("10.0.0.0/24", {"src": "10.0.0.1", "dst1": "10.0.0.2", "dst2": "10.0.0.3"}, "tcp://10.0.0.", None),
        ("fd00::/64", {"src": "fd00::1", "dst1": "fd00::2", "dst2": "fd00::3"}, "tcp://[fd00::", None),
        ("10.0.0.0/24", {"src": "10.0.0.1", "dst1": "10.9.0.2", "dst2": "10.9.0.3"}, None, "is not in migration_network"),
        ("10.0.0.0/24", {"src": "10.0.0.1"}, None, "has no vfio_ap_migration_address"),
        ("10.0.0.0/24", {"src": "nonsense", "dst1": "10.0.0.2", "dst2": "10.0.0.3"}, None, "is not an IP address"),
    ],
)
def test_migrate_commands(pair_facts, network, addresses, command_end, error):
    hostvars = {
        name: {"ansible_facts": {"vfio_ap": facts}, "vfio_ap_migration_address": addresses.get(name)} for name, facts in pair_facts.items()
    }
    plan = migration_plan(hostvars, sources=["src"], migration_network=network)
    for entry in plan["guests"]:
        if error:
            assert entry["command"] is None and error in entry["command_error"]
        else:
            assert entry["command"].startswith(
                f"virsh migrate --live --persistent --undefinesource --domain {entry['guest']} --desturi qemu+ssh://{entry['suggested']}/system"
                " --migrateuri "
            )
            assert shlex.split(entry["command"])[-1].startswith("tcp://")
            assert command_end in entry["command"] and entry["command_error"] is None


def test_query_selects_from_the_plan_and_is_deprecated(demo_facts, monkeypatch):
    said = []
    monkeypatch.setattr(Display, "deprecated", lambda self, msg, **kwargs: said.append((msg, kwargs)))
    result = migration_plan(demo_facts, query="guests[?verdict=='ready'].guest")
    assert sorted(result) == ["v1ok", "web1"]
    assert said == [("s390x.vfio_ap.migration_plan: the query option is deprecated; pipe the plan to community.general.json_query "
                     "instead", {"version": "1.0.0", "collection_name": "s390x.vfio_ap"})]  # fmt: skip
    said.clear()
    migration_plan(demo_facts)
    assert said == []


def test_sources_and_destinations_limit_the_plan(demo_facts):
    plan = migration_plan(demo_facts, sources=["kvm-a1"], destinations=["kvm-b1"])
    assert {g["source"] for g in plan["guests"]} == {"kvm-a1"}
    for g in plan["guests"]:
        assert g["ready"]["count"] + g["ready_after"]["count"] + g["blocked"]["count"] == 1
        after = [h for group in g["ready_after"]["preparations"] for h in group["hosts"]]
        assert set(g["ready"]["hosts"] + after + [n["host"] for n in g["blocked"]["nearest"]]) == {"kvm-b1"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sources": ["nohost"]}, "sources: nohost not in facts_by_host"),
        ({"rules": "lenient"}, "rules: expected one of"),
        ({"migration_network": "10.0.0.0/99"}, "migration_network"),
        ({"query": "guests[?"}, "query"),
        ({"mkvps": ["x"]}, "mkvps"),
        ({"limit": 0}, "limit: expected an integer >= 1, got 0"),
        ({"limit": "ten"}, "limit: expected an integer >= 1, got 'ten'"),
        ({"nearest": -1}, "nearest: expected an integer >= 0, got -1"),
        ({"nearest": True}, "nearest: expected an integer >= 0, got True"),
        ({"detail": "maybe"}, "detail: expected a boolean"),
        ({"detail": [1]}, "detail: expected true/false or a list"),
        ({"sources": [None]}, "sources: expected a list of inventory host names, got \\[None\\]"),
    ],
)
def test_plan_bad_arguments(demo_facts, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        migration_plan(demo_facts, **kwargs)


def _garbage(path, value):
    """Return facts_by_host of the demo with one key of kvm-b1's facts replaced."""

    def build(demo_facts):
        facts = copy.deepcopy(demo_facts)
        node = facts["kvm-b1"]
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(keys[-1])] = value
        elif value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
        return facts

    return build


_DELETE = object()
GARBAGE = {
    "control domains as text": (_garbage("bus.host_control_domains", "0-15"), "bus.host_control_domains: expected a list of AP IDs"),
    "control domain out of range": (_garbage("bus.host_control_domains", [300]), "bus.host_control_domains: expected a list of AP IDs"),
    "card id text": (_garbage("cards.0.id", "x"), r"cards\[0\].id: expected an adapter ID \(integer\), got str"),
    "card functions not hex": (_garbage("cards.0.functions", 5), r"cards\[0\].functions: expected the ap_functions text"),
    "card online text": (_garbage("cards.0.online", "yes"), r"cards\[0\].online: expected true, false or null, got str"),
    "queue without apqn": (_garbage("queues.0", {"adapter": 1}), r"queues\[0\]: expected a dict with an 'apqn'"),
    "queues not a list": (_garbage("queues", {}), "queues: expected a list, got dict"),
    "migration level": (_garbage("driver.migration", "v5"), "driver.migration: expected one of none, attribute, kernel, got str 'v5'"),
    "loaded text": (_garbage("driver.loaded", "true"), "driver.loaded: expected true or false, got str"),
    "mdev without uuid": (_garbage("driver.mdevs.0", {"adapters": []}), r"driver.mdevs\[0\].uuid: expected an mdev UUID, got null"),
    "mdev uuid shape": (_garbage("driver.mdevs.0.uuid", "web1"), r"driver.mdevs\[0\].uuid: expected a lowercase mdev UUID"),
    "mdev apqns ints": (_garbage("driver.mdevs.0.apqns", [5]), r"driver.mdevs\[0\].apqns: expected a list of APQNs"),
    "mdev adapters text": (_garbage("driver.mdevs.0.adapters", "1"), r"driver.mdevs\[0\].adapters: expected a list of AP IDs"),
    "mdev guest number": (_garbage("driver.mdevs.0.guest", 7), r"driver.mdevs\[0\].guest: expected a libvirt domain name or null"),
    "definition start": (_garbage("driver.definitions.0.start", 1), r"driver.definitions\[0\].start: expected auto, manual or null"),
    "guard list": (_garbage("driver.migration_guard", []), "driver.migration_guard: expected a dict"),
    "host identity text": (_garbage("host", "lpar1"), "host: expected a dict"),
    "no bus": (_garbage("bus", _DELETE), "bus: expected a dict, got null"),
}


@pytest.mark.parametrize(("build", "message"), list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_facts_are_named_at_the_door(demo_facts, build, message):
    """One message naming the host, the key and the expected type; never a Python error."""
    with pytest.raises(AnsibleFilterError, match=r"migration_plan: facts_by_host\['kvm-b1'\]: " + message):
        migration_plan(build(demo_facts))


def test_garbage_queue_field_of_a_used_queue_is_named(demo_facts):
    facts = copy.deepcopy(demo_facts)
    used = _guests(migration_plan(demo_facts))["web1"]["apqns"][0]
    for queue in facts["kvm-b1"]["queues"]:
        if queue["apqn"] == used:
            queue["capabilities"] = {"mode": "cca", "bs": "0"}
    with pytest.raises(AnsibleFilterError, match=rf"facts_by_host\['kvm-b1'\]: queue {used}.capabilities.bs: expected an integer or null"):
        migration_plan(facts)


@pytest.mark.parametrize(
    ("facts_by_host", "message"),
    [
        ({}, "facts_by_host: expected a non-empty mapping"),
        ({"h": {"inventory_hostname": "h"}}, "no vfio_ap facts"),
        ({"h": {"vfio_ap": {"bus": {}}}}, r"facts_by_host\['h'\]: driver: expected a dict, got null"),
        ({"h": 3}, r"facts_by_host\['h'\]"),
    ],
)
def test_plan_bad_facts(facts_by_host, message):
    with pytest.raises(AnsibleFilterError, match=message):
        migration_plan(facts_by_host)


def test_check_filter_names_the_argument(demo_facts):
    with pytest.raises(AnsibleFilterError, match="migration_check: uuid"):
        migration_check(demo_facts["kvm-a1"], demo_facts["kvm-b1"], "not-a-uuid-of-the-source")


def test_reason_codes_page_is_rendered_from_the_rule_table():
    root = Path(__file__).resolve().parents[4]
    spec = importlib.util.spec_from_file_location("gen_reason_codes", root / "tools" / "gen_reason_codes.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    text = (root / "docs" / "reason-codes.md").read_text()
    assert text == generator.render_markdown(), "docs/reason-codes.md is stale: run python tools/gen_reason_codes.py"
    for code in _reason_codes.BLOCKER_CODES + _reason_codes.WARNING_CODES:
        assert f"`{code}`" in text, code


@pytest.mark.parametrize(
    ("detail", "with_destinations"),
    [
        (False, set()),
        ("false", set()),
        ("no", set()),
        ("yes", None),
        (["web1"], {"web1"}),
        (["6C1A0000-0000-4000-8000-00000000A101"], {"web1"}),
        (["kvm-a3"], {"legacy3"}),
    ],
)
def test_detail_selects_guests(demo_facts, detail, with_destinations):
    plan = migration_plan(demo_facts, detail=detail)
    got = {g["guest"] for g in plan["guests"] if "destinations" in g and g["guest"]}
    assert got == (with_destinations if with_destinations is not None else {g["guest"] for g in plan["guests"] if g["guest"]})


def test_one_uuid_attached_on_two_hosts_is_one_guest_with_a_warning(tmp_path):
    fleet = _pair_fleet(1)
    fleet["hosts"]["dst2"]["mdevs"] = [dict(fleet["hosts"]["src"]["mdevs"][0], guest="other")]
    facts = facts_for_fleet(fleet, tmp_path)
    plan = migration_plan(facts)
    entries = [g for g in plan["guests"] if g["uuid"] == fleet["hosts"]["src"]["mdevs"][0]["uuid"]]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["source"] == "dst2" and entry["also_on"] == ["src"]
    duplicate = [w for w in entry["source_warnings"] if w["code"] == "duplicate_uuid"]
    assert duplicate and "also attached to a guest on src" in duplicate[0]["detail"]


HOSTILE = ["kvm-b1$(touch /tmp/x)", "kvm b1", "-oProxyCommand=x", "kvm-b1;reboot", "kvm`id`", "a/b"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_destination_names_never_reach_a_command(pair_facts, name):
    facts = {("src" if n == "src" else name if n == "dst1" else n): f for n, f in pair_facts.items()}
    hostvars = {
        n: {"ansible_facts": {"vfio_ap": f}, "vfio_ap_migration_address": "10.0.0.%d" % i} for i, (n, f) in enumerate(sorted(facts.items()))
    }
    plan = migration_plan(hostvars, sources=["src"], destinations=[name], migration_network="10.0.0.0/24")
    for entry in plan["guests"]:
        assert entry["command"] is None
        assert "is not a valid host name" in entry["command_error"]


@pytest.mark.parametrize("guest", ["web1", "my guest", "g$(id)", "it's"])
def test_commands_quote_every_part(guest):
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import migrate_command

    argv = shlex.split(migrate_command(guest, "kvm-b1", "[fd00::2]"))
    assert argv == [
        "virsh",
        "migrate",
        "--live",
        "--persistent",
        "--undefinesource",
        "--domain",
        guest,
        "--desturi",
        "qemu+ssh://kvm-b1/system",
        "--migrateuri",
        "tcp://[fd00::2]",
    ]


@pytest.mark.parametrize(
    ("bits", "n", "start", "expected"),
    [
        (0, 3, 0, []),
        (0b1011, 10, 0, [0, 1, 3]),
        (0b1011, 2, 0, [0, 1]),
        (0b1011, 10, 2, [3, 0, 1]),
        (1 << 9000 | 1 << 5, 2, 100, [9000, 5]),
        (1 << 600 | 1 << 3, 5, 0, [3, 600]),
        (1 << 600 | 1 << 700, 1, 650, [700]),
        (1 << 5 | 1 << 900, 3, 800, [900, 5]),
        ((1 << 2000) - 1, 3, 1998, [1998, 1999, 0]),
        (0b110, 0, 0, []),
    ],
)
def test_positions(bits, n, start, expected):
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import positions

    assert positions(bits, n, start) == expected


@pytest.mark.parametrize(
    "at",
    [[], [0], [7, 8], [3, 1, 3], [9000, 5, 64], list(range(0, 2000, 3))],
)
def test_bitset_sets_exactly_the_positions(at):
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import bitset

    assert bitset(at) == sum(1 << i for i in set(at))


@pytest.mark.parametrize(
    ("codes", "unbound", "bits"),
    [
        ([], [], 0),
        ([], [], 0b1011),
        ([("mdev_missing", 0b1111)], [], 0b1011),
        ([("mdev_missing", 0b1111), ("apqn_free", 0b0101)], [("05.0004", 0b0011)], 0b1111),
        ([("mdev_missing", (1 << 900) - 1), ("mkvp_unknown", 1 << 899 | 1 << 3)], [("01.0001", 1 << 700)], (1 << 900) - 1),
        ([("apqn_free", 0b1010)], [("05.0004", 0b0110), ("05.0005", 0b1100)], 0b1111),
    ],
)
def test_signatures_over_reads_each_destination_as_one_by_one(codes, unbound, bits):
    """What prepares each destination, read part by part, is what reading it alone gives."""
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import _signature, positions, signatures_over

    tables = (codes, unbound)
    expected = {i: _signature(tables, i) for i in positions(bits, bits.bit_count())}
    assert signatures_over(tables, bits) == expected


def test_plan_size_grows_with_guests_not_hosts(tmp_path):
    """Sixty destinations that all fit: each guest still lists ten of each kind, with the full counts."""
    fleet = _pair_fleet(3)
    template = fleet["hosts"].pop("dst1")
    fleet["hosts"].pop("dst2")
    for i in range(60):
        fleet["hosts"][f"dst{i:02d}"] = copy.deepcopy(template)
    facts = facts_for_fleet(fleet, tmp_path)
    plan = migration_plan(facts, sources=["src"])
    for entry in plan["guests"]:
        assert entry["ready_after"]["count"] == 60 and len(entry["ready_after"]["preparations"][0]["hosts"]) == 10
        assert len(json.dumps(entry)) < 2048
    assert len({g["suggested"] for g in plan["guests"]}) == 3


def test_two_inventory_names_of_one_lpar_are_the_same_host(tmp_path):
    """dst1 is a second name of src (fleet key same_as): never a destination for src's guests."""
    fleet = _pair_fleet(1)
    fleet["hosts"]["dst1"]["same_as"] = "src"
    plan = migration_plan(facts_for_fleet(fleet, tmp_path), sources=["src"], detail=True)
    entry = plan["guests"][0]
    cell = entry["destinations"]["dst1"]
    assert cell["verdict"] == "blocked" and "same_host" in {b["code"] for b in cell["blockers"]}
    assert "dst1 is the same LPAR as src" in next(b["detail"] for b in cell["blockers"] if b["code"] == "same_host")
    assert entry["suggested"] == "dst2"
    assert plan["machines"]["dst1"] == plan["machines"]["src"]


def test_plan_names_each_hosts_machine(demo_plan):
    assert demo_plan["machines"]["kvm-a1"] == "CPC CPCA (3931 2A633E), LPAR KVMA1 (1)"
    assert demo_plan["summary"]["hosts"]["kvm-b2"]["machine"] == "CPC CPCB (9175 8B1EC1), LPAR KVMB2 (2)"
