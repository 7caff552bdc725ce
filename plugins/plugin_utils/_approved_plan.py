# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""An approved evacuation plan (``vfio_ap_maintenance_plan_file``), checked against fresh facts before the drain.

The plan file is an ``evacuation.json`` of an earlier plan-only run, kept with a change record and
handed back days later; it may have been edited, truncated or mixed up with another host's. The
drain follows its order and destinations only after :func:`approved_plan` found nothing wrong:

- its ``hosts`` are the hosts going into maintenance, and every entry's ``source`` is one of them;
- each mdev UUID is listed once; each entry is a well-formed entry (one line per finding, naming
  the entry index and key: ``guests[3].source: ...``);
- the guest's name comes from the facts gathered just now, by UUID: an entry naming another guest
  than the one that uses the mdev is refused (the drain migrates by name);
- an entry whose mdev is on no host going into maintenance any more is kept as ``skipped`` and
  reported;
- at most :data:`MAX_GUESTS` entries (checked first; every check is linear in the plan's size).

Everything the drain uses is rebuilt from the checked entries and the facts: the APQNs, the
printed commands, the summary, the verdict and the destination role's inputs (``destinations``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import is_uuid, parse_apqn
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import gaps_text, host_gaps
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import host_name_problem, migrate_command
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._evacuation import SCHEMA, evacuation_document

# The largest approved plan the drain takes (entries); larger files are refused before any check.
MAX_GUESTS = 10000
# The largest plan file the role reads (bytes; the role checks the size before reading it).
MAX_BYTES = 32 * 1024 * 1024
STATUSES = ("ready", "prepare", "stranded")


def _shown(value: Any) -> str:
    """Return a short printable form of a value for a finding (never more than 80 characters)."""
    text = ascii(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _where(facts_by_host: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, tuple[str, str]]]:
    """Return ({uuid: [hosts with an mdev of that UUID]}, {uuid: (host, guest) where the mdev is in use by a guest})."""
    present: dict[str, list[str]] = {}
    running: dict[str, tuple[str, str]] = {}
    for host in sorted(facts_by_host):
        mdevs = _mdevs(facts_by_host[host])
        for mdev in mdevs if isinstance(mdevs, list) else []:
            if not isinstance(mdev, Mapping) or not isinstance(mdev.get("uuid"), str):
                continue
            uuid = mdev["uuid"].lower()
            present.setdefault(uuid, []).append(host)
            if mdev.get("in_use") and isinstance(mdev.get("guest"), str):
                running.setdefault(uuid, (host, mdev["guest"]))
    return present, running


def _mdevs(facts: Any) -> Any:
    """Return the active mdevs of one host's ``ansible_facts.vfio_ap`` (anything; the callers check)."""
    block = facts.get("driver") if isinstance(facts, Mapping) else None
    return block.get("mdevs") if isinstance(block, Mapping) else None


def _apqns(facts: Any, uuid: str) -> list[str] | None:
    """Return the guest APQNs of mdev ``uuid`` in one host's facts, or None."""
    mdevs = _mdevs(facts)
    for mdev in mdevs if isinstance(mdevs, list) else []:
        if isinstance(mdev, Mapping) and str(mdev.get("uuid", "")).lower() == uuid:
            return list(mdev.get("guest_apqns") or [])
    return None


def _entry(
    i: int,
    raw: Any,
    hosts: list[str],
    play: set[str],
    present: Mapping[str, list[str]],
    running: Mapping[str, tuple[str, str]],
    facts_by_host: Mapping[str, Any],
    problems: list[str],
) -> dict[str, Any] | None:
    """Return the checked entry ``guests[i]`` (None when it has problems, each appended to ``problems``)."""
    at = f"guests[{i}]"
    if not isinstance(raw, Mapping):
        problems.append(f"{at}: expected an entry (a mapping with uuid, guest, source, destination, status), got {_kind(raw)}")
        return None
    before = len(problems)
    uuid = raw.get("uuid")
    if not isinstance(uuid, str) or not is_uuid(uuid, any_case=True):
        problems.append(f"{at}.uuid: expected an mdev UUID, got {_shown(uuid)}")
        uuid = None
    else:
        uuid = uuid.lower()
    source = raw.get("source")
    if not isinstance(source, str) or source not in hosts:
        problems.append(f"{at}.source: {_shown(source)} is not a host going into maintenance ({', '.join(hosts)})")
        source = None
    status = raw.get("status")
    if status not in STATUSES:
        problems.append(f"{at}.status: expected one of {', '.join(STATUSES)}, got {_shown(status)}")
    destination = raw.get("destination")
    if status == "stranded":
        if destination is not None:
            problems.append(f"{at}.destination: a stranded entry has no destination, got {_shown(destination)}")
    elif status in ("ready", "prepare") and (host_name_problem(destination) or destination not in play or destination in hosts):
        problems.append(
            f"{at}.destination: {_shown(destination)} is not a host of the play that stays up (gathered, and not going into maintenance)"
        )
    name = raw.get("guest")
    if name is not None and not isinstance(name, str):
        problems.append(f"{at}.guest: expected the guest's name (a string), got {_kind(name)}")
    apqns = raw.get("apqns") if raw.get("apqns") is not None else []
    if not isinstance(apqns, list) or not all(isinstance(a, str) and _apqn_ok(a) for a in apqns):
        problems.append(f"{at}.apqns: expected a list of APQNs (AA.DDDD), got {_shown(apqns)}")
    for key, kind, what in (("reason", str, "a string"), ("prepare", bool, "a boolean")):
        if raw.get(key) is not None and not isinstance(raw.get(key), kind):
            problems.append(f"{at}.{key}: expected {what}, got {_kind(raw.get(key))}")
    blockers = raw.get("blockers") or []
    if not isinstance(blockers, list) or not all(isinstance(b, str) for b in blockers):
        problems.append(f"{at}.blockers: expected a list of reason codes, got {_shown(blockers)}")
    if len(problems) > before or uuid is None or source is None:
        return None
    # The facts gathered just now decide who the guest is and where it runs.
    on_hosts = [h for h in present.get(uuid, []) if h in hosts]
    where = running.get(uuid)
    if where is not None and where[0] in hosts and where[0] != source:
        problems.append(f"{at}.source: {source}, but mdev {uuid} runs guest {_shown(where[1])} on {where[0]} now")
        return None
    if where is not None and name != where[1]:
        problems.append(f"{at}.guest: the plan names {_shown(name)}, but mdev {uuid} is used by guest {_shown(where[1])} ({where[0]})")
        return None
    entry = {
        "uuid": uuid,
        "guest": where[1] if where is not None else name,
        "source": source,
        "apqns": _apqns(facts_by_host.get(source), uuid) if where is not None and where[0] == source else list(apqns or []),
        "status": status,
        "destination": destination,
        "prepare": status == "prepare",
        "reason": raw.get("reason"),
        "blockers": list(blockers),
        "command": None,
    }
    if not on_hosts:
        runs = f"; it is used by guest {where[1]!r} on {where[0]}" if where is not None else ""
        entry.update(
            status="skipped",
            destination=None,
            prepare=False,
            reason=f"mdev {uuid} is not on {source} (or any host going down) any more{runs}",
        )
    return entry


def _apqn_ok(text: str) -> bool:
    try:
        parse_apqn(text)
    except ValueError:
        return False
    return True


def approved_plan(
    document: Any,
    hosts: Any,
    facts_by_host: Mapping[str, Any],
    prepare: bool = False,
    addresses: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return ``{plan, skipped, problems}`` of an approved plan checked against fresh facts.

    ``hosts``: the hosts going into maintenance; ``facts_by_host``: ``{host: ansible_facts.vfio_ap}``
    of every gathered host of the play (destinations are checked against these); ``addresses``:
    ``{host: migration address}`` for the printed commands. ``problems``: one line per finding
    (the drain must not start when there is one); ``plan``: the evacuation plan to execute (None
    with problems); ``skipped``: the UUIDs of entries whose mdev is on no host going down any more.
    """
    problems: list[str] = []
    names = list(hosts) if isinstance(hosts, list | tuple) else []
    if not isinstance(document, Mapping):
        return {
            "plan": None,
            "skipped": [],
            "problems": [f"the plan file holds {_kind(document)}, not an evacuation plan (evacuation.json)"],
        }
    if document.get("schema") != SCHEMA:
        problems.append(f"schema: expected {SCHEMA} (an evacuation.json of s390x.vfio_ap), got {_shown(document.get('schema'))}")
    planned_hosts = document.get("hosts")
    if not isinstance(planned_hosts, list) or not all(isinstance(h, str) for h in planned_hosts):
        problems.append(f"hosts: expected a list of host names, got {_shown(planned_hosts)}")
    elif sorted(set(planned_hosts)) != sorted(set(names)):
        problems.append(
            f"hosts: the plan is for {', '.join(planned_hosts) or 'no host'}, not for {', '.join(names)} (vfio_ap_maintenance_hosts)"
        )
    guests = document.get("guests")
    if not isinstance(guests, list):
        problems.append(f"guests: expected a list of entries, got {_kind(guests)}")
        return {"plan": None, "skipped": [], "problems": problems}
    if len(guests) > MAX_GUESTS:
        problems.append(f"guests: {len(guests)} entries, more than the {MAX_GUESTS} an approved plan may hold")
        return {"plan": None, "skipped": [], "problems": problems}
    facts_by_host = {h: f for h, f in facts_by_host.items() if isinstance(f, Mapping)}
    present, running = _where(facts_by_host)
    play = set(facts_by_host)
    first: dict[str, int] = {}
    entries = []
    for i, raw in enumerate(guests):
        entry = _entry(i, raw, names, play, present, running, facts_by_host, problems)
        if entry is None:
            continue
        if entry["uuid"] in first:
            problems.append(f"guests[{i}].uuid: {entry['uuid']} is listed again (first at guests[{first[entry['uuid']]}])")
            continue
        first[entry["uuid"]] = i
        entries.append(entry)
    if problems:
        return {"plan": None, "skipped": [], "problems": problems}
    addresses = addresses or {}
    for entry in entries:
        if entry["status"] in ("ready", "prepare") and entry["guest"]:
            try:
                entry["command"] = migrate_command(
                    entry["guest"], entry["destination"], addresses.get(entry["destination"]) or entry["destination"]
                )
            except ValueError as exc:
                entry["reason"] = str(exc)
    unaudited = {
        name: f"{name} is not fully audited: {gaps_text(gaps)}" for name in names if (gaps := host_gaps(facts_by_host.get(name) or {}))
    }
    plan = evacuation_document(names, entries, prepare, unaudited)
    return {"plan": plan, "skipped": [e["uuid"] for e in entries if e["status"] == "skipped"], "problems": []}
