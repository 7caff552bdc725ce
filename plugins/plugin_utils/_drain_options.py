# Copyright (c) 2026, s390x.vfio_ap developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to the collection: may change without notice. Controller only (Python 3.11).
"""The options of a drain that its controller decisions read, checked once, as one frozen object.

The ``maintenance`` role passes its inputs (``vfio_ap_maintenance_*``) to the drain's action
plugin; :meth:`DrainOptions.of` checks them, so that the wave ordering, the just-in-time decision
and the outcome reading each take one argument instead of a row of loose values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import MigrateCommand
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._options import RULES, require_bool, require_choice, require_count

FAILURE_POLICIES = ("stop", "continue")
COMMAND_PARTS = ("command", "options", "timeout", "uri")


@dataclass(frozen=True)
class DrainOptions:
    """How a drain may act.

    ``rules``: the compatibility rules; ``prepare``: a destination may be prepared with the
    ``destination`` role; ``per_source``/``per_destination``: migrations at once from one source
    and to one destination; ``enable``: migration disabled for a guest may be enabled first;
    ``keep_prepared``: a destination prepared for a guest that did not move is left as it is;
    ``on_failure``: ``stop`` or ``continue`` after a guest failed; ``command``: how a guest migrates.
    """

    rules: str = "auto"
    prepare: bool = False
    per_source: int = 1
    per_destination: int = 1
    enable: bool = False
    keep_prepared: bool = False
    on_failure: str = "stop"
    command: MigrateCommand = field(default_factory=MigrateCommand)

    @classmethod
    def of(
        cls,
        rules: Any = "auto",
        prepare: Any = False,
        per_source: Any = 1,
        per_destination: Any = 1,
        enable: Any = False,
        keep_prepared: Any = False,
        on_failure: Any = "stop",
        command: Any = None,
        names: Mapping[str, str] | None = None,
    ) -> DrainOptions:
        """Return checked options; ValueError naming the first option that is wrong.

        ``command``: a MigrateCommand, or ``{command, options, timeout, uri}`` (a key missing or null: the default).
        ``names``: how a message names each option (``{rules, ..., command.uri}``; default the option's own name),
        for example the role variable a user set.
        """

        def name(key: str) -> str:
            return (names or {}).get(key, key)

        if command is None:
            command = MigrateCommand()
        elif isinstance(command, Mapping):
            unknown = sorted(set(command) - set(COMMAND_PARTS))
            if unknown:
                raise ValueError(f"{name('command')}: unknown keys {', '.join(unknown)} (expected {', '.join(COMMAND_PARTS)})")
            default = MigrateCommand()
            given = {part: getattr(default, part) if command.get(part) is None else command[part] for part in COMMAND_PARTS}
            command = MigrateCommand.of(**given, names={part: name(f"command.{part}") for part in COMMAND_PARTS})
        elif not isinstance(command, MigrateCommand):
            raise ValueError(f"{name('command')}: expected {{{', '.join(COMMAND_PARTS)}}}, got {type(command).__name__}")
        return cls(
            rules=require_choice(rules, name("rules"), RULES),
            prepare=require_bool(prepare, name("prepare")),
            per_source=require_count(per_source, name("per_source"), 1),
            per_destination=require_count(per_destination, name("per_destination"), 1),
            enable=require_bool(enable, name("enable")),
            keep_prepared=require_bool(keep_prepared, name("keep_prepared")),
            on_failure=require_choice(on_failure, name("on_failure"), FAILURE_POLICIES),
            command=command,
        )
