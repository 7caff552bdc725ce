"""migration_check (the rule evaluation over one destination): one scenario fleet per code, rule sets, combinations.

Every fixture is a fleet description (apsim YAML data) rendered and gathered with the real facts
gatherer; the pair under test is always source host ``src`` -> destination host ``dst``.
"""

from __future__ import annotations

import copy

import pytest
from helpers.fleet_facts import facts_for_fleet

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _readiness as R

UUID = "6c1a0000-0000-4000-8000-0000000000aa"
OTHER = "6c1a0000-0000-4000-8000-0000000000bb"


def _host(migration="kernel"):
    return {
        "migration": migration,
        "usage_domains": "0-15",
        "control_domains": "0-15",
        "apmask": "0-255",
        "aqmask": "0-3,16-255",  # domains 4-15 reserved for vfio_ap
        "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
        "mdevs": [],
        "definitions": [],
    }


def base_fleet():
    """src runs guest g1 on 01.0005 (control domain 5); dst has a persistent, empty landing mdev."""
    src, dst = _host(), _host()
    src["mdevs"] = [{"uuid": UUID, "adapters": [1], "domains": [5], "control_domains": [5], "guest": "g1"}]
    src["definitions"] = [{"uuid": UUID, "start": "auto", "adapters": [1], "domains": [5], "control_domains": [5]}]
    dst["mdevs"] = [{"uuid": UUID}]
    dst["definitions"] = [{"uuid": UUID, "start": "auto", "adapters": [], "domains": [], "control_domains": []}]
    return {"hosts": {"src": src, "dst": dst}}


def edit(**changes):
    """Return a fleet-editing function: changes maps 'host.key' (or 'host.cards.0.key') to a value."""

    def apply(fleet):
        for path, value in changes.items():
            node = fleet["hosts"]
            parts = path.split(".")
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node[part]
            last = parts[-1]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        return fleet

    return apply


def check(tmp_path, change=None, rules="auto", **kwargs):
    fleet = copy.deepcopy(base_fleet())
    if change:
        change(fleet)
    facts = facts_for_fleet(fleet, tmp_path)
    return R.migration_check(facts["src"], facts["dst"], UUID, rules=rules, source="src", destination="dst", **kwargs)


def codes(items):
    return sorted({item["code"] for item in items})


