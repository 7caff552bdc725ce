"""mdevctl definitions of vfio_ap mdevs: what the kernel ends up with, and the file the collection writes."""

from __future__ import annotations

import json

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _mdevctl_config as mc


def doc(attrs, start="auto", **extra):
    return json.dumps({"mdev_type": "vfio_ap-passthrough", "start": start, "attrs": attrs, **extra})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # decimal and 0x values, mixed order, as mdevctl's own examples write them
        (doc([{"assign_adapter": "5"}, {"assign_domain": "0x47"}, {"assign_control_domain": "0xab"},
              {"assign_adapter": "0x0a"}, {"assign_domain": "4"}]),
         {"start": "auto", "adapters": [5, 10], "domains": [4, 0x47], "control_domains": [0xAB]}),
        # leading zero: the kernel's kstrtoul(…, 0) reads octal
        (doc([{"assign_adapter": "010"}, {"assign_domain": "0"}], start="manual"),
         {"start": "manual", "adapters": [8], "domains": [0], "control_domains": []}),
        # unassign removes, later writes win
        (doc([{"assign_adapter": "1"}, {"assign_adapter": "2"}, {"unassign_adapter": "1"}, {"assign_domain": "3"}]),
         {"start": "auto", "adapters": [2], "domains": [3], "control_domains": []}),
        # ap_config replaces the whole configuration
        (doc([{"assign_adapter": "1"},
              {"ap_config": "0x" + "04" + "0" * 62 + ",0x" + "08" + "0" * 62 + ",0x" + "08" + "0" * 62}]),
         {"start": "auto", "adapters": [5], "domains": [4], "control_domains": [4]}),
        # attrs are optional; values may be JSON numbers
        (json.dumps({"mdev_type": "vfio_ap-passthrough", "start": "manual"}),
         {"start": "manual", "adapters": [], "domains": [], "control_domains": []}),
        (doc([{"assign_adapter": 3}]), {"start": "auto", "adapters": [3], "domains": [], "control_domains": []}),
    ],
)  # fmt: skip
def test_parse_definition(text, expected):
    got = mc.parse_definition(text, "def")
    assert got == dict(expected, mdev_type="vfio_ap-passthrough")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        (doc([], start="boot"), "start is 'boot'"),
        (json.dumps({"mdev_type": "vfio_ap-passthrough", "attrs": []}), "start is None"),
        (doc({"assign_adapter": "1"}), "attrs is not a list"),
        (doc([{"assign_adapter": "1", "assign_domain": "2"}]), r"attrs\[0\]: expected one"),
        (doc([{"assign_adapter": "08"}]), "leading 0"),
        (doc([{"assign_adapter": "4,0xab"}]), "not one decimal or 0x number"),
        (doc([{"assign_domain": "1-3"}]), "not one decimal or 0x number"),
        (doc([{"assign_adapter": "256"}]), "outside 0..255"),
        (doc([{"assign_adapter": True}]), "is not an ID"),
        (doc([{"assign_widget": "1"}]), "unknown vfio_ap attribute 'assign_widget'"),
        (doc([{"ap_config": "0x00,0x00"}]), "three comma-separated masks"),
    ],
)
def test_parse_definition_rejects(text, message):
    with pytest.raises(ValueError, match=message) as info:
        mc.parse_definition(text, "/etc/mdevctl.d/matrix/x")
    assert str(info.value).startswith("/etc/mdevctl.d/matrix/x")


@pytest.mark.parametrize(
    ("start", "adapters", "domains", "control", "attrs"),
    [
        ("auto", [10, 5], [0x47, 4], [0xAB],
         [{"assign_adapter": "5"}, {"assign_adapter": "10"}, {"assign_domain": "4"}, {"assign_domain": "71"},
          {"assign_control_domain": "171"}]),
        ("manual", [], [], [], []),
        ("auto", [8, 9], [8], [], [{"assign_adapter": "8"}, {"assign_adapter": "9"}, {"assign_domain": "8"}]),
    ],
)  # fmt: skip
def test_render_definition(start, adapters, domains, control, attrs):
    text = mc.render_definition(start, adapters, domains, control)
    assert text.endswith("\n")
    assert json.loads(text) == {"mdev_type": "vfio_ap-passthrough", "start": start, "attrs": attrs}
    # round trip: what is written is what the kernel will be told
    parsed = mc.parse_definition(text)
    assert (parsed["adapters"], parsed["domains"], parsed["control_domains"]) == (sorted(adapters), sorted(domains), sorted(control))
    assert mc.same_configuration(parsed, adapters, domains, control)


@pytest.mark.parametrize(
    ("args", "message"),
    [(("boot", [], [], []), "start 'boot'"), (("auto", [256], [], []), "adapters: ID 256")],
)
def test_render_definition_rejects(args, message):
    with pytest.raises(ValueError, match=message):
        mc.render_definition(*args)


@pytest.mark.parametrize(
    ("definition", "same"),
    [
        ({"adapters": [1], "domains": [2], "control_domains": []}, True),
        ({"adapters": [1], "domains": [2, 3], "control_domains": []}, False),
        ({"adapters": None, "domains": None, "control_domains": None}, False),
        (None, False),
    ],
)
def test_same_configuration(definition, same):
    assert mc.same_configuration(definition, [1], [2], []) is same


def test_definition_path():
    assert mc.definition_path("6c1a0000-0000-4000-8000-00000000a101") == "etc/mdevctl.d/matrix/6c1a0000-0000-4000-8000-00000000a101"
