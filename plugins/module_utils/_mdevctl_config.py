# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Python 3.6+ (runs on KVM hosts).
"""mdevctl definitions of vfio_ap mdevs: parse and render ``/etc/mdevctl.d/matrix/<uuid>``.

The file is JSON (docs/kernel-interface.md, "Persistence")::

    {"mdev_type": "vfio_ap-passthrough", "start": "auto",
     "attrs": [{"assign_adapter": "5"}, {"assign_domain": "0x47"}, {"assign_control_domain": "71"}]}

mdevctl writes each attr value verbatim to the sysfs attribute of the same name when it starts
the device, in order, so a definition means what the kernel makes of those writes: values are
read as ``kstrtoul(value, 0)`` reads them (``0x`` hex, a leading ``0`` octal, else decimal),
``unassign_*`` removes and ``ap_config`` replaces the whole configuration.
"""

import json
import re
from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.s390x.vfio_ap.plugins.module_utils._ids import MAX_ID, mask_to_ids, parse_ids

MDEV_TYPE = "vfio_ap-passthrough"
PARENT = "matrix"
DEFINITION_DIR = "etc/mdevctl.d/matrix"
STARTS = ("auto", "manual")
_KINDS = ("adapter", "domain", "control_domain")
_KEYS = {"adapter": "adapters", "domain": "domains", "control_domain": "control_domains"}
_OCTAL_RE = re.compile(r"^0[0-7]+$")
_LEADING_ZERO_RE = re.compile(r"^0[0-9]+$")
_ONE_NUMBER_RE = re.compile(r"^(?:0[xX][0-9a-fA-F]+|[0-9]+)$")


def attr_value_to_id(value, what):
    # type: (Any, str) -> int
    """Return the ID the kernel assigns when mdevctl writes value to an assign/unassign attribute.

    Decimal and ``0x`` hex as usual; a leading ``0`` is octal to the kernel (``010`` is 8) and
    ``08``/``09`` are refused, as are lists and ranges (the kernel takes one number per write).
    Raises ValueError naming what.
    """
    if isinstance(value, bool):
        raise ValueError("{0}: {1!r} is not an ID".format(what, value))
    if isinstance(value, int):
        return parse_ids(value, what)[0]
    if not isinstance(value, str):
        raise ValueError("{0}: {1!r} is not an ID".format(what, value))
    body = value.strip()
    if _OCTAL_RE.match(body):
        return parse_ids(int(body, 8), what)[0]
    if _LEADING_ZERO_RE.match(body):
        raise ValueError("{0}: {1!r} has a leading 0, which the kernel reads as an invalid octal number".format(what, value))
    if not _ONE_NUMBER_RE.match(body):
        raise ValueError("{0}: {1!r} is not one decimal or 0x number (the kernel takes one ID per write)".format(what, value))
    return parse_ids(body, what, MAX_ID)[0]


