"""A fleet file with a mistake gets one clear line naming the host and the key (exit 2), never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from apsim.fleet import FleetError, build_fleet
from apsim.live import subprocess_env

U1 = "70000000-0000-4000-8000-000000000001"
U2 = "70000000-0000-4000-8000-000000000002"
CARD = {"id": 5, "type": "CEX8C", "domains": "0-15"}


def host(**spec):
    base = {"aqmask": "0-7", "cards": [dict(CARD)]}
    base.update(spec)
    return {"hosts": {"lpar9": base}}


CASES = [
    # (fleet data, key named in the message, words the message must contain)
    (host(colour="blue"), "host", "unknown key 'colour'"),
    (host(cards=[{**CARD, "speed": 3}]), "cards[0]", "unknown key 'speed'"),
    (host(mdevs=[{"uuid": U1, "adapterz": [5]}]), "mdevs[0]", "unknown key 'adapterz'"),
    (host(cards=[{**CARD, "queues": {4: {"hot": True}}}]), "cards[0].queues.4", "unknown key 'hot'"),
    (host(cards=[{**CARD, "domains": "0-zz"}]), "cards[0].domains", ""),
    (host(apmask="0x12g"), "apmask", ""),
    (host(mdevs=[{"uuid": U1, "adapters": "5,six", "domains": [9]}]), "mdevs[0].adapters", ""),
    (host(cards=[{**CARD, "id": 256}]), "cards[0].id", ""),
    (host(max_domain_id=15, cards=[{**CARD, "domains": "0-16"}]), "cards[0].domains", "above the host's max_domain_id (15)"),
    (host(max_adapter_id=63, cards=[{**CARD, "id": 64}]), "cards[0].id", "above the host's max_adapter_id (63)"),
    (host(mdevs=[{"uuid": U1, "adapters": [5], "domains": [85]}]), "mdevs[0].domains", "above the host's max_domain_id (84)"),
    (
        host(mdevs=[{"uuid": U1, "adapters": [5], "domains": [9]}, {"uuid": U2, "adapters": [5], "domains": [9, 10]}]),
        "mdevs[1].domains",
        "APQN 05.0009 is already assigned to mdev " + U1,
    ),
    (host(mdevs=[{"uuid": U1, "adapters": [5], "domains": [3]}]), "mdevs[0].adapters", "APQN 05.0003 is owned by the host drivers"),
    (host(mdevs=[{"uuid": "not-a-uuid"}]), "mdevs[0].uuid", "not a canonical UUID"),
    (host(mdevs=[{"uuid": U1}, {"uuid": U1}]), "mdevs[1].uuid", "listed twice"),
    (host(mdevs=[{"uuid": U1, "migratable": 1}]), "mdevs[0].migratable", "migration: attribute"),
    (host(migration="sometimes"), "migration", "not one of none, attribute, kernel"),
    (host(cards=[{**CARD, "type": "CEX9C"}]), "cards[0].type", "CEX9C"),
    (host(cards=[{**CARD, "queues": [4]}]), "cards[0].queues", "expected a mapping"),
    (host(cards=[{**CARD, "queues": {"20": {"bs": 1}}}]), "cards[0].queues.20", "not in the card's domains"),
    (host(cards=[{**CARD, "queues": {4: {"eio": True, "tapq_rc": 7}}}]), "cards[0].queues.4.eio", "either eio or tapq_rc"),
    (host(cards=[{**CARD, "queues": {4: {"tapq_rc": 256}}}]), "cards[0].queues.4.tapq_rc", "outside 0..255"),
    (host(cards=[{**CARD, "queues": {4: {"tapq_async": "yes"}}}]), "cards[0].queues.4.tapq_async", "expected true or false"),
    (host(cards=[{**CARD, "type": "CEX8C", "functions": 0x0C000000}]), "cards[0].functions", "the type says cca"),
    (host(cards=[{**CARD, "mkvps": {"aes_cur": "0x12"}}]), "cards[0].mkvps.aes_cur", "16 lowercase hex digits"),
    (host(definitions=[{"uuid": U1, "start": "boot"}]), "definitions[0].start", "not auto or manual"),
    (host(cards="none"), "cards", "expected a list"),
    (host(mdevs=[{"uuid": U1, "guest": "bad/name"}]), "mdevs[0].guest", "not a valid libvirt domain name"),
    ({"hosts": {"lpar9": ["a"]}}, "host", "expected a mapping"),
    (host(kernel="v4.19"), "kernel", "'v4.19' is not one of v6.19, v6.12, v6.10, v6.0, v5.17"),
    (host(kernel=6.1), "kernel", "6.1 is not one of"),
    (host(kernel="v6.0", migration="kernel"), "migration", "applies to kernel v6.12 and later, not v6.0"),
    (host(kernel="v6.10", migration="kernel"), "migration", "not v6.10"),
    (host(ap_domain=9), "ap_domain", "domain 9 is not in aqmask"),
    (host(ap_domain=85), "ap_domain", "outside 0..84"),
    (host(features="APSC", cards=[{**CARD, "queues": {9: {"bs": 1}}}]), "cards[0].queues.9.bs", "needs the APSB bus facility"),
    (
        host(cards=[{**CARD, "queues": {9: {"driver_override": "vfio_ap"}}}]),
        "cards[0].queues.9.driver_override",
        "only while apmask and aqmask are all ones",
    ),
    (
        host(aqmask="0-255", kernel="v6.12", cards=[{**CARD, "queues": {9: {"driver_override": "vfio_ap"}}}]),
        "cards[0].queues.9.driver_override",
        "from kernel v6.19, this host runs v6.12",
    ),
    (host(cards=[{**CARD, "queues": {9: {"driver_override": "vfio-ap!"}}}]), "cards[0].queues.9.driver_override", "not a driver name"),
    (host(cards=[{**CARD, "serialnr": "93AADA0123"}]), "cards[0].serialnr", "not 8 upper-case letters or digits"),
    (host(cards=[{**CARD, "serialnr": "93AAD"}]), "cards[0].serialnr", "not 8 upper-case letters or digits (a CCA"),
    (host(cards=[{**CARD, "type": "CEX8P", "serialnr": "93AADA02"}]), "cards[0].serialnr", "not 16 upper-case letters or digits (a EP11"),
    (host(cards=[{**CARD, "type": "CEX8A", "serialnr": "X"}]), "cards[0].serialnr", "accelerator cards have no serial"),
    (host(kernel="v5.17", migration="attribute"), "migration", "not v5.17"),
    (host(machine_id="XYZ"), "machine_id", "not 32 lowercase hexadecimal digits"),
    (host(cpc={"type": "z16"}), "cpc.type", "not a 4-digit machine type"),
    (host(cpc={"serial": 1}), "cpc", "unknown key 'serial'"),
    (host(cpc={"sequence": "12-34"}), "cpc.sequence", "upper-case letters or digits"),
    (host(cpc={"name": "cpc a"}), "cpc.name", "1-8 upper-case"),
    (host(lpar={"name": "LPARNAME9"}), "lpar.name", "1-8 upper-case"),
    (host(lpar={"number": 300}), "lpar.number", "outside 0..255"),
    (host(same_as="lpar9"), "same_as", "expected the name of another host"),
    (host(same_as="nowhere"), "same_as", "no host 'nowhere'"),
    (host(same_as="x", lpar={"number": 3}), "lpar", "takes its identity from that host"),
]


@pytest.mark.parametrize("data, key, words", CASES, ids=[c[1] + ":" + (c[2] or "bad id")[:30] for c in CASES])
def test_fleet_mistake_is_one_line_naming_host_and_key(data, key, words):
    with pytest.raises(FleetError) as info:
        build_fleet(data, "f.yml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"f.yml: host lpar9: {key}: ")
    assert words in message


@pytest.mark.parametrize("command", ["validate", "render", "mount"])
@pytest.mark.parametrize("data, key", [(CASES[0][0], "host"), (CASES[11][0], "mdevs[1].domains"), (CASES[12][0], "mdevs[0].adapters")])
def test_cli_reports_fleet_mistake_on_one_line_with_exit_2(tmp_path, command, data, key):
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(data))
    args = [str(path)] + ([] if command == "validate" else [str(tmp_path / "out")])
    result = subprocess.run(
        [sys.executable, "-m", "apsim", command, *args], capture_output=True, text=True, env=subprocess_env(), check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"apsim: {path}: host lpar9: {key}: ")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("text, words", [("hosts: [1, 2\n", "not valid YAML"), ("- a\n", "top-level key 'hosts'")])
def test_cli_reports_unreadable_fleet_on_one_line(tmp_path, text, words):
    path = tmp_path / "broken.yml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "apsim", "validate", str(path)], capture_output=True, text=True, env=subprocess_env(), check=False
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and words in result.stderr
