#!/usr/bin/env bash
# Install the Debian packages aliasdesk needs, only those missing. Needs root when something is missing.
#   debian-deps.sh build   what `make install` needs: a venv and a C build of python-ldap
#   debian-deps.sh         that and everything the tests use (Postfix, slapd, chromium, the
#                          PostgreSQL and MariaDB clients; not the servers: scripts/db-servers.sh)
#   debian-deps.sh bench   that and wrk, the web benchmark's load generator
set -euo pipefail
build=(python3-venv python3-dev gcc libc6-dev libldap-dev libsasl2-dev gettext)
tests=(postfix postfix-lmdb postfix-cdb postfix-sqlite postfix-pgsql postfix-mysql pflogsumm chromium slapd ldap-utils)
case "${1:-}" in
  build) packages=("${build[@]}") ;;
  bench) packages=("${build[@]}" "${tests[@]}" wrk) ;;
  *) packages=("${build[@]}" "${tests[@]}") ;;
esac
if ! command -v dpkg-query >/dev/null; then
  echo "not Debian: install the equivalents of ${packages[*]} yourself" >&2
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The database clients the engine tests call (tests/test_cli.py): any version will do.
if [ "${1:-}" != build ]; then
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v mariadb >/dev/null || command -v mysql >/dev/null || missing+=(mariadb-client)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run 'make test' as root, or apt-get install them)" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# slapd's own configuration is not used: the tests start private servers.
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
