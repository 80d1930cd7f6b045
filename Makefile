# Every target sets itself up: a fresh clone needs only python3 (>= 3.11), make, and node/npm
# for the test chain.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The test chain (anvil) and contracts (Circle's USDC), pinned in package-lock.json.
NPM_STAMP := node_modules/.installed

.PHONY: install test lint format demo bench udev-install udev-install-dry-run clean

install: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# --ignore-scripts: anvil's postinstall would download the binary if its platform package were
# missing; the binary comes from the lockfile's @foundry-rs/anvil-<os>-<arch> package instead.
$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NPM_STAMP)

test: $(STAMP) $(NPM_STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check signerd emulator tests examples bench
	$(PY) -m ruff format --check signerd emulator tests examples bench
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format signerd emulator tests examples bench
	$(PY) -m ruff check --fix signerd emulator tests examples bench

demo: $(STAMP) $(NPM_STAMP)
	$(PY) -m examples.demo

# Figures against targets (bench/README.md); also written to bench-results.json.
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules build *.egg-info .pytest_cache .mypy_cache .ruff_cache

UDEV_RULES := udev/60-signerd-hardware-wallets.rules
UDEV_DIR ?= /etc/udev/rules.d

udev-install:
	install -m 0644 $(UDEV_RULES) $(UDEV_DIR)/
	udevadm control --reload-rules && udevadm trigger --subsystem-match=usb --subsystem-match=hidraw

udev-install-dry-run:
	@echo "would run: install -m 0644 $(UDEV_RULES) $(UDEV_DIR)/"
	@echo "would run: udevadm control --reload-rules && udevadm trigger --subsystem-match=usb --subsystem-match=hidraw"
