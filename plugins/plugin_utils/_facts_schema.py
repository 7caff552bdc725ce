# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The shape of ``ansible_facts.vfio_ap`` as the readiness filters read it, checked at the door.

Facts reach the filters from hostvars, fact caches and hand-made test data; a wrong type must give
one message naming the host, the key and the expected type, never a Python error from deep inside
the rules. ``require_facts`` checks everything the rules read except the per-queue fields, which
``require_queue`` checks for the queues a guest uses (a big LPAR has 21,760 queues; the plan needs a
few of them).
Facts of schema 1 (full queue records) and schema 2 (compact ones) are both read; a schema this
collection does not know is refused with one message.
"""

from __future__ import annotations

# The fast paths compare exact types on purpose: type(x) is int excludes bool (isinstance does not), and
# a subclass of a JSON type is not a plain record; what fails them is checked key by key with isinstance.
# pylint: disable=unidiomatic-typecheck

import operator
from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import UUID_RE as _UUID
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import format_apqn, parse_apqn

MIGRATION_LEVELS = ("none", "attribute", "kernel")
SCHEMAS = (1, 2)  # the facts schemas these rules read (docs/facts.md)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", str: "str", list: "list", dict: "dict", float: "float"}.get(type(value), type(value).__name__)


def _fail(what: str, path: str, expected: str, value: Any) -> ValueError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ValueError(f"{what}: {path}: expected {expected}, got {_kind(value)} {shown}")


def _ids(value: Any, what: str, path: str, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if type(value) is list and _small_ints(value):
        return
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        raise _fail(what, path, "a list of AP IDs (integers 0-255)" + (" or null" if nullable else ""), value)


def _small_ints(values: list) -> bool:
    """Return True when every value is a plain int 0-255 (the common case, checked at C speed; False: look closer)."""
    return not values or (set(map(type, values)) == {int} and min(values) >= 0 and max(values) <= 255)


# APQN texts known to be canonical: facts repeat the same few thousand on every host (bounded, so
# that hostile facts cannot grow it without end)
_CANONICAL: set[str] = set()
_CANONICAL_MAX = 1 << 17


def _is_apqn(value: Any) -> bool:
    """Return True for an APQN in the facts' form ('05.0004': the collection's parser, canonical text)."""
    if not isinstance(value, str):
        return False
    if value in _CANONICAL:
        return True
    try:
        canonical = format_apqn(*parse_apqn(value)) == value
    except ValueError:
        return False
    if canonical and len(_CANONICAL) < _CANONICAL_MAX:
        _CANONICAL.add(value)
    return canonical


def _known_apqns(values: list) -> bool:
    """Return True when every value is an APQN text known to be canonical (False: look closer, also for unhashable values)."""
    try:
        return _CANONICAL.issuperset(values)
    except TypeError:
        return False


def _apqns(value: Any, what: str, path: str, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if type(value) is list and _known_apqns(value):
        return
    if not isinstance(value, list) or not all(_is_apqn(v) for v in value):
        raise _fail(what, path, "a list of APQNs ('05.0004')" + (" or null" if nullable else ""), value)


_APQN_OF = operator.itemgetter("apqn")


def _queue_records(queues: list) -> bool:
    """Return True when every queue is a mapping with an ``apqn`` string (checked at C speed; False: look closer).

    A large fleet's facts hold millions of queue records; the few distinct types are checked, not each record.
    """
    try:
        return all(issubclass(t, Mapping) for t in set(map(type, queues))) and all(
            issubclass(t, str) for t in set(map(type, map(_APQN_OF, queues)))
        )
    except (KeyError, TypeError):  # a record without an apqn, or not a mapping: the slow check names it
        return False


def _typed(container: Mapping, key: str, kinds: tuple, what: str, path: str, expected: str) -> Any:
    value = container.get(key)
    if type(value) in kinds:  # the common case: plain JSON types
        return value
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _fail(what, path, expected, value)
    return value


_OPT_BOOL = (bool, type(None))
_OPT_INT = (int, type(None))
_OPT_STR = (str, type(None))


def require_facts(facts: Any, what: str) -> Mapping:
    """Return ``facts`` when it has the shape of ansible_facts.vfio_ap (schema 1 or 2); ValueError naming host, key and type."""
    if not isinstance(facts, Mapping):
        raise _fail(what, "facts", "the ansible_facts.vfio_ap dict", facts)
    schema = facts.get("schema")
    if schema is not None and (isinstance(schema, bool) or not isinstance(schema, int) or schema not in SCHEMAS):
        raise ValueError(
            f"{what}: schema: facts of schema {schema!r} were gathered by another version of s390x.vfio_ap; "
            f"this one reads schema {' and '.join(map(str, SCHEMAS))}: gather the facts again with this version"
        )
    if "driver" not in facts and isinstance(facts.get("vfio_ap"), Mapping) and schema in (None, 1):
        facts = {**facts, "driver": facts["vfio_ap"]}  # schema 1 called the driver block "vfio_ap"
    for key in ("bus", "driver"):
        _typed(facts, key, (Mapping,), what, key, "a dict")
    for key in ("cards", "queues"):
        _typed(facts, key, (list,), what, key, "a list")
    bus = facts["bus"]
    _ids(bus.get("host_control_domains"), what, "bus.host_control_domains", nullable=True)
    for i, card in enumerate(facts["cards"]):
        if _plain_card(card):
            continue
        path = f"cards[{i}]"
        if not isinstance(card, Mapping):
            raise _fail(what, path, "a dict", card)
        _typed(card, "id", (int,), what, path + ".id", "an adapter ID (integer)")
        for key in ("hwtype", "raw_hwtype"):
            _typed(card, key, _OPT_INT, what, f"{path}.{key}", "an integer or null")
        _typed(card, "functions", _OPT_STR, what, path + ".functions", "the ap_functions text ('0x...') or null")
        _capabilities(card.get("capabilities"), what, path + ".capabilities")
        for key in ("online", "config", "chkstop"):
            _typed(card, key, _OPT_BOOL, what, f"{path}.{key}", "true, false or null")
    if not _queue_records(facts["queues"]):
        for i, queue in enumerate(facts["queues"]):
            if not isinstance(queue, Mapping) or not isinstance(queue.get("apqn"), str):
                raise _fail(what, f"queues[{i}]", "a dict with an 'apqn'", queue)
    vfio = facts["driver"]
    _typed(vfio, "loaded", (bool,), what, "driver.loaded", "true or false")
    _typed(vfio, "features", (list,), what, "driver.features", "a list")
    level = _typed(vfio, "migration", (str,), what, "driver.migration", "one of " + ", ".join(MIGRATION_LEVELS))
    if level not in MIGRATION_LEVELS:
        raise _fail(what, "driver.migration", "one of " + ", ".join(MIGRATION_LEVELS), level)
    _typed(vfio, "mdevs", (list,), what, "driver.mdevs", "a list")
    _typed(vfio, "definitions", (list,), what, "driver.definitions", "a list")
    guard = vfio.get("migration_guard")
    if guard is not None and not isinstance(guard, Mapping):
        raise _fail(what, "driver.migration_guard", "a dict {uuid: {migratable, reason}} or null", guard)
    for i, mdev in enumerate(vfio["mdevs"]):
        if _plain_mdev(mdev):
            continue
        path = f"driver.mdevs[{i}]"
        if not isinstance(mdev, Mapping):
            raise _fail(what, path, "a dict", mdev)
        uuid = _typed(mdev, "uuid", (str,), what, path + ".uuid", "an mdev UUID")
        if not _UUID.match(uuid):
            raise _fail(what, path + ".uuid", "a lowercase mdev UUID", uuid)
        for key in ("adapters", "domains", "control_domains"):  # null: the attribute could not be read
            _ids(mdev.get(key), what, f"{path}.{key}", nullable=True)
        _apqns(mdev.get("apqns"), what, path + ".apqns", nullable=True)
        _apqns(mdev.get("guest_apqns"), what, path + ".guest_apqns", nullable=True)
        for key in ("in_use", "defined"):
            _typed(mdev, key, _OPT_BOOL, what, f"{path}.{key}", "true or false")
        _typed(mdev, "migratable", _OPT_BOOL, what, path + ".migratable", "true, false or null")
        _typed(mdev, "guest", _OPT_STR, what, path + ".guest", "a libvirt domain name or null")
    for i, definition in enumerate(vfio["definitions"]):
        if _plain_definition(definition):
            continue
        path = f"driver.definitions[{i}]"
        if not isinstance(definition, Mapping):
            raise _fail(what, path, "a dict", definition)
        _typed(definition, "uuid", (str,), what, path + ".uuid", "an mdev UUID")
        _typed(definition, "start", _OPT_STR, what, path + ".start", "auto, manual or null")
        _typed(definition, "active", _OPT_BOOL, what, path + ".active", "true or false")
        for key in ("adapters", "domains", "control_domains"):  # null: the definition did not parse
            _ids(definition.get(key), what, f"{path}.{key}", nullable=True)
    host = facts.get("host")
    if host is not None and not isinstance(host, Mapping):
        raise _fail(what, "host", "a dict (machine identity) or null", host)
    _require_unread(facts, what)
    return facts


# The common case of the records above, checked in one expression each: a record of plain JSON types that
# passes needs no closer look; one that does not is checked key by key (and the first bad key named).
_NULL = type(None)
_BOOL_OR_NULL = frozenset((bool, _NULL))
_INT_OR_NULL = frozenset((int, _NULL))
_STR_OR_NULL = frozenset((str, _NULL))


def _id_list(value: Any) -> bool:
    return value is None or (type(value) is list and _small_ints(value))


def _apqn_list(value: Any) -> bool:
    return value is None or (type(value) is list and _known_apqns(value))


def _plain_card(card: Any) -> bool:
    if type(card) is not dict:
        return False
    get = card.get
    caps = get("capabilities")
    return (
        type(get("id")) is int
        and type(get("hwtype")) in _INT_OR_NULL
        and type(get("raw_hwtype")) in _INT_OR_NULL
        and type(get("functions")) in _STR_OR_NULL
        and (
            caps is None
            or (
                type(caps) is dict
                and type(caps.get("mode")) in _STR_OR_NULL
                and type(caps.get("bs")) in _INT_OR_NULL
                and type(caps.get("hwtype")) in _INT_OR_NULL
            )
        )  # fmt: skip
        and type(get("online")) in _BOOL_OR_NULL
        and type(get("config")) in _BOOL_OR_NULL
        and type(get("chkstop")) in _BOOL_OR_NULL
    )


def _plain_mdev(mdev: Any) -> bool:
    if type(mdev) is not dict:
        return False
    get = mdev.get
    uuid = get("uuid")
    return (
        type(uuid) is str
        and _UUID.match(uuid) is not None
        and _id_list(get("adapters"))
        and _id_list(get("domains"))
        and _id_list(get("control_domains"))
        and _apqn_list(get("apqns"))
        and _apqn_list(get("guest_apqns"))
        and type(get("in_use")) in _BOOL_OR_NULL
        and type(get("defined")) in _BOOL_OR_NULL
        and type(get("migratable")) in _BOOL_OR_NULL
        and type(get("guest")) in _STR_OR_NULL
    )


def _plain_definition(definition: Any) -> bool:
    if type(definition) is not dict:
        return False
    get = definition.get
    return (
        type(get("uuid")) is str
        and type(get("start")) in _STR_OR_NULL
        and type(get("active")) in _BOOL_OR_NULL
        and _id_list(get("adapters"))
        and _id_list(get("domains"))
        and _id_list(get("control_domains"))
    )


def _require_unread(facts: Mapping, what: str) -> None:
    """Raise ValueError naming the key unless ``complete``, ``unread`` and ``unread_count`` (when there) have their types."""
    _typed(facts, "complete", _OPT_BOOL, what, "complete", "true, false or null")
    _typed(facts, "unread_count", _OPT_INT, what, "unread_count", "an integer or null")
    unread = facts.get("unread")
    if unread is None:
        return
    if not isinstance(unread, list):
        raise _fail(what, "unread", "a list of {what, path, errno, error} or null", unread)
    for i, record in enumerate(unread):
        path = f"unread[{i}]"
        if not isinstance(record, Mapping):
            raise _fail(what, path, "a dict {what, path, errno, error}", record)
        _typed(record, "what", (str,), what, path + ".what", "the kind of what could not be read")
        for key in ("path", "errno", "error"):
            _typed(record, key, _OPT_STR, what, f"{path}.{key}", "text or null")


def _capabilities(caps: Any, what: str, path: str) -> None:
    """Raise ValueError naming ``path`` unless caps is null or a capabilities dict with typed mode, bs and hwtype."""
    if caps is None:
        return
    if not isinstance(caps, Mapping):
        raise _fail(what, path, "a dict or null", caps)
    _typed(caps, "mode", _OPT_STR, what, path + ".mode", "cca, ep11, accel or null")
    for key in ("bs", "hwtype"):
        _typed(caps, key, _OPT_INT, what, f"{path}.{key}", "an integer or null")


_PLAIN_KEYS = frozenset(("apqn", "driver", "vfio_status"))


def plain_queue(queue: Mapping) -> bool:
    """Return True for a compact queue record holding only its canonical ``apqn``, its ``driver`` (text or
    null) and ``vfio_status``: everything else about the queue is its card's (``require_queue`` accepts it)."""
    if not queue.keys() <= _PLAIN_KEYS:
        return False
    driver = queue.get("driver")
    return (driver is None or type(driver) is str) and _is_apqn(queue["apqn"])


