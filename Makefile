# iotauth: host-side build, tests and tools. Everything installs into .venv from
# requirements.txt; outputs go to build/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
MICROPYTHON ?= $(abspath $(BIN)/micropython)
export MICROPYTHON

.PHONY: test lint demo bench mpy deploy serve clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

test: $(STAMP) lint
	$(BIN)/python -m pytest host_tests

lint: $(STAMP)
	$(BIN)/ruff check firmware host_tests tools boards
	$(BIN)/ruff format --check firmware host_tests tools boards
	$(BIN)/python tools/build.py check

mpy: $(STAMP)
	$(BIN)/python tools/build.py mpy

demo: $(STAMP)
	$(BIN)/python -m tools.demo

bench: $(STAMP) mpy
	$(BIN)/python -m tools.bench

serve: $(STAMP)
	$(BIN)/python -m tools.tokenserver

deploy: mpy
	$(BIN)/python -m tools.deploy --port "$(PORT)" --board "$(BOARD)" --config "$(or $(CONFIG),auth.json)" $(if $(WIFI),--wifi "$(WIFI)")

clean:
	rm -rf build
