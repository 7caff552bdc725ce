"""Compact queue records (facts schema 2) and their full form: what is left out and how it comes back."""

from __future__ import annotations

import pytest

from ansible_collections.s390x.vfio_ap.plugins.module_utils._hwinfo import capabilities
from ansible_collections.s390x.vfio_ap.plugins.module_utils._queue_facts import (
    QUEUE_KEYS,
    compact_queue,
    expand_queue,
    usual_value,
)

CCA = "0x72800000"
CARD = {"id": 5, "functions": CCA, "raw_hwtype": 14, "hwtype": 14, "capabilities": capabilities(0x72800000, 14)}


def full(apqn="05.0004", **changes):
    """Return a full queue record of card 5 with the usual values, then ``changes``."""
    driver = changes.get("driver", "cex4queue")
    record = {
        "apqn": apqn, "adapter": int(apqn[:2], 16), "domain": int(apqn[3:], 16), "driver": driver,
        "functions": CCA, "capabilities": capabilities(0x72800000, 14), "config": True, "chkstop": False,
        "online": usual_value("online", driver), "vfio_status": "unassigned" if driver == "vfio_ap" else None,
        "driver_override": None, "mkvps": None,
    }  # fmt: skip
    record.update(changes)
    return record


SE = capabilities(0x72808000, 14)
MKVPS = {"aes_cur": {"state": "valid", "mkvp": "0x1111aaaa2222bbbb"}, "aes_new": None}


@pytest.mark.parametrize(
    ("queue", "compact"),
    [
        (full(), {"apqn": "05.0004", "driver": "cex4queue"}),
        (full(driver="vfio_ap"), {"apqn": "05.0004", "driver": "vfio_ap", "vfio_status": "unassigned"}),
        (full(driver="vfio_ap", vfio_status="in use"), {"apqn": "05.0004", "driver": "vfio_ap", "vfio_status": "in use"}),
        (full(driver="vfio_ap", vfio_status=None), {"apqn": "05.0004", "driver": "vfio_ap", "vfio_status": None}),
        (full(driver=None, online=None), {"apqn": "05.0004", "driver": None}),
        (full(online=False), {"apqn": "05.0004", "driver": "cex4queue", "online": False}),
        (full(online=None), {"apqn": "05.0004", "driver": "cex4queue", "online": None}),
        (full(config=False, chkstop=True), {"apqn": "05.0004", "driver": "cex4queue", "config": False, "chkstop": True}),
        (full(functions="0x72808000", capabilities=SE),
         {"apqn": "05.0004", "driver": "cex4queue", "functions": "0x72808000", "capabilities": SE}),
        (full(functions=None, capabilities=None),
         {"apqn": "05.0004", "driver": "cex4queue", "functions": None, "capabilities": None}),
        (full(driver="vfio_ap", driver_override="vfio_ap"),
         {"apqn": "05.0004", "driver": "vfio_ap", "vfio_status": "unassigned", "driver_override": "vfio_ap"}),
        (full(mkvps=MKVPS), {"apqn": "05.0004", "driver": "cex4queue", "mkvps": MKVPS}),
    ],
    ids=["host", "vfio", "in-use", "vfio-status-unknown", "unbound", "offline", "online-unknown", "deconfigured",
         "se-bind-state", "tapq-failed", "override", "mkvps"],
)  # fmt: skip
def test_compact_keeps_only_what_is_the_queues_own_and_expands_back(queue, compact):
    assert compact_queue(queue, CCA) == compact
    assert expand_queue(compact, CARD) == queue
    assert list(expand_queue(compact, CARD)) == list(QUEUE_KEYS)


@pytest.mark.parametrize(
    ("card", "functions", "caps"),
    [
        (CARD, CCA, CARD["capabilities"]),
        # a card from schema 1 facts (no capabilities): decoded from its word with its raw type
        ({"id": 5, "functions": "0x06800000", "raw_hwtype": 15, "hwtype": 14}, "0x06800000", capabilities(0x06800000, 15)),
        ({"id": 5, "functions": "0x06800000", "raw_hwtype": None, "hwtype": 13}, "0x06800000", capabilities(0x06800000, 13)),
        ({"id": 5, "functions": None}, None, None),
        ({"id": 5, "functions": "garbage"}, "garbage", None),
        (None, None, None),
    ],
    ids=["card-capabilities", "schema-1-card", "no-raw-type", "card-word-unknown", "card-word-garbage", "no-card"],
)
def test_a_queue_without_its_own_word_has_its_cards(card, functions, caps):
    got = expand_queue({"apqn": "05.0004", "driver": "cex4queue"}, card)
    assert (got["functions"], got["capabilities"]) == (functions, caps)


def test_a_full_record_expands_to_itself():
    queue = full(driver="vfio_ap", vfio_status="assigned", config=False, mkvps=None)
    assert expand_queue(queue, {"id": 5, "functions": "0x06800000"}) == queue  # its own word wins over the card's


@pytest.mark.parametrize("apqn", ["5.4", "05.04", "zz.0004", ""])
def test_a_bad_apqn_is_refused(apqn):
    with pytest.raises(ValueError, match="AA.DDDD"):
        expand_queue({"apqn": apqn, "driver": None}, CARD)
