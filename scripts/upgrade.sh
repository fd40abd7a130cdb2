#!/usr/bin/env bash
# Moves every locked dependency to the newest version pyproject.toml allows: refreshes uv.lock
# (`uv lock --upgrade`), re-exports requirements.txt, prints what changed, then runs the whole
# test suite (scripts/test.sh, which installs the new lock). Arguments go to `uv lock`, e.g.
# `--upgrade-package stamina` instead of everything. Commit uv.lock and requirements.txt only
# when the suite is green. See README ("Set up on a fresh machine").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

# name==version of every locked package, one a line, sorted
locked() {
  awk '/^\[\[package\]\]/ {name = ""}
       /^name = / {name = $3}
       /^version = / {if (name != "") print name "==" $3}' "$1" | tr -d '"' | sort
}

before=$(mktemp)
trap 'rm -f "$before"' EXIT
cp uv.lock "$before"
if [ $# -gt 0 ]; then
  "$UV" lock "$@"
else
  "$UV" lock --upgrade
fi
bash scripts/export_requirements.sh

echo "== what changed in uv.lock (- before, + after) =="
if changes=$(diff <(locked "$before") <(locked uv.lock)); then
  echo "nothing: every locked package is already the newest allowed"
else
  echo "$changes" | grep '^[<>]' | sed 's/^</-/; s/^>/+/'
fi
git --no-pager diff --stat -- uv.lock requirements.txt || true

echo "== the whole test suite with the new lock =="
exec bash scripts/test.sh
