"""The facts gatherer against rendered simulated hosts built from fleet data (docs/facts.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from apsim.fleet import build_fleet
from apsim.render import render_fleet

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _facts
from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, render_guard
from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import QUEUE_KEYS, expand_queue

U1 = "6c1a0000-0000-4000-8000-000000000001"
U2 = "6c1a0000-0000-4000-8000-000000000002"
U3 = "6c1a0000-0000-4000-8000-000000000003"

FLEET = {
    "hosts": {
        # a kernel-series host: two reserved domain ranges, an adapter-only mdev, a defined guest
        "kern": {
            "migration": "kernel",
            "apmask": "0-255",
            "aqmask": "0-3,8-255",  # domains 4-7 reserved for vfio_ap
            "cards": [
                {"id": 5, "type": "CEX8C", "domains": "2-5", "serialnr": "93AADF05",
                 "mkvps": {"aes_cur": "0x1111aaaa2222bbbb"}},
                {"id": 6, "type": "CEX8P", "domains": "2-5", "queues": {5: {"bs": 2}}},
                {"id": 7, "type": "CEX8A", "domains": "2-5", "raw_hwtype": 15},
                {"id": 8, "type": "CEX7C", "domains": "2-5", "online": False},
            ],
            "mdevs": [
                {"uuid": U1, "adapters": [5, 6], "domains": [4, 5], "control_domains": [4], "guest": "g1",
                 "start": "auto"},
                {"uuid": U2, "adapters": [7, 9]},  # adapter-only, 9 not installed
            ],
            "definitions": [{"uuid": U3, "start": "manual", "adapters": [8], "domains": [4]}],
            "guests": [{"name": "g3", "mdevs": [U3]}],
        },
        # a series-v1 host: per-mdev migratable file
        "attr": {
            "migration": "attribute",
            "aqmask": "0-3,8-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "4-5"}],
            "mdevs": [
                {"uuid": U1, "adapters": [1], "domains": [4], "migratable": 1, "guest": "a1"},
                {"uuid": U2, "adapters": [1], "domains": [5], "migratable": 0},
            ],
        },
        "old": {"migration": "none", "aqmask": "0-3,8-255", "cards": [{"id": 1, "type": "CEX6C", "domains": "4"}],
                "mdevs": [{"uuid": U1, "adapters": [1], "domains": [4]}]},
        "novfio": {"vfio_ap_loaded": False, "aqmask": "0-3", "cards": [{"id": 1, "type": "CEX8C", "domains": "3-4"}]},
        "nobus": {"ap_bus": False},
    }
}  # fmt: skip


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("facts-unit")
    render_fleet(build_fleet(FLEET), dest)
    return dest


@pytest.fixture
def host_copy(rendered, tmp_path):
    """Return a function copying one rendered host to a private directory the test may damage."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(rendered / name, target, symlinks=True)
        return target

    return copy


def facts_of(root: Path, subsets=("all",)):
    facts, warnings = _facts.gather_facts(str(root), subsets)
    return facts, warnings


def by_apqn(facts):
    """Return {apqn: full queue record} (every key, the card's word filled in)."""
    cards = {c["id"]: c for c in facts["cards"]}
    return {q["apqn"]: expand_queue(q, cards.get(int(q["apqn"][:2], 16))) for q in facts["queues"]}


def compact_by_apqn(facts):
    return {q["apqn"]: q for q in facts["queues"]}


def by_uuid(facts):
    return {m["uuid"]: m for m in facts["driver"]["mdevs"]}


# ------------------------------------------------------------------------------ subsets


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (["all"], ["bus", "cards", "definitions", "guests", "mdevs", "mkvps", "queues"]),
        ([], ["bus", "cards", "definitions", "guests", "mdevs", "mkvps", "queues"]),
        (["!queues"], ["bus", "cards", "definitions", "guests", "mdevs", "mkvps"]),
        (["all", "!queues", "!cards"], ["bus", "definitions", "guests", "mdevs", "mkvps"]),
        (["all", "!mkvps"], ["bus", "cards", "definitions", "guests", "mdevs", "queues"]),
        (["mdevs", "guests"], ["guests", "mdevs"]),
        (["bus", "!bus"], []),
        (["!all", "queues"], ["queues"]),
    ],
)
def test_resolve_subsets(requested, expected):
    assert _facts.resolve_subsets(requested) == expected


