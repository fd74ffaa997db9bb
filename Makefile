# Two commands for a reader: `make serve` (read the site) and `make test` (run everything).
# The first use creates .venv and installs the pinned dependencies (requirements.lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1
# Python may cache compiled modules: a fresh .venv has no .pyc, so with PYTHONDONTWRITEBYTECODE set
# (some sandboxes set it) every process would compile torch from source again (5.5 s instead of 3 s
# per `import torch`, and the suite starts dozens of them). The caches land in ignored __pycache__/.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: serve build test bench bench-site clean kata

# uv installs from its cache in seconds (pip re-downloads and re-unpacks everything each time).
UV := $(BIN)/uv
WHEELS := $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null))

$(STAMP): pyproject.toml requirements.lock
	# no pip inside .venv (ensurepip costs 5 s): this Python's pip installs uv into it, uv the rest
	# (an older pip without --python: .venv gets its own pip first)
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install -q $$(grep '^uv==' requirements.lock) \
	    || { $(BIN)/python -m ensurepip -q && $(BIN)/python -m pip install -q $$(grep '^uv==' requirements.lock); }
	# torch first and pinned: on these machines 2.13.0 is a local CPU wheel, in the folder pip is
	# configured to look in; elsewhere pip fetches it with its own settings (the Pages workflow
	# points it at the CPU index). An open range would pull several GB of CUDA packages.
	$(UV) pip install -q --python $(BIN)/python --no-index --no-deps $(if $(WHEELS),--find-links $(WHEELS)) \
	    torch==2.13.0 || $(PYTHON) -m pip --python $(BIN)/python install -q torch==2.13.0 \
	    || $(BIN)/python -m pip install -q torch==2.13.0
	$(UV) pip install -q --python $(BIN)/python -c requirements.lock -e '.[docs,test]'
	touch $(STAMP)

serve: $(STAMP)
	SITE_URL=http://127.0.0.1:8000/ $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

build: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# Practice (docs/practice.md): `make kata` lists the katas, `make kata ARGS="check NAME FILE"` runs
# any `lossbook kata` command with .venv's lossbook (FILE relative to this directory).
kata: $(STAMP)
	@$(BIN)/lossbook kata $(or $(ARGS),list)
	@$(if $(ARGS),,echo 'Put lossbook on your path: source $(BIN)/activate (or: make kata ARGS="show NAME")')

bench: $(STAMP)
	$(BIN)/python -m bench

# Site speed: build time, page weight and load time in headless Chromium (bench/site.json).
# BENCH_SITE_ARGS=--make-test also times the whole `make test`.
bench-site: $(STAMP)
	$(BIN)/python -m bench.site $(BENCH_SITE_ARGS)

clean:
	rm -rf site .pytest_cache
