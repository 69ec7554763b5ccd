# Quick start: `make demo` (the main scenario, offline, on bundled fixtures) and `make test`.
# Both run inside the project's own virtual environment, .venv (made on first use), so they
# work where python3 is the system's externally managed interpreter and never touch it.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
# The stamp lives inside the environment: a fresh .venv is installed again.
STAMP := $(VENV)/.lockkeys-installed

.PHONY: demo test install lint

$(VPY):
	@rm -rf $(VENV)
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { echo "installing python3-venv (needed for $(VENV))"; \
		rm -rf $(VENV); apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null \
		&& $(PYTHON) -m venv $(VENV); }
	@echo "made the virtual environment $(VENV) ($$($(VPY) --version))"

$(STAMP): pyproject.toml | $(VPY)
	@command -v gpg >/dev/null 2>&1 || { echo "installing GnuPG (tests use it as an oracle)"; \
		apt-get update -qq && apt-get install -y -qq gnupg gpgv >/dev/null; }
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@# An editable install is not byte-compiled; without this every run compiles lockkeys.
	@$(VPY) -m compileall -q lockkeys >/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VPY) examples/demo.py

test: $(STAMP)
	$(VPY) -m pytest -q

lint: $(STAMP)
	$(VPY) -m ruff check lockkeys tests fixtures benchmarks examples
	$(VPY) -m mypy
