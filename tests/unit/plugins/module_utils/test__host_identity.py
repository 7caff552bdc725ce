"""Parsing what identifies a host's machine: /proc/sysinfo, /etc/machine-id, the CPC name."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._host_identity import (
    host_identity,
    parse_cpc_name,
    parse_machine_id,
    parse_sysinfo,
)

# An LPAR (configuration level 2) on a z16, in the kernel's layout (padded fields kept)
LPAR = (
    "Manufacturer:         IBM             \n"
    "Type:                 3931\n"
    "LIC Identifier:       0123456789abcdef\n"
    "Model:                708              A01             \n"
    "Sequence Code:        000000000008A8B8\n"
    "Plant:                02  \n"
    "Model Capacity:       708              00000000\n"
    "\n"
    "CPUs Total:           200\n"
    "\n"
    "LPAR Number:          47\n"
    "LPAR Characteristics: Shared \n"
    "LPAR Name:            LP47    \n"
    "LPAR Adjustment:      250\n"
    "LPAR Extended Name:   lp47-kvm-production\n"
    "LPAR UUID:            6f1c2a7e-0000-4000-8000-000000000047\n"
)
# z/VM guest (level 3): the VM lines repeat names that must not override the LPAR's
ZVM = LPAR + "\nVM00 Name:            LINUX01 \nVM00 Control Program: z/VM    7.3.0   \n"
# a level-1 system (basic mode): no LPAR lines; a z17 with a one-word Model line
BASIC = "Manufacturer:         IBM\nType:                 9175\nModel:                ME1\nSequence Code:        0000000000012345\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        (LPAR, {"manufacturer": "IBM", "type": "3931", "model": "A01", "sequence_code": "000000000008A8B8", "plant": "02",
                "lpar_number": 47, "lpar_name": "LP47", "lpar_extended_name": "lp47-kvm-production",
                "lpar_uuid": "6f1c2a7e-0000-4000-8000-000000000047"}),
        (ZVM, {"manufacturer": "IBM", "type": "3931", "model": "A01", "sequence_code": "000000000008A8B8", "plant": "02",
               "lpar_number": 47, "lpar_name": "LP47", "lpar_extended_name": "lp47-kvm-production",
               "lpar_uuid": "6f1c2a7e-0000-4000-8000-000000000047"}),
        (BASIC, {"manufacturer": "IBM", "type": "9175", "model": "ME1", "sequence_code": "0000000000012345", "plant": None,
                 "lpar_number": None, "lpar_name": None, "lpar_extended_name": None, "lpar_uuid": None}),
    ],
)  # fmt: skip
def test_parse_sysinfo(text, expected):
    assert parse_sysinfo(text) == expected


@pytest.mark.parametrize(
    "text, words",
    [
        ("LPAR Number:          2f\nType: 3931\n", "LPAR Number '2f' is not a decimal number"),
        ("processor 0: version = FF\n", "no 'Type:' line"),
        ("", "no 'Type:' line"),
    ],
)
def test_parse_sysinfo_rejects(text, words):
    with pytest.raises(ValueError, match=words):
        parse_sysinfo(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2175726bb76c84ab61a5842e6bd8b5b3\n", "2175726bb76c84ab61a5842e6bd8b5b3"),
        ("", None),
        ("uninitialized\n", None),
    ],
)
def test_parse_machine_id(text, expected):
    assert parse_machine_id(text) == expected


@pytest.mark.parametrize("text", ["2175726BB76C84AB61A5842E6BD8B5B3\n", "2175726b-b76c-84ab-61a5-842e6bd8b5b3\n", "abc\n"])
def test_parse_machine_id_rejects(text):
    with pytest.raises(ValueError, match="not 32 lowercase hexadecimal digits"):
        parse_machine_id(text)


@pytest.mark.parametrize("text, expected", [("CPCA\n", "CPCA"), ("CPCA    \n", "CPCA"), ("\n", None), ("", None)])
def test_parse_cpc_name(text, expected):
    assert parse_cpc_name(text) == expected


@pytest.mark.parametrize(
    "machine_id, sysinfo, cpc_name, expected",
    [
        ("ab" * 16, parse_sysinfo(LPAR), "CPCA",
         {"machine_id": "ab" * 16,
          "cpc": {"manufacturer": "IBM", "type": "3931", "model": "A01", "sequence_code": "000000000008A8B8", "name": "CPCA"},
          "lpar": {"name": "LP47", "number": 47}}),
        (None, parse_sysinfo(BASIC), None,
         {"machine_id": None,
          "cpc": {"manufacturer": "IBM", "type": "9175", "model": "ME1", "sequence_code": "0000000000012345", "name": None},
          "lpar": None}),
        (None, None, "CPCA", {"machine_id": None, "cpc": None, "lpar": None}),
    ],
)  # fmt: skip
def test_host_identity(machine_id, sysinfo, cpc_name, expected):
    assert host_identity(machine_id, sysinfo, cpc_name) == expected
