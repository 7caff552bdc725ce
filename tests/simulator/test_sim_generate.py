"""Generated benchmark fleets (``apsim.generate.shaped_fleet``): valid for the simulator, placed as the shape says.

What the plan benchmark's figures rely on: every shape gives a fleet the simulator accepts, each
guest's APQNs exist exactly on the hosts of its class (every ``spread``-th host), a host's guests
never share a queue nor use one its host keeps, and a shape that cannot be generated is one
ValueError naming the problem.
"""

from __future__ import annotations

import pytest

from apsim.fleet import build_fleet
from apsim.generate import SHAPES, HostShape, shaped_fleet, spread_fleet

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import parse_ids  # the fleet files' ID grammar


def _queues(spec: dict) -> set[tuple[int, int]]:
    return {(card["id"], d) for card in spec["cards"] for d in parse_ids(card["domains"])}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_is_valid_and_placed_as_it_says(name):
    shape = SHAPES[name]
    hosts = 3 * shape.spread + 5
    fleet = shaped_fleet(hosts, shape)
    built = build_fleet(fleet)  # the simulator's own validation of every key
    assert len(built) == hosts
    specs = list(fleet["hosts"].values())
    queues = [_queues(spec) for spec in specs]
    for h, spec in enumerate(specs):
        assert len(spec["cards"]) == shape.cards and len(queues[h]) == shape.cards * shape.domains
        guests = [m for m in spec["mdevs"] if m.get("guest")]
        assert len(guests) == shape.mdevs
        taken = [(a, d) for m in guests for a in m["adapters"] for d in m["domains"]]
        assert len(taken) == len(set(taken)) == shape.mdevs * shape.guest_adapters  # no queue shared by two guests
        kept = set(parse_ids(spec["aqmask"]))
        assert not {d for _a, d in taken} & kept  # no guest on a domain its host keeps
        for apqn in taken:
            holders = {g for g, q in enumerate(queues) if apqn in q}
            assert holders == {g for g in range(hosts) if g % shape.spread == h % shape.spread}, (name, h, apqn)


def test_spread_fleet_is_the_spread_shape():
    assert spread_fleet(45) == shaped_fleet(45, SHAPES["spread"])
    host = spread_fleet(45)["hosts"]["kvm00021"]  # class 1, round 1
    assert host["usage_domains"] == "4-7" and [c["id"] for c in host["cards"]] == list(range(16))
    assert [m["adapters"] for m in host["mdevs"][:9]] == [[8], [9], [10], [11], [12], [13], [14], [15], [8]]


@pytest.mark.parametrize(
    "shape, message",
    [
        (HostShape(cards=16, domains=85, mdevs=20, spread=20), "leave room for 16 classes of disjoint queues, not spread 20"),
        (HostShape(cards=4, domains=2, mdevs=4), "4 guests of 1 adapter(s) need fewer than 2 adapters x 2 domains"),
        (HostShape(cards=10, domains=4, mdevs=4, guest_adapters=2), "guest_adapters must divide the 5 guest adapters of 10 cards"),
        (HostShape(cards=0, domains=4, mdevs=1), "cards 1-256, domains 1-85"),
        (HostShape(cards=4, domains=4, mdevs=2, card_type="CEX9C"), "card_type: expected CEX4-CEX8"),
    ],
)
def test_bad_shape_is_one_error(shape, message):
    with pytest.raises(ValueError) as caught:
        shaped_fleet(10, shape)
    text = str(caught.value)
    assert text.startswith("host shape: ") and message in text and "\n" not in text
