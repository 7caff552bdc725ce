"""s390x.vfio_ap.mdev with the real mdevctl, concurrent runs, and preparing a migration destination.

The mdevctl runs execute the whole ansible-playbook inside the host's mount namespace
(``apsim ns-exec``): the simulated sys/ and etc/mdevctl.d are then the system's, so the module sees
that mdevctl manages its sysroot and persists through it. Results are read back with
``mdevctl list --defined --dumpjson``.
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_cli import parse_dumpjson
from apsim.live import ns_exec_argv
from apsim.testing import live_fleet_fixture
from helpers.ansible_run import VENV_BIN, PlayResult, ansible_env, local_inventory, run_playbook
from helpers.hang import HANG_GUARD

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
U_A = "b0000000-0000-4000-8000-000000000001"
U_B = "b0000000-0000-4000-8000-000000000002"
U_REFUSED = "b0000000-0000-4000-8000-0000000000ff"
U_OLD = "b0000000-0000-4000-8000-000000000010"

FLEET = {
    "hosts": {
        "m": {
            "max_domain_id": 15,
            "apmask": "0-3",
            "aqmask": "0-7",
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-15"} for a in (4, 5, 6, 7)],
            "mdevs": [{"uuid": U_OLD, "adapters": [7], "domains": [15], "control_domains": [15], "start": "manual"}],
        }
    }
}


@pytest.fixture
def fresh_live(tmp_path):
    """The FLEET mounted for this test only (starts from the fleet file's state)."""
    from apsim.live import mounted
    from conftest import require_live

    require_live()
    with mounted(FLEET, tmp_path / "mnt") as mounted_fleet:
        yield mounted_fleet


# Stands in for s390-tools ap-check refusing a start (mdevctl callout API: -t -e -a -s -u -p; exit 1 in a
# 'pre' event aborts the command, 2 means "type not handled").
REFUSING_CALLOUT = f"""#!/bin/sh
while getopts t:e:a:s:u:p: opt; do
  case $opt in t) type=$OPTARG;; e) event=$OPTARG;; a) action=$OPTARG;; u) uuid=$OPTARG;; *) ;; esac
done
[ "$type" = vfio_ap-passthrough ] || exit 2
if [ "$event" = pre ] && [ "$action" = start ] && [ "$uuid" = {U_REFUSED} ]; then
  echo "APQN 6.14 already in use by {U_OLD}" >&2
  exit 1
fi
exit 2
"""


def ns_playbook(live, host: str, tasks: list[dict], work: Path) -> PlayResult:
    """Run a playbook of tasks on host inside the host's mount namespace; return its parsed result."""
    root = live.host_dir(host)
    inventory = local_inventory({host: {"sysroot": str(root)}}, work / "inventory.yml")
    play = work / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": host, "gather_facts": False, "tasks": tasks}], sort_keys=False))
    argv = ns_exec_argv(root, [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(play), "--diff"])
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, env=ansible_env(), cwd=work, timeout=HANG_GUARD)
    start = proc.stdout.find("{")
    data = json.loads(proc.stdout[start:]) if start >= 0 else {}
    return PlayResult(proc.returncode, proc.stdout, proc.stderr, data)


def mdev_task(name: str, **args) -> dict:
    return {"name": name, "s390x.vfio_ap.mdev": {"sysroot": "{{ sysroot }}", **args}, "ignore_errors": True}


def list_task(name: str) -> dict:
    return {"name": name, "ansible.builtin.command": "mdevctl list --defined --dumpjson", "changed_when": False}


