#!/usr/bin/env bash
# make demo: render the bundled simulated fleet and show each host's AP inventory.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/output/demo
mkdir -p "$out"
.venv/bin/python -m apsim render tests/fleets/demo.yml "$out/hosts"
.venv/bin/python tests/demo_inventory.py "$out/hosts"
