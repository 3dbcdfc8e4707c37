# privkit developer entry points.  The README names two of them:
#   make demo   -- set up .venv (first run only) and run the main job (privkit simulate)
#   make test   -- set up .venv (first run only), lint, type-check and run every test
# .ci/run calls `make test`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.privkit-installed

.PHONY: demo test lint typecheck pytest bench clean

# torch comes first and pinned (constraints.txt): on CPU-only machines
# torch==2.13.0 resolves to the local CPU wheel, never a multi-GB CUDA build.
$(STAMP): pyproject.toml setup.py constraints.txt csrc/*.c csrc/*.h csrc/build_ffi.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/privkit simulate

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf build $(VENV) privkit/_native/*.so .mypy_cache .ruff_cache .pytest_cache .hypothesis
