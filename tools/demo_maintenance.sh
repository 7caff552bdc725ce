#!/usr/bin/env bash
# make demo-maintenance: mount the bundled simulated fleet live, drain kvm-a1 with the maintenance
# role (plan, just-in-time checks, preparation of kvm-b1, live migration through the simulator's
# virsh), print the drain report and unmount. The demo fleet strands four guests of kvm-a1 on purpose,
# so the run is told not to fail for a host left not empty (a real drain does, by default).
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/output/demo-maintenance
. tools/demo_live.sh
demo_live "$out" tests/fleets/demo.yml
rc=0
.venv/bin/ansible-playbook -i "$out/inventory.yml" playbooks/pre_maintenance.yml -e "{
  \"vfio_ap_maintenance_hosts\": \"kvm-a1\",
  \"vfio_ap_maintenance_execute\": true,
  \"vfio_ap_maintenance_prepare\": true,
  \"vfio_ap_maintenance_fail_when_not_empty\": false,
  \"vfio_ap_maintenance_report_dir\": \"$PWD/$out/reports\",
  \"vfio_ap_maintenance_environment\": {\"APSIM_MOUNT\": \"$mnt\", \"APSIM_HOST\": \"{{ inventory_hostname }}\",
                                        \"PATH\": \"$PWD/tests/apsim/bin:$PATH\"}}" || rc=$?
echo
cat "$out/reports/evacuation.md"
echo "reports: $PWD/$out/reports/evacuation.{json,md,html,xml}"
exit "$rc"
