"""ap_functions decoding, card types and the live-migration hardware compatibility rules (docs/kernel-interface.md)."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _hwinfo as hw

CAPS_KEYS = {"apsc", "mex4k", "crt4k", "cca", "accel", "ep11", "mode", "apxa", "slcf", "native", "stateless", "bs", "hwtype"}


def caps(**overrides):
    base = {"apsc": False, "mex4k": True, "crt4k": True, "mode": "cca", "apxa": True, "slcf": False,
            "native": True, "stateless": False, "bs": 0, "hwtype": 14}  # fmt: skip
    base.update(overrides)
    mode = base["mode"]
    for name in ("cca", "accel", "ep11"):
        base.setdefault(name, name == mode)
    return base


@pytest.mark.parametrize(
    ("functions", "hwtype", "expected"),
    [
        # a CCA queue with M, C, D, N and the native class
        (0x72800000, 14, caps()),
        # EP11 coprocessor: X, N, native
        (0x06800000, 14, caps(mex4k=False, crt4k=False, mode="ep11")),
        # accelerator with SLCF and APSC (demo fleet kvm-b1 card 03 without APSC: 0x6B800000)
        (0x6B800000, 14, caps(mode="accel", slcf=True)),
        (0xEB800000, 15, caps(mode="accel", slcf=True, apsc=True, hwtype=15)),
        # CCA restricted to stateless functions
        (0x72400000, 13, caps(native=False, stateless=True, hwtype=13)),
        # queue word with BS bits: 1, 2, 3
        (0x72804000, 14, caps(bs=1)),
        (0x72808000, 14, caps(bs=2)),
        (0x7280C000, 14, caps(bs=3)),
        # no mode bit at all, unknown type
        (0x02000000, None, caps(mex4k=False, crt4k=False, mode=None, native=False, hwtype=None)),
        # two mode bits (not seen on real hardware): each is reported, mode is the first (D before A before X)
        (0x16800000, 14, caps(mex4k=False, crt4k=False, mode="cca", ep11=True)),
    ],
)
def test_capabilities(functions, hwtype, expected):
    got = hw.capabilities(functions, hwtype)
    assert set(got) == CAPS_KEYS
    assert got == expected
    assert hw.functions_of_capabilities(got) == functions


@pytest.mark.parametrize(
    ("functions", "mode"),
    [(0x10000000, "cca"), (0x08000000, "accel"), (0x04000000, "ep11"), (0, None),
     # two mode bits never occur on hardware; D wins as in lszcrypt's reading order
     (0x18000000, "cca"), (0x0C000000, "accel")],
)  # fmt: skip
def test_mode_of_functions(functions, mode):
    assert hw.mode_of_functions(functions) == mode


@pytest.mark.parametrize(
    ("text", "expected"),
    [("CEX8C", (8, "cca")), ("CEX7P", (7, "ep11")), ("CEX4A", (4, "accel")), ("CEX5C\n", (5, "cca")), ("CEX10P", (10, "ep11"))],
)
def test_parse_card_type(text, expected):
    assert hw.parse_card_type(text) == expected


@pytest.mark.parametrize("text", ["CEX8", "CEX8X", "cex8c", "PCICC", ""])
def test_parse_card_type_rejects(text):
    with pytest.raises(ValueError, match="card type"):
        hw.parse_card_type(text)


@pytest.mark.parametrize(
    ("hwtype", "mode", "generation", "name"),
    [(10, "cca", 4, "CEX4C"), (11, "accel", 5, "CEX5A"), (13, "ep11", 7, "CEX7P"), (14, "cca", 8, "CEX8C"),
     (15, "cca", None, None), (9, "cca", None, None), (14, None, 8, None)],
)  # fmt: skip
def test_generation_and_type_name(hwtype, mode, generation, name):
    assert hw.generation_of_hwtype(hwtype) == generation
    assert hw.card_type_name(hwtype, mode) == name


def test_se_states_and_bs():
    assert hw.bs_of_functions(0x7280C000) == 3
    assert sorted(hw.SE_STATES) == [0, 1, 2, 3]
