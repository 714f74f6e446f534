# aliasdesk: `make demo` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean debian-deps

$(STAMP): pyproject.toml package-lock.json
	bash scripts/debian-deps.sh build || echo "make install: without those packages directory login (LDAP) is left out" >&2
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,ldap]' || { echo "make install: python-ldap did not build; installing without directory login (LDAP)" >&2; $(BIN)/pip install -q -e '.[dev]'; }
	bash scripts/vendor-assets.sh
	touch $(STAMP)

install: $(STAMP)

debian-deps:
	bash scripts/debian-deps.sh

demo: install
	$(BIN)/aliasdesk migrate --verbosity 0
	$(BIN)/aliasdesk demo --bind 127.0.0.1:8000

test: debian-deps install
	$(BIN)/pytest -n 2 --dist loadgroup tests

# Without a real Postfix, a browser or the long fault trials: the quick loop while coding.
test-fast: install
	$(BIN)/pytest -n 2 --dist loadgroup tests --ignore=tests/browser --ignore=tests/e2e -m "not postfix and not slow"

lint: install
	$(BIN)/ruff check aliasdesk tests bench
	$(BIN)/mypy aliasdesk

bench: debian-deps install
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) var build *.egg-info
