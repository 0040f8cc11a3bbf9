# iotauth: host-side build, tests and tools. Everything installs into .venv from
# requirements.txt; outputs go to build/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
MICROPYTHON ?= $(abspath $(BIN)/micropython)
export MICROPYTHON

.PHONY: test lint demo bench mpy deploy circuitpy serve reliability port circuitpython clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

test: $(STAMP) lint port circuitpython
	$(BIN)/python -m pytest host_tests

BOARDS := esp32 rpi_pico_w

STUBS_esp32 := micropython-esp32-stubs
STUBS_rpi_pico_w := micropython-rp2-rpi-pico-w-stubs

build/stubs/%/.installed: requirements-stubs.txt $(STAMP)
	rm -rf build/stubs/$*
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --target build/stubs/$* \
	  $$(grep -E '^($(STUBS_$*)|micropython-stdlib-stubs)==' requirements-stubs.txt)
	touch $@

lint: $(STAMP) $(foreach b,$(BOARDS),build/stubs/$(b)/.installed)
	$(BIN)/ruff check firmware host_tests tools boards
	$(BIN)/ruff format --check firmware host_tests tools boards
	$(BIN)/python tools/build.py check
	for b in $(BOARDS); do $(BIN)/pyright -p boards/$$b/pyrightconfig.json || exit 1; done

# The board-faithful MicroPython unix port (32-bit, mbedtls in the GC heap), plain and with the
# agent frozen in, under build/port/ (tools/port.py); rebuilt only when its inputs change.
port: $(STAMP)
	$(BIN)/python -m tools.port

# CircuitPython 10.2.1's unix port with MicroPython's socket module added, and its mpy-cross,
# under build/circuitpython/ (tools/cpport.py); built once.
circuitpython: $(STAMP)
	$(BIN)/python -m tools.cpport

mpy: $(STAMP)
	$(BIN)/python tools/build.py mpy

demo: $(STAMP)
	$(BIN)/python -m tools.demo

# make bench [PYPI=1]: on the board-faithful port (naive, .mpy, frozen), or on PyPI's port
bench: $(STAMP) mpy circuitpython $(if $(PYPI),,port)
	$(BIN)/python -m tools.bench $(if $(PYPI),--pypi)

reliability: $(STAMP) mpy
	IOTAUTH_CUT_STRIDE=1 IOTAUTH_SOAK=10000 IOTAUTH_FLEET=10000 $(BIN)/python -m pytest -q \
	  host_tests/test_reliability.py host_tests/test_failures.py host_tests/test_expiry.py \
	  host_tests/test_store.py host_tests/test_http.py
	$(BIN)/python -m tools.fleet --devices 10000 --plot build/fleet.png

# make serve [HOST=0.0.0.0] [PORT_HTTPS=8443] [LIFETIME=s] [REFRESH_LIFETIME=s]
serve: $(STAMP)
	$(BIN)/python -m tools.tokenserver $(if $(HOST),--host "$(HOST)") \
	  $(if $(PORT_HTTPS),--port "$(PORT_HTTPS)") $(if $(LIFETIME),--lifetime "$(LIFETIME)") \
	  $(if $(REFRESH_LIFETIME),--refresh-lifetime "$(REFRESH_LIFETIME)")

deploy: mpy
	$(BIN)/python -m tools.deploy --port "$(PORT)" --board "$(BOARD)" $(if $(CONFIG),--config "$(CONFIG)") $(if $(WIFI),--wifi "$(WIFI)")

# make circuitpy DRIVE=/media/$USER/CIRCUITPY [BOARD=cp-pico-w|cp-esp32s3] [CONFIG=auth.json]
# [SETTINGS=settings.toml]: the agent compiled by CircuitPython's mpy-cross into lib/iotauth/,
# adafruit_requests beside it, the board's code.py, the config (tools/cpdrive.py)
circuitpy: $(STAMP)
	$(BIN)/python -m tools.cpdrive --drive "$(DRIVE)" $(if $(BOARD),--board "$(BOARD)") \
	  $(if $(CONFIG),--config "$(CONFIG)") $(if $(SETTINGS),--settings "$(SETTINGS)")

clean:
	rm -rf build
