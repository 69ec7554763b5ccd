# Quick start: `make demo` (the main scenario, offline, on bundled fixtures) and `make test`.
PYTHON ?= python3
STAMP := .make-installed

.PHONY: demo test install lint

$(STAMP): pyproject.toml
	@command -v gpg >/dev/null 2>&1 || { echo "installing GnuPG (tests use it as an oracle)"; \
		apt-get update -qq && apt-get install -y -qq gnupg gpgv >/dev/null; }
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PYTHON) examples/demo.py

test: $(STAMP)
	$(PYTHON) -m pytest -q

lint: $(STAMP)
	$(PYTHON) -m ruff check lockkeys tests fixtures benchmarks examples
	$(PYTHON) -m mypy
