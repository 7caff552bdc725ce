"""_role_paths: a role's path inputs are normalized paths, so that no write leaves vfio_ap_sysroot."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.s390x.vfio_ap.plugins.filter._path_problems import _path_problems
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._role_paths import path_problem

BELOW = "is not a normalized path below vfio_ap_sysroot (no empty, '.' or '..' parts, for example etc/libvirt/hooks/vfio_ap)"
ABSOLUTE = "is not an absolute normalized path (no empty, '.' or '..' parts)"


@pytest.mark.parametrize(
    ("value", "absolute", "ok"),
    [
        ("etc/libvirt/hooks/vfio_ap", False, True),
        ("/etc/libvirt/hooks/vfio_ap", False, True),  # a leading / is ignored
        ("etc", False, True),
        ("../../../tmp/x", False, False),
        ("etc/libvirt/hooks/../../../../qemu", False, False),
        ("etc//hooks/./qemu", False, False),
        ("etc/hooks/", False, False),
        ("", False, False),
        ("/", False, False),
        (None, False, False),
        (7, False, False),
        ("/", True, True),
        ("//", True, True),
        ("/srv/apsim/kvm-a1", True, True),
        ("srv/apsim", True, False),
        ("/srv/../etc", True, False),
        ("/srv//x", True, False),
        ("", True, False),
        ("..", False, False),
    ],
)
def test_path_problem(value, absolute, ok):
    message = path_problem("p", value, absolute)
    assert (message == "") is ok
    if not ok:
        assert message.startswith("p: ") and message.endswith(ABSOLUTE if absolute else BELOW)


def test_the_filter_names_each_wrong_input():
    got = _path_problems({"vfio_ap_sysroot": "/", "hook": "../../../tmp/x", "lib": ""}, absolute=["vfio_ap_sysroot"])
    assert got == [f'hook: "../../../tmp/x" {BELOW}', f'lib: "" {BELOW}']
    assert _path_problems({"vfio_ap_sysroot": "relative"}, absolute="vfio_ap_sysroot") == [f'vfio_ap_sysroot: "relative" {ABSOLUTE}']
    with pytest.raises(AnsibleFilterError, match="expected {input name: path}, got list"):
        _path_problems(["x"])
