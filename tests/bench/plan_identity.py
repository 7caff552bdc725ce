#!/usr/bin/env python
"""Are the engine's results byte for byte what a reference commit's engine gives? (A faster wrong plan is worthless.)

Optimising the readiness engine must not change one verdict, reason, detail or suggestion. This
tool computes, with one collection tree, the JSON of a fixed set of results and compares them with
those recorded from another tree:

- ``migration_plan`` on the bench fleets (``bench_plan``: every host shape at 1,000 hosts, some at
  3,000) with several option sets (defaults, small limits, each rule set, detail for named guests,
  migrate commands, source and destination subsets);
- ``migration_plan`` with ``detail: true`` under every rule set, ``rolling_plan`` and
  ``migration_check`` for every (guest, other host) pair on the fleets of tests/fleets and on the
  property test's fleets (captured by ``capture``: the facts of every fleet
  tests/property/test_predictions_vs_executor.py gathers, in the same derandomized order);
- ``migration_plan`` under ten option sets (rule sets, limits, detail, subsets, mkvps and levels) and
  ``rolling_plan`` on generated fleets: the property fleets merged sixteen at a time (their variety
  at scale, their few UUIDs on many hosts) and bench fleets with seeded damage on some hosts
  (``mutated_fleet``: every input the rules read, varied).

Usage (from the repository root, with the venv's Python)::

    plan_identity.py capture  DIR                 # the property test's fleets -> DIR/property/
    plan_identity.py record   DIR [--tree COLL]   # results of the tree under COLL (default today's) -> DIR/ref/
    plan_identity.py check    DIR [--tree COLL]   # recompute, compare with DIR/ref/; exit 1 naming each difference
    ... [--only TEXT]                              # only the cases whose name contains TEXT

``--tree`` is a collections directory (``baselines.collection_at`` extracts one for a commit:
``plan_identity.py tree COMMIT DEST``). Only the results' SHA-256 and their compressed JSON are kept.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FLEET_FILES = sorted((ROOT / "tests" / "fleets").glob("*.yml"))
FLEET_FILES = [p for p in FLEET_FILES if not p.name.endswith(".expected.yml")]
RULES = ("auto", "attribute", "kernel", "strict")
# (shape, hosts) of the bench fleets
BENCH_FLEETS = [(s, 1000) for s in ("small", "modest", "spread", "medium", "large")] + [("modest", 3000), ("large", 3000)]


def _setup(tree: Path) -> None:
    sys.path[:0] = [str(tree), str(ROOT / "tests"), str(HERE)]


# --------------------------------------------------------------------------- the cases


def _bench_cases(cache: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    from apsim.generate import SHAPES, shaped_fleet
    from bench_plan import facts_from_templates, gather_templates

    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan

    for shape, n in BENCH_FLEETS:
        templates = gather_templates(shape, n)
        facts = facts_from_templates(shaped_fleet(n, SHAPES[shape]), templates)
        names = sorted(facts)
        guests = [m["guest"] for name in names[:3] for m in facts[name]["driver"]["mdevs"] if m.get("guest")][:2]
        addresses = {name: f"10.{i // 250}.{i % 250}.1" for i, name in enumerate(names) if i % 7}
        variants: dict[str, dict[str, Any]] = {
            "default": {},
            "limits": {"limit": 3, "nearest": 2},
            "detail-guests": {"detail": guests + [names[5]]},
            "commands": {"migration_network": "10.0.0.0/8", "migration_addresses": addresses},
            "subsets": {"sources": names[: n // 10], "destinations": names[n // 20 :]},
        }
        if n == 1000:
            variants.update({f"rules-{r}": {"rules": r} for r in RULES if r != "auto"})
        for label, kwargs in variants.items():
            yield f"bench-{shape}-{n}-{label}", lambda f=facts, k=kwargs: build_plan(f, **k)


def _small_fleet_cases(label: str, facts: dict[str, Any]) -> Iterator[tuple[str, Callable[[], Any]]]:
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._readiness import migration_check
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import rolling_plan

    def outcome(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ValueError as exc:  # refusals are results too
            return {"ValueError": str(exc)}

    for rules in RULES:
        yield f"{label}-plan-{rules}", lambda r=rules: outcome(lambda: build_plan(facts, rules=r, detail=True))
    yield f"{label}-plan-limits", lambda: outcome(lambda: build_plan(facts, limit=1, nearest=1))
    names = sorted(facts)

    def pairs() -> list[Any]:
        out = []
        for source in names:
            for mdev in facts[source]["driver"]["mdevs"]:
                for destination in names:
                    if destination != source:
                        out.append(outcome(lambda s=source, d=destination, u=mdev["uuid"]: migration_check(
                            facts[s], facts[d], u, source=s, destination=d)))  # fmt: skip
        return out

    yield f"{label}-checks", pairs
    yield f"{label}-rolling", lambda: outcome(lambda: rolling_plan(facts, names[:1]))


def _fleet_file_cases(work: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    from helpers.fleet_facts import facts_for_fleet

    for path in FLEET_FILES:
        facts = facts_for_fleet(path, work / path.stem)
        yield from _small_fleet_cases(f"fleet-{path.stem}", facts)


def _property_cases(folder: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    for path in sorted(folder.glob("*.json")):
        facts = json.loads(path.read_text())["facts"]
        yield from _small_fleet_cases(f"property-{path.stem}", facts)


def _merged_property_fleets(folder: Path, per_fleet: int = 16, own_uuids: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (label, facts) of fleets made of ``per_fleet`` property fleets each (hosts renamed).

    The property fleets' variety at a larger scale: many guests share APQNs and hosts share layouts.
    With the UUIDs kept, the property test's few UUIDs recur on many hosts (duplicate UUIDs, landing
    mdevs, idle twins); ``own_uuids`` gives each property fleet UUIDs and machines of its own (its own twins stay).
    """
    paths = sorted(folder.glob("*.json"))
    for start in range(0, len(paths), per_fleet):
        merged: dict[str, Any] = {}
        for k, path in enumerate(paths[start : start + per_fleet]):
            text = path.read_text()
            if own_uuids:  # the property test's UUIDs all start so
                text = text.replace('"5e0a0000-', f'"{start + k:08x}-')
            for host, facts in json.loads(text)["facts"].items():
                machine = facts.get("host") if own_uuids else None
                if isinstance(machine, dict):  # and machines of its own: an LPAR per host of the merged fleet
                    cpc = machine.get("cpc") or {}
                    if cpc.get("sequence_code"):
                        cpc["sequence_code"] = f"{start + k:08X}{str(cpc['sequence_code'])[-8:]}"
                    if machine.get("machine_id"):
                        machine["machine_id"] = f"{start + k:08x}{str(machine['machine_id'])[8:]}"
                merged[f"m{k:02d}-{host}"] = facts
        yield (f"merged-own{per_fleet}-" if own_uuids else "merged-") + f"{start // per_fleet:02d}", merged


