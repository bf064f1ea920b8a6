#!/usr/bin/env bash
# Install the reference IMAP servers the IMAP benchmark compares against,
# without disturbing Courier's packages (the test suite needs them).
#
#   bash bench/install-references.sh        # needs root for the Dovecot part
#
# * Dovecot 2.3 (Debian's dovecot-core + dovecot-imapd).  These debs
#   declare Conflicts with courier-imap (both provide imap-server), so
#   `dpkg -i --force-conflicts` would install them but leave apt broken
#   ("courier-imap : Conflicts: imap-server"; every later apt-get install
#   asks to remove one of them).  Instead the debs are unpacked with
#   dpkg-deb -x into bench/.references/dovecot (never registered with dpkg)
#   and /usr/lib/dovecot is made a symlink to the unpacked
#   usr/lib/dovecot, because Dovecot's login processes load their SSL
#   module from that compiled-in directory whatever the configuration says.
#   Its shared-library dependencies (liblua5.4-0, libexttextcat) conflict
#   with nothing and are installed normally.
# * pymap (PyPI) into its own venv, bench/.venvs/pymap, so its dependencies
#   stay out of ours.
#
# Safe to run again: every step checks first.  Courier's programs are
# checked at the end.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$(pwd)
REF="$BENCH/.references"
PREFIX="$REF/dovecot"

install_dovecot() {
  if [ -x "$PREFIX/usr/lib/dovecot/imap" ] && [ -x "$PREFIX/usr/sbin/dovecot" ]; then
    echo "dovecot: unpacked in $PREFIX"
  else
    if [ "$(id -u)" -ne 0 ]; then
      echo "install-references: need root to fetch Dovecot's packages" >&2
      return 1
    fi
    mkdir -p "$REF/debs"
    export DEBIAN_FRONTEND=noninteractive
    if ! ls "$REF"/debs/dovecot-core_*.deb >/dev/null 2>&1 \
       || ! ls "$REF"/debs/dovecot-imapd_*.deb >/dev/null 2>&1; then
      apt-get update -qq
      (cd "$REF/debs" && apt-get download -qq dovecot-core dovecot-imapd)
    fi
    rm -rf "$PREFIX.tmp"
    mkdir -p "$PREFIX.tmp"
    for deb in "$REF"/debs/dovecot-core_*.deb "$REF"/debs/dovecot-imapd_*.deb; do
      dpkg-deb -x "$deb" "$PREFIX.tmp"
    done
    rm -rf "$PREFIX"
    mv "$PREFIX.tmp" "$PREFIX"
    echo "dovecot: unpacked into $PREFIX"
  fi
  # Libraries the unpacked binaries need (no conflicts with Courier).
  local missing=()
  for p in liblua5.4-0 libexttextcat-2.0-0; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "install-references: need root to install ${missing[*]}" >&2
      return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # The compiled-in module directory.
  local target="$PREFIX/usr/lib/dovecot"
  if [ -L /usr/lib/dovecot ]; then
    if [ "$(readlink /usr/lib/dovecot)" != "$target" ]; then
      ln -sfn "$target" /usr/lib/dovecot
    fi
  elif [ -e /usr/lib/dovecot ]; then
    echo "dovecot: /usr/lib/dovecot exists (a packaged Dovecot?); left alone"
  else
    if [ "$(id -u)" -ne 0 ]; then
      echo "install-references: need root to link /usr/lib/dovecot" >&2
      return 1
    fi
    ln -s "$target" /usr/lib/dovecot
  fi
  "$PREFIX/usr/sbin/dovecot" --version
}

install_pymap() {
  local venv="$BENCH/.venvs/pymap"
  if [ -x "$venv/bin/pymap" ]; then
    echo "pymap: in $venv"
    return 0
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pymap
  echo "pymap: installed into $venv"
}

check_courier() {
  local ok=1
  for prog in /usr/bin/imapd /usr/bin/maildirmake.courier /usr/bin/deliverquota.courier; do
    [ -x "$prog" ] || { echo "install-references: $prog is missing" >&2; ok=0; }
  done
  if apt-get check >/dev/null 2>&1; then :; else
    echo "install-references: apt-get check fails" >&2; ok=0
  fi
  [ $ok -eq 1 ] && echo "courier: programs present, apt consistent"
}

status=0
install_dovecot || { echo "dovecot: not installed" >&2; status=1; }
install_pymap || { echo "pymap: not installed" >&2; status=1; }
check_courier || status=1
exit $status