# (id, fleet change, rules, expected blocker codes, expected verdict)
BLOCKER_CASES = [
    ("ready", None, "auto", [], "ready"),
    ("no_migration_support_dst", edit(**{"dst.migration": "none"}), "auto", ["no_migration_support"], "blocked"),
    ("no_migration_support_src", edit(**{"src.migration": "none"}), "auto", ["no_migration_support"], "blocked"),
    ("vfio_ap_not_loaded", edit(**{"dst.vfio_ap_loaded": False}), "auto", None, "blocked"),
    (
        "migration_disabled_v1",
        lambda f: (
            edit(
                **{
                    "src.migration": "attribute",
                    "dst.migration": "attribute",
                    "dst.mdevs": [{"uuid": UUID, "adapters": [1], "domains": [5]}],
                }
            )(f),
            f["hosts"]["src"]["mdevs"][0].update(migratable=0),
        ),
        "auto",
        ["migration_disabled"],
        "blocked",
    ),
    ("mdev_missing", edit(**{"dst.mdevs": [], "dst.definitions": []}), "auto", ["mdev_missing"], "ready_after"),
    ("mdev_in_use", edit(**{"dst.mdevs": [{"uuid": UUID, "guest": "twin"}]}), "auto", ["mdev_in_use"], "blocked"),
    (
        "apqn_not_installed",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8C", "domains": "0-4"}]}),
        "auto",
        ["apqn_not_installed"],
        "blocked",
    ),
    ("apqn_not_bound", edit(**{"dst.aqmask": "0-15"}), "auto", ["apqn_not_bound"], "ready_after"),
    (
        "apqn_in_use_active",
        edit(**{"dst.mdevs": [{"uuid": UUID}, {"uuid": OTHER, "adapters": [1], "domains": [5]}]}),
        "auto",
        ["apqn_in_use"],
        "blocked",
    ),
    (
        "apqn_in_use_autostart",
        edit(
            **{
                "dst.definitions": [
                    {"uuid": UUID, "start": "auto", "adapters": [], "domains": [], "control_domains": []},
                    {"uuid": OTHER, "start": "auto", "adapters": [1], "domains": [5]},
                ]
            }
        ),
        "auto",
        ["apqn_in_use"],
        "blocked",
    ),
    (
        "manual_definition_is_not_in_use",
        edit(
            **{
                "dst.definitions": [
                    {"uuid": UUID, "start": "auto", "adapters": [], "domains": [], "control_domains": []},
                    {"uuid": OTHER, "start": "manual", "adapters": [1], "domains": [5]},
                ]
            }
        ),
        "auto",
        [],
        "ready",
    ),
    ("apqn_set_mismatch_attribute", None, "attribute", ["apqn_set_mismatch"], "ready_after"),
    ("set_ignored_by_kernel_rules", None, "kernel", [], "ready"),
    ("control_domain_unavailable", edit(**{"dst.control_domains": "0-4,6-15"}), "auto", ["control_domain_unavailable"], "blocked"),
    (
        "control_domains_ignored_by_attribute_rules",
        edit(**{"dst.control_domains": "0-4,6-15", "dst.mdevs": [{"uuid": UUID, "adapters": [1], "domains": [5]}]}),
        "attribute",
        [],
        "ready",
    ),
    (
        "strict_checks_both",
        edit(**{"dst.control_domains": "0-4,6-15"}),
        "strict",
        ["apqn_set_mismatch", "control_domain_unavailable"],
        "blocked",
    ),
    (
        "queue_check_stopped",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "queues": {5: {"chkstop": True}}}]}),
        "auto",
        ["queue_unusable"],
        "blocked",
    ),
    (
        "card_offline",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "online": False}]}),
        "auto",
        ["queue_unusable"],
        "blocked",
    ),
    (
        "ep11_vs_cca",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8P", "domains": "0-15"}]}),
        "auto",
        ["hw_facility_mismatch", "hw_mode_mismatch"],
        "blocked",
    ),
    (
        "slcf_differs",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "functions": "0x73800000"}]}),
        "auto",
        ["hw_facility_mismatch"],
        "blocked",
    ),
    ("older_card", edit(**{"dst.cards": [{"id": 1, "type": "CEX7C", "domains": "0-15"}]}), "auto", ["hw_type_older"], "blocked"),
    ("newer_card_is_fine", edit(**{"src.cards": [{"id": 1, "type": "CEX7C", "domains": "0-15"}]}), "auto", [], "ready"),
    (
        "native_to_stateless",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "functions": "0x72400000"}]}),
        "auto",
        ["hw_class_incompatible"],
        "blocked",
    ),
    (
        "stateless_to_native_is_fine",
        edit(**{"src.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "functions": "0x72400000"}]}),
        "auto",
        [],
        "ready",
    ),
    (
        "secure_execution_dst",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "queues": {5: {"bs": 1}}}]}),
        "auto",
        ["secure_execution"],
        "blocked",
    ),
    (
        "secure_execution_src",
        edit(**{"src.cards": [{"id": 1, "type": "CEX8C", "domains": "0-15", "queues": {5: {"bs": 2}}}]}),
        "auto",
        ["secure_execution"],
        "blocked",
    ),
    # the hardware word of a guest queue: a failed query is a blocker of its own, never the card's word instead
    ("tapq_error_on_destination", edit(**{"dst.cards.0.queues": {5: {"tapq_rc": 6}}}), "auto", ["hw_query_failed"], "blocked"),
    ("tapq_error_on_source", edit(**{"src.cards.0.queues": {5: {"tapq_rc": 7}}}), "auto", ["hw_query_failed"], "blocked"),
    ("queue_not_available_on_destination", edit(**{"dst.cards.0.queues": {5: {"tapq_rc": 1}}}), "auto", ["hw_query_failed"], "blocked"),
    ("queue_not_available_on_source", edit(**{"src.cards.0.queues": {5: {"tapq_rc": 1}}}), "auto", ["hw_query_failed"], "blocked"),
    *[(f"tapq_rc{rc}_gives_the_word", edit(**{"dst.cards.0.queues": {5: {"tapq_rc": rc}}}), "auto", [], "ready") for rc in (2, 5)],
    (
        "tapq_error_with_other_blockers",
        edit(**{"dst.cards": [{"id": 1, "type": "CEX7C", "domains": "0-15", "queues": {5: {"tapq_rc": 6}}}]}),
        "auto",
        ["hw_query_failed"],
        "blocked",
    ),
    # the mode bits are compared one by one: an extra XCP bit is a mode mismatch although both "are" CCA
    ("extra_mode_bit", edit(**{"dst.cards.0.functions": "0x76800000"}), "auto", ["hw_mode_mismatch"], "blocked"),
    ("same_extra_mode_bit", edit(**{"src.cards.0.functions": "0x76800000", "dst.cards.0.functions": "0x76800000"}), "auto", [], "ready"),
    # an empty control-domain mask on the source LPAR: the guest has no control domain, none is checked
    ("empty_source_mask", edit(**{"src.control_domains": [], "dst.control_domains": []}), "auto", [], "ready"),
    ("empty_destination_mask", edit(**{"dst.control_domains": []}), "auto", ["control_domain_unavailable"], "blocked"),
]


