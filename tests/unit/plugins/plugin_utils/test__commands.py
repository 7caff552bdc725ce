"""The one ``virsh migrate`` builder (plugin_utils/_commands.py): argv and printed text alike.

The printed text is read back as a shell reads it (``shlex.split``, POSIX word splitting) and the
words as virsh reads them (:func:`virsh_migrate`, written from virsh's option rules in
``tools/vsh.c``: ``--name`` and ``--name=value`` are options when a letter or digit follows the
dashes, a data option takes the next word whatever it looks like, ``--`` ends the options, the
remaining words fill ``<domain> <desturi> [<migrateuri>]`` in order, an option given twice is an
error). The simulator's virsh (tests/apsim) parses the same words as a second opinion.
"""

from __future__ import annotations

import shlex

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apsim import virsh as sim_virsh

from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._commands import (
    PRINTED,
    MigrateCommand,
    guest_name_problem,
    migrate_command,
)

BOOL = {"live", "persistent", "undefinesource", "verbose", "p2p", "tunnelled", "auto-converge", "suspend", "offline"}
DATA = {"domain", "desturi", "migrateuri", "timeout", "dname", "listen-address", "graphicsuri"}
POSITIONAL = ("domain", "desturi", "migrateuri", "graphicsuri", "listen-address", "dname")


class VirshError(Exception):
    pass


def virsh_migrate(words: list[str]) -> dict[str, object]:
    """Return the options of ``virsh migrate WORDS...`` as virsh's parser assigns them (VirshError as virsh refuses)."""
    options: dict[str, object] = {}
    positional: list[str] = []
    data_only = False
    i = 0
    while i < len(words):
        word = words[i]
        if not data_only and word.startswith("--") and len(word) > 2 and word[2].isalnum():
            name, eq, value = word[2:].partition("=")
            if name in options:
                raise VirshError(f"option --{name} already seen")
            if name in BOOL:
                if eq:
                    raise VirshError(f"option --{name} takes no value")
                options[name] = True
            elif name in DATA:
                if not eq:
                    i += 1
                    if i == len(words):
                        raise VirshError(f"option --{name} needs a value")
                    value = words[i]
                options[name] = value
            else:
                raise VirshError(f"command 'migrate' doesn't support option --{name}")
        elif not data_only and word == "--":
            data_only = True
        else:
            positional.append(word)
        i += 1
    free = [name for name in POSITIONAL if name not in options]
    if len(positional) > len(free):
        raise VirshError(f"unexpected data '{positional[len(free)]}'")
    options.update(zip(free, positional, strict=False))
    return options


