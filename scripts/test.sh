#!/usr/bin/env bash
# The test command (`make test`, run by .ci/run): static checks, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/ruff check src tests
$BIN/mypy
# Debian packages for the real-peer tier (idempotent, near-instant when present). Without root or
# passwordless sudo it is skipped, and so are those tests (they say why).
if [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
  bash scripts/install-system-deps.sh
else
  echo "test.sh: not root and no sudo: skipping scripts/install-system-deps.sh (realpeers tests will skip)"
fi
exec $BIN/pytest "$@"