def test_persistence_through_the_real_mdevctl(fresh_live, tmp_path):
    from conftest import require_mdevctl

    require_mdevctl()
    live = fresh_live
    callout = live.host_dir("m") / "etc/mdevctl.d/scripts.d/callouts/refuse-one"
    callout.write_text(REFUSING_CALLOUT)
    callout.chmod(0o755)
    a = {"uuid": U_A, "adapters": [5], "domains": [8, 9], "control_domains": [8], "persistent": True}
    tasks = [
        mdev_task("define and start", **a, start="auto"),
        list_task("list 1"),
        mdev_task("again", **a, start="auto"),
        mdev_task("manual start", **a, start="manual"),
        mdev_task("new domains", **{**a, "domains": [8, 10]}, start="manual"),
        list_task("list 2"),
        mdev_task("refused by the callout", uuid=U_REFUSED, adapters=[6], domains=[14], persistent=True),
        list_task("list 3"),
        mdev_task("capture a running mdev", uuid=U_OLD, persistent=True, start="auto"),
        mdev_task("remove with definition", uuid=U_A, state="absent", persistent=True),
        list_task("list 4"),
    ]
    run = ns_playbook(live, "m", tasks, tmp_path)
    assert run.data, run.stdout[-3000:] + run.stderr[-3000:]

    def res(name):
        return run.task_results(name)["m"]

    def defined(name):
        return parse_dumpjson(res(name)["stdout"])

    first = res("define and start")
    assert first.get("failed") is not True, first.get("msg")
    assert first["persisted_with"] == "mdevctl" and first["created"] and first["changed"]
    d1 = defined("list 1")[U_A]
    assert (d1["start"], d1["adapters"], d1["domains"], d1["control_domains"]) == ("auto", [5], [8, 9], [8])
    assert res("again")["changed"] is False

    manual = res("manual start")
    assert manual["changed"] and manual["writes"] == [] and manual["persisted_with"] == "mdevctl"
    new = res("new domains")
    assert new["changed"] and new["after"]["domains"] == [8, 10]
    d2 = defined("list 2")[U_A]
    assert (d2["start"], d2["domains"]) == ("manual", [8, 10])

    refused = res("refused by the callout")
    assert refused["failed"] is True
    assert "callout" in refused["msg"] or "APQN 6.14" in refused["msg"], refused["msg"]
    assert "restored" in refused["msg"]
    assert U_REFUSED not in defined("list 3"), "the definition made before the refused start was taken back"
    assert U_REFUSED not in live.state("m")["mdevs"]

    captured = res("capture a running mdev")
    assert captured["changed"] and captured["definition"]["after"]["start"] == "auto"
    assert captured["writes"] == []

    gone = res("remove with definition")
    assert gone["removed"] and gone["changed"]
    assert U_A not in defined("list 4") and U_A not in live.state("m")["mdevs"]
    assert defined("list 4")[U_OLD]["start"] == "auto"


def concurrent_play(uuid: str, adapter: int, domain: int) -> str:
    """A playbook that creates, grows, shrinks and persists one mdev several times."""
    tasks = []
    for round_ in range(2):
        for step, domains in (("create", [domain]), ("grow", [domain, domain + 1]), ("shrink", [domain])):
            tasks.append({"name": f"{step} {round_}", "s390x.vfio_ap.mdev": {
                "sysroot": "{{ sysroot }}", "uuid": uuid, "adapters": [adapter], "domains": domains,
                "control_domains": [domain], "persistent": True, "start": "manual"}})  # fmt: skip
        tasks.append({"name": f"remove {round_}", "s390x.vfio_ap.mdev": {
            "sysroot": "{{ sysroot }}", "uuid": uuid, "state": "absent", "persistent": True}})  # fmt: skip
    tasks.append({"name": "final", "s390x.vfio_ap.mdev": {
        "sysroot": "{{ sysroot }}", "uuid": uuid, "adapters": [adapter], "domains": [domain, domain + 1]}})  # fmt: skip
    return yaml.safe_dump([{"hosts": "m", "gather_facts": False, "tasks": tasks}], sort_keys=False)


