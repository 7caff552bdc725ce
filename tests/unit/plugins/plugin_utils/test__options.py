"""_options: one validator per kind of option, the same rules for every filter and action plugin."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils import _options as O

# (value, minimum, default, expected or the message's tail)
COUNT_CASES = [
    (3, 1, None, 3),
    ("2", 1, None, 2),
    (" 7 ", 0, None, 7),
    (0, 0, None, 0),
    (None, 1, 5, 5),
    (0, 1, None, "expected an integer >= 1, got 0"),
    (-1, 0, None, "expected an integer >= 0, got -1"),
    (True, 0, None, "expected an integer >= 0, got True"),
    (False, 0, None, "expected an integer >= 0, got False"),
    ("true", 0, None, "expected an integer >= 0, got 'true'"),
    (1.5, 1, None, "expected an integer >= 1, got 1.5"),
    ("1.0", 1, None, "expected an integer >= 1, got '1.0'"),
    ("-2", 0, None, "expected an integer >= 0, got '-2'"),
    (None, 1, None, "expected an integer >= 1, got None"),
    ([1], 1, None, "expected an integer >= 1, got [1]"),
]


@pytest.mark.parametrize(("value", "minimum", "default", "expected"), COUNT_CASES)
def test_require_count(value, minimum, default, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError) as info:
            O.require_count(value, "per_source", minimum, default)
        assert str(info.value) == f"per_source: {expected}"
    else:
        assert O.require_count(value, "per_source", minimum, default) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("yes", True), ("No", False), (" true ", True), ("off", False), (1, True), (0, False),
     ("1", True), ("0", False), (2, None), ("maybe", None), (None, None), ([], None), (1.0, None)],
)  # fmt: skip
def test_require_bool(value, expected):
    if expected is None:
        with pytest.raises(ValueError, match=r"^prepare: expected a boolean \(true/false, yes/no\), got "):
            O.require_bool(value, "prepare")
    else:
        assert O.require_bool(value, "prepare") is expected


def test_a_boolean_is_never_a_count_and_a_count_of_two_never_a_boolean():
    """The two validators disagree on no value: what one takes as its kind, the other refuses or reads alike (0/1)."""
    for value in (True, False, "true", "yes"):
        with pytest.raises(ValueError):
            O.require_count(value, "n")
    for value in (2, "2", 10):
        with pytest.raises(ValueError):
            O.require_bool(value, "b")


@pytest.mark.parametrize(
    ("value", "lower", "expected"),
    [
        (None, False, []),
        ("", False, []),
        ("web1, db1  pay2", False, ["web1", "db1", "pay2"]),
        (["web1", 7], False, ["web1", "7"]),
        ("6C1A0000-0000-4000-8000-00000000A101", True, ["6c1a0000-0000-4000-8000-00000000a101"]),
        ([True], False, "expected a list of names or one comma-separated string, got [True]"),
        ({"web1": 1}, False, "expected a list of names or one comma-separated string, got dict"),
    ],
)
def test_require_names(value, lower, expected):
    if isinstance(expected, str):
        with pytest.raises(ValueError) as info:
            O.require_names(value, "guests", lower=lower)
        assert str(info.value) == f"guests: {expected}"
    else:
        assert O.require_names(value, "guests", lower=lower) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("kvm-a1", ["kvm-a1"]), (["b", "a", "b"], ["b", "a"]), ([], []), (None, None), (["a", 1], None), ({"a": 1}, None)],
)
def test_require_host_names(value, expected):
    if expected is None:
        with pytest.raises(ValueError, match=r"^hosts: expected a list of inventory host names, got "):
            O.require_host_names(value, "hosts")
    else:
        assert O.require_host_names(value, "hosts") == expected


def test_the_small_validators():
    assert O.require_rules("kernel") == "kernel"
    with pytest.raises(ValueError, match=r"^rules: expected one of auto, attribute, kernel, strict, got 'fast'$"):
        O.require_rules("fast")
    assert O.require_choice("stop", "on_failure", ("stop", "continue")) == "stop"
    with pytest.raises(ValueError, match=r"^on_failure: expected one of stop, continue, got 1$"):
        O.require_choice(1, "on_failure", ("stop", "continue"))
    assert O.require_host_name(None, "source") is None
    with pytest.raises(ValueError, match=r"^source: expected a host name, got int$"):
        O.require_host_name(3, "source")
    assert O.require_mapping(None, "mkvps", "{host: ...}") == {}
    with pytest.raises(ValueError, match=r"^mkvps: expected \{host: \.\.\.\}, got list$"):
        O.require_mapping([], "mkvps", "{host: ...}")


def test_a_long_value_is_cut_in_the_message():
    with pytest.raises(ValueError) as info:
        O.require_count("x" * 500, "limit")
    assert len(str(info.value)) < 120 and str(info.value).endswith("...")
