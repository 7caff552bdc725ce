"""The collection's one ID / mask / APQN grammar."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _ids

PARSE_CASES = [
    (None, []),
    (5, [5]),
    ("5", [5]),
    ("08", [8]),
    ("0x47", [0x47]),
    ("0x04-0x07", [4, 5, 6, 7]),
    ("0-3,0x47", [0, 1, 2, 3, 0x47]),
    ([0, 1, "6-8"], [0, 1, 6, 7, 8]),
    ([3, 3, "3"], [3]),
    ("", []),
    (" 1 , 2 ", [1, 2]),
]


@pytest.mark.parametrize(("value", "expected"), PARSE_CASES)
def test_parse_ids(value, expected):
    assert _ids.parse_ids(value) == expected


BAD_CASES = [
    (True, "boolean"),
    (256, "outside 0..255"),
    (-1, "outside"),
    ("7-3", "backwards"),
    ("0x", "not a number"),
    ("five", "not a number"),
    ("1,,2", "empty ID"),
    ([[1]], "nested"),
    ({"a": 1}, "expected an ID"),
    (1.5, "expected an ID"),
]


@pytest.mark.parametrize(("value", "message"), BAD_CASES)
def test_parse_ids_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        _ids.parse_ids(value, "adapters")


def test_parse_ids_names_the_option_and_honours_the_maximum():
    with pytest.raises(ValueError, match=r"^domains: ID 90 is outside 0\.\.84$"):
        _ids.parse_ids("90", "domains", maximum=84)


def test_mask_text_is_msb_first():
    assert _ids.ids_to_mask([0]) == "0x8" + "0" * 63
    assert _ids.ids_to_mask([255]) == "0x" + "0" * 63 + "1"
    assert _ids.ids_to_mask([1, 7]) == "0x41" + "0" * 62
    assert _ids.mask_to_ids("0x41") == [1, 7]  # short text is padded on the right, as the kernel does
    assert _ids.parse_ids("0x" + "f" * 64, allow_mask=True) == list(range(256))


@pytest.mark.parametrize("text", ["0x" + "0" * 65, "0xg", "1 2"])
def test_mask_to_ids_rejects(text):
    with pytest.raises(ValueError):
        _ids.mask_to_ids(text)


@given(st.lists(st.integers(min_value=0, max_value=255)))
def test_mask_round_trip(ids):
    assert _ids.mask_to_ids(_ids.ids_to_mask(ids)) == sorted(set(ids))


@given(st.sets(st.integers(min_value=0, max_value=255)))
def test_compress_round_trip(ids):
    assert _ids.parse_ids(_ids.compress_ids(ids)) == sorted(ids)


@pytest.mark.parametrize(
    ("set_ids", "clear_ids", "expected"),
    [([], [], None), ([9], [4, 5, 6, 7], "+9,-4-7"), ([], [0x47, 5], "-5,-71")],
)
def test_relative_mask_update(set_ids, clear_ids, expected):
    assert _ids.relative_mask_update(set_ids, clear_ids) == expected


def test_apqn_text():
    assert _ids.format_apqn(5, 4) == "05.0004"
    assert _ids.parse_apqn("0a.00AB") == (10, 0xAB)
    assert _ids.expand_apqns([2, 1], [4, 3]) == [(1, 3), (1, 4), (2, 3), (2, 4)]
    with pytest.raises(ValueError, match="AA.DDDD"):
        _ids.parse_apqn("5.4")


@pytest.mark.parametrize(
    ("value", "any_case", "expected"),
    [
        ("6c1a0000-0000-4000-8000-00000000a101", False, True),
        ("6C1A0000-0000-4000-8000-00000000A101", False, False),
        ("6C1A0000-0000-4000-8000-00000000A101", True, True),
        ("6c1a0000000040008000-00000000a101", True, False),
        ("6c1a0000-0000-4000-8000-00000000a101\n", False, False),
        ("../../0000-0000-4000-8000-00000000a101", True, False),
        (None, True, False),
        (12, True, False),
    ],
)
def test_is_uuid(value, any_case, expected):
    assert _ids.is_uuid(value, any_case=any_case) is expected


def test_the_hook_files_copy_the_one_uuid_grammar():
    """_guard.py and _libvirt_xml.py are loaded alone by the libvirt hook: their copies of UUID_RE stay _ids's."""
    from ansible_collections.s390x.vfio_ap.plugins.module_utils import _guard, _libvirt_xml

    assert _guard.UUID_RE.pattern == _libvirt_xml.UUID_RE.pattern == _ids.UUID_RE.pattern
