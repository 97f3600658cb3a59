# The two commands that set up everything on a fresh machine:
#   make demo   – local TimescaleDB, schema, demo data, and the API on http://127.0.0.1:8080/
#   make test   – the whole test suite against a real local TimescaleDB
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup system db-up bench clean

demo: setup
	$(BIN)/fartkoll demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/fartkoll db up
	@$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests: treating as a failure" >&2; exit 1; fi; \
	exit $$rc

setup: system $(BIN)/.installed

system:
	@sh .ci/system-packages

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