@pytest.mark.parametrize("bad", [["foo"], ["all", "!everything"], ["Queues"]])
def test_resolve_subsets_rejects_naming_valid_ones(bad):
    with pytest.raises(ValueError) as info:
        _facts.resolve_subsets(bad)
    assert "all, bus, cards, definitions, guests, mdevs, mkvps, queues" in str(info.value)


# ------------------------------------------------------------------------------ schema


def test_every_key_present_and_sorted(rendered):
    facts, warnings = facts_of(rendered / "kern")
    assert warnings == []
    keys = {"schema", "sysroot", "gather_subset", "host", "bus", "cards", "queues", "driver", "complete", "unread", "unread_count"}
    assert set(facts) == keys
    assert facts["complete"] is True and facts["unread"] == [] and facts["unread_count"] == 0
    assert set(facts["host"]) == {"machine_id", "cpc", "lpar"}
    assert set(facts["host"]["cpc"]) == {"manufacturer", "type", "model", "sequence_code", "name"}
    assert set(facts["host"]["lpar"]) == {"name", "number"}
    assert facts["schema"] == 2 and facts["sysroot"] == str(rendered / "kern")
    assert set(facts["bus"]) == {"present", "max_adapter_id", "max_domain_id", "apmask", "aqmask", "host_adapters",
                                 "host_usage_domains", "host_control_domains", "vfio_adapters", "vfio_domains",
                                 "features", "bindings", "default_domain"}  # fmt: skip
    card_keys = {"id", "name", "type", "hwtype", "raw_hwtype", "mode", "functions", "online", "config", "chkstop",
                 "depth", "serialnr", "capabilities"}  # fmt: skip
    assert all(set(c) == card_keys for c in facts["cards"])
    queue_keys = {"apqn", "adapter", "domain", "driver", "functions", "capabilities", "config", "chkstop", "online",
                  "vfio_status", "mkvps", "driver_override"}  # fmt: skip
    assert set(QUEUE_KEYS) == queue_keys
    assert all({"apqn", "driver"} <= set(q) < queue_keys - {"adapter", "domain"} for q in facts["queues"])
    assert all(set(q) == queue_keys for q in by_apqn(facts).values())
    driver_keys = {"loaded", "features", "migration", "available_instances", "migration_guard", "mdevs", "definitions"}
    assert set(facts["driver"]) == driver_keys
    mdev_keys = {"uuid", "adapters", "domains", "control_domains", "apqns", "guest_apqns", "in_use", "migratable",
                 "defined", "start", "guest"}  # fmt: skip
    assert all(set(m) == mdev_keys for m in facts["driver"]["mdevs"])
    assert [c["id"] for c in facts["cards"]] == sorted(c["id"] for c in facts["cards"])
    assert [q["apqn"] for q in facts["queues"]] == sorted(q["apqn"] for q in facts["queues"])
    assert [m["uuid"] for m in facts["driver"]["mdevs"]] == sorted(m["uuid"] for m in facts["driver"]["mdevs"])


def test_bus_facts(rendered):
    bus = facts_of(rendered / "kern")[0]["bus"]
    assert bus["present"] is True
    assert (bus["max_adapter_id"], bus["max_domain_id"]) == (255, 84)
    assert bus["apmask"] == "0x" + "f" * 64
    assert bus["aqmask"] == "0xf0ff" + "f" * 60
    assert bus["vfio_adapters"] == []
    assert bus["vfio_domains"] == [4, 5, 6, 7]
    assert bus["host_adapters"] == [5, 6, 7, 8]
    assert bus["host_usage_domains"] == [2, 3, 4, 5] == bus["host_control_domains"]
    assert bus["features"] == ["APSB", "APSC", "APXA", "QACT", "RC8A"]  # APSB: a queue has an SE bind state
    assert bus["bindings"] == {"bound": 16, "total": 16, "complete": True}


