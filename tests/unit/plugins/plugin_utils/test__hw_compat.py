"""The series' queue hardware rules over facility words (_hw_compat), checked against the kernel's own cases.

Each case is a source word, a destination word (facility word, AP type) and the findings of the restore design
(series v3+, ``queue_hardware_info_is_compatible``) and of the validation design (series v1/v2, equal card words).
"""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._hw_compat import Word, differences, word_problem

CCA = 0x72800000  # M C D N + native: a CEX8C queue
W = Word(CCA, 14)


def w(fac: int | None = CCA, at: int | None = 14) -> Word:
    return Word(fac, at)


# (id, source, destination, restore codes, validate codes); codes in the rule table's order
CASES = [
    ("equal", w(), w(), [], []),
    ("newer_destination", w(at=13), w(at=14), [], []),
    ("older_destination", w(at=14), w(at=13), ["hw_type_older"], ["hw_type_older"]),
    ("apsc", w(), w(CCA | 0x80000000), ["hw_facility_mismatch"], ["hw_facility_mismatch"]),
    ("ap4km_ap4kc", w(CCA & ~0x60000000), w(), ["hw_facility_mismatch"], ["hw_facility_mismatch"]),
    ("apxa", w(), w(CCA & ~0x02000000), ["hw_facility_mismatch"], ["hw_facility_mismatch"]),
    ("slcf", w(CCA | 0x01000000), w(), ["hw_facility_mismatch"], ["hw_facility_mismatch"]),
    ("cca_vs_ep11", w(), w(0x06800000), ["hw_mode_mismatch", "hw_facility_mismatch"], ["hw_mode_mismatch", "hw_facility_mismatch"]),
    # each mode bit is compared: an extra XCP bit is a mismatch, although the first mode bit (CCA) agrees
    ("extra_mode_bit", w(), w(CCA | 0x04000000), ["hw_mode_mismatch"], ["hw_mode_mismatch"]),
    ("same_extra_mode_bits", w(CCA | 0x04000000), w(CCA | 0x04000000), [], []),
    # class: native -> stateless refused by both; stateless -> native fine for restore, refused by v1/v2 (equal words)
    ("native_to_stateless", w(), w(0x72400000), ["hw_class_incompatible"], ["hw_class_incompatible"]),
    ("stateless_to_native", w(0x72400000), w(), [], ["hw_class_incompatible"]),
    ("other_class_bits", w(CCA | 0x00100000), w(), [], ["hw_class_incompatible"]),
    # bind state: restore refuses any non-zero state; v1/v2 refuse a difference of the compared words
    ("bind_state_source", w(CCA | 0x4000), w(), ["secure_execution"], ["secure_execution"]),
    ("bind_state_both", w(CCA | 0x8000), w(CCA | 0x8000), ["secure_execution"], []),
    # bits below the bind state are not compared by either design
    ("reserved_bits", w(CCA | 0x1000), w(), [], []),
    ("many", w(CCA | 0x01004000, 14), w(0x06400000, 13),
     ["hw_mode_mismatch", "hw_facility_mismatch", "hw_type_older", "hw_class_incompatible", "secure_execution"],
     ["hw_mode_mismatch", "hw_facility_mismatch", "hw_type_older", "hw_class_incompatible", "secure_execution"]),
]  # fmt: skip


@pytest.mark.parametrize(("src", "dst", "restore", "validate"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_differences(src, dst, restore, validate):
    assert [code for code, _detail in differences(src, dst, "restore")] == restore
    assert [code for code, _detail in differences(src, dst, "validate")] == validate
    for design in ("restore", "validate"):
        assert all(detail for _code, detail in differences(src, dst, design))


def test_details_name_each_property():
    found = dict(differences(w(), w(0x0A800000 | 0x01000000, 13), "restore"))
    assert found["hw_facility_mismatch"] == (
        "AP4KM installed on the source, missing on the destination; AP4KC installed on the source, missing on the destination; "
        "SLCF missing on the source, installed on the destination"
    )
    mode = "CCA-coprocessor mode set on the source, not set on the destination; "
    mode += "accelerator mode not set on the source, set on the destination"
    assert found["hw_mode_mismatch"] == mode
    assert found["hw_type_older"] == "destination card is older (AP type 0d) than the source's (AP type 0e)"


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        (w(), None),
        (w(None), "could not be read"),
        (w(0x00000000), "reads 0x00000000, without a mode bit"),
        (w(0x62800000), "without a mode bit"),  # facilities but no mode: TAPQ gave nothing usable
        (w(at=None), "AP type is unknown"),
    ],
)
def test_word_problem(word, problem):
    found = word_problem(word)
    assert (found is None) if problem is None else (problem in found)
