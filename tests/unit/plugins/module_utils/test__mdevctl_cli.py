"""mdevctl driven through _mdevctl_cli: the real mdevctl 1.2 against a live simulated host (ns-exec)."""

from __future__ import annotations

import sys

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mdevctl_cli as cli
from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_config import render_definition
from apsim.live import subprocess_env
from apsim.testing import live_fleet_fixture

pytestmark = pytest.mark.live

U_ACTIVE = "90000000-0000-4000-8000-000000000001"
U_DEFINED = "90000000-0000-4000-8000-000000000002"
U_NEW = "90000000-0000-4000-8000-000000000003"
FLEET = {
    "hosts": {
        "mc": {
            "aqmask": "0-7",
            "cards": [{"id": a, "type": "CEX8C", "domains": "0-15"} for a in (1, 2)],
            "mdevs": [{"uuid": U_ACTIVE, "adapters": [1], "domains": [8], "control_domains": [8], "start": "auto"}],
            "definitions": [{"uuid": U_DEFINED, "start": "manual", "adapters": [2], "domains": [9, 10]}],
        }
    }
}

live = live_fleet_fixture(FLEET)


@pytest.fixture(scope="module")
def run(live):
    """A run_command-shaped callable executing argv inside the host's mount namespace."""
    from conftest import require_mdevctl

    require_mdevctl()

    def run_command(argv, data=None):
        result = live.ns_exec("mc", list(argv), input=data, capture_output=True, text=True)
        return result.returncode, result.stdout, result.stderr

    return run_command


def test_list_defined_returns_the_vfio_ap_definitions(run):
    defined = cli.list_defined(run, "mdevctl")
    assert sorted(defined) == [U_ACTIVE, U_DEFINED]
    assert defined[U_DEFINED]["start"] == "manual"
    assert (defined[U_DEFINED]["adapters"], defined[U_DEFINED]["domains"]) == ([2], [9, 10])
    assert defined[U_ACTIVE]["control_domains"] == [8]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("[]", {}),
        ('[{"other_parent": [{"%s": {"mdev_type": "x", "start": "auto"}}]}]' % U_NEW, {}),
    ],
)
def test_parse_dumpjson_keeps_only_the_matrix_parent(text, expected):
    assert cli.parse_dumpjson(text) == expected


def test_parse_dumpjson_names_bad_output():
    with pytest.raises(ValueError, match="not JSON"):
        cli.parse_dumpjson("[{")


def test_define_modify_start_stop_undefine_round_trip(run, live, tmp_path):
    jsonfile = tmp_path / "def.json"
    jsonfile.write_text(render_definition("manual", [2], [11], [11]))
    # mdevctl reads the file from inside the namespace: the test's tmp_path is the same there
    cli.define(run, "mdevctl", U_NEW, str(jsonfile))
    defined = cli.list_defined(run, "mdevctl")[U_NEW]
    assert (defined["start"], defined["adapters"], defined["domains"]) == ("manual", [2], [11])
    cli.set_start(run, "mdevctl", U_NEW, "auto")
    assert cli.list_defined(run, "mdevctl")[U_NEW]["start"] == "auto"
    cli.start(run, "mdevctl", U_NEW)
    state = live.state("mc")["mdevs"][U_NEW]
    assert (state["adapters"], state["domains"], state["control_domains"]) == ([2], [11], [11])
    cli.stop(run, "mdevctl", U_NEW)
    assert U_NEW not in live.state("mc")["mdevs"]
    cli.undefine(run, "mdevctl", U_NEW)
    assert U_NEW not in cli.list_defined(run, "mdevctl")


def test_a_failing_command_raises_with_its_output(run):
    with pytest.raises(cli.MdevctlError) as info:
        cli.undefine(run, "mdevctl", U_NEW)
    assert info.value.rc != 0
    assert "undefine" in str(info.value) and U_NEW in str(info.value)


def test_manages_sysroot_only_where_mdevctl_acts(live, tmp_path):
    host = str(live.host_dir("mc"))
    assert cli.manages_sysroot(host) is False  # outside the namespace mdevctl acts on the real system
    assert cli.manages_sysroot(str(tmp_path)) is False
    code = (
        "import sys; from ansible_collections.s390x.vfio_ap.plugins.module_utils._mdevctl_cli import manages_sysroot;"
        " print(manages_sysroot(sys.argv[1]))"
    )
    inside = live.ns_exec("mc", [sys.executable, "-c", code, host], capture_output=True, text=True, env=subprocess_env())
    assert inside.stdout.strip() == "True", inside.stderr
