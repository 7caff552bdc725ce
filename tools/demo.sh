#!/usr/bin/env bash
# make demo: render the bundled simulated fleet, run the real audit job on it, print the summary
# and where the reports are.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/output/demo
rm -rf "$out/hosts" "$out/reports"
mkdir -p "$out"
export PYTHONPATH=".collections:tests"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_RETRY_FILES_ENABLED=0
.venv/bin/python -m apsim render tests/fleets/demo.yml "$out/hosts"
.venv/bin/python tools/demo_inventory.py "$out/hosts" "$out/inventory.yml"
.venv/bin/ansible-playbook -i "$out/inventory.yml" playbooks/audit.yml \
  -e "{\"vfio_ap_audit_report_dir\": \"$PWD/$out/reports\", \"vfio_ap_audit_title\": \"vfio-ap readiness of the demo fleet\"}"
echo
sed -n '1,/^## Guests without/p' "$out/reports/readiness.md" | sed '$d'
echo "reports: $PWD/$out/reports/readiness.{json,md,html,xml}"
echo "HTML report: $PWD/$out/reports/readiness.html"
