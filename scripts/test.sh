#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs all of it.
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages: Chromium for the browser tests, PostgreSQL for the store tests, node for
#    the hash vectors. Installed only when missing; needs root (CI runs as root).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: missing ${need[*]} and not root; tests that need them will skip" >&2
  fi
fi

# 2. Python packages: exactly the locked versions (uv.lock) of the app's dependencies and its
#    `test` extra, in the project's own .venv (PEP 668-safe; uv itself is pinned, see venv.sh).
#    The sync is exact: anything else in .venv is removed. --locked refuses a lock that
#    pyproject.toml has moved away from (run `uv lock`, see README).
source scripts/venv.sh
"$UV" sync --locked --extra test --quiet

# 3. A throwaway PostgreSQL on loopback for the store tests (unless DATABASE_URL is given).
if [ -z "${DATABASE_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if url=$(bash scripts/start_postgres.sh); then
    export TEST_DATABASE_URL="$url"
  else
    echo "warning: could not start PostgreSQL; its store tests will skip" >&2
  fi
fi

# 4. Lint and types, then the whole suite with branch coverage of batchcore.
#    pytest's exit 5 (no tests ran) fails.
"$PY" -m ruff check .
"$PY" -m mypy
set +e
"$PY" -m pytest --cov=batchcore --cov-branch --cov-report=term "$@"
code=$?
set -e
if [ "$code" = 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$code"
