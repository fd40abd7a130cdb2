#!/usr/bin/env bash
# The README's first command: install and run the app (mock mode without an API key).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
"$PY" -m pip install -q --disable-pip-version-check -r requirements.txt
exec "$PY" -m streamlit run streamlit_app.py "$@"
