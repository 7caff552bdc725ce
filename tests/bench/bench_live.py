"""Live simulator (FUSE) figures: mount/unmount time, attribute reads and stores per second through
the mount against plain rendered files (the baseline), a big host's queue listing, and mdevctl via
ns-exec. Reports only; never passes or fails on time."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import yaml

from apsim.fleet import build_fleet, load_fleet
from apsim.generate import big_host
from apsim.live import fuse_unavailable, mounted
from apsim.render import render_fleet

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "fleets" / "demo.yml"
READS = 3000
STORES = 1000


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def _read_loop(path: Path, count: int) -> float:
    started = time.perf_counter()
    for _unused in range(count):
        fd = os.open(path, os.O_RDONLY)
        os.read(fd, 4096)
        os.close(fd)
    return time.perf_counter() - started


def _walk(top: Path) -> int:
    entries = 0
    for _root, dirs, files in os.walk(top):
        entries += len(dirs) + len(files)
    return entries


def run(workdir: Path) -> dict:
    reason = fuse_unavailable()
    if reason:
        return {"skipped": reason}
    figures: dict = {}
    rendered = workdir / "rendered"
    render_fleet(load_fleet(DEMO), rendered)
    baseline = _read_loop(rendered / "kvm-a1/sys/bus/ap/apmask", READS)
    figures["rendered_reads_per_s"] = _rate(READS, baseline)

    started = time.perf_counter()
    with mounted(DEMO, workdir / "demo") as live:
        figures["mount_demo_s"] = round(time.perf_counter() - started, 3)
        host = live.host_dir("kvm-a1")
        seconds = _read_loop(host / "sys/bus/ap/apmask", READS)
        figures["live_reads_per_s"] = _rate(READS, seconds)
        figures["live_read_slowdown_vs_rendered"] = round(seconds / baseline, 1)
        store = host / "sys/devices/vfio_ap/matrix/6c1a0000-0000-4000-8000-00000000a101/assign_control_domain"
        unstore = store.with_name("unassign_control_domain")
        started = time.perf_counter()
        for _unused in range(STORES // 2):
            for path in (store, unstore):
                fd = os.open(path, os.O_WRONLY)
                os.write(fd, b"9")
                os.close(fd)
        figures["live_stores_per_s"] = _rate(STORES, time.perf_counter() - started)
        figures["walk_demo_host_entries"] = _walk(host / "sys")
        started = time.perf_counter()
        _walk(host / "sys")
        figures["walk_demo_host_live_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        _walk(rendered / "kvm-a1/sys")
        figures["walk_demo_host_rendered_s"] = round(time.perf_counter() - started, 4)
        if shutil.which("mdevctl"):
            started = time.perf_counter()
            live.ns_exec("kvm-a1", ["mdevctl", "list"], capture_output=True, check=True)
            figures["mdevctl_list_via_ns_exec_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
    figures["unmount_demo_s"] = round(time.perf_counter() - started, 3)

    big = workdir / "big.yml"
    big.write_text(yaml.safe_dump(big_host(), sort_keys=False))
    queues = sum(len(c.queues) for c in build_fleet(big_host())["bighost"].cards.values())
    figures["big_host_queues"] = queues
    started = time.perf_counter()
    with mounted(big, workdir / "big") as live:
        figures["mount_big_host_s"] = round(time.perf_counter() - started, 3)
        devices = live.host_dir("bighost") / "sys/bus/ap/devices"
        started = time.perf_counter()
        names = os.listdir(devices)
        figures["list_big_host_devices_s"] = round(time.perf_counter() - started, 3)
        figures["big_host_devices"] = len(names)
        sample = [n for n in names if "." in n][:: max(1, queues // 500)]
        started = time.perf_counter()
        for name in sample:
            os.readlink(devices / name / "driver")
        figures["big_host_driver_lookups_per_s"] = _rate(len(sample), time.perf_counter() - started)
        started = time.perf_counter()
        (live.host_dir("bighost") / "sys/bus/ap/bindings").read_text()
        figures["big_host_bindings_read_s"] = round(time.perf_counter() - started, 3)
    return figures
