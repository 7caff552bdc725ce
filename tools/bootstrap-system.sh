#!/usr/bin/env bash
# Installs the Debian packages the tests need (fuse3 for the live simulator, mdevctl for the
# real-tool tests, chromium for the HTML report test, openssh-server and sudo for the SSH tests) when running as root and they are missing. Prints one line either way.
# Then provides s390-tools' lszcrypt (tools/s390-tools.sh: Debian's s390x binary under
# qemu-user, cached outside the checkout; about 10 s the first time, instant after): a failure there
# is one line, and the lszcrypt tests report it (they fail under CI=true).
set -euo pipefail
s390_tools() {
  bash "$(dirname "$0")/s390-tools.sh" >/dev/null || echo "bootstrap: lszcrypt unavailable; the lszcrypt tests will report it" >&2
}
need=()
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v mdevctl >/dev/null 2>&1 || need+=(mdevctl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)   # the HTML report test (headless browser)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)   # apsim ssh-serve: simulated hosts over SSH
command -v sudo >/dev/null 2>&1 || need+=(sudo)    # ... logged in as an unprivileged user with sudo
if [ ${#need[@]} -eq 0 ]; then
  s390_tools
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: missing ${need[*]} and cannot install them (not root or no apt-get); live-simulator tests will report it" >&2
  s390_tools
  exit 0
fi
echo "bootstrap: installing ${need[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
s390_tools
