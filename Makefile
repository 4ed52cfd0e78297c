# One command sets up and tests from a clean clone:  make test
# (apt packages if missing, a venv in .venv, the package with its test extras, then
#  lint, types, layer contracts and the whole test suite. The interop suite runs
#  `npm ci` for its pinned oidc-provider into build/interop on first use.)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# What `make demo` (and a user's own machine) needs: a session bus with dbus-monitor and
# dbus-send, a keyring, secret-tool, busctl. The test suite needs everything below too.
DEMO_APT_PACKAGES := dbus gnome-keyring libsecret-tools systemd
APT_PACKAGES := $(DEMO_APT_PACKAGES) libglib2.0-bin meson ninja-build
SRC := sigilforge tests bench demo

.PHONY: all deps demo-deps venv runtime-venv man test check lint fmt pytest hostile demo try-oauth bench clean

all: test

# The interop suite runs panva's oidc-provider on node (npm ci into build/interop).
APT_PACKAGES += nodejs

# The real clients of issue 10 and the servers they meet (sigilforge/testing): git over
# smart HTTP; msmtp and mbsync (with the Cyrus SASL XOAUTH2 plugin) against a private
# dovecot whose oauth2 passdb introspects tokens (submission relays to its LMTP).
APT_PACKAGES += git msmtp isync libsasl2-modules-kdexoauth2 \
	dovecot-core dovecot-imapd dovecot-submissiond dovecot-lmtpd

deps: PACKAGES = $(APT_PACKAGES)
demo-deps: PACKAGES = $(DEMO_APT_PACKAGES)
deps demo-deps:
	@missing=""; for p in $(PACKAGES); do \
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
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.installed

# The package alone, without the test tools (a full venv satisfies it too).
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

runtime-venv: $(VENV)/.runtime

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

# The hostile suite (tests/hostile) with its long loop counts, then a table by category
# (cases, passed, figures). Its short counts run in `make test`.
hostile: deps venv
	$(PY) -m sigilforge.testing.hostile_report tests/hostile

# Speed side by side with the peers, on a private bus (never in the tests). The peers
# are needed by the benchmark only, so the test deps do not carry them: GNOME Online
# Accounts' goa-daemon, gh, and unshare (util-linux) to cut goa-daemon's network.
BENCH_APT_PACKAGES := gnome-online-accounts gh util-linux
bench: APT_PACKAGES += $(BENCH_APT_PACKAGES)
bench: deps venv
	$(PY) -m bench.run

# The README's "try it": a private bus and keyring, an API-key account, the daemon
# activated by busctl, an OAuth account against a local authorization server refreshed by
# the daemon, the signals seen by dbus-monitor. No desktop, no network needed.
demo: demo-deps runtime-venv
	$(PY) -m demo.try_it

# sigilforge(1), rendered from the click definitions (a test checks it is current).
man: runtime-venv
	$(PY) -m sigilforge.cli.manpage > data/sigilforge.1

# OAuth with no account anywhere: a local authorization server, and the providers.toml
# entry to paste (your providers.toml is never written). See docs/oauth.md.
try-oauth: runtime-venv
	$(PY) -m sigilforge.testing.authserver --provider-name local

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
