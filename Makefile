# kapclinic: `make run` serves the demo clinic, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export KAPCLINIC_ENV ?= development
PORT ?= 8000

.PHONY: install install-dev run test test-postgres test-browser bench lint lock clean validate-fhir

# Re-installs only when a lock file or pyproject.toml changed (a stamp per set).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(VENV)/.runtime: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

install: $(VENV)/.runtime

install-dev: $(VENV)/.dev

run: install
	$(BIN)/kapclinic manage migrate --verbosity 0
	$(BIN)/kapclinic demo --if-empty
	$(BIN)/kapclinic serve --port $(PORT)

# pytest-xdist: one test process per core (TEST_WORKERS=0 runs them in this one); a test file
# stays on one worker (loadfile) so its module-scoped setup (a browser, a demo) is built once.
TEST_WORKERS ?= auto
XDIST = -n $(TEST_WORKERS) --dist loadfile

test: install-dev
	$(BIN)/pytest $(XDIST)

# A test marked own_data_folder runs the command on a SQLite file of its own: the SQLite pass has
# run it already, the same, and running it here would only repeat it.
test-postgres: install-dev
	KAPCLINIC_TEST_POSTGRES=1 $(BIN)/pytest $(XDIST) -m "not browser and not own_data_folder"

test-browser: install-dev
	$(BIN)/pytest $(XDIST) -m browser

bench: install-dev
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src/kapclinic/clinical
	$(BIN)/lint-imports

# kapclinic's FHIR output checked by an independent R4 validator (Medplum's, on Node.js; see
# tools/fhir-validator/README.md): the demo clinics in a throwaway data folder (any KAPCLINIC_*
# setting, a database URL included, is dropped for it), bulk-exported, and every NDJSON file
# validated (manifest.json is no FHIR resource). Warnings are printed; any error fails.
FHIR_VALIDATOR := tools/fhir-validator
VALIDATE_FHIR_FLAGS ?= --warnings

# npm ci again only when the lock file changed (a stamp, like the venv's)
$(FHIR_VALIDATOR)/node_modules/.installed: $(FHIR_VALIDATOR)/package-lock.json $(FHIR_VALIDATOR)/package.json
	npm ci --prefix $(FHIR_VALIDATOR) --no-audit --no-fund --loglevel=error
	touch $@

validate-fhir: install $(FHIR_VALIDATOR)/node_modules/.installed
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for v in $$(env | sed -n 's/^\(KAPCLINIC_[A-Z_]*\)=.*/\1/p'); do unset $$v; done; \
	export KAPCLINIC_ENV=development KAPCLINIC_DATA_DIR="$$tmp"; \
	run() { log="$$tmp/$$1.log"; shift; "$$@" >"$$log" 2>&1 || { cat "$$log"; exit 1; }; }; \
	run demo $(BIN)/kapclinic demo --password demo-password-1 --patients 12; \
	for clinic in harbor cedar; do \
	  run export-$$clinic $(BIN)/kapclinic fhir bulk-export --clinic $$clinic --out "$$tmp/export/$$clinic"; \
	done; \
	node $(FHIR_VALIDATOR)/validate-fhir.js $(VALIDATE_FHIR_FLAGS) $$(find "$$tmp/export" -name '*.ndjson' | sort)

lock:
	@echo "Upgrade a pin by editing requirements*.lock, then 'make install-dev' and 'make test'."

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
