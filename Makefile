# One command sets up and tests from a clean clone:  make test
# (apt packages if missing, a venv in .venv, the package with its test extras, then
#  lint, types, layer contracts and the whole test suite. The interop suite runs
#  `npm ci` for its pinned oidc-provider into build/interop on first use.)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := dbus gnome-keyring libsecret-tools libglib2.0-bin systemd meson ninja-build
SRC := sigilforge tests $(wildcard bench)

.PHONY: all deps venv test check lint fmt pytest demo bench clean

all: test

# The interop suite runs panva's oidc-provider on node (npm ci into build/interop).
APT_PACKAGES += nodejs

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing:$$missing"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/ruff format --check $(SRC)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: venv
	$(VENV)/bin/ruff format $(SRC)
	$(VENV)/bin/ruff check --fix $(SRC)

pytest: deps venv
	$(PY) -m pytest

test: deps venv lint pytest

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