def _attribute_pair(fleet):
    """Both hosts series v1/v2 (attribute), the destination mdev holds the guest's APQN: ready."""
    fleet["hosts"]["src"]["migration"] = fleet["hosts"]["dst"]["migration"] = "attribute"
    fleet["hosts"]["src"]["mdevs"][0]["migratable"] = 1
    fleet["hosts"]["dst"]["mdevs"] = [{"uuid": UUID, "adapters": [1], "domains": [5], "control_domains": [5]}]
    fleet["hosts"]["dst"]["definitions"][0].update(adapters=[1], domains=[5], control_domains=[5])
    return fleet


ATTRIBUTE_CASES = [
    # series v1/v2 compare the word each queue cached from its card: a failing TAPQ does not matter there
    ("ready", None, [], "ready"),
    ("tapq_error_ignored", lambda f: f["hosts"]["dst"]["cards"][0].update(queues={5: {"tapq_rc": 6}}), [], "ready"),
    ("queue_not_available_ignored", lambda f: f["hosts"]["src"]["cards"][0].update(queues={5: {"tapq_rc": 1}}), [], "ready"),
    # ... and the whole classification byte
    ("stateless_to_native", lambda f: f["hosts"]["src"]["cards"][0].update(functions="0x72400000"), ["hw_class_incompatible"], "blocked"),
    ("extra_mode_bit", lambda f: f["hosts"]["dst"]["cards"][0].update(functions="0x7a800000"), ["hw_mode_mismatch"], "blocked"),
]


@pytest.mark.parametrize(("change", "blockers", "verdict"), [c[1:] for c in ATTRIBUTE_CASES], ids=[c[0] for c in ATTRIBUTE_CASES])
def test_attribute_rules_compare_card_words(tmp_path, change, blockers, verdict):
    result = check(tmp_path, lambda f: (_attribute_pair(f), change and change(f)))
    assert result["rules"] == "attribute"
    assert codes(result["blockers"]) == blockers
    assert ("ready" if result["ready"] else "blocked") == verdict


def test_failed_query_names_the_side_and_the_queue(tmp_path):
    result = check(tmp_path, edit(**{"dst.cards.0.queues": {5: {"tapq_rc": 1}}}))
    [blocker] = result["blockers"]
    assert blocker["apqn"] == "01.0005" and blocker["detail"].startswith("destination: queue 01.0005 on dst")
    assert "0x00000000" in blocker["detail"] and "queue not available" in blocker["detail"]
    result = check(tmp_path / "src", edit(**{"src.cards.0.queues": {5: {"tapq_rc": 6}}}))
    [blocker] = result["blockers"]
    assert blocker["detail"].startswith("source: queue 01.0005 on src") and "could not be read" in blocker["detail"]


