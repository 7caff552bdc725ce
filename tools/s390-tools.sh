#!/usr/bin/env bash
# Provides s390-tools' own lszcrypt on a machine that is not an s390x, for the tests and the facts
# benchmark that compare the simulator's trees with what the real tool reads from them.
#
# Debian's archive serves s390-tools only as s390x binary packages here (its source package's files
# are not served), so the real, unmodified s390x lszcrypt of Debian's s390-tools package is run
# under qemu user-mode emulation (Debian package qemu-user, installed when missing). The packages
# come from Debian's own archive, through apt, with a private apt configuration (its own lists and
# cache under a temporary directory) that adds nothing to the machine's apt sources or dpkg
# architectures; the archive URI is the one this machine's apt already uses for Debian.
#
#   bash tools/s390-tools.sh        prints the directory; DIR/bin/lszcrypt runs the tool
#
# DIR is $S390_TOOLS_DIR, default ~/.cache/s390x-vfio-ap/s390-tools (outside the checkout, shared
# by worktrees). Quick when DIR is complete. Suites tried in order: $S390_TOOLS_SUITES, default
# "trixie sid bookworm" (the first suite whose package downloads wins, per package; a newer C library
# runs an older s390-tools, so bookworm's s390-tools is a last resort that still works with sid's). Needs root and apt-get
# for the first run only. Exits 1 with one line on stderr when it cannot provide the tool.
set -euo pipefail
DEST=${S390_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/s390x-vfio-ap/s390-tools}
SUITES=${S390_TOOLS_SUITES:-trixie sid bookworm}

fail() { echo "s390-tools: $*" >&2; exit 1; }
complete() { [ -x "$DEST/bin/lszcrypt" ] && "$DEST/bin/lszcrypt" --version >/dev/null 2>&1; }

if complete; then
  echo "$DEST"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available (Debian's s390-tools and qemu-user are needed)"
[ "$(id -u)" -eq 0 ] || fail "run as root once to fetch s390-tools and install qemu-user"

export DEBIAN_FRONTEND=noninteractive
if ! command -v qemu-s390x >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends qemu-user >/dev/null || fail "apt-get could not install qemu-user"
fi
QEMU=$(command -v qemu-s390x) || fail "qemu-user installed no qemu-s390x"

# The Debian archive this machine's apt uses (Origin and Label "Debian"), not a host of our choosing.
# shellcheck disable=SC2016  # $(ORIGIN) etc. are apt-get indextargets fields, not shell expansions
uri=$(apt-get indextargets --format '$(ORIGIN)|$(LABEL)|$(REPO_URI)' 2>/dev/null |
  awk -F'|' '$1 == "Debian" && $2 == "Debian" { print $3; exit }')
[ -n "$uri" ] || fail "no Debian archive in this machine's apt sources"

work=$(mktemp -d "${TMPDIR:-/tmp}/s390-tools.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/debs" "$work/root"
for suite in $SUITES; do
  echo "deb [arch=s390x] $uri $suite main"
done > "$work/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Architectures::=s390x"
  -o "APT::Sandbox::User=root" -o "Acquire::Languages=none"
)
apt-get "${apt_opts[@]}" update -qq >"$work/update.log" 2>&1 || { cat "$work/update.log" >&2; fail "apt-get update of the s390x lists failed"; }

# s390-tools (lszcrypt needs only libc) and the C library with its dynamic loader.
for pkg in s390-tools libc6; do
  got=
  for suite in $SUITES; do
    if (cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq "$pkg:s390x/$suite" >>"$work/download.log" 2>&1); then
      got=$suite
      break
    fi
  done
  [ -n "$got" ] || { cat "$work/download.log" >&2; fail "could not download $pkg:s390x from any of: $SUITES"; }
done
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done
# merged /usr: the loader is asked for as /lib/ld64.so.1
for d in lib bin sbin; do
  [ -e "$work/root/$d" ] || ln -s "usr/$d" "$work/root/$d"
done
sbin=usr/sbin  # bookworm's package predates merged /usr: sbin/lszcrypt
[ -x "$work/root/$sbin/lszcrypt" ] || sbin=sbin
[ -x "$work/root/$sbin/lszcrypt" ] || fail "the s390-tools package has no usr/sbin/lszcrypt or sbin/lszcrypt"

staged="$work/stage"
mkdir -p "$staged/bin"
mv "$work/root" "$staged/root"
ls "$work/debs" > "$staged/packages"
for tool in lszcrypt chzcrypt; do
  cat > "$staged/bin/$tool" <<WRAP
#!/bin/sh
# s390-tools' $tool (Debian s390x binary) under qemu user-mode emulation; see tools/s390-tools.sh.
exec "$QEMU" -L "$DEST/root" "$DEST/root/$sbin/$tool" "\$@"
WRAP
  chmod 755 "$staged/bin/$tool"
done
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.old"
[ ! -e "$DEST" ] || mv "$DEST" "$DEST.old"
mv "$staged" "$DEST"
rm -rf "$DEST.old"
complete || fail "$DEST/bin/lszcrypt does not run (qemu-s390x: $QEMU)"
echo "$DEST"