@pytest.mark.parametrize(
    ("card_id", "expected"),
    [
        (5, {"type": "CEX8C", "hwtype": 14, "raw_hwtype": 14, "mode": "cca", "functions": "0x72800000",
             "online": True, "serialnr": "93AADF05", "name": "card05"}),
        (6, {"type": "CEX8P", "mode": "ep11", "functions": "0x06800000"}),
        (7, {"type": "CEX8A", "hwtype": 14, "raw_hwtype": 15, "mode": "accel", "serialnr": None}),
        (8, {"type": "CEX7C", "hwtype": 13, "online": False, "config": True, "chkstop": False}),
    ],
)  # fmt: skip
def test_card_facts(rendered, card_id, expected):
    card = {c["id"]: c for c in facts_of(rendered / "kern")[0]["cards"]}[card_id]
    assert {k: card[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("apqn", "expected"),
    [
        # host-owned CCA queue with a known AES master key
        ("05.0002", {"driver": "cex4queue", "online": True, "vfio_status": None,
                     "mkvps": {"aes_new": None, "aes_cur": {"state": "valid", "mkvp": "0x1111aaaa2222bbbb"},
                               "aes_old": None, "apka_new": None, "apka_cur": None, "apka_old": None,
                               "asym_new": None, "asym_cur": None, "asym_old": None}}),
        # reserved and used by the running guest g1
        ("05.0004", {"driver": "vfio_ap", "online": None, "vfio_status": "in use", "mkvps": None}),
        # EP11 queue with BS 2 bound to vfio_ap: the queue word carries the SE state
        ("06.0005", {"driver": "vfio_ap", "functions": "0x06808000", "vfio_status": "in use"}),
        # reserved, assigned to the adapter-only mdev (no domain): unassigned
        ("07.0004", {"driver": "vfio_ap", "vfio_status": "unassigned", "mkvps": None}),
        # accelerators have no master keys; the raw type reaches the capabilities
        ("07.0002", {"driver": "cex4queue", "mkvps": None, "online": True}),
        # card offline: its queues are offline too
        ("08.0003", {"driver": "cex4queue", "online": False}),
        # EP11 host queue without master-key state: mkvps unknown
        ("06.0003", {"driver": "cex4queue", "mkvps": None}),
    ],
)  # fmt: skip
def test_queue_facts(rendered, apqn, expected):
    queue = by_apqn(facts_of(rendered / "kern")[0])[apqn]
    assert {k: queue[k] for k in expected} == expected
    adapter, domain = (int(x, 16) for x in apqn.split("."))
    assert (queue["adapter"], queue["domain"]) == (adapter, domain)


def test_queue_capabilities_use_queue_word_and_raw_type(rendered):
    queues = by_apqn(facts_of(rendered / "kern")[0])
    assert queues["06.0005"]["capabilities"]["bs"] == 2
    assert queues["06.0004"]["capabilities"]["bs"] == 0
    assert queues["07.0002"]["capabilities"]["hwtype"] == 15
    assert queues["07.0002"]["capabilities"]["mode"] == "accel"
    assert queues["05.0002"]["capabilities"] == {"apsc": False, "mex4k": True, "crt4k": True, "mode": "cca",
                                                 "cca": True, "accel": False, "ep11": False,
                                                 "apxa": True, "slcf": False, "native": True, "stateless": False,
                                                 "bs": 0, "hwtype": 14}  # fmt: skip


@pytest.mark.parametrize(
    ("uuid", "expected"),
    [
        (U1, {"adapters": [5, 6], "domains": [4, 5], "control_domains": [4],
              "apqns": ["05.0004", "05.0005", "06.0004", "06.0005"],
              "guest_apqns": ["05.0004", "05.0005", "06.0004", "06.0005"],
              "in_use": True, "migratable": True, "defined": True, "start": "auto", "guest": "g1"}),
        # adapter-only: no APQNs at all, nothing for a guest
        (U2, {"adapters": [7, 9], "domains": [], "control_domains": [], "apqns": [], "guest_apqns": [],
              "in_use": False, "migratable": True, "defined": False, "start": None, "guest": None}),
    ],
)  # fmt: skip
def test_mdev_facts(rendered, uuid, expected):
    mdev = by_uuid(facts_of(rendered / "kern")[0])[uuid]
    assert {k: mdev[k] for k in expected} == expected


def test_definitions_and_defined_guest(rendered):
    vfio = facts_of(rendered / "kern")[0]["driver"]
    assert vfio["definitions"] == [
        {"uuid": U1, "start": "auto", "adapters": [5, 6], "domains": [4, 5], "control_domains": [4], "active": True},
        {"uuid": U3, "start": "manual", "adapters": [8], "domains": [4], "control_domains": [], "active": False},
    ]
    assert vfio["features"] == ["ap_config", "guest_matrix", "hotplug", "migratable"]
    assert vfio["available_instances"] == 65534


@pytest.mark.parametrize(
    ("host", "migration", "migratable"),
    [
        ("kern", "kernel", {U1: True, U2: True}),
        ("attr", "attribute", {U1: True, U2: False}),
        ("old", "none", {U1: None}),
    ],
)
def test_migration_level_and_migratable(rendered, host, migration, migratable):
    facts = facts_of(rendered / host)[0]
    assert facts["driver"]["migration"] == migration
    assert {u: m["migratable"] for u, m in by_uuid(facts).items()} == migratable


def test_guard_blocks_migratable_on_kernel_hosts(host_copy):
    root = host_copy("kern")
    entries = {U1: {"migratable": False, "reason": "key change", "guest": "g1", "changed": "2026-11-25T12:00:00Z"}}
    (root / GUARD_PATH).parent.mkdir(parents=True)
    (root / GUARD_PATH).write_text(render_guard(entries))
    facts, warnings = facts_of(root)
    assert warnings == []
    assert facts["driver"]["migration_guard"] == entries
    assert {u: m["migratable"] for u, m in by_uuid(facts).items()} == {U1: False, U2: True}


@pytest.mark.parametrize(
    ("host", "bus_present", "loaded", "queues"),
    [
        ("nobus", False, False, 0),
        ("novfio", True, False, 2),
    ],
)
def test_hosts_without_bus_or_vfio_ap(rendered, host, bus_present, loaded, queues):
    facts, warnings = facts_of(rendered / host)
    assert warnings == []
    assert facts["bus"]["present"] is bus_present
    assert facts["driver"]["loaded"] is loaded
    assert facts["driver"]["migration"] == "none"
    assert facts["driver"]["mdevs"] == [] and facts["driver"]["features"] == []
    assert len(facts["queues"]) == queues
    if not bus_present:
        assert facts["cards"] == [] and facts["bus"]["vfio_adapters"] == [] and facts["bus"]["features"] == []


def test_unbound_queues_without_vfio_ap(rendered):
    queues = by_apqn(facts_of(rendered / "novfio")[0])
    # 01.0003 is host-owned; 01.0004 is reserved but vfio_ap is not loaded: bound to nothing
    assert queues["01.0003"]["driver"] == "cex4queue" and queues["01.0003"]["online"] is True
    assert queues["01.0004"]["driver"] is None
    assert queues["01.0004"]["online"] is None and queues["01.0004"]["vfio_status"] is None


@pytest.mark.parametrize(
    ("subsets", "empty"),
    [
        (["!queues"], {"queues"}),
        (["!cards", "!queues"], {"cards", "queues"}),
        (["mdevs"], {"cards", "queues", "definitions", "bus"}),
    ],
)
def test_subsets_leave_other_keys_empty(rendered, subsets, empty):
    facts = facts_of(rendered / "kern", subsets)[0]
    full = facts_of(rendered / "kern")[0]
    for key in ("cards", "queues"):
        assert (facts[key] == []) is (key in empty)
    assert (facts["driver"]["definitions"] == []) is ("definitions" in empty)
    assert (facts["bus"]["apmask"] is None) is ("bus" in empty)
    # the mdevs themselves are the same whatever else is gathered (in_use from status files)
    if "definitions" not in empty:
        assert facts["driver"]["mdevs"] == full["driver"]["mdevs"]
    else:
        assert [m["in_use"] for m in facts["driver"]["mdevs"]] == [m["in_use"] for m in full["driver"]["mdevs"]]
        assert all(m["defined"] is None for m in facts["driver"]["mdevs"])


@pytest.mark.parametrize(
    ("subsets", "gathered", "mkvps"),
    [
        (["queues"], ["cards", "queues"], False),
        (["!cards"], list(_facts.SUBSETS), True),
        (["queues", "mkvps"], ["cards", "mkvps", "queues"], True),
        (["all", "!mkvps"], [s for s in _facts.SUBSETS if s != "mkvps"], False),
    ],
)
def test_queues_bring_their_cards_and_mkvps_their_queues(rendered, subsets, gathered, mkvps):
    """A compact queue record refers to its card's word, so the cards come with the queues; master-key
    patterns (a request to the card each, on a real host) are read only with the mkvps subset."""
    facts = facts_of(rendered / "kern", subsets)[0]
    assert facts["gather_subset"] == sorted(gathered)
    assert by_apqn(facts)["05.0002"]["capabilities"]["mode"] == "cca"
    assert facts_of(rendered / "kern", ["mkvps"])[0]["gather_subset"] == []  # no queues, no master keys
    assert (by_apqn(facts)["05.0002"]["mkvps"] is not None) is mkvps
    if not mkvps:
        assert all("mkvps" not in q for q in facts["queues"])


@pytest.mark.parametrize(
    ("apqn", "compact"),
    [
        ("06.0003", {"apqn": "06.0003", "driver": "cex4queue"}),
        ("05.0002", {"apqn": "05.0002", "driver": "cex4queue",
                     "mkvps": {"aes_new": None, "aes_cur": {"state": "valid", "mkvp": "0x1111aaaa2222bbbb"},
                               "aes_old": None, "apka_new": None, "apka_cur": None, "apka_old": None,
                               "asym_new": None, "asym_cur": None, "asym_old": None}}),
        ("05.0004", {"apqn": "05.0004", "driver": "vfio_ap", "vfio_status": "in use"}),
        ("06.0005", {"apqn": "06.0005", "driver": "vfio_ap", "vfio_status": "in use", "functions": "0x06808000",
                     "capabilities": {"apsc": False, "mex4k": False, "crt4k": False, "mode": "ep11",
                                      "cca": False, "accel": False, "ep11": True, "apxa": True,
                                      "slcf": False, "native": True, "stateless": False, "bs": 2, "hwtype": 14}}),
        ("08.0003", {"apqn": "08.0003", "driver": "cex4queue", "online": False}),
    ],
)  # fmt: skip
def test_compact_queue_records(rendered, apqn, compact):
    assert compact_by_apqn(facts_of(rendered / "kern")[0])[apqn] == compact


def test_guests_subset_excluded_leaves_guest_null(rendered):
    facts = facts_of(rendered / "kern", ["all", "!guests"])[0]
    assert all(m["guest"] is None for m in facts["driver"]["mdevs"])


# ------------------------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    ("damage", "check"),
    [
        # a malformed mdevctl definition: listed with null values
        (lambda r: (r / f"etc/mdevctl.d/matrix/{U3}").write_text("{\"start\": \"auto\", \"attrs\": ["),
         lambda f: {d["uuid"]: d for d in f["driver"]["definitions"]}[U3]["adapters"] is None),
        # a libvirt XML that is not XML: that guest is unknown, the other guests are still found
        (lambda r: (r / "etc/libvirt/qemu/g3.xml").write_text("<domain><name>g3"),
         lambda f: by_uuid(f)[U1]["guest"] == "g1"),
        # a broken migration guard: no entries, nothing guarded
        (lambda r: ((r / GUARD_PATH).parent.mkdir(parents=True), (r / GUARD_PATH).write_text("{oops")),
         lambda f: f["driver"]["migration_guard"] == {} and by_uuid(f)[U1]["migratable"] is True),
        # an unparsable attribute: that value is null
        (lambda r: (r / "sys/devices/ap/card05/05.0002/chkstop").write_text("maybe\n"),
         lambda f: by_apqn(f)["05.0002"]["chkstop"] is None and by_apqn(f)["05.0002"]["config"] is True),
        # an attribute the kernel refused to read (rendered trees leave out EIO attributes)
        (lambda r: (r / "sys/devices/ap/card06/06.0003/ap_functions").unlink(),
         lambda f: by_apqn(f)["06.0003"]["functions"] is None and by_apqn(f)["06.0003"]["capabilities"] is None),
        (lambda r: (r / "sys/devices/vfio_ap/matrix" / U1 / "guest_matrix").write_text("zz\n"),
         lambda f: by_uuid(f)[U1]["guest_apqns"] is None and by_uuid(f)[U1]["in_use"] is None),
    ],
    ids=["bad-mdevctl-json", "bad-libvirt-xml", "bad-guard", "bad-attribute", "eio-left-out", "bad-guest-matrix"],
)  # fmt: skip
def test_one_bad_file_is_a_warning_not_a_failure(host_copy, damage, check):
    root = host_copy("kern")
    damage(root)
    facts, warnings = facts_of(root)
    assert len(warnings) == 1
    assert str(root) in warnings[0]
    assert check(facts)
    assert len(facts["queues"]) == 16 and len(facts["driver"]["mdevs"]) == 2