def test_control_domains_null_is_not_none(tmp_path):
    """[] (the LPAR has no control domain) and null (not known) differ: null checks every domain the guest may have."""
    fleet = copy.deepcopy(base_fleet())
    facts = facts_for_fleet(fleet, tmp_path)
    src = copy.deepcopy(facts["src"])
    src["bus"]["host_control_domains"] = None  # the mask could not be read: the assignment [5] is checked
    dst = copy.deepcopy(facts["dst"])
    dst["bus"]["host_control_domains"] = [0, 1]
    result = R.migration_check(src, dst, UUID, source="src", destination="dst")
    assert result["control_domains"] is None
    [blocker] = result["blockers"]
    assert blocker["code"] == "control_domain_unavailable" and "mask is unknown" in blocker["detail"]
    src["driver"]["mdevs"][0]["control_domains"] = None  # and the assignment neither: nothing can be checked
    result = R.migration_check(src, facts["dst"], UUID, source="src", destination="dst")
    assert [b["code"] for b in result["blockers"]] == ["control_domain_unavailable"] and "unknown" in result["blockers"][0]["detail"]
    src["bus"]["host_control_domains"] = []  # an empty mask: the guest has no control domain
    src["driver"]["mdevs"][0]["control_domains"] = [5]
    result = R.migration_check(src, dst, UUID, source="src", destination="dst")
    assert result["ready"] and result["control_domains"] == []
    dst["bus"]["host_control_domains"] = None  # the destination's mask is unknown: the guest's domains cannot be checked
    src["bus"]["host_control_domains"] = [5]
    src["driver"]["mdevs"][0]["control_domains"] = [5]
    result = R.migration_check(src, dst, UUID, source="src", destination="dst")
    assert [b["code"] for b in result["blockers"]] == ["control_domain_unavailable"] and "dst's control-domain mask" in result["blockers"][
        0
    ]["detail"]


@pytest.mark.parametrize(
    ("levels", "rules", "warning", "action_assigns"),
    [
        (None, "strict", True, True),  # no mdev on dst: series v1/v2 or v3+? both rule sets
        ({"dst": "attribute"}, "strict", False, True),  # mixed: kernel source, attribute destination
        ({"dst": "kernel"}, "kernel", False, False),
    ],
    ids=["unknown", "named_attribute", "named_kernel"],
)
def test_a_host_without_mdevs_has_an_unknown_level(tmp_path, levels, rules, warning, action_assigns):
    result = check(tmp_path, edit(**{"dst.mdevs": [], "dst.definitions": []}), migration_levels=levels)
    assert result["rules"] == rules
    assert ("migration_level_unknown" in codes(result["warnings"])) is warning
    assert result["ready_after"]
    [mdev] = [a for a in result["actions"] if a["type"] == "mdev"]
    assert (mdev["adapters"], mdev["domains"]) == (([1], [5]) if action_assigns else ([], []))


def test_a_level_override_cannot_contradict_the_facts(tmp_path):
    result = check(tmp_path, edit(**{"dst.migration": "none"}), migration_levels={"dst": "kernel"})
    assert "no_migration_support" in codes(result["blockers"])
    with pytest.raises(ValueError, match="vfio_ap_migration_level: expected attribute"):
        check(tmp_path / "x", migration_levels={"dst": "v3"})
    with pytest.raises(ValueError, match="migration_levels: expected"):
        check(tmp_path / "y", migration_levels=["dst"])


@pytest.mark.parametrize(("change", "rules", "blockers", "verdict"), [c[1:] for c in BLOCKER_CASES], ids=[c[0] for c in BLOCKER_CASES])
def test_blockers(tmp_path, change, rules, blockers, verdict):
    result = check(tmp_path, change, rules)
    if blockers is not None:
        assert codes(result["blockers"]) == blockers
    got = "ready" if result["ready"] else "ready_after" if result["ready_after"] else "blocked"
    assert got == verdict
    assert all(b["detail"] for b in result["blockers"])


def test_not_loaded_destination_is_unsupported(tmp_path):
    result = check(tmp_path, edit(**{"dst.vfio_ap_loaded": False}))
    assert "no_migration_support" in codes(result["blockers"])


def test_same_host(tmp_path):
    facts = facts_for_fleet(base_fleet(), tmp_path)
    result = R.migration_check(facts["src"], facts["src"], UUID, source="src", destination="src")
    assert "same_host" in codes(result["blockers"])
    assert not result["ready"]


