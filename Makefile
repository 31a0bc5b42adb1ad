# Everything a newcomer or CI needs: `make demo` and `make test` install first.
# Only python3 is assumed; uv is brought in from PyPI into .tools/.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint typecheck bench check clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --all-packages --frozen --compile-bytecode --quiet

demo: install
	bash examples/demo.sh

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Test folders without __init__.py (gait-core's, each plugin's) share module names (conftest,
# test_install, ...), so each is checked on its own as the package `tests`, the way
# pytest --import-mode=importlib imports them; the repository's tests/ is in [tool.mypy].
TEST_FOLDERS := gait-core $(wildcard gait-plugins/*)

typecheck: install
	@status=0; $(BIN)/mypy || status=1; for folder in $(TEST_FOLDERS); do \
	  echo "mypy $$folder/tests"; \
	  MYPYPATH=$$folder $(BIN)/mypy --explicit-package-bases \
	    --cache-dir .mypy_cache/tests-$$(basename $$folder) $$folder/tests || status=1; \
	done; exit $$status

bench: install
	$(BIN)/python -m benchmarks

check: lint typecheck test

clean:
	rm -rf $(VENV) $(TOOLS) gait-out .pytest_cache .mypy_cache .ruff_cache
