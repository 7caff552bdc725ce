"""Filters apqns, ap_mask, ap_ids: the mask and APQN algebra users rely on (table-driven and property-based)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.s390x.vfio_ap.plugins.filter.ap_ids import ap_ids
from ansible_collections.s390x.vfio_ap.plugins.filter.ap_mask import ap_mask
from ansible_collections.s390x.vfio_ap.plugins.filter.apqns import apqns

ids = st.lists(st.integers(min_value=0, max_value=255), max_size=40)


@given(ids)
def test_ap_ids_inverts_ap_mask(values):
    assert ap_ids(ap_mask(values)) == sorted(set(values))


@given(ids)
def test_mask_text_shape(values):
    mask = ap_mask(values)
    assert mask.startswith("0x") and len(mask) == 66 and mask == mask.lower()


@given(st.integers(min_value=0, max_value=255))
def test_msb_first(item):
    bits = bin(int(ap_mask([item]), 16))[2:].zfill(256)
    assert bits.index("1") == item  # the leftmost bit is ID 0


@given(st.integers(min_value=0, max_value=255), st.integers(min_value=0, max_value=255))
def test_range_parsing(low, high):
    low, high = min(low, high), max(low, high)
    assert ap_ids(ap_mask(f"{low}-{high}")) == list(range(low, high + 1))
    assert ap_ids(ap_mask(f"{low:#x}-{high:#x}")) == list(range(low, high + 1))


@given(st.lists(st.integers(0, 255), min_size=1, max_size=4), st.lists(st.integers(0, 255), min_size=1, max_size=4))
def test_apqns_cross_product(adapters, domains):
    result = apqns(adapters, domains)
    assert len(result) == len(set(adapters)) * len(set(domains))
    assert result == sorted(result)
    assert all(f"{a:02x}.{d:04x}" in result for a in adapters for d in domains)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([0], "0x8" + "0" * 63),
        ([0, 5], "0x84" + "0" * 62),
        ("255", "0x" + "0" * 63 + "1"),
        ("0-3,0x47", "0xf" + "0" * 16 + "1" + "0" * 46),
        ([], "0x" + "0" * 64),
    ],
)
def test_ap_mask_examples(value, expected):
    assert ap_mask(value) == expected


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        ("0x8", [0]),  # short masks are padded on the right, as the kernel reads them
        ("0x" + "f" * 64, list(range(256))),
        ("0x0000000000000000000000000000000000000000000000000000000000000001", [255]),
    ],
)
def test_ap_ids_examples(mask, expected):
    assert ap_ids(mask) == expected


@pytest.mark.parametrize(
    ("adapters", "domains", "expected"),
    [
        ([5, 6], "0x04-0x05", ["05.0004", "05.0005", "06.0004", "06.0005"]),
        ("10", 171, ["0a.00ab"]),
        ([], [1], []),
    ],
)
def test_apqns_examples(adapters, domains, expected):
    assert apqns(adapters, domains) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ap_mask("08x"), "ids"),
        (lambda: ap_mask(256), "outside 0..255"),
        (lambda: ap_mask("7-3"), "runs backwards"),
        (lambda: ap_ids("0xzz"), "mask"),
        (lambda: apqns([1], "x"), "domains"),
        (lambda: apqns(True, [1]), "adapters"),
    ],
)
def test_errors_name_the_input(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()