@pytest.mark.parametrize(
    ("patterns", "blocker", "warning"),
    [
        ({"src": {"01.0005": {"aes_cur": "0x1111"}}, "dst": {"01.0005": {"aes_cur": "0x2222"}}}, True, False),
        ({"src": {"01.0005": {"aes_cur": "0x1111"}}, "dst": {"01.0005": {"aes_cur": "0x1111"}}}, False, False),
        ({"src": {"01.0005": {"aes_cur": "0x1111"}}}, False, True),
        (None, False, True),
    ],
    ids=["differ", "agree", "destination_unknown", "both_unknown"],
)
def test_master_keys(tmp_path, patterns, blocker, warning):
    result = check(tmp_path, mkvps=patterns)
    assert ("mkvp_mismatch" in codes(result["blockers"])) is blocker
    assert ("mkvp_unknown" in codes(result["warnings"])) is warning


def test_accelerators_have_no_master_keys(tmp_path):
    both = edit(
        **{"src.cards": [{"id": 1, "type": "CEX8A", "domains": "0-15"}], "dst.cards": [{"id": 1, "type": "CEX8A", "domains": "0-15"}]}
    )
    result = check(tmp_path, both)
    assert result["ready"] and "mkvp_unknown" not in codes(result["warnings"])


WARNING_CASES = [
    ("not_persistent", edit(**{"dst.definitions": []}), "not_persistent"),
    (
        "drift",
        edit(**{"src.definitions": [{"uuid": UUID, "start": "auto", "adapters": [1], "domains": [5, 6], "control_domains": [5]}]}),
        "drift",
    ),
    ("over_provisioned", lambda f: f["hosts"]["src"]["mdevs"][0].update(adapters=[1, 9]), "over_provisioned"),
    (
        "mixed_levels",
        lambda f: (
            f["hosts"]["src"].update(migration="attribute"),
            f["hosts"]["src"]["mdevs"][0].update(migratable=1),
            f["hosts"]["dst"].update(mdevs=[{"uuid": UUID, "adapters": [1], "domains": [5], "control_domains": [5]}]),
        ),
        "mixed_migration_levels",
    ),
]


@pytest.mark.parametrize(("change", "warning"), [c[1:] for c in WARNING_CASES], ids=[c[0] for c in WARNING_CASES])
def test_warnings_do_not_block(tmp_path, change, warning):
    result = check(tmp_path, change)
    assert warning in codes(result["warnings"])
    assert result["ready"], result["blockers"]


def test_over_provisioned_compares_guest_apqns(tmp_path):
    result = check(tmp_path, lambda f: f["hosts"]["src"]["mdevs"][0].update(adapters=[1, 9]))
    assert result["apqns"] == ["01.0005"]  # adapter 09 is not installed: filtered from the guest matrix


def test_mixed_levels_apply_strict(tmp_path):
    result = check(tmp_path, WARNING_CASES[3][1])
    assert result["rules"] == "strict"


@pytest.mark.parametrize(
    ("change", "rules", "expected"),
    [
        (
            edit(**{"dst.aqmask": "0-15", "dst.mdevs": [], "dst.definitions": []}),
            "kernel",
            [
                {"type": "ap_mask", "adapters": [], "domains": [5], "state": "reserved", "persistent": True},
                {
                    "type": "mdev",
                    "uuid": UUID,
                    "state": "present",
                    "adapters": [],
                    "domains": [],
                    "control_domains": [],
                    "persistent": True,
                    "start": "auto",
                },
            ],
        ),
        (
            edit(**{"dst.mdevs": [], "dst.definitions": []}),
            "strict",
            [
                {
                    "type": "mdev",
                    "uuid": UUID,
                    "state": "present",
                    "adapters": [1],
                    "domains": [5],
                    "control_domains": [5],
                    "persistent": True,
                    "start": "auto",
                }
            ],
        ),
        (
            None,
            "attribute",
            [
                {
                    "type": "mdev",
                    "uuid": UUID,
                    "state": "present",
                    "adapters": [1],
                    "domains": [5],
                    "control_domains": [5],
                    "persistent": True,
                    "start": "auto",
                }
            ],
        ),
        (None, "kernel", []),
        (
            edit(**{"dst.definitions": []}),
            "kernel",
            [
                {
                    "type": "mdev",
                    "uuid": UUID,
                    "state": "present",
                    "adapters": [],
                    "domains": [],
                    "control_domains": [],
                    "persistent": True,
                    "start": "auto",
                }
            ],
        ),
    ],
    ids=["reserve_and_create", "create_with_set", "assign_set", "nothing", "persist"],
)
def test_actions(tmp_path, change, rules, expected):
    assert check(tmp_path, change, rules)["actions"] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (({"bus": {}, "vfio_ap": {}}, "DST", UUID), "source_facts: cards: expected a list, got null"),
        (("SRC", {"queues": []}, UUID), "destination_facts: bus: expected a dict, got null"),
        (("SRC", "DST", "6c1a0000-0000-4000-8000-0000000000cc"), "uuid: 6c1a0000-0000-4000-8000-0000000000cc is not an mdev"),
        (("SRC", "DST", 5), "uuid: expected an mdev UUID string"),
        (("SRC", "DST", UUID, "fast"), "rules: expected one of"),
        (([], "DST", UUID), "source_facts: facts: expected the ansible_facts.vfio_ap dict, got list"),
    ],
)
def test_bad_input(tmp_path, args, message):
    facts = facts_for_fleet(base_fleet(), tmp_path)
    args = tuple(facts["src"] if a == "SRC" else facts["dst"] if a == "DST" else a for a in args)
    with pytest.raises(ValueError, match=message):
        R.migration_check(*args)


