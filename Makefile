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

# The long fuzz run (tests/fuzz): 16,000 examples of 1-20 inputs for each parser, reader and SASL target,
# 3,000 for explain, the log scanner and the renderers, 1,000 per network target (>= 1M inputs in all, counted
# and printed); two shards side by side (the ten config readers, everything else), failing on any crash.
fuzz: $(STAMP)
	export SMTP_DOCTOR_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-16000} SMTP_DOCTOR_FUZZ_BATCH=$${FUZZ_BATCH:-20} \
		SMTP_DOCTOR_FUZZ_SLOW=$${FUZZ_SLOW:-3000} SMTP_DOCTOR_FUZZ_NETWORK=$${FUZZ_NETWORK:-1000}; \
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
