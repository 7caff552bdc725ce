"""Command line of the AP host simulator: ``python -m apsim COMMAND ...`` (PYTHONPATH=tests)."""

from __future__ import annotations

import argparse
import sys

import yaml

from .fleet import FleetError, load_fleet
from .generate import big_host, rolling_fleet, scale_fleet
from .render import render_fleet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="apsim", description="Simulated s390 AP bus / vfio_ap hosts.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a fleet file")
    p.add_argument("fleet")

    p = sub.add_parser("render", help="write each host's tree as plain files under DIR/<host>/")
    p.add_argument("fleet")
    p.add_argument("dir")
    p.add_argument("--host", action="append", help="render only this host (repeatable)")

    p = sub.add_parser("generate", help="write a generated fleet file")
    p.add_argument("kind", choices=("big-host", "scale", "rolling"))
    p.add_argument("output")
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--mdevs", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)

    p = sub.add_parser("migrate", help="migrate a running guest's mdev between two hosts of a live mount")
    p.add_argument("mount", help="the live mount (DIR of apsim mount)")
    p.add_argument("source", help="the host the guest runs on")
    p.add_argument("destination", help="the host to move it to")
    p.add_argument("uuid", help="the guest's mdev")

    p = sub.add_parser("reboot", help="reboot a host of a live mount: masks, udev rules, mdevctl auto-start, guests stopped")
    p.add_argument("mount", help="the live mount (DIR of apsim mount)")
    p.add_argument("host", help="the host to reboot")
    p.add_argument("--json", action="store_true", help="print the boot's record as JSON instead of one line")

    try:
        from . import live  # the FUSE face; optional so that render works without FUSE installed

        live.add_commands(sub)
        from . import sshd

        sshd.add_commands(sub)
    except ImportError as exc:  # pragma: no cover - reported when a live command is used
        live_error = str(exc)
        for name in ("mount", "unmount", "ns-exec", "ssh-serve", "ssh-stop"):
            p = sub.add_parser(name, help=f"unavailable: {live_error}")
            p.add_argument("args", nargs=argparse.REMAINDER)
            p.set_defaults(func=lambda _a, e=live_error: _fail(f"apsim: live mount unavailable: {e}"))

    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            hosts = load_fleet(args.fleet)
            print(f"{args.fleet}: {len(hosts)} hosts, valid")
            return 0
        if args.command == "render":
            hosts = load_fleet(args.fleet)
            if args.host:
                unknown = sorted(set(args.host) - set(hosts))
                if unknown:
                    return _fail(f"apsim: {args.fleet}: no host {unknown[0]!r}")
                hosts = {n: hosts[n] for n in args.host}
            written = render_fleet(hosts, args.dir)
            print(f"rendered {len(written)} hosts ({sum(written.values())} entries) under {args.dir}")
            return 0
        if args.command == "migrate":
            from . import migration

            return migration.run(args.mount, args.source, args.destination, args.uuid)
        if args.command == "reboot":
            return _reboot(args.mount, args.host, args.json)
        if args.command == "generate":
            if args.kind == "big-host":
                data = big_host()
            elif args.kind == "rolling":
                data = rolling_fleet(args.hosts, args.mdevs)
            else:
                data = scale_fleet(args.hosts, args.mdevs, args.seed)
            with open(args.output, "w") as out:
                yaml.safe_dump(data, out, sort_keys=False)
            return 0
        return args.func(args)
    except FleetError as exc:
        return _fail(f"apsim: {exc}")


def _reboot(mount: str, host: str, as_json: bool) -> int:
    """``python -m apsim reboot MOUNT HOST``: 0 rebooted (one line, or the record), 2 for a wrong request."""
    import json
    import os
    from pathlib import Path

    from .boot import summary

    control = Path(mount) / ".apsim" / host / "control"
    if not (Path(mount) / ".apsim" / "pid").exists():
        return _fail(f"apsim: reboot: {mount} is not a live apsim mount")
    if not control.exists():
        return _fail(f"apsim: reboot: no host {host!r} in the mounted fleet")
    try:
        fd = os.open(control, os.O_WRONLY)
        try:
            os.write(fd, b"reboot")
        finally:
            os.close(fd)
        record = json.loads((control.parent / "state").read_text())["boots"][-1]
    except (OSError, ValueError, IndexError, KeyError) as exc:
        return _fail(f"apsim: reboot: {host}: {exc}")
    print(json.dumps(record, indent=1) if as_json else summary(record))
    return 0


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
