# Every target runs inside .venv, which `make setup` builds from nothing but python3.
# torch is pinned through constraints.txt so CPU machines get the CPU wheel.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup demo test lint bench check clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,hf,plot]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pv validate contracts/
	$(BIN)/distill run --out $(DEMO_OUT)
	@echo "== scorecard: every contract id checked against the engine =="
	$(BIN)/pv falsify

# The contract dashboard is written whether the tests pass or not: a failure is when it helps.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term:skip-covered \
		--pv-strict --pv-report runs/pv-report.json; status=$$?; \
	$(BIN)/pv report --html runs/pv-report.html --falsify-report runs/pv-report.json; \
	exit $$status
	$(BIN)/pv gate --mutants

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

check: lint test

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache .coverage