ARGV = {
    "defaults": (
        MigrateCommand(),
        None,
        ["virsh", "migrate", "--live", "--persistent", "--undefinesource", "--verbose", "--domain", "web1",
         "--desturi", "qemu+ssh://kvm-b1/system"],
    ),
    "timeout and address": (
        MigrateCommand.of(timeout=300),
        "192.0.2.4",
        ["virsh", "migrate", "--live", "--persistent", "--undefinesource", "--verbose", "--timeout", "300", "--domain", "web1",
         "--desturi", "qemu+ssh://kvm-b1/system", "--migrateuri", "tcp://192.0.2.4"],
    ),
    "IPv6 and own options": (
        MigrateCommand.of(["sudo", "virsh", "migrate"], ["--live"], 0, "qemu+tls://{host}.example.com/system"),
        "2001:db8::4",
        ["sudo", "virsh", "migrate", "--live", "--domain", "web1", "--desturi", "qemu+tls://kvm-b1.example.com/system",
         "--migrateuri", "tcp://[2001:db8::4]"],
    ),
    "bracketed IPv6 from the plan": (
        MigrateCommand.of(options=[]),
        "[fd00::2]",
        ["virsh", "migrate", "--domain", "web1", "--desturi", "qemu+ssh://kvm-b1/system", "--migrateuri", "tcp://[fd00::2]"],
    ),
    "address as a name": (
        MigrateCommand.of(options=[]),
        "kvm-b1-mig",
        ["virsh", "migrate", "--domain", "web1", "--desturi", "qemu+ssh://kvm-b1/system", "--migrateuri", "tcp://kvm-b1-mig"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("how, address, argv", list(ARGV.values()), ids=list(ARGV))
def test_argv(how, address, argv):
    assert how.argv("web1", "kvm-b1", address) == argv
    assert shlex.split(how.text("web1", "kvm-b1", address)) == argv


def test_the_plans_print_what_the_builder_builds():
    assert migrate_command("web1", "kvm-b1", "10.0.0.2") == PRINTED.text("web1", "kvm-b1", "10.0.0.2")
    assert (
        migrate_command("web1", "kvm-b1")
        == "virsh migrate --live --persistent --undefinesource --domain web1 --desturi qemu+ssh://kvm-b1/system"
    )


HOSTILE = [
    "--domain=evil",
    "--desturi=qemu+ssh:evil",
    "-x",
    "--",
    "web1 --live",
    "g$(touch x)",
    "`id`",
    "it's",
    '"quoted"',
    "<img src=x onerror=alert(1)>",
    "a;b|c&d",
    "~root",
    "*",
    "--help",
]


@pytest.mark.parametrize("guest", HOSTILE)
def test_a_hostile_name_is_only_ever_the_domain(guest):
    """A name that starts with '-' or holds shell syntax stays the value of --domain (issue 20, finding 1)."""
    for text in (migrate_command(guest, "kvm-b1", "10.0.0.2"), MigrateCommand.of(timeout=5).text(guest, "kvm-b1")):
        words = shlex.split(text)
        parsed = virsh_migrate(words[2:])
        assert parsed["domain"] == guest and parsed["desturi"] == "qemu+ssh://kvm-b1/system"
        options, positional = sim_virsh._split_options(  # pylint: disable=protected-access
            "migrate", words[2:], sim_virsh.MIGRATE_FLAGS, sim_virsh.MIGRATE_NUMBERS, sim_virsh.MIGRATE_STRINGS
        )
        assert options["--domain"] == guest and positional == []


REFUSED = {
    "empty": ("", "not a libvirt domain name"),
    "not a string": (None, "not a libvirt domain name"),
    "a domain ID": ("17", "domain ID"),
    "a UUID": ("6c1a0000-0000-4000-8000-00000000a101", "domain UUID"),
    "a UUID without dashes": ("6c1a000000004000800000000000a101", "domain UUID"),
    "a slash": ("a/b", "'/'"),
    "a newline": ("web1\nvirsh destroy db1", "control"),
    "terminal escapes": ("web\x1b[2J1", "control"),
    "a bidirectional override": ("web\u202e1", "direction"),
    "a lone surrogate": ("web\udc801", "control"),
    "too long": ("g" * 252, "longer than 251 bytes"),
}


@pytest.mark.parametrize("guest, message", list(REFUSED.values()), ids=list(REFUSED))
def test_names_virsh_would_misread_are_refused(guest, message):
    with pytest.raises(ValueError, match=message):
        MigrateCommand().argv(guest, "kvm-b1")
    with pytest.raises(ValueError, match=message):
        migrate_command(guest, "kvm-b1")
    assert message in guest_name_problem(guest)


@pytest.mark.parametrize(
    "kwargs, destination, address, message",
    [
        ({}, "kvm-b1$(touch /tmp/x)", None, "not a valid host name"),
        ({}, "-kvm-b1", None, "not a valid host name"),
        ({}, "kvm-b1", "a b", "migration address"),
        ({"uri": "qemu+ssh://x/system"}, "kvm-b1", None, "no {host}"),
        ({"timeout": "soon"}, "kvm-b1", None, "timeout"),
        ({"timeout": True}, "kvm-b1", None, "timeout"),
        ({"timeout": -3}, "kvm-b1", None, "timeout"),
        ({"command": "virsh migrate"}, "kvm-b1", None, "command: expected a list"),
        ({"command": []}, "kvm-b1", None, "command: expected the migration program"),
        ({"options": ["--live", 3]}, "kvm-b1", None, "options: 3 is not a command word"),
        ({"options": ["--live\n--x"]}, "kvm-b1", None, "is not a command word"),
    ],
)
def test_refused(kwargs, destination, address, message):
    with pytest.raises(ValueError, match=message):
        MigrateCommand.of(**kwargs).argv("web1", destination, address)


# Every code point, lone surrogates included.
NAMES = st.text(alphabet=st.characters(codec=None, categories=None), max_size=40)


@settings(max_examples=400, deadline=None)
@given(guest=NAMES, timeout=st.sampled_from([None, 0, 30]))
@example(guest="--domain=evil", timeout=None)
@example(guest="-", timeout=30)
def test_printed_text_reads_back_as_the_argv_and_virsh_sees_the_guest_as_the_domain(guest, timeout):
    how = MigrateCommand.of(timeout=timeout)
    try:
        argv = how.argv(guest, "kvm-b1", "fd00::2")
    except ValueError as exc:
        assert str(exc) == guest_name_problem(guest)
        return
    text = how.text(guest, "kvm-b1", "fd00::2")
    assert "\n" not in text and shlex.split(text) == argv
    parsed = virsh_migrate(argv[2:])
    assert parsed["domain"] == guest
    assert (parsed["desturi"], parsed["migrateuri"]) == ("qemu+ssh://kvm-b1/system", "tcp://[fd00::2]")
    assert parsed.get("timeout") == (str(timeout) if timeout else None)
