#!/usr/bin/env bash
# Install the Debian packages the tests need, only those missing. Needs root when something is missing.
set -euo pipefail
packages=(postfix postfix-lmdb postfix-cdb pflogsumm chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run 'make test' as root, or apt-get install them)" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
