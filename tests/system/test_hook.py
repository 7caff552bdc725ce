"""The libvirt qemu hook (roles/migratable/files/vfio-ap-qemu-hook), run as libvirt runs it.

libvirt calls ``HOOK <domain> <operation> <sub-operation> <extra>`` with the domain XML on stdin;
for an incoming migration ``HOOK <name> migrate begin -`` on the destination. The guests and their
domain XML come from a rendered fleet; the guard is written by the guard module's renderer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._guard import GUARD_PATH, render_guard
from apsim.fleet import build_fleet
from apsim.render import render_fleet
from helpers.hang import HANG_GUARD

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "roles" / "migratable" / "files" / "vfio-ap-qemu-hook"
PY36 = Path("/root/.pyenv/versions/3.6.15/bin/python")

U_GUARDED = "e0000000-0000-4000-8000-000000000001"
U_FREE = "e0000000-0000-4000-8000-000000000002"
FLEET = {
    "hosts": {
        "dest": {
            "aqmask": "0-7",
            "cards": [{"id": 1, "type": "CEX8C", "domains": "0-15"}],
            "mdevs": [
                {"uuid": U_GUARDED, "adapters": [1], "domains": [8], "guest": "hsm1"},
                {"uuid": U_FREE, "adapters": [1], "domains": [9], "guest": "web1"},
            ],
            "guests": [{"name": "plain", "mdevs": []}],
        }
    }
}


@pytest.fixture(scope="module")
def sysroot(tmp_path_factory):
    root = tmp_path_factory.mktemp("hook")
    render_fleet(build_fleet(FLEET), root)
    host = root / "dest"
    (host / GUARD_PATH).parent.mkdir(parents=True, exist_ok=True)
    (host / GUARD_PATH).write_text(render_guard({
        U_GUARDED: {"migratable": False, "reason": "master key change CHG42", "guest": "hsm1", "changed": None},
        U_FREE: {"migratable": True, "reason": None, "guest": "web1", "changed": None},
    }))  # fmt: skip
    return host


def run_hook(sysroot: Path, args: list[str], xml: str, python: str | None = None, **env) -> subprocess.CompletedProcess:
    environ = {"PATH": os.environ["PATH"], "VFIO_AP_SYSROOT": str(sysroot), **env}
    argv = ([python] if python else []) + [str(HOOK), *args]
    return subprocess.run(argv, input=xml, check=False, capture_output=True, text=True, env=environ, timeout=HANG_GUARD)


def domain_xml(sysroot: Path, guest: str) -> str:
    return (sysroot / "etc/libvirt/qemu" / f"{guest}.xml").read_text()


@pytest.mark.parametrize("python", [None, str(PY36)], ids=["shebang", "python3.6"])
@pytest.mark.parametrize(
    "guest, args, code, words",
    [
        ("hsm1", ["migrate", "begin", "-"], 1, ["hsm1", U_GUARDED, "master key change CHG42", "state=enabled"]),
        ("web1", ["migrate", "begin", "-"], 0, []),  # an entry that allows migration
        ("plain", ["migrate", "begin", "-"], 0, []),  # no vfio-ap device
        ("hsm1", ["prepare", "begin", "-"], 0, []),  # a normal start is never refused
        ("hsm1", ["started", "begin", "-"], 0, []),
    ],
)
def test_hook_refuses_only_the_incoming_migration_of_a_guarded_guest(sysroot, guest, args, code, words, python):
    if python and not Path(python).exists():
        pytest.skip("python 3.6 is not installed here")
    result = run_hook(sysroot, [guest, *args], domain_xml(sysroot, guest), python)
    assert result.returncode == code, result.stderr
    assert result.stdout == "", "the hook never rewrites the domain XML"
    for word in words:
        assert word in result.stderr
    if code:
        assert result.stderr.startswith("vfio-ap migration guard: ")


def test_hook_fails_closed_when_the_guard_is_unreadable(sysroot, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(sysroot, broken, symlinks=True)
    (broken / GUARD_PATH).write_text("{not json")
    refused = run_hook(broken, ["web1", "migrate", "begin", "-"], domain_xml(sysroot, "web1"))
    assert refused.returncode == 1 and "cannot read the migration guard" in refused.stderr
    plain = run_hook(broken, ["plain", "migrate", "begin", "-"], domain_xml(sysroot, "plain"))
    assert plain.returncode == 0, "guests without vfio-ap devices are never affected"


def test_hook_without_a_guard_file_allows_migration(sysroot, tmp_path):
    empty = tmp_path / "empty"
    result = run_hook(empty, ["hsm1", "migrate", "begin", "-"], domain_xml(sysroot, "hsm1"))
    assert result.returncode == 0, result.stderr


def test_hook_installed_alone_finds_the_parsers_next_to_it(sysroot, tmp_path):
    """As the migratable role installs it: the hook and the collection's two parser files in one directory."""
    lib = tmp_path / "libexec"
    lib.mkdir()
    shutil.copy(HOOK, lib / "vfio-ap-qemu-hook")
    for name in ("_guard.py", "_libvirt_xml.py"):
        shutil.copy(ROOT / "plugins/module_utils" / name, lib / name)
    hooks = tmp_path / "hooks" / "qemu.d"
    hooks.mkdir(parents=True)
    (hooks / "vfio-ap").symlink_to(lib / "vfio-ap-qemu-hook")
    result = subprocess.run(
        [str(hooks / "vfio-ap"), "hsm1", "migrate", "begin", "-"],
        input=domain_xml(sysroot, "hsm1"),
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "VFIO_AP_SYSROOT": str(sysroot)},
    )
    assert result.returncode == 1 and U_GUARDED in result.stderr
    (lib / "_guard.py").unlink()
    missing = subprocess.run(
        [str(hooks / "vfio-ap"), "hsm1", "migrate", "begin", "-"],
        input=domain_xml(sysroot, "hsm1"),
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "VFIO_AP_SYSROOT": str(sysroot)},
    )
    assert missing.returncode == 1 and "refusing the migration to be safe" in missing.stderr
