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

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks

check: lint typecheck test

clean:
	rm -rf $(VENV) $(TOOLS) gait-out .pytest_cache .mypy_cache .ruff_cache
