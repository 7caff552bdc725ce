#!/usr/bin/env bash
# make demo-rolling: roll the bundled demo fleet host by host on the live simulator with the
# rolling_maintenance playbook, then print the run report. The demo fleet's reservations are made
# persistent first (persistent_masks: what chzdev --persistent keeps), as on a site's hosts; its
# guests that have no destination (the fleet strands eleven on purpose) stop for their host's
# window and are started again after it. The run stops before rebooting kvm-a1: db1's mdev would
# come back as its definition says, not as it runs (drift). The same command, told to reboot
# anyway, takes the run up there and finishes it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/output/demo-rolling
. tools/demo_live.sh
mkdir -p "$out"
.venv/bin/python - "$out/fleet.yml" <<'PY'
import sys, yaml
from helpers.rolling import persistent
fleet = persistent(yaml.safe_load(open("tests/fleets/demo.yml")))
open(sys.argv[1], "w").write(yaml.safe_dump(fleet, sort_keys=False))
PY
demo_live "$out" "$out/fleet.yml"
extra="{
  \"vfio_ap_maintenance_hosts\": \"kvm-a1,kvm-a2,kvm-a3,kvm-b1,kvm-b2,kvm-b3\",
  \"vfio_ap_maintenance_fail_when_not_empty\": false,
  \"vfio_ap_maintenance_report_dir\": \"$PWD/$out/reports\",
  \"vfio_ap_maintenance_reboot_tasks\": \"$PWD/tests/apsim/reboot_tasks.yml\",
  \"vfio_ap_maintenance_settle_timeout\": 5,
  \"apsim_mount\": \"$mnt\", \"apsim_python\": \"$PWD/.venv/bin/python\",
  \"apsim_pythonpath\": \"$PWD/.collections:$PWD/tests\",
  \"vfio_ap_maintenance_environment\": {\"APSIM_MOUNT\": \"$mnt\", \"APSIM_HOST\": \"{{ inventory_hostname }}\",
                                        \"PATH\": \"$PWD/tests/apsim/bin:$PATH\"}}"
echo "--- the rolling maintenance of the demo fleet"
if .venv/bin/ansible-playbook -i "$out/inventory.yml" playbooks/rolling_maintenance.yml -e "$extra" > "$out/run-1.log" 2>&1; then
  echo "the run finished at once"
else
  echo "the run stopped (as expected on the demo fleet):"
  grep -o '"msg": "stopped in batch[^"]*' "$out/run-1.log" | head -1 | sed 's/"msg": "/  /'
  echo "--- the same command, told to reboot kvm-a1 anyway (vfio_ap_maintenance_reboot_unpersisted=true)"
  .venv/bin/ansible-playbook -i "$out/inventory.yml" playbooks/rolling_maintenance.yml -e "$extra" \
    -e vfio_ap_maintenance_reboot_unpersisted=true > "$out/run-2.log" 2>&1 \
    || { tail -40 "$out/run-2.log"; exit 1; }
fi
echo
cat "$out/reports/rolling-run.md"
echo "reports: $PWD/$out/reports/rolling-run.{json,md,html,xml}, rolling-plan.*, batch-N/evacuation.*; logs: $out/run-*.log"
