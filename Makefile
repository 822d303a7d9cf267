# codeward: `make demo` runs the main job, `make test` runs the whole test suite.
# Both create .venv when missing and install everything the project needs into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.codeward-installed

.PHONY: install demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first, pinned: on these machines torch==2.13.0 is the CPU build on local disk, so nothing
# later can pull a multi-GB CUDA build. GPU users install a CUDA torch themselves (see README).
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m codeward.cli.demo

test: $(STAMP)
	$(PY) -m pytest -q -ra

lint: $(STAMP)
	$(PY) -m ruff check codeward model safety eval lsp_server tests bench

bench: $(STAMP)
	@echo "benchmarks are run one by one: see README (bench/*.py)"

clean:
	rm -rf $(VENV) build *.egg-info