def test_queue_vanishing_mid_read_is_left_out(host_copy, monkeypatch):
    root = host_copy("kern")
    victim = root / "sys/devices/ap/card05/05.0003"
    listdir = _facts._Reader.listdir

    def listdir_then_vanish(self, path):
        entries = listdir(self, path)
        if path.endswith("card05"):
            shutil.rmtree(victim)  # the queue goes away after the directory was listed
        return entries

    monkeypatch.setattr(_facts._Reader, "listdir", listdir_then_vanish)
    facts, warnings = facts_of(root)
    assert "05.0003" not in by_apqn(facts)
    assert len(facts["queues"]) == 15
    assert warnings == [f"queue 05.0003 went away while it was read ({victim})"]


def test_errno_is_explained_in_warnings(host_copy, monkeypatch):
    root = host_copy("kern")
    target = str(root / "sys/devices/ap/card05/05.0004/ap_functions")
    raw = _facts._Reader.raw

    def raw_eio(self, path):
        if path == target:
            raise OSError(5, os.strerror(5))
        return raw(self, path)

    monkeypatch.setattr(_facts._Reader, "raw", raw_eio)
    facts, warnings = facts_of(root)
    assert by_apqn(facts)["05.0004"]["functions"] is None
    assert warnings == [f"could not read {target}: EIO (I/O error: the queue's hardware query (TAPQ) answered "
                        "with a response code above 05)"]  # fmt: skip
    # recorded as data too: the hardware's answer for that queue, which the readiness rules judge
    assert facts["unread"] == [
        {
            "what": "queue_functions",
            "path": target,
            "errno": "EIO",
            "error": "I/O error: the queue's hardware query (TAPQ) answered with a response code above 05",
        }
    ]
    assert facts["complete"] is False and facts["unread_count"] == 1


