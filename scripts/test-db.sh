#!/usr/bin/env bash
# Run pytest against a real database server: test-db.sh postgres|mariadb [pytest arguments]
#   postgres  ALIASDESK_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432
#   mariadb   ALIASDESK_TEST_MARIADB,  default mysql://root@127.0.0.1:3306
# The user must be allowed to create databases. pytest-django creates test_<name>_gwN (one
# per xdist worker) and drops them at the end; <name> is new for every run, so two runs
# side by side never share a database. The server itself is not started here: see
# scripts/db-servers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-}
shift || true
case "$engine" in
  postgres) server=${ALIASDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432} ;;
  mariadb) server=${ALIASDESK_TEST_MARIADB:-mysql://root@127.0.0.1:3306} ;;
  *) echo "usage: $0 postgres|mariadb [pytest arguments]" >&2; exit 2 ;;
esac
BIN=${BIN:-.venv/bin}
export ALIASDESK_DATABASE_URL="${server%/}/aliasdesk_$(date +%s)_$$"
# Reach the server the way pytest-django will (no database selected yet), or say why not.
DJANGO_SETTINGS_MODULE=aliasdesk.settings "$BIN/python" -W ignore::RuntimeWarning - "$engine" <<'PY'
import sys

import django

django.setup()
from django.conf import settings
from django.db import connection

try:
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1")
except Exception as exc:  # noqa: BLE001 - any failure here means: no tests on this server
    db = settings.DATABASES["default"]
    sys.exit(
        f"{sys.argv[1]}: cannot reach {db['USER']}@{db['HOST']}:{db['PORT']} ({exc}).\n"
        f"Start the server (as root: bash scripts/db-servers.sh {sys.argv[1]}), or point "
        "ALIASDESK_TEST_POSTGRES / ALIASDESK_TEST_MARIADB at one."
    )
PY
echo "$engine: test databases test_${ALIASDESK_DATABASE_URL##*/}_gw*"
exec "$BIN/pytest" "$@"