def test_two_playbooks_changing_different_mdevs_at_once(fresh_live, tmp_path):
    live = fresh_live
    root = live.host_dir("m")
    runs = []
    for name, play in (("a", concurrent_play(U_A, 5, 8)), ("b", concurrent_play(U_B, 6, 8))):
        work = tmp_path / name
        work.mkdir()
        runs.append((work, play))
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run_playbook, play, local_inventory({"m": {"sysroot": str(root)}}, work / "inv.yml"))
                   for work, play in runs]  # fmt: skip
        results = [f.result() for f in futures]
    for result in results:
        assert result.rc == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert result.stats["m"]["failures"] == 0
    mdevs = live.state("m")["mdevs"]
    assert (mdevs[U_A]["adapters"], mdevs[U_A]["domains"]) == ([5], [8, 9])
    assert (mdevs[U_B]["adapters"], mdevs[U_B]["domains"]) == ([6], [8, 9])
    assert not (root / "run/lock/s390apconfig.lock").exists(), "every run released the lock"
    assert not list((root / "etc/mdevctl.d/matrix").glob(".vfio_ap-*")), "no temporary file left behind"
    assert sorted(p.name for p in (root / "etc/mdevctl.d/matrix").iterdir()) == [U_OLD]


# ------------------------------------------------------------------------------------------ destination
HSM1 = "6c1a0000-0000-4000-8000-00000000a103"

live_demo = live_fleet_fixture(ROOT / "tests" / "fleets" / "demo.yml")

DESTINATION_PLAY = """
- hosts: kvm-a1:kvm-b1
  gather_facts: false
  tasks:
    - name: facts before
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ sysroot }}"

- hosts: kvm-b1
  gather_facts: false
  vars:
    source_facts: "{{ hostvars['kvm-a1'].ansible_facts.vfio_ap }}"
  tasks:
    - name: check before
      ansible.builtin.set_fact:
        check_before: "{{ source_facts | s390x.vfio_ap.migration_check(ansible_facts.vfio_ap, uuid) }}"
    - name: reserve
      s390x.vfio_ap.ap_mask: "{{ item | dict2items | rejectattr('key', 'eq', 'type') | items2dict
                                  | combine({'sysroot': sysroot}) }}"
      loop: "{{ check_before.actions | selectattr('type', 'eq', 'ap_mask') | list }}"
    - name: create
      s390x.vfio_ap.mdev: "{{ item | dict2items | rejectattr('key', 'eq', 'type') | items2dict
                               | combine({'sysroot': sysroot}) }}"
      loop: "{{ check_before.actions | selectattr('type', 'eq', 'mdev') | list }}"
    - name: facts after
      s390x.vfio_ap.ap_facts:
        sysroot: "{{ sysroot }}"
    - name: check after
      ansible.builtin.set_fact:
        check_after: "{{ source_facts | s390x.vfio_ap.migration_check(ansible_facts.vfio_ap, uuid) }}"
"""


def test_provisioning_a_destination_makes_migration_check_ready(live_demo, tmp_path):
    hosts = {h: {"sysroot": str(live_demo.host_dir(h)), "uuid": HSM1} for h in ("kvm-a1", "kvm-b1")}
    inventory = local_inventory(hosts, tmp_path / "inventory.yml")
    run = run_playbook(DESTINATION_PLAY, inventory)
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-2000:]
    before = run.task_results("check before")["kvm-b1"]["ansible_facts"]["check_before"]
    assert before["ready"] is False
    assert {b["code"] for b in before["blockers"]} == {"mdev_missing", "apqn_not_bound"}
    assert {a["type"] for a in before["actions"]} == {"ap_mask", "mdev"}
    for item in run.task_results("reserve")["kvm-b1"]["results"] + run.task_results("create")["kvm-b1"]["results"]:
        assert item["changed"] and not item.get("failed"), item
    after = run.task_results("check after")["kvm-b1"]["ansible_facts"]["check_after"]
    assert after["ready"] is True, after["blockers"]
    assert after["blockers"] == [] and after["actions"] == []
    assert HSM1 in live_demo.state("kvm-b1")["mdevs"]