def test_running_guest_wins_over_defined(host_copy):
    root = host_copy("kern")
    # a second, defined-only domain naming the mdev g1 runs with
    text = (root / "etc/libvirt/qemu/g1.xml").read_text().replace("<name>g1</name>", "<name>a-spare</name>")
    (root / "etc/libvirt/qemu/a-spare.xml").write_text(text)
    assert by_uuid(facts_of(root)[0])[U1]["guest"] == "g1"
    (root / "run/libvirt/qemu/g1.xml").unlink()  # g1 stops: both are only defined, first by name
    assert by_uuid(facts_of(root)[0])[U1]["guest"] == "a-spare"


def test_missing_sysroot_parts_are_no_error(tmp_path):
    facts, warnings = facts_of(tmp_path)
    assert warnings == []
    assert facts["bus"]["present"] is False and facts["driver"]["loaded"] is False
    assert facts["driver"]["definitions"] == [] and facts["driver"]["migration_guard"] == {}


# ------------------------------------------------------------------------------ one-page listings

BIG = "6c1a0000-0000-4000-8000-0000000000b1"
BIG_FLEET = {
    "hosts": {
        "wide": {
            "apmask": "0-15",  # adapters 16-31 reserved for vfio_ap
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-39" if a != 0x1F else "0-38"} for a in range(16, 32)],
            # 16 adapters x 40 domains = 640 APQN lines (5,120 characters): more than one page
            "mdevs": [{"uuid": BIG, "adapters": "16-31", "domains": "0-39", "control_domains": "0-39", "guest": "wide1"}],
        }
    }
}


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("facts-wide")
    render_fleet(build_fleet(BIG_FLEET), dest)
    return dest / "wide"


