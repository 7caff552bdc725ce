"""Every writer against races, faults and hostile trees on live simulated hosts (modules run directly, in parallel).

Each test is one defect of issue 11 that the transaction layer fixes: lost updates of 41-ap.rules,
spurious EEXIST of identical mdev runs, no rollback of the live masks when the rule file cannot be
written, writes leaving the sysroot through symlinks, modes following the umask, odd lock files
ending in tracebacks, debris after kill -9, options accepted in one state only.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import parse_rules
from apsim.testing import fresh_live_fleet  # noqa: F401  # pylint: disable=unused-import
from helpers.module_run import FULL, READ_ONLY, run_module, run_parallel

pytestmark = pytest.mark.live

U_HOLD = "c0000000-0000-4000-8000-000000000001"
U_NEW = "c0000000-0000-4000-8000-0000000000a1"
U_G = "c0000000-0000-4000-8000-0000000000b1"
FLEET = {
    "hosts": {
        "q": {
            "max_adapter_id": 63,
            "max_domain_id": 31,
            "aqmask": "0-2,8-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-9"}, {"id": 2, "type": "CEX8P", "domains": "0-9"}],
            "mdevs": [{"uuid": U_HOLD, "adapters": [2], "domains": [4], "guest": "db1"}],
        }
    }
}
RULES = "etc/udev/rules.d/41-ap.rules"


@pytest.fixture
def host(fresh_live_fleet) -> Path:  # noqa: F811
    return fresh_live_fleet(FLEET).host_dir("q")


def no_traceback(result: dict) -> None:
    assert "Traceback" not in result.get("_stderr", "") and "Traceback" not in result.get("module_stderr", "")
    assert "\n" not in result.get("msg", ""), result.get("msg")


def test_concurrent_persistent_ap_mask_runs_lose_no_update(host):
    """Four runs at once, each reserving/releasing one domain: the rule file keeps all four, every round."""
    domains = [22, 23, 24, 25]
    for round_ in range(3):
        for state in ("reserved", "released"):
            results = run_parallel("ap_mask", [{"sysroot": str(host), "domains": d, "state": state, "persistent": True} for d in domains])
            for result in results:
                no_traceback(result)
                assert not result.get("failed"), result.get("msg")
            persistent = parse_rules((host / RULES).read_text())["aqmask"]
            if state == "reserved":
                assert not set(domains) & set(persistent), f"round {round_}: lost update in {RULES}"
            else:
                assert set(domains) <= set(persistent), f"round {round_}: lost update in {RULES}"


@pytest.mark.parametrize("fault, code", [(READ_ONLY, "EROFS"), (FULL, "ENOSPC")], ids=["EROFS", "ENOSPC"])
def test_persistent_ap_mask_rolls_the_live_masks_back_when_the_rule_file_cannot_be_written(host, fault, code):
    rules_d = host / RULES
    rules_d.parent.mkdir(parents=True, exist_ok=True)
    listing = sorted(p.name for p in rules_d.parent.iterdir())
    before = (host / "sys/bus/ap/aqmask").read_text()
    result = run_module("ap_mask", {"sysroot": str(host), "domains": 9, "persistent": True}, fault=(fault, rules_d.parent))
    no_traceback(result)
    assert result["failed"] and result["changed"] is False, result
    assert code in result["msg"] and "previous state was restored" in result["msg"] and "aqmask" in result["msg"], result["msg"]
    assert (host / "sys/bus/ap/aqmask").read_text() == before, "the live reservation was undone"
    assert sorted(p.name for p in rules_d.parent.iterdir()) == listing, "no temporary file is left"


@pytest.mark.parametrize("fault", ["rule file is a directory", "rules.d is a file"])
def test_an_unreadable_rule_file_is_refused_before_any_write(host, fault):
    rules = host / RULES
    import shutil

    if rules.parent.exists():
        shutil.rmtree(rules.parent)
    if fault == "rule file is a directory":
        rules.mkdir(parents=True)
    else:
        rules.parent.parent.mkdir(parents=True, exist_ok=True)
        rules.parent.write_text("")
    before = (host / "sys/bus/ap/aqmask").read_text()
    result = run_module("ap_mask", {"sysroot": str(host), "domains": 9, "persistent": True})
    no_traceback(result)
    assert result["failed"] and result["changed"] is False and "nothing was changed" in result["msg"], result
    assert (host / "sys/bus/ap/aqmask").read_text() == before


def test_ap_mask_refuses_a_rules_directory_that_leads_out_of_the_sysroot(host, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (host / "etc/udev").mkdir(parents=True, exist_ok=True)
    if (host / "etc/udev/rules.d").exists():
        __import__("shutil").rmtree(host / "etc/udev/rules.d")
    (host / "etc/udev/rules.d").symlink_to(outside)
    before = (host / "sys/bus/ap/aqmask").read_text()
    result = run_module("ap_mask", {"sysroot": str(host), "domains": 9, "persistent": True})
    no_traceback(result)
    assert result["failed"] and "outside the sysroot" in result["msg"]
    assert list(outside.iterdir()) == []
    assert (host / "sys/bus/ap/aqmask").read_text() == before


def test_the_rule_file_is_0644_under_umask_000(host):
    result = run_module("ap_mask", {"sysroot": str(host), "domains": 9, "persistent": True}, umask=0)
    assert result["changed"], result
    assert (host / RULES).stat().st_mode & 0o7777 == 0o644
    assert (host / "etc/udev/rules.d").stat().st_mode & 0o7777 == 0o755


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda h: (h / "run/lock").mkdir(parents=True, exist_ok=True) or (h / "run/lock/s390apconfig.lock").mkdir(), "is a directory"),
        (
            lambda h: (h / "run/lock").mkdir(parents=True, exist_ok=True) or (h / "run/lock/s390apconfig.lock").symlink_to(h / "gone"),
            "symbolic link",
        ),
        (lambda h: __import__("shutil").rmtree(h / "run/lock", True) or (h / "run/lock").write_text(""), "not a directory"),
    ],
    ids=["lock is a directory", "dangling symlink", "run/lock is a file"],
)
def test_odd_lock_files_are_one_line_and_change_nothing(host, make, words):
    make(host)
    before = (host / "sys/bus/ap/aqmask").read_text()
    result = run_module("ap_mask", {"sysroot": str(host), "domains": 9})
    no_traceback(result)
    # refused for what the lock file is, not after the lock's 95 s wait (which would say "held by"): the
    # message proves it without a clock; test__aplock shows it never even sleeps
    assert result["failed"] and words in result["msg"] and "nothing was changed" in result["msg"], result["msg"]
    assert "held" not in result["msg"]
    assert (host / "sys/bus/ap/aqmask").read_text() == before


@pytest.mark.parametrize("module", ["ap_mask", "mdev", "migratable", "ap_facts"])
@pytest.mark.parametrize("kind", ["missing", "empty", "file", "no sys"])
def test_every_module_refuses_a_bad_sysroot_with_the_same_message(tmp_path, module, kind):
    target = {"missing": tmp_path / "nope", "empty": "", "file": tmp_path / "f", "no sys": tmp_path / "d"}[kind]
    if kind == "file":
        target.write_text("")
    if kind == "no sys":
        target.mkdir()
    args = {"sysroot": str(target)}
    if module in ("mdev", "migratable"):
        args["uuid"] = U_NEW
    result = run_module(module, args)
    no_traceback(result)
    assert result["failed"] and "it must be / or an existing directory holding sys/" in result["msg"], result["msg"]
    assert not (tmp_path / "nope").exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"file": ["f"], "no sys": ["d"]}.get(kind, [])
    ), "nothing was created"


GUARD = "etc/vfio_ap/migration-guard.json"


def test_concurrent_guard_runs_keep_every_entry_and_converge(host):
    uuids = [f"c0000000-0000-4000-8000-0000000000{n:02x}" for n in range(0xC0, 0xC4)]
    results = run_parallel("migratable", [{"sysroot": str(host), "uuid": u, "state": "disabled"} for u in uuids])
    assert all(r.get("changed") and not r.get("failed") for r in results), [r.get("msg") for r in results]
    import json

    assert sorted(json.loads((host / GUARD).read_text())["mdevs"]) == uuids
    again = run_parallel("migratable", [{"sysroot": str(host), "uuid": uuids[0], "state": "disabled", "reason": "x"}] * 3)
    assert sorted(r["changed"] for r in again) == [False, False, True], "the later identical runs see the first one's result"


def test_the_guard_is_0644_in_a_0755_directory_under_umask_000(host):
    result = run_module("migratable", {"sysroot": str(host), "uuid": U_G, "state": "disabled"}, umask=0)
    assert result["changed"], result
    assert (host / GUARD).stat().st_mode & 0o7777 == 0o644
    assert (host / "etc/vfio_ap").stat().st_mode & 0o7777 == 0o755


@pytest.mark.parametrize("link", ["etc/vfio_ap", "run/lock"])
def test_the_guard_and_the_lock_never_leave_the_sysroot_through_a_symlink(host, tmp_path, link):
    outside = tmp_path / "outside"
    outside.mkdir()
    if (host / link).exists():
        __import__("shutil").rmtree(host / link)
    (host / link).parent.mkdir(parents=True, exist_ok=True)
    (host / link).symlink_to(outside)
    result = run_module("migratable", {"sysroot": str(host), "uuid": U_G, "state": "disabled"})
    no_traceback(result)
    assert result["failed"] and "outside the sysroot" in result["msg"] and result["changed"] is False, result["msg"]
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("fault", ["guard is a directory", "guard is not JSON"])
def test_a_broken_guard_is_one_line_and_changes_nothing(host, fault):
    (host / "etc/vfio_ap").mkdir(parents=True, exist_ok=True)
    if fault == "guard is a directory":
        (host / GUARD).mkdir()
    else:
        (host / GUARD).write_text("{")
    result = run_module("migratable", {"sysroot": str(host), "uuid": U_G, "state": "disabled"})
    no_traceback(result)
    assert result["failed"] and result["changed"] is False and GUARD.rsplit("/", maxsplit=1)[-1] in result["msg"], result["msg"]


@pytest.mark.parametrize("fault, code", [(READ_ONLY, "EROFS"), (FULL, "ENOSPC")], ids=["EROFS", "ENOSPC"])
def test_a_guard_write_refused_by_the_file_system_is_one_line(host, fault, code):
    (host / "etc/vfio_ap").mkdir(parents=True, exist_ok=True)
    result = run_module("migratable", {"sysroot": str(host), "uuid": U_G, "state": "disabled"}, fault=(fault, host / "etc/vfio_ap"))
    no_traceback(result)
    assert result["failed"] and result["changed"] is False and code in result["msg"], result["msg"]
    assert not (host / GUARD).exists()


MATRIX_DEFS = "etc/mdevctl.d/matrix"


def mdev_args(host: Path, **extra) -> dict:
    return {"sysroot": str(host), "uuid": U_NEW, "adapters": [1], "domains": [5], "control_domains": [5], **extra}


def test_identical_concurrent_mdev_runs_converge_without_spurious_failures(fresh_live_fleet):  # noqa: F811
    live = fresh_live_fleet(FLEET)
    host = live.host_dir("q")
    for round_ in range(4):
        results = run_parallel("mdev", [mdev_args(host, persistent=True)] * 3)
        for result in results:
            no_traceback(result)
            assert not result.get("failed"), f"round {round_}: {result.get('msg')}"
        assert sorted(r["changed"] for r in results) == [False, False, True], f"round {round_}"
        assert sorted(r["created"] for r in results) == [False, False, True]
        assert live.state("q")["mdevs"][U_NEW]["adapters"] == [1]
        gone = run_parallel("mdev", [{"sysroot": str(host), "uuid": U_NEW, "state": "absent", "persistent": True}] * 3)
        assert sorted(r["changed"] for r in gone) == [False, False, True], [r.get("msg") for r in gone]
        assert U_NEW not in live.state("q")["mdevs"] and not (host / MATRIX_DEFS / U_NEW).exists()


@pytest.mark.parametrize("fault, code", [(READ_ONLY, "EROFS"), (FULL, "ENOSPC")], ids=["EROFS", "ENOSPC"])
def test_a_rolled_back_mdev_run_says_what_is_true(fresh_live_fleet, fault, code):  # noqa: F811
    """The definition cannot be written after the mdev was created and configured: all undone, created: false."""
    live = fresh_live_fleet(FLEET)
    host = live.host_dir("q")
    (host / MATRIX_DEFS).mkdir(parents=True, exist_ok=True)
    before = live.state("q")["mdevs"]
    listing = sorted(p.name for p in (host / "etc/mdevctl.d").iterdir())
    result = run_module("mdev", mdev_args(host, persistent=True), fault=(fault, host / "etc/mdevctl.d"))
    no_traceback(result)
    assert result["failed"] and code in result["msg"] and "previous state was restored" in result["msg"], result["msg"]
    assert result["changed"] is False and result["created"] is False and result["after"] is None, result
    assert any("remove the mdev" in r for r in result["restored"]), result["restored"]
    assert live.state("q")["mdevs"] == before
    assert sorted(p.name for p in (host / "etc/mdevctl.d").iterdir()) == listing, "no temporary file is left"


def test_definitions_are_0644_and_no_temporary_file_is_written_into_the_mdevctl_parent_directory(fresh_live_fleet):  # noqa: F811
    host = fresh_live_fleet(FLEET).host_dir("q")
    result = run_module("mdev", mdev_args(host, persistent=True), umask=0)
    assert result["changed"] and result["persisted_with"] == "file", result
    assert (host / MATRIX_DEFS / U_NEW).stat().st_mode & 0o7777 == 0o644
    assert (host / MATRIX_DEFS).stat().st_mode & 0o7777 == 0o755
    assert sorted(p.name for p in (host / MATRIX_DEFS).iterdir()) == [U_NEW]


def test_debris_of_killed_writers_is_removed_by_the_next_run(fresh_live_fleet):  # noqa: F811
    host = fresh_live_fleet(FLEET).host_dir("q")
    (host / MATRIX_DEFS).mkdir(parents=True, exist_ok=True)
    (host / "run/lock").mkdir(parents=True, exist_ok=True)
    debris = [
        host / MATRIX_DEFS / ".vfio_ap-abc123",  # an earlier release's temporary file
        host / "etc/mdevctl.d/.s390x-vfio_ap.999999999.0a0b0c0d.tmp",
        host / "run/lock/.s390apconfig.999999999.0a0b0c0d",
        host / "run/lock/.s390apconfig.Ab3dE6gh",  # an earlier release's private lock file
    ]
    for path in debris:
        path.write_text("x")
        os.utime(path, (1, 1))
    result = run_module("mdev", mdev_args(host))
    assert result["changed"] and not result.get("failed"), result
    assert [p for p in debris if p.exists()] == []


@pytest.mark.parametrize(
    "args, words",
    [
        ({"state": "absent", "adapters": [256]}, ["adapters", "256"]),
        ({"state": "absent", "adapters": [64]}, ["adapters", "64", "maximum adapter ID 63"]),
        ({"state": "absent", "domains": "zzz"}, ["domains", "'zzz'"]),
        ({"adapters": [5, None]}, ["adapters", "null item", "[5, None]"]),
        ({"state": "absent", "domains": [3, None]}, ["domains", "null item"]),
        ({"adapters": "-1"}, ["adapters", "'-1'", "no negative IDs"]),
    ],
)
def test_mdev_options_are_validated_in_every_state(fresh_live_fleet, args, words):  # noqa: F811
    live = fresh_live_fleet(FLEET)
    host = live.host_dir("q")
    before = live.state("q")
    result = run_module("mdev", {"sysroot": str(host), "uuid": U_HOLD, **args})
    no_traceback(result)
    assert result["failed"] and result["changed"] is False, result
    for word in words:
        assert word in result["msg"], result["msg"]
    assert live.state("q") == before


def test_a_missing_sysroot_is_reported_as_such_by_mdev(tmp_path):
    result = run_module("mdev", {"sysroot": str(tmp_path / "gone"), "uuid": U_NEW})
    assert result["failed"] and "does not exist" in result["msg"] and "not loaded" not in result["msg"]


def test_an_autostart_definition_is_checked_as_ap_check_reads_the_others(fresh_live_fleet):  # noqa: F811
    """Another auto definition assigns then unassigns 01.0005: the kernel would not hold it, ap-check does."""
    import json

    live = fresh_live_fleet(FLEET)
    host = live.host_dir("q")
    other = "c0000000-0000-4000-8000-0000000000d1"
    (host / MATRIX_DEFS).mkdir(parents=True, exist_ok=True)
    doc = {"mdev_type": "vfio_ap-passthrough", "start": "auto",
           "attrs": [{"assign_adapter": "1"}, {"assign_domain": "5"}, {"assign_domain": "6"}, {"unassign_domain": "5"}]}  # fmt: skip
    (host / MATRIX_DEFS / other).write_text(json.dumps(doc))
    # (the persistent masks, the live ones here, reserve 01.0005 for vfio_ap: only the other definition conflicts)
    before = live.state("q")
    result = run_module("mdev", mdev_args(host, persistent=True, start="auto"))
    no_traceback(result)
    assert result["failed"] and other in result["msg"] and "01.0005" in result["msg"] and "autostart" in result["msg"], result["msg"]
    assert result["changed"] is False and live.state("q") == before
    assert sorted(p.name for p in (host / MATRIX_DEFS).iterdir()) == [other]
