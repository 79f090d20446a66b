# make demo: serve the dashboard with Voila.  make test: the whole suite.
# make serve: the dashboard for a class (notebooks/voila.json: a pool of preheated kernels).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo serve demo-model test lint bench browser-deps clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[demo]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.demo-installed

# Voila reads voila.json from its working folder: run it from notebooks/.
VOILA := cd notebooks && $(abspath $(VENV))/bin/voila dashboard.ipynb --no-browser --Voila.ip=0.0.0.0 --port=8866

# The trained demo model, made once so that no viewer's kernel trains it.
demo-model: $(VENV)/.demo-installed
	$(PY) -m nnwidgets.datasets

# One viewer: one preheated kernel, and training starts as the page opens.
demo: demo-model
	export NNW_DASHBOARD_AUTOTRAIN=1 && $(VOILA) \
		'--VoilaKernelManager.kernel_pools_config={"dashboard.ipynb": {"pool_size": 1}}'

# A class: voila.json as it is (training starts with each viewer's button).
serve: demo-model
	$(VOILA)

# Debian's chromium for the browser tests (Playwright cannot download a browser here).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no /usr/bin/chromium and not root: browser tests will skip (they fail when CI=true)"; fi

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check nnwidgets tests benchmarks

test: $(VENV)/.test-installed browser-deps lint
	$(PY) -m pytest

$(VENV)/.bench-installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[bench]"
	touch $@

bench: $(VENV)/.bench-installed browser-deps
	$(PY) benchmarks/bench_switch.py
	$(PY) benchmarks/bench_training.py
	$(PY) -m benchmarks.bench_dynamics
	$(PY) -m benchmarks.bench_attribution
	$(PY) -m benchmarks.bench_attribution_browser
	$(PY) -m benchmarks.bench_projection --quick
	$(PY) -m benchmarks.bench_projector
	$(PY) -m benchmarks.bench_projector_browser
	$(PY) -m benchmarks.bench_background_click
	$(PY) -m benchmarks.bench_zoo
	$(PY) -m benchmarks.bench_browser
	$(PY) -m benchmarks.bench_viewers
	$(PY) -m benchmarks.bench_graph
	$(PY) -m benchmarks.bench_logs

clean:
	rm -rf $(VENV) build dist *.egg-info tests/artifacts
