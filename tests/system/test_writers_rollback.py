"""Every writer with a failure injected at each write step in turn, on live simulated hosts of every kernel generation.

The writers' module_utils run in-process inside a Transaction whose HostIO fails the k-th write
(k = 1, 2, ... until a run makes all its writes): after each failure the simulator's state and the
files are exactly as before, the error says what was restored, and the result computed afterwards
says what is true (a rolled-back mdev was not created). The ``k60`` host (v6.0: no ``ap_config``)
runs the mdev module's ordered ``assign_*``/``unassign_*`` path end to end.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _guard_writer, _mask_writer, _mdev_writer
from ansible_collections.s390x.vfio_ap.plugins.module_utils._sysfs_io import SysfsWriteError
from ansible_collections.s390x.vfio_ap.plugins.module_utils._transaction import HostIO, Transaction, TransactionError
from apsim.testing import live_fleet_fixture
from helpers.module_run import run_module

pytestmark = pytest.mark.live

FLEET = Path(__file__).resolve().parents[1] / "fleets" / "old-kernels.yml"
live = live_fleet_fixture(FLEET)
MAX_STEPS = 20


class FailAt(HostIO):
    """Fails the k-th write (1-based): a sysfs store with EIO-like kernel errno, a file with ENOSPC."""

    def __init__(self, k: int):
        self.k, self.count = k, 0

    def _hit(self) -> bool:
        self.count += 1
        return self.count == self.k

    def write_attr(self, sysroot, rel, value):
        if self._hit():
            raise SysfsWriteError(os.path.join(sysroot, rel), value, errno.ENOMEM)
        super().write_attr(sysroot, rel, value)

    def replace_file(self, sysroot, rel, text):
        if self._hit():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), rel)
        super().replace_file(sysroot, rel, text)

    def remove_file(self, sysroot, rel):
        if self._hit():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), rel)
        super().remove_file(sysroot, rel)


def files(root: Path) -> dict[str, str]:
    """Return the text of every file under etc/ (definitions, rules, guard)."""
    return {str(p.relative_to(root)): p.read_text() for p in sorted((root / "etc").rglob("*")) if p.is_file()}


def snapshot(live, host: str) -> tuple:
    state = live.state(host)
    return state["apmask"], state["aqmask"], state["mdevs"], files(live.host_dir(host))


def every_step(live, host: str, body, check_result=None) -> int:
    """Run body(txn) failing at k = 1, 2, ... until it succeeds; return the number of writes it made."""
    initial = snapshot(live, host)
    for k in range(1, MAX_STEPS):
        try:
            Transaction(str(live.host_dir(host)), io=FailAt(k)).run(body)
        except TransactionError as exc:
            assert exc.clean, f"step {k}: {exc}"
            assert len(exc.written) == k - 1, f"step {k}: {exc.written}"
            assert ("nothing was changed" in str(exc)) == (k == 1), str(exc)
            assert snapshot(live, host) == initial, f"a failure at write {k} left the host changed"
            if check_result:
                check_result(k)
            continue
        return k - 1
    raise AssertionError("never succeeded")


MDEV_CASES = [
    # (host, uuid, options, expected writes incl. the definition file)
    ("k60", "0d000000-0000-4000-8000-000000060003",
     {"adapters": [2], "domains": [10, 11], "control_domains": [10], "persistent": True}, 5),
    ("k60", "0d000000-0000-4000-8000-0000000600a1",
     {"adapters": [2], "domains": "12-13", "control_domains": [12], "persistent": True, "start": "manual"}, 6),
    ("k60", "0d000000-0000-4000-8000-000000060002",
     {"adapters": [2], "domains": [9, 15], "control_domains": [15], "persistent": True, "start": "manual"}, 3),
    ("k612", "0d000000-0000-4000-8000-0000000612a1",
     {"adapters": [2], "domains": [14], "control_domains": [14], "persistent": True, "start": "manual"}, 3),
    ("k517", "0d000000-0000-4000-8000-000000051703",
     {"adapters": [2], "domains": [10], "persistent": False}, 2),
]  # fmt: skip


@pytest.mark.parametrize("host, uuid, options, writes", MDEV_CASES, ids=[f"{c[0]}-{c[1][-4:]}" for c in MDEV_CASES])
def test_mdev_rolls_back_a_failure_at_every_write_step(live, host, uuid, options, writes):
    opts = {"state": "present", "adapters": None, "domains": None, "control_domains": None, "persistent": False,
            "start": "auto", "force": False, **options}  # fmt: skip
    root = str(live.host_dir(host))
    before_host = _mdev_writer.read_host(root, uuid)

    def says_what_is_true(k):
        result = _mdev_writer.failure_result(root, uuid, before_host["current"], before_host["definition"])
        assert result["created"] is False and result["removed"] is False, f"step {k}: {result}"
        assert result["after"] == before_host["current"]

    made = every_step(live, host, lambda txn: _mdev_writer.apply(txn, uuid, opts, None), says_what_is_true)
    assert made == writes
    after = live.state(host)["mdevs"][uuid]
    wanted = _mdev_writer.read_host(root, uuid)["current"]
    assert {k: after[k] for k in ("adapters", "domains", "control_domains")} == wanted
    # a second run changes nothing
    assert Transaction(root).run(lambda txn: _mdev_writer.apply(txn, uuid, opts, None))["changed"] is False


def test_mdev_assign_path_end_to_end_on_a_kernel_without_ap_config(live):
    """The module itself on k60: ordered decimal assign_* writes, the result read back, idempotent."""
    root = live.host_dir("k60")
    uuid = "0d000000-0000-4000-8000-0000000600b1"
    assert not (root / "sys/devices/vfio_ap/matrix/0d000000-0000-4000-8000-000000060002/ap_config").exists()
    args = {"sysroot": str(root), "uuid": uuid, "adapters": "0x01", "domains": [14, 15], "control_domains": [14]}
    result = run_module("mdev", args)
    assert result["changed"] and result["created"] and result["method"] == "assign", result
    files_written = [(os.path.basename(w["file"]), w["value"]) for w in result["writes"]]
    assert files_written == [("create", uuid), ("assign_adapter", "1"), ("assign_domain", "14"), ("assign_domain", "15"),
                             ("assign_control_domain", "14")]  # fmt: skip
    state = live.state("k60")["mdevs"][uuid]
    assert (state["adapters"], state["domains"], state["control_domains"]) == ([1], [14, 15], [14])
    assert run_module("mdev", args)["changed"] is False
    smaller = run_module("mdev", dict(args, domains=[15], control_domains=[15]))
    assert smaller["method"] == "assign" and [(os.path.basename(w["file"]), w["value"]) for w in smaller["writes"]] == [
        ("unassign_control_domain", "14"),
        ("unassign_domain", "14"),
        ("assign_control_domain", "15"),
    ], "removals first, then additions, one decimal ID per write"
    state = live.state("k60")["mdevs"][uuid]
    assert (state["adapters"], state["domains"], state["control_domains"]) == ([1], [15], [15])
    assert run_module("mdev", {"sysroot": str(root), "uuid": uuid, "state": "absent"})["removed"]


MASK_CASES = [
    ("k60", {"adapters": None, "domains": "6-7", "state": "reserved", "persistent": True}, 2),
    ("k612", {"adapters": [3], "domains": [0], "state": "reserved", "persistent": True}, 3),
]


@pytest.mark.parametrize("host, options, writes", MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_ap_mask_rolls_back_a_failure_at_every_write_step(live, host, options, writes):
    made = every_step(live, host, lambda txn: _mask_writer.apply(txn, options))
    assert made == writes


def test_the_guard_rolls_back_a_failure_at_every_write_step(live):
    uuid = "0d000000-0000-4000-8000-000000060001"
    made = every_step(live, "k60", lambda txn: _guard_writer.apply_guard(txn, uuid, False, "MK change"))
    assert made == 1


def test_mdev_assign_path_rolls_back_a_kernel_refusal_mid_way(live):
    """v5.17 refuses an APQN whose card is missing (EADDRNOTAVAIL) only when the domain write makes it one:
    the adapter writes made before are undone and the result says so."""
    root = live.host_dir("k517")
    uuid = "0d000000-0000-4000-8000-000000051703"
    before = live.state("k517")["mdevs"][uuid]
    result = run_module("mdev", {"sysroot": str(root), "uuid": uuid, "adapters": [2, 3], "domains": [12]})
    assert result["failed"] and result["changed"] is False, result
    assert "EADDRNOTAVAIL" in result["msg"] and "previous state was restored" in result["msg"], result["msg"]
    assert any("restore the configuration" in step for step in result["restored"]), result["restored"]
    assert result["created"] is False and result["after"] == {k: before[k] for k in ("adapters", "domains", "control_domains")}
    assert live.state("k517")["mdevs"][uuid] == before
