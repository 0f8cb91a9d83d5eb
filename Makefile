# The two set-up commands in README: `make demo` and `make test`. Each creates .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean fuzz

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smtp-doctor demo

test: $(STAMP)
	bash scripts/test.sh

# The long fuzz run (tests/fuzz): 70,000 inputs per offline target (16 targets), 1,000 per network target;
# two shards side by side (the ten config readers, everything else), failing if either finds a crash.
fuzz: $(STAMP)
	export SMTP_DOCTOR_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-70000} SMTP_DOCTOR_FUZZ_NETWORK=$${FUZZ_NETWORK:-1000}; \
	$(BIN)/pytest tests/fuzz -q -o timeout=0 -k reader & readers=$$!; \
	$(BIN)/pytest tests/fuzz -q -o timeout=0 -k "not reader"; rest=$$?; \
	wait $$readers && exit $$rest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(STAMP)
	bash bench/run.sh

clean:
	rm -rf $(VENV) build *.egg-info
