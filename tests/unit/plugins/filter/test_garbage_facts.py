"""Garbage in, one clear error out: the readiness filters and the ID filters under random damage.

Every case takes the demo fleet's real facts and damages them: a key removed, or a value replaced
by a value of another type (text, number, boolean, null, list, dict, a huge number, hostile text).
The filter must either answer or raise AnsibleFilterError with a message that names what was
wrong — never another exception, and never Python's own words ("'id'", "Unknown format code",
"object has no attribute", ...).
"""

from __future__ import annotations

import copy
import os
import re

import pytest
from ansible.errors import AnsibleFilterError
from helpers.fleet_facts import facts_for_fleet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.s390x.vfio_ap.plugins.filter.ap_ids import ap_ids
from ansible_collections.s390x.vfio_ap.plugins.filter.ap_mask import ap_mask
from ansible_collections.s390x.vfio_ap.plugins.filter.apqns import apqns
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_check import migration_check
from ansible_collections.s390x.vfio_ap.plugins.filter.migration_plan import migration_plan

WEB1 = "6c1a0000-0000-4000-8000-00000000a101"
PYTHON_WORDS = re.compile(
    r"object has no attribute|unhashable|Unknown format code|not subscriptable|not iterable|"
    r"takes \d+ positional|unsupported operand|invalid literal|^'[^']*'$|: '[\w.]+'$"
)
GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["0-15", "0x", "05.0004", "$(touch /tmp/x)", "true", "zz"]),
    st.lists(st.one_of(st.none(), st.integers(-5, 300), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_DELETE = object()


@pytest.fixture(scope="module")
def demo_facts(tmp_path_factory, demo_fleet_path):
    return facts_for_fleet(demo_fleet_path, tmp_path_factory.mktemp("garbage"))


def _paths(node, prefix=()):
    """Yield every path (tuple of keys/indexes) into a facts tree, lists cut at their first two items."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:2]):
            yield from _paths(value, (*prefix, i))


def _damage(facts, path, value):
    if not path:
        return value
    damaged = copy.deepcopy(facts)
    node = damaged
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE and isinstance(node, dict):
        del node[path[-1]]
    elif value is not _DELETE:
        node[path[-1]] = value
    return damaged


def _clear(call):
    """Run a filter call: return normally, or raise only AnsibleFilterError with a readable message."""
    try:
        call()
    except AnsibleFilterError as exc:
        message = str(exc).split(": ", 1)[-1]
        assert not PYTHON_WORDS.search(message), str(exc)
        assert len(message.split()) >= 3, str(exc)


@settings(
    max_examples=int(os.environ.get("GARBAGE_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_readiness_filters_name_what_is_wrong(demo_facts, data):
    src, dst = demo_facts["kvm-a1"], demo_facts["kvm-b1"]
    used = {apqn for m in src["driver"]["mdevs"] if m["uuid"] == WEB1 for apqn in m["guest_apqns"]}
    queues = [i for i, q in enumerate(dst["queues"]) if q["apqn"] in used]
    paths = sorted(set(_paths(dst)) | {p for i in queues for p in _paths(dst["queues"][i], ("queues", i))}, key=repr)
    path = data.draw(st.sampled_from(paths), label="path")
    value = data.draw(st.one_of(st.just(_DELETE), GARBAGE), label="value")
    damaged = _damage(dst, path, value)
    _clear(lambda: migration_check(src, damaged, WEB1, source="kvm-a1", destination="kvm-b1"))
    _clear(lambda: migration_plan({"kvm-a1": src, "kvm-b1": damaged}))


@pytest.mark.parametrize("value", [[["05.0004"]], [{"apqn": "05.0004"}], [[5, 4]]], ids=["list", "dict", "ids"])
@pytest.mark.parametrize("side", ["source", "destination"])
@pytest.mark.parametrize("key", ["apqns", "guest_apqns", "adapters", "domains", "control_domains"])
def test_unhashable_items_in_a_list_are_named(demo_facts, value, side, key):
    """Lists of lists or dicts where the facts hold IDs or APQNs get one message, not 'unhashable type'."""
    src, dst = demo_facts["kvm-a1"], demo_facts["kvm-b1"]
    facts = src if side == "source" else dst
    index = next(i for i, m in enumerate(facts["driver"]["mdevs"]) if m["uuid"] == WEB1 or side == "destination")
    damaged = _damage(facts, ("driver", "mdevs", index, key), value)
    pair = (damaged, dst) if side == "source" else (src, damaged)
    _clear(lambda: migration_check(*pair, WEB1, source="kvm-a1", destination="kvm-b1"))
    _clear(lambda: migration_plan({"kvm-a1": pair[0], "kvm-b1": pair[1]}))


@settings(max_examples=100, deadline=None)
@given(value=GARBAGE)
def test_id_filters_name_what_is_wrong(value):
    _clear(lambda: ap_mask(value))
    _clear(lambda: ap_ids(value))
    _clear(lambda: apqns(value, [1]))
    _clear(lambda: apqns([1], value))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["limit", "nearest", "detail", "sources", "destinations", "rules", "mkvps", "migration_network", "query"]),
    value=GARBAGE,
)
def test_plan_options_name_the_option(demo_facts, name, value):
    _clear(lambda: migration_plan(demo_facts, **{name: value}))


@settings(
    max_examples=int(os.environ.get("GARBAGE_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_plan_consumers_name_what_is_wrong(demo_facts, data):
    """The reports and the evacuation read damaged plans with one clear message too."""
    from ansible_collections.s390x.vfio_ap.plugins.filter.evacuation_plan import evacuation_plan
    from ansible_collections.s390x.vfio_ap.plugins.filter.readiness_report import readiness_report
    from ansible_collections.s390x.vfio_ap.plugins.filter.readiness_summary import readiness_summary

    plan = migration_plan(demo_facts, sources=["kvm-a1"])
    path = data.draw(st.sampled_from(sorted(set(_paths(plan)), key=repr)), label="path")
    damaged = _damage(plan, path, data.draw(st.one_of(st.just(_DELETE), GARBAGE), label="value"))
    _clear(lambda: readiness_summary(damaged))
    _clear(lambda: readiness_report(damaged, formats=["json", "markdown", "html", "junit"]))
    _clear(lambda: evacuation_plan(damaged))
