#!/usr/bin/env bash
# The README's first command: install and run the app (mock mode without an API key).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
# Exactly the locked runtime versions (uv.lock; --locked refuses a lock that pyproject.toml has
# moved away from). Runtime dependencies only: the test tools are the `test` extra. --inexact
# leaves packages the lock's runtime set does not name in place, i.e. the test tools a previous
# `bash scripts/test.sh` installed, so that the next test run does not have to install them
# again; test.sh syncs exactly (removing anything not in the lock).
"$UV" sync --locked --inexact --quiet
exec "$PY" -m streamlit run streamlit_app.py "$@"
