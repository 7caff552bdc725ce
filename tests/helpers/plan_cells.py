"""Read one destination's verdict and blocker codes back from a bounded plan entry (plan schema 2)."""

from __future__ import annotations

from typing import Any


def cell(entry: dict[str, Any], host: str) -> tuple[str, list[str]] | None:
    """Return (verdict, sorted blocker codes) of ``host`` for a plan entry, or None when the entry does not list it."""
    if host in entry["ready"]["hosts"]:
        return "ready", []
    for group in entry["ready_after"]["preparations"]:
        if host in group["hosts"]:
            return "ready_after", sorted(group["codes"])
    for near in entry["blocked"]["nearest"]:
        if near["host"] == host:
            return "blocked", sorted(near["blockers"])
    return None
