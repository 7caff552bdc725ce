"""Parsers of AP bus / vfio_ap sysfs attribute text, fed the kernel's own output formats."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _sysfs_text as st

ALL = "0x" + "f" * 64
NONE = "0x" + "0" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("84\n", 84),
        ("255", 255),
        ("-1\n", -1),  # ap_domain without a default domain
        ("  7 \n", 7),
    ],
)
def test_parse_int(text, expected):
    assert st.parse_int(text) == expected


@pytest.mark.parametrize("text", ["", "\n", "0x10\n", "ten\n", "1 2\n"])
def test_parse_int_rejects(text):
    with pytest.raises(ValueError, match="integer"):
        st.parse_int(text)


@pytest.mark.parametrize(("text", "expected"), [("1\n", True), ("0\n", False), ("0", False)])
def test_parse_bool(text, expected):
    assert st.parse_bool(text) is expected


@pytest.mark.parametrize("text", ["2\n", "-1\n", "yes\n", ""])
def test_parse_bool_rejects(text):
    with pytest.raises(ValueError):
        st.parse_bool(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0\n", 0), ("18446744073709551615\n", 18446744073709551615), ("-\n", None), ("-", None)],
)
def test_parse_request_count(text, expected):
    assert st.parse_request_count(text) == expected


@pytest.mark.parametrize("text", ["--\n", "-5\n", "\n"])
def test_parse_request_count_rejects(text):
    with pytest.raises(ValueError):
        st.parse_request_count(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ALL + "\n", list(range(256))),
        (NONE + "\n", []),
        ("0x" + "8" + "0" * 63 + "\n", [0]),  # MSB first: leftmost bit is ID 0
        ("0x" + "0" * 63 + "1\n", [255]),
        ("0xf000" + "f" * 60 + "\n", [0, 1, 2, 3] + list(range(16, 256))),
    ],
)
def test_parse_mask(text, expected):
    assert st.parse_mask(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not supported\n", None),
        # QCI masks are printed as 8 x %08x words: same shape as apmask
        ("0x" + "00000000" * 7 + "0000000f\n", [252, 253, 254, 255]),
        ("0x" + "ffff0000" + "00000000" * 7 + "\n", list(range(16))),
    ],
)
def test_parse_qci_mask(text, expected):
    assert st.parse_qci_mask(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [(ALL + "\n", ALL), ("0X" + "F" * 64, ALL), ("  " + NONE + "\n", NONE)],
)
def test_normalize_mask(text, expected):
    assert st.normalize_mask(text) == expected


@pytest.mark.parametrize("text", ["0x" + "f" * 63, "0x" + "f" * 65, "ffff", "0x" + "g" * 64, ""])
def test_normalize_mask_rejects(text):
    with pytest.raises(ValueError, match="64 hex digits"):
        st.normalize_mask(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("APSC APXA QACT RC8A APSB\n", ["APSB", "APSC", "APXA", "QACT", "RC8A"]),
        ("-\n", []),  # bus without QCI
        ("", []),
        ("\n", []),
        ("guest_matrix hotplug ap_config\n", ["ap_config", "guest_matrix", "hotplug"]),  # what the code prints
        ("guest_matrix dyn ap_config\n", ["ap_config", "dyn", "guest_matrix"]),  # what the doc shows
        ("guest_matrix hotplug ap_config migratable\n", ["ap_config", "guest_matrix", "hotplug", "migratable"]),
    ],
)
def test_parse_features(text, expected):
    assert st.parse_features(text) == expected


def test_parse_features_rejects_junk():
    with pytest.raises(ValueError, match="alphanumeric"):
        st.parse_features("guest_matrix hot-plug\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("96/96 (complete)\n", {"bound": 96, "total": 96, "complete": True}),
        ("3/4\n", {"bound": 3, "total": 4, "complete": False}),
        ("0/0\n", {"bound": 0, "total": 0, "complete": False}),
    ],
)
def test_parse_bindings(text, expected):
    assert st.parse_bindings(text) == expected


@pytest.mark.parametrize("text", ["3 of 4\n", "/4\n", "3/4 complete\n", ""])
def test_parse_bindings_rejects(text):
    with pytest.raises(ValueError, match="bound/total"):
        st.parse_bindings(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0x72800000\n", 0x72800000),
        ("0x6B800000\n", 0x6B800000),  # the kernel prints uppercase hex digits
        ("0x6b800000", 0x6B800000),
        ("0X0000C000\n", 0xC000),
    ],
)
def test_parse_functions(text, expected):
    assert st.parse_functions(text) == expected


@pytest.mark.parametrize("text", ["72800000\n", "0x\n", "0x123456789\n", "0xZZ\n"])
def test_parse_functions_rejects(text):
    with pytest.raises(ValueError):
        st.parse_functions(text)


@pytest.mark.parametrize(("value", "text"), [(0x72800000, "0x72800000"), (0x6B800000, "0x6B800000"), (0xC000, "0x0000C000")])
def test_format_functions_matches_kernel(value, text):
    assert st.format_functions(value) == text
    assert st.parse_functions(text) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"adapters": [], "domains": [], "apqns": []}),
        (
            "05.0004\n05.0047\n06.0004\n06.0047\n",
            {"adapters": [5, 6], "domains": [4, 0x47], "apqns": ["05.0004", "05.0047", "06.0004", "06.0047"]},
        ),
        ("05.\n0a.\n", {"adapters": [5, 10], "domains": [], "apqns": []}),  # adapter-only matrix
        (".0004\n.00ab\n", {"adapters": [], "domains": [4, 0xAB], "apqns": []}),  # domain-only matrix
        ("ff.00ff\n", {"adapters": [255], "domains": [255], "apqns": ["ff.00ff"]}),
    ],
)
def test_parse_matrix(text, expected):
    assert st.parse_matrix(text) == expected


@pytest.mark.parametrize("text", [".\n", "05.0004.1\n", "5-4\n", "zz.0004\n"])
def test_parse_matrix_rejects(text):
    with pytest.raises(ValueError, match="matrix line"):
        st.parse_matrix(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", []), ("0004\n", [4]), ("0047\n0004\n00ab\n", [4, 0x47, 0xAB])],
)
def test_parse_control_domains(text, expected):
    assert st.parse_control_domains(text) == expected


def test_parse_control_domains_rejects():
    with pytest.raises(ValueError, match="not hex"):
        st.parse_control_domains("0x04\n")


def test_parse_ap_config():
    text = "0x" + "04" + "0" * 62 + ",0x" + "08" + "0" * 62 + "," + NONE + "\n"
    assert st.parse_ap_config(text) == ([5], [4], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("unassigned\n", "unassigned"), ("assigned\n", "assigned"), ("in use\n", "in use")],
)
def test_parse_queue_status(text, expected):
    assert st.parse_queue_status(text) == expected


@pytest.mark.parametrize("text", ["", "busy\n", "In Use\n"])
def test_parse_queue_status_rejects(text):
    with pytest.raises(ValueError, match="unassigned, assigned, in use"):
        st.parse_queue_status(text)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("../../../../bus/ap/drivers/vfio_ap", "vfio_ap"),
        ("../../../../bus/ap/drivers/cex4queue", "cex4queue"),
        ("", None),
        (None, None),
    ],
)
def test_parse_driver_link(target, expected):
    assert st.parse_driver_link(target) == expected


@pytest.mark.parametrize(("text", "expected"), [("\n", None), ("vfio_ap\n", "vfio_ap"), ("(null)\n", None)])
def test_parse_driver_override(text, expected):
    assert st.parse_driver_override(text) == expected


CCA_MKVPS = (
    "AES NEW: full 0x1111aaaa2222bbbb\n"
    "AES CUR: valid 0x3333cccc4444dddd\n"
    "AES OLD: invalid 0x5555eeee6666ffff\n"
    "APKA NEW: - -\n"
    "APKA CUR: valid 0x0123456789abcdef\n"
    "APKA OLD: - -\n"
    "ASYM NEW: partial 0x00112233445566778899aabbccddeeff\n"
    "ASYM CUR: valid 0xffeeddccbbaa99887766554433221100\n"
    "ASYM OLD: - -\n"
)
EP11_MKVPS = "WK CUR: valid 0x" + "5a" * 32 + "\nWK NEW: committed 0x" + "A5" * 32 + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            CCA_MKVPS,
            {
                "aes_new": {"state": "full", "mkvp": "0x1111aaaa2222bbbb"},
                "aes_cur": {"state": "valid", "mkvp": "0x3333cccc4444dddd"},
                "aes_old": {"state": "invalid", "mkvp": "0x5555eeee6666ffff"},
                "apka_new": None,
                "apka_cur": {"state": "valid", "mkvp": "0x0123456789abcdef"},
                "apka_old": None,
                "asym_new": {"state": "partial", "mkvp": "0x00112233445566778899aabbccddeeff"},
                "asym_cur": {"state": "valid", "mkvp": "0xffeeddccbbaa99887766554433221100"},
                "asym_old": None,
            },
        ),
        # older kernels print only the three AES lines
        (
            "AES NEW: - -\nAES CUR: valid 0x3333cccc4444dddd\nAES OLD: - -\n",
            {"aes_new": None, "aes_cur": {"state": "valid", "mkvp": "0x3333cccc4444dddd"}, "aes_old": None},
        ),
        (EP11_MKVPS, {"wk_cur": {"state": "valid", "mkvp": "0x" + "5a" * 32}, "wk_new": {"state": "committed", "mkvp": "0x" + "a5" * 32}}),
        # EP11: invalid current key and empty new key print '-' as the pattern
        (
            "WK CUR: invalid -\nWK NEW: empty -\n",
            {"wk_cur": {"state": "invalid", "mkvp": None}, "wk_new": {"state": "empty", "mkvp": None}},
        ),
        ("WK CUR: - -\nWK NEW: - -\n", {"wk_cur": None, "wk_new": None}),
        ("", {}),
    ],
)
def test_parse_mkvps(text, expected):
    assert st.parse_mkvps(text) == expected


@pytest.mark.parametrize("text", ["AES CUR valid 0x12\n", "AES CUR: valid 1234\n", "aes cur: valid 0x12\n"])
def test_parse_mkvps_rejects(text):
    with pytest.raises(ValueError, match="mkvps"):
        st.parse_mkvps(text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("6c1a0000-0000-4000-8000-00000000a101", "6c1a0000-0000-4000-8000-00000000a101"),
        ("6C1A0000-0000-4000-8000-00000000A101", "6c1a0000-0000-4000-8000-00000000a101"),
        ("features", None),
        ("mdev_supported_types", None),
        ("6c1a0000-0000-4000-8000-00000000a101.json", None),
    ],
)
def test_parse_uuid_name(name, expected):
    assert st.parse_uuid_name(name) == expected


@pytest.mark.parametrize(("length", "full"), [(0, False), (4094, False), (4095, True)])
def test_page_full(length, full):
    assert st.page_full("x" * length) is full