def _json_object(text, what):
    # type: (str, str) -> Dict[str, Any]
    """Return the JSON object of an mdevctl definition's text; ValueError naming what otherwise."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ValueError("{0}: not valid JSON: {1}".format(what, exc)) from None
    if not isinstance(doc, dict):
        raise ValueError("{0}: expected a JSON object".format(what))
    return doc


def parse_definition(text, what="mdevctl definition"):
    # type: (str, str) -> Dict[str, Any]
    """Return {mdev_type, start, adapters, domains, control_domains} of an mdevctl definition's JSON text.

    start is ``auto`` or ``manual``; the ID lists are sorted ints after applying the attrs in
    order. Raises ValueError naming what and the problem (bad JSON, unknown attr, bad value).
    """
    doc = _json_object(text, what)
    start = doc.get("start")
    if start not in STARTS:
        raise ValueError("{0}: start is {1!r}, expected auto or manual".format(what, start))
    mdev_type = doc.get("mdev_type")
    if mdev_type is not None and not isinstance(mdev_type, str):
        raise ValueError("{0}: mdev_type {1!r} is not a string".format(what, mdev_type))
    attrs = doc.get("attrs", [])
    if attrs is None:
        attrs = []
    if not isinstance(attrs, list):
        raise ValueError("{0}: attrs is not a list".format(what))
    current = {kind: set() for kind in _KINDS}  # type: Dict[str, set]
    for index, item in enumerate(attrs):
        where = "{0}: attrs[{1}]".format(what, index)
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError("{0}: expected one {{attribute: value}} object, got {1!r}".format(where, item))
        name, value = list(item.items())[0]
        _apply_attr(current, name, value, where)
    result = {"mdev_type": mdev_type, "start": start}  # type: Dict[str, Any]
    for kind in _KINDS:
        result[_KEYS[kind]] = sorted(current[kind])
    return result


def _apply_attr(current, name, value, where):
    # type: (Dict[str, set], str, Any, str) -> None
    if name == "ap_config":
        if not isinstance(value, str):
            raise ValueError("{0}: ap_config value {1!r} is not text".format(where, value))
        fields = value.strip().split(",")
        if len(fields) != 3:
            raise ValueError("{0}: ap_config {1!r} is not three comma-separated masks".format(where, value))
        for kind, field in zip(_KINDS, fields):
            try:
                current[kind] = set(mask_to_ids(field))
            except ValueError as exc:
                raise ValueError("{0}: ap_config: {1}".format(where, exc)) from None
        return
    for verb in ("assign", "unassign"):
        for kind in _KINDS:
            if name == "{0}_{1}".format(verb, kind):
                ident = attr_value_to_id(value, "{0}: {1}".format(where, name))
                if verb == "assign":
                    current[kind].add(ident)
                else:
                    current[kind].discard(ident)
                return
    raise ValueError("{0}: unknown vfio_ap attribute {1!r}".format(where, name))


def render_definition(start, adapters, domains, control_domains, mdev_type=MDEV_TYPE):
    # type: (str, Iterable[int], Iterable[int], Iterable[int], str) -> str
    """Return the text of an mdevctl definition file for a vfio_ap mdev.

    attrs are written as mdevctl and ap-check write them: adapters, then domains, then control
    domains, each ascending with decimal values (never a leading zero). Raises ValueError for a
    start other than auto/manual or an ID outside 0..255.
    """
    if start not in STARTS:
        raise ValueError("start {0!r} is not auto or manual".format(start))
    attrs = []  # type: List[Dict[str, str]]
    for kind, ids in zip(_KINDS, (adapters, domains, control_domains)):
        for ident in parse_ids(list(ids), _KEYS[kind]):
            attrs.append({"assign_" + kind: str(ident)})
    doc = {"mdev_type": mdev_type, "start": start, "attrs": attrs}
    return json.dumps(doc, indent=2) + "\n"


def definition_path(uuid):
    # type: (str) -> str
    """Return the definition file's path relative to the sysroot (``etc/mdevctl.d/matrix/<uuid>``)."""
    return "{0}/{1}".format(DEFINITION_DIR, uuid)


def same_configuration(definition, adapters, domains, control_domains):
    # type: (Optional[Dict[str, Any]], Iterable[int], Iterable[int], Iterable[int]) -> bool
    """Return True when a parsed definition assigns exactly these adapters, domains and control domains."""
    if not definition:
        return False
    return (
        list(definition.get("adapters") or []) == sorted(set(adapters))
        and list(definition.get("domains") or []) == sorted(set(domains))
        and list(definition.get("control_domains") or []) == sorted(set(control_domains))
    )


def _strtol0(text):
    # type: (str) -> Optional[int]
    """Return what C strtol(text, NULL, 0) yields for text (leading number only), or None without digits."""
    body = text.strip()
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body[:2].lower() == "0x" and re.match(r"^[0-9a-fA-F]", body[2:3]):
        match = re.match(r"^[0-9a-fA-F]+", body[2:])
        return sign * int(match.group(0), 16) if match else None
    if body[:1] == "0":
        match = re.match(r"^[0-7]+", body)
        return sign * int(match.group(0), 8) if match else 0
    match = re.match(r"^[0-9]+", body)
    return sign * int(match.group(0), 10) if match else None


def apcheck_definition(text, what="mdevctl definition"):
    # type: (str, str) -> Dict[str, Any]
    """Return {start, adapters, domains, control_domains} of a definition as s390-tools ap-check reads it.

    ap-check's view differs from the kernel's (parse_definition): it takes only ``assign_*``
    attributes (``unassign_*`` are ignored, so an ID assigned then unassigned still counts), reads
    each value with base-0 strtol and accepts comma-separated lists (``"2,0x3"``); ``ap_config``
    replaces the configuration as for the kernel. Raises ValueError naming what for a definition
    that is not a JSON object with attrs.
    """
    doc = _json_object(text, what)
    current = {kind: set() for kind in _KINDS}  # type: Dict[str, set]
    for item in doc.get("attrs") or []:
        if not isinstance(item, dict):
            continue
        for name, value in item.items():
            if name == "ap_config":
                _apply_attr(current, name, value, what)
                continue
            for kind in _KINDS:
                if name == "assign_" + kind:
                    for part in str(value).split(","):
                        ident = _strtol0(part)
                        if ident is not None and 0 <= ident <= MAX_ID:
                            current[kind].add(ident)
    result = {"start": doc.get("start")}  # type: Dict[str, Any]
    for kind in _KINDS:
        result[_KEYS[kind]] = sorted(current[kind])
    return result