@pytest.mark.parametrize("subsets", [["all"], ["all", "!queues"]])
def test_listings_cut_at_one_page(wide, subsets):
    root = wide
    assert len((root / f"sys/devices/vfio_ap/matrix/{BIG}/matrix").read_text()) == 4095  # the kernel cut it
    facts, warnings = facts_of(root, subsets)
    mdev = by_uuid(facts)[BIG]
    # the assignment comes whole from ap_config
    assert mdev["adapters"] == list(range(16, 32)) and mdev["domains"] == list(range(40))
    assert len(mdev["apqns"]) == 640
    # card 0x1f lacks domain 39, so the kernel drops adapter 0x1f from the guest entirely
    assert mdev["guest_apqns"] == [f"{a:02x}.{d:04x}" for a in range(16, 31) for d in range(40)]
    assert mdev["in_use"] is True
    assert warnings == [
        f"{root}/sys/devices/vfio_ap/matrix/{BIG}/guest_matrix: the listing fills a whole page and the kernel cut it; "
        f"guest_apqns of mdev {BIG} are computed from the assignment, the host's AP configuration and the queue drivers"
    ]


@pytest.mark.parametrize(
    ("adapters", "domains", "host_adapters", "host_domains", "missing", "expected"),
    [
        ([1, 2], [4, 5], [1, 2], [4, 5], set(), ["01.0004", "01.0005", "02.0004", "02.0005"]),
        # a domain the LPAR lacks is filtered out, the adapters stay
        ([1, 2], [4, 5], [1, 2], [4], set(), ["01.0004", "02.0004"]),
        # one APQN not bound to vfio_ap drops its whole adapter
        ([1, 2], [4, 5], [1, 2], [4, 5], {(2, 5)}, ["01.0004", "01.0005"]),
        # an adapter the LPAR lacks is filtered out
        ([1, 9], [4], [1], [4], set(), ["01.0004"]),
        ([1], [], [1], [4], set(), []),
    ],
)
def test_filter_guest_apqns(adapters, domains, host_adapters, host_domains, missing, expected):
    got = _facts.filter_guest_apqns(adapters, domains, host_adapters, host_domains, lambda a, d: (a, d) not in missing)
    assert got == expected


@pytest.mark.parametrize("code", [__import__("errno").ENOTCONN, __import__("errno").EIO])
def test_a_walk_failing_on_a_dead_mount_is_one_line_not_a_traceback(rendered, monkeypatch, code):
    """A dead FUSE mount answers ENOTCONN while a directory is listed: one HostPathError naming path and errno."""
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import HostPathError

    host = next(p for p in rendered.iterdir() if (p / "sys").is_dir())
    real = os.scandir

    class Dead:
        def __init__(self, path):
            self.path = path

        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

        def __iter__(self):
            raise OSError(code, os.strerror(code), self.path)

    monkeypatch.setattr(os, "scandir", lambda path=".": Dead(path) if "devices" in str(path) else real(path))
    with pytest.raises(HostPathError) as info:
        _facts.gather_facts(str(host))
    assert __import__("errno").errorcode[code] in str(info.value) and "\n" not in str(info.value)
