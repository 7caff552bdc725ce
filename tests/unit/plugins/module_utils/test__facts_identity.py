"""The facts' ``host`` block read through a sysroot: two inventory names of one LPAR look the same."""

from __future__ import annotations

import pytest
from helpers.fleet_facts import facts_for_fleet

MID = "0123456789abcdef0123456789abcdef"
CPC = {"type": "3931", "sequence": "8A8B8", "name": "CPCA"}
FLEET = {
    "hosts": {
        "lp1": {"machine_id": MID, "cpc": CPC, "lpar": {"name": "LP01", "number": 1}},
        "lp1-admin": {"same_as": "lp1"},
        "lp2": {"cpc": CPC, "lpar": {"name": "LP02", "number": 2}},
        "nobus": {"ap_bus": False},
    }
}


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    return facts_for_fleet(FLEET, tmp_path_factory.mktemp("identity"), with_warnings=True)


def test_host_block(gathered):
    facts, warnings = gathered["lp1"]
    assert warnings == []
    assert facts["host"] == {
        "machine_id": MID,
        "cpc": {"manufacturer": "IBM", "type": "3931", "model": "A01", "sequence_code": "00000000000" + "8A8B8", "name": "CPCA"},
        "lpar": {"name": "LP01", "number": 1},
    }


def test_two_inventory_names_of_one_lpar(gathered):
    assert gathered["lp1-admin"][0]["host"] == gathered["lp1"][0]["host"]


def test_other_lpar_of_the_same_cpc(gathered):
    one, two = gathered["lp1"][0]["host"], gathered["lp2"][0]["host"]
    assert one["cpc"] == two["cpc"]
    assert one["lpar"] != two["lpar"] and one["machine_id"] != two["machine_id"]


def test_missing_files_are_null_without_warnings(tmp_path):
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts

    facts, warnings = gather_facts(str(tmp_path))
    assert facts["host"] == {"machine_id": None, "cpc": None, "lpar": None}
    assert warnings == []


def test_malformed_files_warn_and_are_null(tmp_path):
    from ansible_collections.s390x.vfio_ap.plugins.module_utils._facts import gather_facts

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("not-an-id\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/sysinfo").write_text("Type: 3931\nLPAR Number: x1\n")
    facts, warnings = gather_facts(str(tmp_path))
    assert facts["host"] == {"machine_id": None, "cpc": None, "lpar": None}
    assert len(warnings) == 2
    assert "etc/machine-id" in warnings[0] and "not 32 lowercase hexadecimal digits" in warnings[0]
    assert "proc/sysinfo" in warnings[1] and "LPAR Number 'x1'" in warnings[1]
