#!/usr/bin/env bash
# Sourced (from the repository root) by app.sh, test.sh, upgrade.sh and export_requirements.sh.
# Sets:
#   $UV  uv at the version pinned, with hashes, in scripts/uv-requirements.txt. It lives in its
#        own small environment .uv/ (git-ignored), made once with `python3 -m venv` and
#        `pip install --require-hashes`: not in .venv, because `uv sync` makes .venv exactly
#        what uv.lock says and would remove uv (and pip) from it.
#   $PY  the project's environment, .venv/bin/python. The callers fill it from uv.lock with
#        `"$UV" sync --locked ...`, which makes .venv when it is missing.
# Neither needs root or a system Python that allows `pip install` (PEP 668).

# make_venv DIR: a virtual environment with pip. Debian/Ubuntu ship venv separately
# (python3-venv); it is installed when we may (root with apt-get).
make_venv() {
  if python3 -m venv "$1" 2>/dev/null; then
    return 0
  fi
  rm -rf "$1"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$1"
  else
    echo "error: python3 cannot make a virtual environment; install python3-venv (Debian/Ubuntu) and run again" >&2
    exit 1
  fi
}

uv_pin=$(sed -n 's/^uv==\([0-9][^ ]*\).*/\1/p' scripts/uv-requirements.txt)
if [ "$(.uv/bin/uv --version 2>/dev/null | cut -d' ' -f1-2)" != "uv $uv_pin" ]; then
  rm -rf .uv
  make_venv .uv
  .uv/bin/python -m pip install -q --disable-pip-version-check --no-deps --require-hashes \
    -r scripts/uv-requirements.txt
fi
UV="$PWD/.uv/bin/uv"
# .venv is made with this machine's python3, as before (set UV_PYTHON to choose another).
export UV_PYTHON="${UV_PYTHON:-python3}"
PY="$PWD/.venv/bin/python"
