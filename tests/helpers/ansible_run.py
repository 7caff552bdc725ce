"""Run real ansible-playbook / ansible commands from tests, with the collection from the tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.hang import HANG_GUARD, hung

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / ".collections"


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment for an Ansible subprocess: tree collections, venv Python, JSON output."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_STDOUT_CALLBACK": "test_json",
            "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).resolve().parent / "callbacks"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCAL_TEMP": str(Path(os.environ.get("TMPDIR", "/tmp")) / f"ansible-local-{os.getpid()}"),
            "PYTHONPATH": os.pathsep.join([str(COLLECTIONS), str(ROOT / "tests")]),
        }
    )
    env.pop("ANSIBLE_CONFIG", None)
    if extra:
        env.update(extra)
    return env


@dataclass
class PlayResult:
    rc: int
    stdout: str
    stderr: str
    data: dict[str, Any] = field(default_factory=dict)

    def task_results(self, task_name: str) -> dict[str, dict[str, Any]]:
        """Return {host: result} of the first task with this name (KeyError if it never ran)."""
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                if task["task"]["name"] == task_name:
                    return task["hosts"]
        raise KeyError(f"no task named {task_name!r} in the run; stderr: {self.stderr[-2000:]}")

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        return self.data.get("stats", {})

    def changed_total(self) -> int:
        return sum(s.get("changed", 0) for s in self.stats.values())


def local_inventory(hosts: dict[str, dict[str, Any]], path: Path) -> Path:
    """Write a YAML inventory of local-connection hosts (each with its own vars) and return its path."""
    inv = {
        "all": {
            "hosts": {
                name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **hostvars}
                for name, hostvars in hosts.items()
            }
        }
    }
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def run_playbook(
    playbook: str | Path,
    inventory: Path,
    *,
    extra_vars: dict[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = HANG_GUARD,
) -> PlayResult:
    """Run ansible-playbook with the JSON callback and return its parsed result.

    playbook is a path or a playbook's YAML text (written next to the inventory).
    """
    if isinstance(playbook, str) and "\n" in playbook:
        path = inventory.parent / f"play-{abs(hash(playbook))}.yml"
        path.write_text(playbook)
        playbook = path
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    cmd += args or []
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=ansible_env(env), cwd=cwd or inventory.parent, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise hung(exc) from None
    data: dict[str, Any] = {}
    start = proc.stdout.find("{")
    if start >= 0:
        try:
            data = json.loads(proc.stdout[start:])
        except ValueError:
            data = {}
    return PlayResult(proc.returncode, proc.stdout, proc.stderr, data)


def run_module(
    module: str, module_args: dict[str, Any], *, check: bool = False, diff: bool = False, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one module on localhost with ``ansible -m`` and return its result dict."""
    cmd = [str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-m", module,
           "-e", f"ansible_python_interpreter={sys.executable}"]  # fmt: skip
    if module_args:
        cmd += ["-a", json.dumps(module_args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    run_env = ansible_env({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", **(env or {})})
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=HANG_GUARD, check=False)
    except subprocess.TimeoutExpired as exc:
        raise hung(exc) from None
    start = proc.stdout.find("{")
    if start < 0:
        raise AssertionError(f"ansible printed no JSON (rc {proc.returncode}): {proc.stdout}\n{proc.stderr}")
    data = json.loads(proc.stdout[start:])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]
