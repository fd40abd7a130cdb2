#!/usr/bin/env bash
# Writes requirements.txt (or the file given) from uv.lock: the runtime dependencies only, each
# pinned with its hashes, for hosts that read only requirements.txt. scripts/upgrade.sh runs it;
# tests/unit/test_packaging.py runs it into a temporary file and compares.
# Uses $UV when set, else the pinned uv of scripts/venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${UV:-}" ]; then
  source scripts/venv.sh
fi
out=${1:-requirements.txt}
tmp="$out.tmp.$$"
{
  echo "# Generated from uv.lock by scripts/export_requirements.sh, which runs"
  echo "#   uv export --locked --format requirements-txt --no-dev --no-emit-project --no-header"
  echo "# Do not edit: change pyproject.toml, then \`uv lock\` and this script (see README)."
  "$UV" export --locked --format requirements-txt --no-dev --no-emit-project --no-header --quiet
} > "$tmp"
mv "$tmp" "$out"
