#!/usr/bin/env bash
# Installs the Debian packages the tests need (fuse3 for the live simulator, mdevctl for the
# real-tool tests, chromium for the HTML report test, openssh-server and sudo for the SSH tests) when running as root and they are missing. Prints one line either way.
set -euo pipefail
need=()
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v mdevctl >/dev/null 2>&1 || need+=(mdevctl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)   # the HTML report test (headless browser)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)   # apsim ssh-serve: simulated hosts over SSH
command -v sudo >/dev/null 2>&1 || need+=(sudo)    # ... logged in as an unprivileged user with sudo
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: missing ${need[*]} and cannot install them (not root or no apt-get); live-simulator tests will report it" >&2
  exit 0
fi
echo "bootstrap: installing ${need[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