def require_queue(queue: Mapping, what: str) -> Mapping:
    """Return ``queue`` when the fields the rules read have their facts types; ValueError naming the queue and key."""
    path = f"queue {queue['apqn']}"
    if not _is_apqn(queue["apqn"]):
        raise _fail(what, path + ".apqn", "an APQN ('05.0004')", queue["apqn"])
    _typed(queue, "adapter", _OPT_INT, what, path + ".adapter", "an adapter ID (integer)")
    _typed(queue, "driver", _OPT_STR, what, path + ".driver", "a driver name or null")
    _typed(queue, "functions", _OPT_STR, what, path + ".functions", "the ap_functions text ('0x...') or null")
    for key in ("config", "chkstop"):
        _typed(queue, key, _OPT_BOOL, what, f"{path}.{key}", "true, false or null")
    _capabilities(queue.get("capabilities"), what, path + ".capabilities")
    mkvps = queue.get("mkvps")
    if mkvps is not None and not isinstance(mkvps, Mapping):
        raise _fail(what, path + ".mkvps", "a dict or null", mkvps)
    functions = queue.get("functions")
    if functions is not None:
        try:
            int(functions, 16)
        except ValueError:
            raise _fail(what, path + ".functions", "the ap_functions text ('0x...')", functions) from None
    return queue
