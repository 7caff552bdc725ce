"""_drain_options: the drain's options checked once, as one frozen object; messages name what the user set."""

from __future__ import annotations

import dataclasses

import pytest

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import MigrateCommand
from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._drain_options import DrainOptions


def test_role_inputs_as_they_arrive():
    command = {"command": ["virsh", "migrate"], "options": [], "timeout": "0", "uri": None}
    got = DrainOptions.of(rules="kernel", prepare="yes", per_source="2", per_destination=3, enable="false", keep_prepared=True,
                          on_failure="continue", command=command)  # fmt: skip
    assert (got.rules, got.prepare, got.per_source, got.per_destination, got.enable, got.keep_prepared, got.on_failure) == (
        "kernel",
        True,
        2,
        3,
        False,
        True,
        "continue",
    )
    assert got.command == MigrateCommand(("virsh", "migrate"), (), None, "qemu+ssh://{host}/system")
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.prepare = False  # type: ignore[misc]


def test_defaults():
    assert DrainOptions.of() == DrainOptions() and DrainOptions.of(command=None).command == MigrateCommand()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": "fast"}, "rules: expected one of auto, attribute, kernel, strict, got 'fast'"),
        ({"prepare": "maybe"}, "prepare: expected a boolean (true/false, yes/no), got 'maybe'"),
        ({"per_source": 0}, "per_source: expected an integer >= 1, got 0"),
        ({"per_destination": True}, "per_destination: expected an integer >= 1, got True"),
        ({"on_failure": "retry"}, "on_failure: expected one of stop, continue, got 'retry'"),
        ({"command": {"command": []}}, "command.command: expected the migration program and its verb, got an empty list"),
        ({"command": {"uri": ""}}, "command.uri: '' has no {host}"),
        ({"command": {"timeout": -5}}, "command.timeout (seconds, 0 for none): expected an integer >= 0, got -5"),
        ({"command": {"verb": "x"}}, "command: unknown keys verb (expected command, options, timeout, uri)"),
        ({"command": "virsh migrate"}, "command: expected {command, options, timeout, uri}, got str"),
    ],
)
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError) as info:
        DrainOptions.of(**kwargs)
    assert str(info.value).startswith(message)


def test_messages_name_the_role_variable():
    names = {"per_source": "vfio_ap_maintenance_per_source", "command.uri": "vfio_ap_maintenance_destination_uri"}
    with pytest.raises(ValueError, match=r"^vfio_ap_maintenance_per_source: expected an integer >= 1, got '0'$"):
        DrainOptions.of(per_source="0", names=names)
    with pytest.raises(ValueError, match=r"^vfio_ap_maintenance_destination_uri: 'ssh://x' has no \{host\}"):
        DrainOptions.of(command={"uri": "ssh://x"}, names=names)
