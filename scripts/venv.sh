#!/usr/bin/env bash
# Sourced by app.sh and test.sh: make (once) and use the project's own virtual environment
# in .venv, so neither needs a system Python that allows `pip install` (PEP 668).
# Sets $PY to the environment's python.
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    # Debian/Ubuntu ship venv separately; install it when we may.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      rm -rf .venv
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv .venv
    else
      echo "error: python3 cannot make a virtual environment; install python3-venv (Debian/Ubuntu) and run again" >&2
      exit 1
    fi
  fi
fi
PY="$PWD/.venv/bin/python"
"$PY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
