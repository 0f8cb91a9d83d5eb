#!/usr/bin/env bash
# The test command (`make test`, run by .ci/run): static checks, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/ruff check src tests
$BIN/mypy
exec $BIN/pytest "$@"
