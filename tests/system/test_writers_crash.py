"""kill -9 of a writer at every write step: the next run repairs the host and removes every leftover.

A child process runs a writer's module_utils inside a Transaction whose HostIO kills the process
(``os._exit``, no cleanup, no undo: what ``kill -9`` leaves) just before or just after its k-th
write; for a file write "during" means after the temporary file was written and before it was
renamed. Then the module runs normally: it must succeed, converge to what was asked, and leave no
temporary file (nothing in ``etc/mdevctl.d/matrix`` that is not a UUID, which mdevctl would warn
about), no private lock file and no lock.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import parse_definition
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import parse_rules
from apsim.testing import live_fleet_fixture
from helpers.module_run import ROOT, run_module

pytestmark = pytest.mark.live

U_NEW = "c0000000-0000-4000-8000-0000000000e1"
FLEET = {
    "hosts": {
        "q": {
            "max_adapter_id": 63,
            "max_domain_id": 31,
            "aqmask": "0-2,8-255",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-9"}, {"id": 2, "type": "CEX8P", "domains": "0-9"}],
        }
    }
}
live = live_fleet_fixture(FLEET)

CHILD = r"""
import os, sys, json
from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mask_writer, _mdev_writer
from ansible_collections.s390x.vfio_ap.plugins.module_utils._hostpath import host_path, temp_dir_for
from ansible_collections.s390x.vfio_ap.plugins.module_utils._transaction import HostIO, Transaction
sysroot, writer, k, when, options = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])

class Killed(HostIO):
    count = 0
    def _step(self, rel, do):
        self.count += 1
        if self.count == k and when == "before":
            os._exit(137)
        if self.count == k and when == "during" and do is None:
            tmp = host_path(sysroot, "{0}/.s390x-vfio_ap.{1}.deadbeef.tmp".format(temp_dir_for(rel), os.getpid()))
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            with open(tmp, "w") as handle:
                handle.write("half")
            os._exit(137)
        if do is not None:
            do()
        if self.count == k:
            os._exit(137)
    def write_attr(self, s, rel, value):
        self._step(rel, lambda: HostIO.write_attr(self, s, rel, value))
    def replace_file(self, s, rel, text):
        self._step(rel, None if when == "during" and self.count + 1 == k else lambda: HostIO.replace_file(self, s, rel, text))
    def remove_file(self, s, rel):
        self._step(rel, lambda: HostIO.remove_file(self, s, rel))

txn = Transaction(sysroot, io=Killed())
if writer == "mdev":
    txn.run(lambda t: _mdev_writer.apply(t, options["uuid"], options, None))
else:
    txn.run(lambda t: _mask_writer.apply(t, options))
sys.exit(0)
"""


def killed_run(root: Path, writer: str, k: int, when: str, options: dict) -> int:
    env = {"PYTHONPATH": f"{ROOT / '.collections'}:{ROOT / 'tests'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), writer, str(k), when, json.dumps(options)],
                          env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode


LEFTOVER = re.compile(r"^\.(s390x-vfio_ap\.|vfio_ap-|s390apconfig)")


def leftovers(root: Path) -> list[str]:
    """Return the temporary files, private lock files and lock files left under etc/ and run/lock."""
    found = [str(p.relative_to(root)) for base in ("etc", "run/lock") for p in (root / base).rglob("*") if LEFTOVER.match(p.name)]
    if (root / "run/lock/s390apconfig.lock").exists():
        found.append("run/lock/s390apconfig.lock")
    matrix = root / "etc/mdevctl.d/matrix"
    found += (
        [f"not a UUID in matrix/: {p.name}" for p in matrix.iterdir() if not re.match(r"^[0-9a-f-]{36}$", p.name)]
        if matrix.is_dir()
        else []
    )
    return found


MDEV = {"uuid": U_NEW, "state": "present", "adapters": [1], "domains": [5, 6], "control_domains": [5], "persistent": True,
        "start": "manual", "force": False}  # fmt: skip
MDEV_STEPS = 3  # create, ap_config (one write on this kernel), the definition file


@pytest.mark.parametrize("when", ["before", "after", "during"])
def test_kill_9_at_every_mdev_write_step_is_repaired_by_the_next_run(live, when):
    root = live.host_dir("q")
    killed = 0
    for k in range(1, 8):
        if killed_run(root, "mdev", k, when, MDEV) != 137:
            break
        killed += 1
        result = run_module("mdev", {"sysroot": str(root), **{key: MDEV[key] for key in MDEV if key != "state"}})
        assert not result.get("failed"), f"k={k}: {result.get('msg')}"
        state = live.state("q")["mdevs"][U_NEW]
        assert (state["adapters"], state["domains"], state["control_domains"]) == ([1], [5, 6], [5]), f"k={k}"
        definition = parse_definition((root / "etc/mdevctl.d/matrix" / U_NEW).read_text())
        assert (definition["adapters"], definition["domains"], definition["start"]) == ([1], [5, 6], "manual")
        assert leftovers(root) == [], f"k={k} ({when})"
        gone = run_module("mdev", {"sysroot": str(root), "uuid": U_NEW, "state": "absent", "persistent": True})
        assert gone["changed"] and not gone.get("failed"), gone.get("msg")
    assert leftovers(root) == [], "the run that was not killed left nothing either"
    run_module("mdev", {"sysroot": str(root), "uuid": U_NEW, "state": "absent", "persistent": True})
    assert killed == MDEV_STEPS, "the writer was killed at every step it has"


MASK = {"adapters": None, "domains": [8, 9], "state": "reserved", "persistent": True}


@pytest.mark.parametrize("when", ["before", "after", "during"])
def test_kill_9_at_every_ap_mask_write_step_is_repaired_by_the_next_run(live, when):
    root = live.host_dir("q")
    killed = 0
    for k in range(1, 6):
        if killed_run(root, "ap_mask", k, when, MASK) != 137:
            break
        killed += 1
        result = run_module("ap_mask", {"sysroot": str(root), "domains": [8, 9], "persistent": True})
        assert not result.get("failed"), f"k={k}: {result.get('msg')}"
        assert not {8, 9} & set(parse_rules((root / "etc/udev/rules.d/41-ap.rules").read_text())["aqmask"])
        assert leftovers(root) == [], f"k={k} ({when})"
        back = run_module("ap_mask", {"sysroot": str(root), "domains": [8, 9], "state": "released", "persistent": True})
        assert back["changed"] and not back.get("failed"), back.get("msg")
    assert leftovers(root) == []
    run_module("ap_mask", {"sysroot": str(root), "domains": [8, 9], "state": "released", "persistent": True})
    assert killed == 2, "the writer was killed at every step it has (aqmask, 41-ap.rules)"
