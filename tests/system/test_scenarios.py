"""The scenario playbooks (tests/scenarios/tests_*.yml) against the live scenarios fleet.

Every ``tests/scenarios/tests_*.yml`` is a test case (a new file is picked up without touching
this driver). All of them run, one after the other, on one live mount of
``tests/fleets/scenarios.yml``: the writing scenarios clean up after themselves, so each starts
from the fleet file's state, and the driver checks that it ends there too (the simulated kernel
state of every host is the same after the run as before it; a read-only scenario writes no
sysfs attribute at all).

The playbooks are the ones an administrator runs on real hosts; only the inventory differs
(``inventory()`` below): local connections, ``vfio_ap_sysroot`` pointing at each host's directory
of the mount, and the simulator's ``virsh`` for the drain (``vfio_ap_maintenance_environment``).
The inventory contract is documented in docs/validate-on-your-hosts.md.

Per scenario the driver asserts: rc 0; no host failed or unreachable in the recap; every
idempotence window - the tasks from one whose name starts with ``Second run`` up to the next
one whose name starts with ``Check the second run`` - reports no change on a KVM host (results
delegated to the controller, the reports, are not host changes) and every scenario has at least
one such window. Each writing scenario must also refuse, before writing anything, when one of its
hosts is not declared a test LPAR.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from apsim.testing import live_fleet_fixture
from helpers.ansible_run import PlayResult, ROOT, run_playbook

pytestmark = [pytest.mark.live, pytest.mark.slow]

SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("tests_*.yml"))
FLEET = ROOT / "tests" / "fleets" / "scenarios.yml"
# The hosts of the fleet as the inventory groups them; test IDs that no guest or definition uses.
TEST_LPARS = ("test-a", "test-b")
PRODUCTION = ("prod-1",)
TEST_IDS = {"vfio_ap_test_adapters": [2], "vfio_ap_test_domains": [12, 13]}
WINDOW_START, WINDOW_END = "Second run", "Check the second run"

live = live_fleet_fixture(FLEET)


def is_writing(scenario: Path) -> bool:
    """Return whether a scenario writes to its hosts (it goes through the test-LPAR gate)."""
    text = scenario.read_text()
    return "tasks/test_lpar_gate.yml" in text or "tasks/pair_preflight.yml" in text


def marked_read_only(scenario: Path) -> bool:
    """Return whether the scenario's header comment says it is read-only (safe on production LPARs)."""
    header = scenario.read_text().split("\n- name:", 1)[0]
    return "READ-ONLY" in header and "WRITING" not in header


def inventory(live, path: Path, test_lpar: dict[str, bool] | None = None) -> Path:
    """Write the simulator's inventory of the mounted fleet and return its path.

    test_lpar overrides vfio_ap_test_lpar per host (default true on every test LPAR).
    """

    def host(name: str) -> dict[str, Any]:
        return {"vfio_ap_sysroot": str(live.host_dir(name))}

    test_hosts = {}
    for name in TEST_LPARS:
        test_hosts[name] = {**host(name), "vfio_ap_test_lpar": (test_lpar or {}).get(name, True), **TEST_IDS}
    test_hosts["test-a"]["vfio_ap_test_guests"] = ["scen1"]
    data = {
        "all": {
            "children": {
                "vfio_ap_hosts": {
                    "children": {"vfio_ap_test_lpars": {}},
                    "hosts": {name: host(name) for name in PRODUCTION},
                },
                "vfio_ap_test_lpars": {
                    "hosts": test_hosts,
                    "vars": {"vfio_ap_test_source": "test-a", "vfio_ap_test_destination": "test-b"},
                },
            },
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "vfio_ap_test_plan_hosts": ["test-a"],
                # The simulator's virsh migrates between the hosts of the mount.
                "vfio_ap_maintenance_environment": {
                    "APSIM_MOUNT": str(live.root),
                    "APSIM_HOST": "{{ inventory_hostname }}",
                    "PATH": f"{ROOT / 'tests' / 'apsim' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                },
            },
        }
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def snapshot(live) -> dict[str, Any]:
    return {name: live.state(name) for name in live.hosts}


def delegated_to_controller(result: dict[str, Any]) -> bool:
    """Return whether a task result comes from the controller (delegate_to: localhost)."""
    return result.get("_delegated_to") in ("localhost", "127.0.0.1")


def idempotence_windows(result: PlayResult) -> tuple[int, list[str]]:
    """Return (number of windows, changes inside them as 'task on host' lines)."""
    windows, changes, inside = 0, [], False
    for play in result.data.get("plays", []):
        for task in play["tasks"]:
            name = task["task"]["name"]
            if name.startswith(WINDOW_START) and not inside:
                inside, windows = True, windows + 1
            if inside:
                for host, outcome in task["hosts"].items():
                    if outcome.get("changed") and not delegated_to_controller(outcome):
                        changes.append(f"{name!r} on {host}")
            if inside and name.startswith(WINDOW_END):
                inside = False
    return windows, changes


def failure_summary(result: PlayResult) -> str:
    """Return the failed tasks' messages (what a reader needs when a scenario fails)."""
    lines = []
    for play in result.data.get("plays", []):
        for task in play["tasks"]:
            for host, outcome in task["hosts"].items():
                if outcome.get("failed"):
                    lines.append(f"{play['play']['name']} / {task['task']['name']} on {host}: {outcome.get('msg')}")
    return "\n".join(lines[-15:]) or result.stderr[-3000:]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.stem for s in SCENARIOS])
def test_scenario(live, tmp_path, scenario):
    assert marked_read_only(scenario) != is_writing(scenario), "the header must say READ-ONLY or WRITING, as the scenario is"
    before, writes = snapshot(live), {name: live.writes(name) for name in live.hosts}
    result = run_playbook(scenario, inventory(live, tmp_path / "inventory.yml"))
    assert result.rc == 0, failure_summary(result)
    assert result.stats, result.stderr[-3000:]
    for host, stats in result.stats.items():
        assert stats["failures"] == 0 and stats["unreachable"] == 0, (host, stats)
    windows, changes = idempotence_windows(result)
    assert windows > 0, f"{scenario.name} has no '{WINDOW_START} ...' / '{WINDOW_END} ...' tasks"
    assert changes == [], f"second runs changed a host: {changes}"
    # Cleaned up: the simulated kernel state of every host is what it was before the scenario.
    assert snapshot(live) == before
    if not is_writing(scenario):
        assert {name: live.writes(name) for name in live.hosts} == writes, "a read-only scenario wrote to a host"


WRITING = [s for s in SCENARIOS if is_writing(s)]


@pytest.mark.parametrize("scenario", WRITING, ids=[s.stem for s in WRITING])
def test_writing_scenario_refuses_a_host_not_declared_a_test_lpar(live, tmp_path, scenario):
    writes = {name: live.writes(name) for name in live.hosts}
    files = {name: sorted(p.name for p in (live.host_dir(name) / "etc").rglob("*")) for name in live.hosts}
    result = run_playbook(scenario, inventory(live, tmp_path / "inventory.yml", test_lpar={"test-b": False}))
    assert result.rc != 0
    assert "test-b is not declared a test LPAR" in result.stdout, failure_summary(result)
    assert {name: live.writes(name) for name in live.hosts} == writes
    assert {name: sorted(p.name for p in (live.host_dir(name) / "etc").rglob("*")) for name in live.hosts} == files