def test_findings_are_ordered_and_name_apqns(tmp_path):
    result = check(tmp_path, edit(**{"dst.cards": [{"id": 1, "type": "CEX7C", "domains": "0-15", "queues": {5: {"chkstop": True}}}]}))
    assert [b["code"] for b in result["blockers"]] == ["queue_unusable", "hw_type_older"]
    assert {b["apqn"] for b in result["blockers"]} == {"01.0005"}


def test_migration_guard_disables_on_kernel_hosts(tmp_path):
    """A guard entry written by the collection's own writer (as the migratable module does) blocks."""
    from apsim.fleet import build_fleet
    from apsim.render import render_fleet

    from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, render_guard

    render_fleet(build_fleet(base_fleet()), tmp_path)
    guard = tmp_path / "src" / GUARD_PATH
    guard.parent.mkdir(parents=True, exist_ok=True)
    guard.write_text(
        render_guard({UUID: {"migratable": False, "reason": "master-key change", "guest": "g1", "changed": "2026-11-25T12:00:00Z"}})
    )
    src, _unused = gather_facts(str(tmp_path / "src"))
    dst, _unused = gather_facts(str(tmp_path / "dst"))
    result = R.migration_check(src, dst, UUID, source="src", destination="dst")
    assert codes(result["blockers"]) == ["migration_disabled"]
    assert "master-key change" in result["blockers"][0]["detail"]


def test_same_lpar_under_two_names_is_the_same_host(tmp_path):
    facts = facts_for_fleet(base_fleet(), tmp_path)
    identity = {
        "machine_id": "0f" * 16,
        "cpc": {"type": "3931", "sequence_code": "00000000000A1B2C"},
        "lpar": {"name": "LP01", "number": 1},
    }
    src = dict(facts["src"], host=identity)
    alias = dict(facts["src"], host=identity)
    result = R.migration_check(src, alias, UUID, source="kvm-a1", destination="kvm-a1-mgmt")
    same = [b for b in result["blockers"] if b["code"] == "same_host"]
    assert same and "kvm-a1-mgmt is the same LPAR as kvm-a1" in same[0]["detail"]
    other = dict(facts["dst"], host=dict(identity, lpar={"name": "LP02", "number": 2}))
    assert "same_host" not in codes(R.migration_check(src, other, UUID, source="kvm-a1", destination="kvm-b1")["blockers"])


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, None),
        ({"machine_id": "AB" * 16}, ("machine-id", "ab" * 16)),
        ({"machine_id": "ab" * 16, "cpc": {"type": "3931", "sequence_code": "A1"}, "lpar": {"number": 3}}, ("lpar", "3931", "a1", "3")),
        ({"machine_id": None, "cpc": {"type": None, "sequence_code": None}, "lpar": {"number": None}}, None),
        ("garbage", None),
    ],
)
def test_identity(host, expected):
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._host_facts import identity_of

    assert identity_of(host) == expected
