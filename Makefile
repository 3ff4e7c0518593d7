# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(CURDIR)/.warden

.PHONY: run test lint bench conformance clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,clickhouse]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/warden up --data-dir $(DATA_DIR)

test: $(STAMP)
	$(BIN)/ruff check --no-cache src tests bench
	$(BIN)/python -m pytest -q --durations=25

lint: $(STAMP)
	$(BIN)/ruff check --no-cache src tests bench

# Each benchmark exits non-zero when it misses its target; the leading '-' lets the others run
# anyway (make still reports the miss).
bench: $(STAMP)
	-$(BIN)/python bench/rbac_check.py
	-$(BIN)/python bench/kql_vs_sql.py
	-$(BIN)/python bench/nsg_verdicts.py
	-$(BIN)/python bench/policy_eval.py
	-$(BIN)/python bench/ingest.py
	-$(BIN)/python bench/backup_local.py
	-$(BIN)/python bench/tokens.py

# Warden vs restic on Debian's kernel source tree (~1.3 GB, ~78,000 files), medians of 3 runs: about
# 30 minutes on 2 cores, so it is not part of `make bench`.
.PHONY: bench-backup-vs-restic
bench-backup-vs-restic: $(STAMP)
	$(BIN)/python bench/backup_vs_restic.py

# Client-credentials grants and password + TOTP sign-ins per server core, next to Keycloak's sizing
# figures: about 2 minutes (user setup, three 20 s phases).
.PHONY: bench-tokens
bench-tokens: $(STAMP)
	$(BIN)/python bench/tokens.py

# Corpus checks against ../shared/corpus (each skips cleanly when the corpus is absent).
conformance: $(STAMP)
	$(BIN)/python -m pytest -q tests -k corpus
	$(BIN)/python bench/kql_parse_rate.py
	$(BIN)/python bench/kql_conformance.py
	$(BIN)/python bench/policy_conformance.py

clean:
	rm -rf $(VENV) .pytest_cache
