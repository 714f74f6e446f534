#!/usr/bin/env bash
# Make sure the local PostgreSQL and MariaDB servers answer on 127.0.0.1 (5432, 3306):
# start those that are installed but stopped. Needs root to start one. Fails, saying
# which, when a server is not installed or does not come up within a minute.
#   db-servers.sh [postgres] [mariadb]    (default: both)
set -euo pipefail
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # name port
  for _ in $(seq 60); do
    answers "$2" && { echo "$1 answers on 127.0.0.1:$2"; return 0; }
    sleep 1
  done
  echo "$1 did not come up on 127.0.0.1:$2 within a minute" >&2
  return 1
}

start_postgres() {
  answers 5432 && return 0
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "PostgreSQL is not installed (Debian: postgresql) and nothing answers on 127.0.0.1:5432" >&2
    return 1
  fi
  echo "starting PostgreSQL"
  for version in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
  done
  wait_for PostgreSQL 5432
}

start_mariadb() {
  answers 3306 && return 0
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "MariaDB is not installed (Debian: mariadb-server) and nothing answers on 127.0.0.1:3306" >&2
    return 1
  fi
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB 3306
}

servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=(postgres mariadb)
status=0
for server in "${servers[@]}"; do
  case "$server" in
    postgres) start_postgres || status=1 ;;
    mariadb) start_mariadb || status=1 ;;
    *) echo "usage: $0 [postgres] [mariadb]" >&2; exit 2 ;;
  esac
done
exit $status