def _plan_variants(facts: dict[str, Any], seed: str) -> dict[str, dict[str, Any]]:
    """Return {label: build_plan keyword arguments}: the option sets each generated fleet is planned with."""
    import random

    rng = random.Random(seed)
    names = sorted(facts)
    mdevs = [(n, m) for n in names for m in (_driver(facts[n]).get("mdevs") or [])]
    picked = rng.sample(mdevs, min(4, len(mdevs)))
    detail = [m["uuid"] for _n, m in picked[:2]] + [m.get("guest") or m["uuid"] for _n, m in picked[2:3]] + names[1:2]
    some = rng.sample(names, max(1, len(names) // 3))
    mkvps = {}
    for name in rng.sample(names, max(1, len(names) // 10)):
        apqns = [a for m in (_driver(facts[name]).get("mdevs") or []) for a in (m.get("apqns") or [])]
        if apqns:
            mkvps[name] = {rng.choice(apqns): {"aes_cur": rng.choice(("0x11", "0x22")), "apka_cur": {"mkvp": "0x33", "state": "valid"}}}
    levels = {name: rng.choice(("attribute", "kernel")) for name in rng.sample(names, max(1, len(names) // 8))}
    return {
        "default": {},
        "rules-attribute": {"rules": "attribute"},
        "rules-kernel": {"rules": "kernel"},
        "rules-strict": {"rules": "strict"},
        "limits": {"limit": 2, "nearest": 3},
        "nearest-0": {"limit": 1, "nearest": 0},
        "detail": {"detail": detail},
        "sources": {"sources": some},
        "destinations": {"destinations": sorted(set(names) - set(some)) or names},
        "mkvps-levels": {"mkvps": mkvps, "migration_levels": levels},
    }


def _driver(facts: Any) -> dict[str, Any]:
    if not isinstance(facts, dict):
        return {}
    block = facts.get("driver", facts.get("vfio_ap"))
    return block if isinstance(block, dict) else {}


def _generated_plan_cases(store: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Plans of the merged property fleets and of mutated bench fleets under every option set."""
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._migration_plan import build_plan
    from ansible_collections.s390x.vfio_ap.plugins.plugin_utils._rolling import rolling_plan

    def outcome(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ValueError as exc:
            return {"ValueError": str(exc)}

    fleets = list(_merged_property_fleets(store / "property"))
    fleets += list(_merged_property_fleets(store / "property", 16, own_uuids=True))
    fleets += list(_merged_property_fleets(store / "property", 52, own_uuids=True))
    fleets += list(_merged_property_fleets(store / "property", 1000, own_uuids=True))
    fleets += [(f"mutated-{shape}-{n}-{seed}", mutated_fleet(shape, n, seed)) for shape, n, seed in MUTATED]
    for label, facts in fleets:
        for variant, kwargs in _plan_variants(facts, label).items():
            yield f"{label}-{variant}", lambda f=facts, k=kwargs: outcome(lambda: build_plan(f, **k))
        names = sorted(facts)
        yield f"{label}-rolling", lambda f=facts, h=names[:2]: outcome(lambda: rolling_plan(f, h))


# (shape, hosts, seed) of the mutated bench fleets
MUTATED = [("small", 300, 1), ("modest", 200, 2), ("medium", 240, 3), ("large", 120, 4), ("spread", 260, 5), ("small", 150, 6)]


def mutated_fleet(shape: str, hosts: int, seed: int) -> dict[str, Any]:
    """Return the facts of a bench fleet of ``hosts`` hosts of a shape, with seeded damage and variety (``mutated_facts``)."""
    from apsim.generate import SHAPES, shaped_fleet
    from bench_plan import facts_from_templates, gather_templates
    from helpers.plan_fleets import mutated_facts

    templates = gather_templates(shape, hosts)
    return mutated_facts(facts_from_templates(shaped_fleet(hosts, SHAPES[shape]), templates), seed)


def cases(store: Path, work: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Yield (case name, function returning the result) of every case, in a fixed order."""
    yield from _fleet_file_cases(work)
    yield from _property_cases(store / "property")
    yield from _generated_plan_cases(store)
    yield from _bench_cases(store)


def _encode(result: Any) -> bytes:
    return json.dumps(result, sort_keys=False, separators=(",", ":"), default=repr).encode()


# --------------------------------------------------------------------------- commands


def record_or_check(store: Path, check: bool, only: str | None = None) -> int:
    reference = store / "ref"
    reference.mkdir(parents=True, exist_ok=True)
    index_path = reference / "index.json"
    index: dict[str, str] = json.loads(index_path.read_text()) if index_path.exists() else {}
    differ, missing, seen = [], [], 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="plan-identity-") as tmp:
        for name, compute in cases(store, Path(tmp)):
            if only and only not in name:
                continue
            seen += 1
            data = _encode(compute())
            digest = hashlib.sha256(data).hexdigest()
            if not check:
                index[name] = digest
                (reference / f"{name}.json.gz").write_bytes(gzip.compress(data, 1))
                continue
            if name not in index:
                missing.append(name)
            elif index[name] != digest:
                differ.append(name)
                (store / "differ").mkdir(exist_ok=True)
                (store / "differ" / f"{name}.json").write_bytes(data)
                print(f"DIFFERS: {name} (today's in {store / 'differ' / name}.json)", flush=True)
    if not check:
        if only:
            index = json.loads(index_path.read_text()) | index if index_path.exists() else index
        index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        print(f"recorded {seen} results in {time.perf_counter() - started:.0f} s")
        return 0
    print(f"checked {seen} results in {time.perf_counter() - started:.0f} s: {len(differ)} differ, {len(missing)} not recorded")
    return 1 if differ or missing else 0


def capture(store: Path) -> int:
    """Run the property test, keeping the facts of every fleet it gathers in store/property/."""
    folder = store / "property"
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PLAN_IDENTITY_CAPTURE=str(folder), PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    test = ROOT / "tests" / "property" / "test_predictions_vs_executor.py"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "plan_identity", "-q", str(test)], env=env, check=False
    ).returncode


# --------------------------------------------------------------------------- the capture plugin (pytest -p plan_identity)


def _capturing(original: Any, folder: str) -> Any:
    """Return ``original`` (a test module's gather) wrapped to write each fleet's facts into ``folder`` as NNNN.json."""
    count = 0

    def gather(fleet: Any, guards: Any, workdir: Any) -> Any:
        nonlocal count
        facts = original(fleet, guards, workdir)
        count += 1
        Path(folder, f"{count:04d}.json").write_text(json.dumps({"facts": facts}, sort_keys=True))
        return facts

    gather.captures = True  # type: ignore[attr-defined]
    return gather


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Wrap the property test's ``gather`` so that every fleet's facts land in $PLAN_IDENTITY_CAPTURE."""
    folder = os.environ.get("PLAN_IDENTITY_CAPTURE")
    if not folder:
        return
    for item in items:
        module = getattr(item, "module", None)
        original = getattr(module, "gather", None)
        if original is None or getattr(original, "captures", False):
            continue
        gather = _capturing(original, folder)
        module.gather = gather


def main() -> int:
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "tree":
        _setup(ROOT / ".collections")
        import baselines

        found = baselines.collection_at(args[1], Path(args[2]), parts=("plugins",))
        print(found or "git could not provide the tree")
        return 0 if found else 1
    if len(args) < 2 or args[0] not in ("capture", "record", "check"):
        print(__doc__)
        return 2
    command, store = args[0], Path(args[1]).resolve()
    tree = Path(args[args.index("--tree") + 1]).resolve() if "--tree" in args else ROOT / ".collections"
    if command == "capture":
        return capture(store)
    _setup(tree)
    only = args[args.index("--only") + 1] if "--only" in args else None
    return record_or_check(store, command == "check", only)


if __name__ == "__main__":
    sys.exit(main())
