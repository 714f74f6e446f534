# aliasdesk: `make demo` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install messages demo test test-fast test-postgres test-mariadb lint bench clean debian-deps

$(STAMP): pyproject.toml package-lock.json
	bash scripts/debian-deps.sh build || echo "make install: without those packages directory login (LDAP) is left out" >&2
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ldap]' || { echo "make install: python-ldap did not build; installing without directory login (LDAP)" >&2; $(BIN)/pip install -q -e '.[dev]'; }
	bash scripts/vendor-assets.sh
	touch $(STAMP)

# The translation catalogues (aliasdesk/locale/*/LC_MESSAGES/django.po) compiled for gettext.
PO := $(wildcard aliasdesk/locale/*/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)
%.mo: %.po
	msgfmt --check -o $@ $<

install: $(STAMP) $(MO)

# After changing user-facing text: bring the catalogues up to date, then translate what is new
# (tests/test_translations.py fails while anything is untranslated or fuzzy).
messages: install
	cd aliasdesk && ../$(BIN)/aliasdesk makemessages -l de --no-location --no-obsolete --ignore 'static/*'

debian-deps:
	bash scripts/debian-deps.sh

PORT ?= 8000

demo: install
	$(BIN)/aliasdesk migrate --verbosity 0
	$(BIN)/aliasdesk demo --bind 127.0.0.1:$(PORT)

test: debian-deps install
	$(BIN)/pytest -n 2 --dist loadgroup tests

# Without a real Postfix, a browser or the long fault trials: the quick loop while coding.
test-fast: install
	$(BIN)/pytest -n 2 --dist loadgroup tests --ignore=tests/browser --ignore=tests/e2e -m "not postfix and not slow"

# The suite on real PostgreSQL and MariaDB servers (scripts/test-db.sh: a fresh test database
# per run). Left out: tests/e2e and the slow fault trials, which run aliasdesk on their own
# SQLite files whatever the suite's database is.
DB_TESTS ?= tests --ignore=tests/e2e -m "not slow"
# What CI runs on each server: models and imports (aliases, maillog counters), deploys, web,
# the command line, webhooks (their claims race on the servers only), the API, the move.
# Tests that drive aliasdesk on its own SQLite files in subprocesses (fault trials, crash points,
# map paths, HTTPS settings, webhook workers, agents on their own databases, the demo, which
# runs on SQLite as `make demo` does) and the tests that
# set up all three engines themselves (search, the command line as a script, the Postfix lookup
# table): `make test` has them. The walk of
# every URL with every role (tests/web/test_permissions.py, a thousand requests that check
# rights, not SQL) runs there too, which keeps CI within its 20 minutes.
CI_DB_TESTS := tests/aliases tests/deploys tests/web tests/maillog/test_ingest.py \
	tests/cli tests/webhooks tests/api/test_api_behaviour.py tests/dbmove/test_dbmove.py \
	--ignore=tests/deploys/test_faults.py --ignore=tests/deploys/test_crashpoints.py \
	--ignore=tests/deploys/test_patch_faults.py --ignore=tests/web/test_https.py \
	--ignore=tests/web/test_permissions.py --ignore=tests/webhooks/test_cli.py \
	--ignore=tests/deploys/test_agent_hosts.py --ignore=tests/web/test_demo.py \
	--deselect tests/deploys/test_map_paths.py::test_the_command_exits_non_zero_with_one_line \
	--deselect tests/aliases/test_search.py::test_each_database_engine_answers_the_same \
	--ignore=tests/cli/test_process.py \
	--deselect tests/aliases/test_postfix_config.py::test_the_sql_table_answers_as_the_deployed_maps_live \
	--deselect tests/aliases/test_postfix_config.py::test_a_read_only_role_reads_the_lookup_table_and_nothing_else \
	-m "not slow"

test-postgres: debian-deps install
	bash scripts/test-db.sh postgres -n 2 --dist loadgroup $(DB_TESTS)

test-mariadb: debian-deps install
	bash scripts/test-db.sh mariadb -n 2 --dist loadgroup $(DB_TESTS)

lint: install
	$(BIN)/ruff check aliasdesk tests bench
	$(BIN)/mypy aliasdesk

bench: install
	bash scripts/debian-deps.sh bench
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) var build *.egg-info
