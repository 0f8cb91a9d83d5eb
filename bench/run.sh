#!/usr/bin/env bash
# `make bench`: install the clients the benchmark compares against, run it, regenerate docs/benchmarks.md.
# Needs root (or passwordless sudo) for the apt step and for the network namespaces of part 3; without it
# part 3 is reported as not measured. Takes about four minutes (part 2b waits up to 140 s in the background,
# the explain hook adds its own); every client run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
if [ ! -x "$BIN/smtp-doctor" ]; then
  echo "bench/run.sh: no .venv with smtp-doctor; run it as \`make bench\` (which creates it)" >&2
  exit 2
fi
mkdir -p bench/out

# Debian packages: swaks, curl, openssl (the clients), iproute2 (ip netns, tc), coreutils (timeout).
# The shared installer is idempotent; run it only when something is missing.
need=()
for c in swaks curl openssl ip tc timeout; do command -v "$c" >/dev/null 2>&1 || need+=("$c"); done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
    echo "bench/run.sh: missing ${need[*]}: running scripts/install-system-deps.sh"
    bash scripts/install-system-deps.sh
  else
    echo "bench/run.sh: missing ${need[*]} and not root/sudo: those rows will say so" >&2
  fi
fi

# Part 3 builds network namespaces: that needs root. With passwordless sudo, run the driver under sudo.
RUN=()
if [ "$(id -u)" -ne 0 ] && sudo -n true 2>/dev/null; then RUN=(sudo -n); fi

EXTRA=()
# ==== HOOK: `explain --log` throughput (section 4; owned by the explain engineer) ==========================
# When bench/explain_log.py exists it is run here. Contract: it makes its own input (e.g. a 100 MB log under
# bench/out/), stays within about a minute, and prints the BODY of section 4 of docs/benchmarks.md to stdout
# as Markdown (### subheadings at most; no "## " heading: bench.py writes it). A failure fails the bench.
if [ -f bench/explain_log.py ]; then
  echo "bench: part 4, explain --log throughput (bench/explain_log.py) …"
  "$BIN/python" bench/explain_log.py > bench/out/explain_log.md
  EXTRA=(--extra-section bench/out/explain_log.md)
fi
# ==== end of hook ==========================================================================================
# ==== HOOK: audit vs testssl.sh and sslyze (section 6) =======================================================
# bench/audit_bench.py audits every audit-lab server with smtp-doctor, sslyze (own venv under /tmp) and Debian's
# testssl.sh (installed here when missing and root; 15-20 minutes of the run are testssl.sh's).
if [ -f bench/audit_bench.py ]; then
  echo "bench: part 6, audit vs testssl.sh and sslyze (bench/audit_bench.py) …"
  command -v testssl >/dev/null 2>&1 || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq testssl.sh >/dev/null; } || true
  "$BIN/python" bench/audit_bench.py --markdown bench/out/audit.md
  EXTRA+=(--extra-section bench/out/audit.md)
fi
# ==== end of hook ==========================================================================================
# ==== HOOK: fleet scan (section 7; owned by the scan engineer) =============================================
# bench/scan_bench.py starts a lab farm, runs smtp-doctor scan (1 worker, one per core), sslyze (defaults and
# tuned, in its own venv under /tmp) and `openssl s_time -new` on the same targets, and prints section 7 with
# its own "## " heading (after section 4 when bench.py writes the file). About three minutes; `--big 100000` adds the resumed 100k scan.
if [ -f bench/scan_bench.py ]; then
  echo "bench: part 7, fleet scan (bench/scan_bench.py) …"
  "$BIN/python" bench/scan_bench.py --sizes 1000,10000 --sslyze-sizes 10000 --markdown bench/out/scan.md
  EXTRA+=(--extra-section bench/out/scan.md)
fi
# ==== end of hook ==========================================================================================

"${RUN[@]}" "$BIN/python" bench/bench.py "${EXTRA[@]}" "$@"

# CLI start-up (issue 16): bench/startup.py writes its own section of docs/benchmarks.md (between markers),
# so it runs after bench.py has regenerated the file.
echo "bench: part 5, CLI start-up (bench/startup.py) …"
"$BIN/python" bench/startup.py
