# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11+).
"""A host's AP configuration across a reboot: what must come back, whether it did, and what to repair.

A KVM host rebuilds its AP configuration at boot from what was made persistent, and only from
that (docs/rolling-maintenance.md, "After the reboot"):

- the masks start from the kernel's defaults (all adapters and domains with the host drivers), or
  from ``ap.apmask=`` / ``ap.aqmask=`` on the kernel command line (a mask given there starts from
  all zeros: absolute hex, or ``+N``/``-N`` terms, as ``ap_parse_mask_str`` reads them in
  ``drivers/s390/crypto/ap_bus.c``);
- then udev applies the persistent mask rule ``/etc/udev/rules.d/41-ap.rules`` (what ``chzdev
  --type ap --persistent`` and ``ap_mask`` with ``persistent: true`` keep);
- then mdevctl starts every definition with ``start: auto``, each as the kernel takes the
  assignment (``EADDRNOTAVAIL`` for APQNs the masks give to the host drivers, ``EADDRINUSE`` for
  APQNs an mdev started before it took; the same rules as ``_config_plan.conflicts``), and a
  definition mdevctl cannot read makes the whole start fail;
- the mdevctl definitions and the collection's migration guard are files: they stay.

:func:`snapshot` records, just before a reboot, the host's live configuration, what the boot will
rebuild from the persistent configuration (``boot``) and where the two differ (``findings``: what
would not come back as it is). :func:`verify` compares the host after the reboot with what the
boot should have rebuilt and says what to repair (the masks the persistent rule sets, the mdevs
of auto-start definitions) and what differs. When a configuration cannot be predicted (facts not
complete, another udev rule setting the masks, a command line or rule that does not parse), the
answer is "unknown", never "it comes back".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.module_utils import _config_plan as P
from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import MASK_BITS, compress_ids, mask_to_ids, parse_ids
from ansible_collections.s390x.vfio_ap.plugins.module_utils._udev_rules import RULES_PATH, parse_rules
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._audit_gaps import gaps_text, host_gaps
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._facts_schema import require_facts

SCHEMA = 1
MASKS = ("apmask", "aqmask")
KIND_OF_MASK = {"apmask": "adapters", "aqmask": "domains"}
CMDLINE_PARAMETER = {"apmask": "ap.apmask", "aqmask": "ap.aqmask"}
KINDS = P.KINDS  # adapters, domains, control_domains

# What would not come back as it is (snapshot findings) and what differs after the reboot (verify).
FINDINGS = {
    "not_audited": "the host's facts are not complete: what comes back cannot be known",
    "masks_unknown": "the masks the boot sets cannot be known",
    "masks_not_persistent": "the live masks are not the ones the boot sets",
    "definitions_unreadable": "an mdevctl definition cannot be read: mdevctl starts none at boot",
    "mdev_not_defined": "an active mdev without an mdevctl definition does not come back",
    "mdev_manual": "an active mdev whose definition is start: manual is not started at boot",
    "mdev_fails": "an auto-start definition the kernel would refuse at boot",
    "mdev_drift": "an active mdev that differs from its definition comes back as the definition says",
    "starts_at_boot": "an auto-start definition that is not active now starts at boot",
}
DIFFERENCES = {
    "bus_missing": "no AP bus after the reboot",
    "vfio_ap_not_loaded": "vfio_ap is not loaded after the reboot",
    "not_audited": "the host's facts after the reboot are not complete",
    "masks_unknown": "the masks the boot should have set are not known",
    "masks": "the masks are not the ones the persistent configuration sets",
    "mdev_missing": "an auto-start definition's mdev is not active",
    "mdev_differs": "an auto-start definition's mdev is active with another configuration",
    "mdev_unexpected": "an mdev is active that the boot was not expected to start",
    "definitions_changed": "the mdevctl definitions are not those before the reboot",
    "guard_changed": "the migration guard is not the one before the reboot",
}
# Differences that never make a host "verified" (the others are repaired first, then checked again).
_NOTES = {"mdev_unexpected"}


def _ids_text(ids: Iterable[int]) -> str:
    return compress_ids(sorted(ids)) or "none"


def _mask(value: Any, what: str) -> list[int] | None:
    """Return the IDs set in a mask text of the facts, None when it is unknown (null)."""
    if value is None:
        return None
    return parse_ids(value, what, allow_mask=True)


def cmdline_mask(cmdline: str | None, name: str) -> tuple[list[int] | None, str]:
    """Return (the IDs set in the boot mask ``name`` from the kernel command line, or None when it cannot be read; where from).

    No ``ap.apmask=`` / ``ap.aqmask=`` parameter: every ID (the kernel's default). A parameter
    starts from all zeros: absolute hex (``0x`` optional, padded on the right) or comma-separated
    ``+N``, ``-N``, ``+N-M`` terms. The last parameter of that name counts, as for the kernel.
    """
    value = None
    for word in (cmdline or "").split():
        key, eq, text = word.partition("=")
        if key == CMDLINE_PARAMETER[name] and eq:
            value = text
    if value is None:
        return list(range(MASK_BITS)), "kernel default"
    where = f"{CMDLINE_PARAMETER[name]}={value} on the kernel command line"
    try:
        if value and value[0] in "+-":
            bits: set[int] = set()
            for term in filter(None, value.replace("\n", ",").split(",")):
                sign, ids = term[0], parse_ids(term[1:], CMDLINE_PARAMETER[name])
                if sign not in "+-" or not term[1:]:
                    return None, where
                bits = bits | set(ids) if sign == "+" else bits - set(ids)
            return sorted(bits), where
        return mask_to_ids(value if value.lower().startswith("0x") else "0x" + value), where
    except ValueError:
        return None, where


def boot_masks(rules_text: str | None, cmdline: str | None) -> dict[str, Any]:
    """Return ``{apmask, aqmask, from}``: the IDs each boot mask has once udev applied the persistent rule (None: unknown)."""
    try:
        ruled = parse_rules(rules_text) if rules_text is not None else {"apmask": None, "aqmask": None}
    except ValueError as exc:
        return {"apmask": None, "aqmask": None, "from": dict.fromkeys(MASKS, f"/{RULES_PATH}: {exc}")}
    out: dict[str, Any] = {"from": {}}
    for name in MASKS:
        rule = ruled[name]
        if rule is not None:
            out[name], out["from"][name] = sorted(rule), f"/{RULES_PATH}"
        else:
            out[name], out["from"][name] = cmdline_mask(cmdline, name)
    return out


def _config(item: Mapping[str, Any]) -> dict[str, list[int]] | None:
    """Return {adapters, domains, control_domains} of an mdev or definition record, None when one is unknown."""
    if any(not isinstance(item.get(k), list) for k in KINDS):
        return None
    return {k: sorted(item[k]) for k in KINDS}


def _boot_mdevs(definitions: Mapping[str, Mapping[str, Any]], masks: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[dict, dict]:
    """Return ({uuid: config} the boot starts, {uuid: why not} auto definitions it cannot start), in mdevctl's (name) order."""
    started: dict[str, dict[str, list[int]]] = {}
    fails: dict[str, str] = {}
    boot_state = {**state, "apmask": masks["apmask"], "aqmask": masks["aqmask"], "mdevs": {}}
    for uuid in sorted(definitions):
        definition = definitions[uuid]
        if definition.get("start") != "auto":
            continue
        config = _config(definition)
        if config is None:
            fails[uuid] = "the definition cannot be read"
            continue
        found = P.conflicts(boot_state, uuid, config)
        if found:
            fails[uuid] = "; ".join(c["message"] for c in found)
            continue
        started[uuid] = config
        boot_state["mdevs"][uuid] = {**config, "in_use": False, "guest": None}
    return started, fails


def _finding(code: str, detail: str, blocking: bool, uuid: str | None = None, mask: str | None = None) -> dict[str, Any]:
    return {"code": code, "uuid": uuid, "mask": mask, "detail": detail, "blocking": blocking}


def _mask_change(name: str, live: list[int], boot: list[int]) -> str:
    kind = KIND_OF_MASK[name]
    lost, gained = sorted(set(boot) - set(live)), sorted(set(live) - set(boot))
    parts = []
    if lost:
        parts.append(f"{kind} {_ids_text(lost)} reserved for vfio_ap now go back to the host drivers")
    if gained:
        parts.append(f"{kind} {_ids_text(gained)} of the host drivers now become reserved for vfio_ap")
    return "; ".join(parts)


def _drift(who: str, live: Mapping[str, Any], defined: Mapping[str, list[int]], in_use: bool) -> str:
    """Return what an mdev that differs from its auto-start definition comes back as."""
    if not in_use and not any(defined[k] for k in KINDS):
        return f"{who} comes back empty, as its definition says (an idle landing mdev: a migration gives it its guest's configuration)"
    differs = ", ".join(f"{k} {_ids_text(live[k] or [])} now, {_ids_text(defined[k])} defined" for k in KINDS if live[k] != defined[k])
    return f"{who} comes back as its definition says ({differs})"


def snapshot(
    facts: Any,
    rules_text: str | None = None,
    cmdline: str | None = None,
    other_rules: Iterable[str] = (),
    needed: Iterable[str] = (),
    host: str = "host",
) -> dict[str, Any]:
    """Return the host's AP configuration before a reboot, what the boot rebuilds of it, and what would not come back.

    ``facts``: the host's ``ansible_facts.vfio_ap`` gathered just before the reboot; ``rules_text``:
    ``/etc/udev/rules.d/41-ap.rules`` (None when there is none); ``cmdline``: ``/proc/cmdline``
    (None: no AP parameters); ``other_rules``: other udev rules files that set AP masks (the boot
    masks are then unknown); ``needed``: UUIDs whose mdev must come back here (guests that run here
    now always count). Result ``{schema, host, live, boot, findings, blocking}``: ``live`` and
    ``boot`` are ``{masks: {apmask, aqmask}, mdevs: {uuid: config}}`` (``boot.masks`` values None
    when unknown), ``live`` also ``definitions``, ``guard``, ``running`` ({uuid: guest}); each
    finding ``{code, uuid, mask, detail, blocking}`` (codes in :data:`FINDINGS`); ``blocking``: the
    findings that change a reservation or an mdev a guest needs (the host would not come back as it is).
    """
    facts = require_facts(facts, host)
    bus, driver = facts["bus"], facts["driver"]
    findings: list[dict[str, Any]] = []
    gaps = host_gaps(facts)
    if gaps:
        findings.append(_finding("not_audited", f"{host} is not fully audited: {gaps_text(gaps)}", True))
    live_masks = {name: _mask(bus.get(name), f"bus.{name}") for name in MASKS}
    mdevs: dict[str, dict[str, Any]] = {}
    running: dict[str, str] = {}
    for mdev in driver["mdevs"]:
        config = _config(mdev)
        mdevs[mdev["uuid"]] = config if config is not None else dict.fromkeys(KINDS)
        if mdev.get("in_use") and mdev.get("guest"):
            running[mdev["uuid"]] = str(mdev["guest"])
    definitions: dict[str, dict[str, Any]] = {}
    for definition in driver["definitions"]:
        uuid = str(definition["uuid"]).lower()
        definitions[uuid] = {"start": definition.get("start"), **(_config(definition) or dict.fromkeys(KINDS))}
    guard = guard_entries(driver)
    must = set(needed) | set(running)
    boot = boot_masks(rules_text, cmdline)
    others = sorted(other_rules)
    if others:
        boot = {"apmask": None, "aqmask": None, "from": {m: "other udev rules: " + ", ".join(others) for m in MASKS}}
    for name in MASKS:
        live_mask, boot_mask = live_masks[name], boot[name]
        if boot_mask is None:
            findings.append(_finding("masks_unknown", f"the boot {name} cannot be known ({boot['from'][name]})", True, mask=name))
        elif live_mask is None:
            findings.append(_finding("masks_unknown", f"the live {name} could not be read", True, mask=name))
        elif set(live_mask) != set(boot_mask):
            detail = f"{_mask_change(name, live_mask, boot_mask)} at the next boot ({name} from {boot['from'][name]})"
            findings.append(_finding("masks_not_persistent", detail, True, mask=name))
    unreadable = sorted(u for u, d in definitions.items() if d["adapters"] is None or d.get("start") not in ("auto", "manual"))
    if unreadable:
        findings.append(
            _finding(
                "definitions_unreadable", f"mdevctl cannot read the definition of {', '.join(unreadable)}: it starts no mdev at boot", True
            )
        )
    known_masks = all(boot[m] is not None for m in MASKS)
    started: dict[str, dict[str, list[int]]] = {}
    fails: dict[str, str] = {}
    if known_masks and not unreadable:
        started, fails = _boot_mdevs(definitions, boot, P.state_from_facts(facts))
    for uuid in sorted(mdevs):
        who = f"mdev {uuid}" + (f" (guest {running[uuid]})" if uuid in running else "")
        definition = definitions.get(uuid)
        blocking = uuid in must
        if definition is None:
            findings.append(_finding("mdev_not_defined", f"{who} has no mdevctl definition: it does not come back", blocking, uuid))
        elif definition.get("start") == "manual":
            findings.append(_finding("mdev_manual", f"{who} is defined with start: manual: it is not started at boot", blocking, uuid))
        elif uuid in fails:
            findings.append(_finding("mdev_fails", f"{who} would not start at boot: {fails[uuid]}", True, uuid))
        elif uuid in started and mdevs[uuid] != started[uuid]:
            findings.append(_finding("mdev_drift", _drift(who, mdevs[uuid], started[uuid], uuid in running), blocking, uuid))
    for uuid in sorted(set(fails) - set(mdevs)):
        findings.append(_finding("mdev_fails", f"auto-start definition {uuid} would not start at boot: {fails[uuid]}", uuid in must, uuid))
    for uuid in sorted(set(started) - set(mdevs)):
        findings.append(_finding("starts_at_boot", f"auto-start definition {uuid} is not active now and starts at boot", False, uuid))
    return {
        "schema": SCHEMA,
        "host": host,
        "live": {"masks": live_masks, "mdevs": mdevs, "definitions": definitions, "guard": guard, "running": running},
        "boot": {"masks": {m: boot[m] for m in MASKS}, "from": boot["from"], "mdevs": started, "fails": fails},
        "findings": findings,
        "blocking": [f for f in findings if f["blocking"]],
    }


def guard_entries(driver: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``{uuid: {migratable, reason}}`` of the migration guard in a host's ``driver`` facts."""
    guard = driver.get("migration_guard") or {}
    return {str(u): {"migratable": e.get("migratable"), "reason": e.get("reason")} for u, e in guard.items() if isinstance(e, Mapping)}


def _check_snapshot(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or value.get("schema") != SCHEMA or not isinstance(value.get("boot"), Mapping):
        raise ValueError("snapshot: expected the result of a snapshot taken before the reboot (schema 1)")
    return value


def _difference(code: str, detail: str, uuid: str | None = None, mask: str | None = None) -> dict[str, Any]:
    return {"code": code, "uuid": uuid, "mask": mask, "detail": detail}


def verify(before: Any, facts: Any, host: str = "host") -> dict[str, Any]:
    """Return how the host came back from its reboot, compared with what its persistent configuration rebuilds.

    ``before``: :func:`snapshot` of the host taken just before the reboot; ``facts``: its AP facts
    gathered after it. Result ``{verified, differences, notes, repairs, lost}``: ``differences``
    ``[{code, uuid, mask, detail}]`` (codes in :data:`DIFFERENCES`; ``mdev_unexpected`` goes to
    ``notes``), ``repairs`` what brings the persistent configuration back:
    ``{ap_mask: [{adapters|domains, state}], mdev: [{uuid, adapters, domains, control_domains}]}``
    (live changes only: the persistent configuration is right, the boot did not apply it);
    ``lost``: the findings of the snapshot (what was expected not to come back as it was);
    ``verified``: no difference (unknown is never verified).
    """
    before = _check_snapshot(before)
    facts = require_facts(facts, host)
    bus, driver = facts["bus"], facts["driver"]
    differences: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    repairs: dict[str, list[dict[str, Any]]] = {"ap_mask": [], "mdev": []}
    gaps = host_gaps(facts)
    if not bus.get("present"):
        differences.append(_difference("bus_missing", f"{host} has no AP bus after the reboot"))
    elif not driver.get("loaded"):
        differences.append(_difference("vfio_ap_not_loaded", f"vfio_ap is not loaded on {host} after the reboot"))
    if gaps:
        differences.append(_difference("not_audited", f"{host} is not fully audited: {gaps_text(gaps)}"))
    boot = before["boot"]
    for name in MASKS:
        want = boot["masks"].get(name)
        got = _mask(bus.get(name), f"bus.{name}")
        if want is None or got is None:
            differences.append(_difference("masks_unknown", f"the {name} the boot should have set is not known", mask=name))
            continue
        if set(want) != set(got):
            kind = KIND_OF_MASK[name]
            differences.append(
                _difference("masks", f"{name}: {_mask_change(name, want, got)} (expected from {boot['from'][name]})", mask=name)
            )
            reserve, release = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            if reserve:
                repairs["ap_mask"].append({kind: reserve, "state": "reserved"})
            if release:
                repairs["ap_mask"].append({kind: release, "state": "released"})
    active = {m["uuid"]: _config(m) for m in driver["mdevs"]}
    for uuid, config in sorted(boot["mdevs"].items()):
        if uuid not in active:
            differences.append(_difference("mdev_missing", f"mdev {uuid} (auto-start definition) is not active", uuid))
            repairs["mdev"].append({"uuid": uuid, **config})
        elif active[uuid] != config:
            differences.append(_difference("mdev_differs", f"mdev {uuid} is active with another configuration than its definition", uuid))
            repairs["mdev"].append({"uuid": uuid, **config})
    for uuid in sorted(set(active) - set(boot["mdevs"])):
        notes.append(_difference("mdev_unexpected", f"mdev {uuid} is active; the boot was not expected to start it", uuid))
    definitions = {str(d["uuid"]).lower(): {"start": d.get("start"), **(_config(d) or dict.fromkeys(KINDS))} for d in driver["definitions"]}
    if definitions != before["live"]["definitions"]:
        changed = sorted(
            u for u in set(definitions) | set(before["live"]["definitions"]) if definitions.get(u) != before["live"]["definitions"].get(u)
        )
        differences.append(_difference("definitions_changed", f"mdevctl definitions changed across the reboot: {', '.join(changed)}"))
    guard = guard_entries(driver)
    if guard != before["live"]["guard"]:
        changed = sorted(u for u in set(guard) | set(before["live"]["guard"]) if guard.get(u) != before["live"]["guard"].get(u))
        differences.append(_difference("guard_changed", f"the migration guard changed across the reboot: {', '.join(changed)}"))
    if any(d["code"] in ("masks_unknown", "bus_missing", "vfio_ap_not_loaded", "not_audited") for d in differences):
        repairs = {"ap_mask": [], "mdev": []}  # nothing is written to a host whose state is not known
    return {
        "verified": not differences,
        "differences": differences,
        "notes": notes,
        "repairs": repairs,
        "lost": list(before.get("findings") or []),
    }


def settled(before: Any, facts: Any) -> bool:
    """Return whether a host is up as its boot should leave it: AP bus with every queue bound, vfio_ap loaded,
    and every mdev the boot is expected to start active (for waiting after a reboot; :func:`verify` judges)."""
    try:
        before = _check_snapshot(before)
        facts = require_facts(facts, "host")
    except ValueError:
        return False
    bus, driver = facts["bus"], facts["driver"]
    if not bus.get("present") or not (bus.get("bindings") or {}).get("complete") or not driver.get("loaded"):
        return False
    active = {m["uuid"] for m in driver["mdevs"]}
    return set(before["boot"]["mdevs"]) <= active
