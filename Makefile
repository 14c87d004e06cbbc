# Every target runs inside .venv, which `make setup` builds from nothing but python3.
# torch is pinned through constraints.txt so CPU machines get the CPU wheel.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup demo test lint bench bench-peers bench-seeds bench-onpolicy bench-scale faults mutation check clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,distill,hf,parquet,plot]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pv validate contracts/
	$(BIN)/distill run --out $(DEMO_OUT)
	@echo "== scorecard: every contract id checked against the engine =="
	$(BIN)/pv falsify

# The linters first: CI holds the style, not only habits. The contract dashboard is
# written whether the tests pass or not: a failure is when it helps.
test: lint
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term:skip-covered \
		--pv-strict --pv-report runs/pv-report.json; status=$$?; \
	$(BIN)/pv report --html runs/pv-report.html --falsify-report runs/pv-report.json; \
	exit $$status
	$(BIN)/pv gate --mutants

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# the ratio benches, each against a baseline run in the same process
bench: $(STAMP)
	$(BIN)/python -m bench

# ours against TRL's and torchtune's losses on the same inputs; installs the bench extra as
# `make mutation` installs its own
bench-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/python -m bench peers

# the long benches, each behind its own target (times in the README)
# the 3-seed tables: distilled against from-scratch, and the divergences at demo scale
bench-seeds: $(STAMP)
	$(BIN)/python -m bench kd_vs_scratch divergences

# on-policy against offline distillation at demo scale, 2 corpora x 3 seeds
bench-onpolicy: $(STAMP)
	$(BIN)/python -m bench onpolicy

# prepare, precompute and train over corpora of 200 MB, 1 GB and 2 GB
bench-scale: $(STAMP)
	$(BIN)/python -m bench scale

# kill -9 at random moments (50 per stage), the pv fuzz over 10,000 mutated contracts, and
# pv over 1k/5k/10k contracts and one 50 MB contract
faults: $(STAMP)
	$(BIN)/python -c 'from bench.faults import report; raise SystemExit(report())' --kills 50
	PV_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -p no:randomly -p no:cacheprovider -q \
		tests/pv/test_fuzz_corpus.py
	$(BIN)/python -m bench pv_scale

# mutmut over loss/kernel/divergence, fused, cache and pv/rules, each against the tests that
# import it; long (not part of `make test`). Needs the mutation extra.
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[mutation]'
	$(BIN)/python tools/mutation.py

check: test

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache .coverage
