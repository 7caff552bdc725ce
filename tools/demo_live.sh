# shellcheck shell=bash
# Sourced by the live demos (demo_maintenance.sh, demo_rolling.sh), from the repository root:
# demo_live OUT FLEET mounts FLEET live at OUT/mnt (unmounted when the demo exits), writes
# OUT/inventory.yml for it, and sets the environment the playbooks run with; $mnt is the mount.
export PYTHONPATH=".collections:tests"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_RETRY_FILES_ENABLED=0

demo_live() {
  local out=$1 fleet=$2
  mnt="$PWD/$out/mnt"
  .venv/bin/python -m apsim unmount "$mnt" >/dev/null 2>&1 || true
  rm -rf "$out/reports"
  mkdir -p "$out"
  .venv/bin/python -m apsim mount "$fleet" "$mnt" --background --pidfile "$out/pid"
  trap '.venv/bin/python -m apsim unmount "$mnt"' EXIT
  .venv/bin/python tools/demo_inventory.py "$mnt" "$out/inventory.yml"
}
