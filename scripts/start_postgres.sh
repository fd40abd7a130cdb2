#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL for the store tests and print ONLY its SQLAlchemy URL.
#
#   url=$(bash scripts/start_postgres.sh) && export TEST_DATABASE_URL="$url"
#
# * Needs Debian's `postgresql` package (/usr/lib/postgresql/<version>/bin); the newest is used.
# * The cluster lives in $BATCHSTUDIO_PG_DIR (default: ${TMPDIR:-/tmp}/batchstudio-pg), owned by
#   the `postgres` user when we run as root (initdb refuses root), listens on 127.0.0.1 only, on a
#   free port, with trust authentication: it is a local throwaway, never a real database.
# * Idempotent: a second run finds the running server and prints the same URL; a stopped or
#   broken cluster is restarted or rebuilt. Concurrent runs are serialised with flock.
# * The server keeps running after this script exits (until the machine stops); nothing it
#   leaves behind blocks a later run. Stop it with:
#     runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$BATCHSTUDIO_PG_DIR/data" stop
# Everything except the URL goes to stderr.
set -euo pipefail

DB_NAME="${BATCHSTUDIO_PG_DB:-batchstudio}"
BASE="${BATCHSTUDIO_PG_DIR:-${TMPDIR:-/tmp}/batchstudio-pg}"
DATA="$BASE/data"

say() { echo "start_postgres: $*" >&2; }
die() { say "$*"; exit 1; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || die "PostgreSQL is not installed (apt-get install postgresql)."

if [ "$(id -u)" = 0 ]; then
  getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' user."
  as_pg() { runuser -u postgres -- "$@"; }
  owner=postgres
else
  as_pg() { "$@"; }
  owner=$(id -un)
fi

mkdir -p "$BASE"
chown "$owner" "$BASE"
chmod 700 "$BASE"

# One run at a time (several test runs may start together on a shared machine).
exec 9>"$BASE.lock"
flock -w 120 9 || die "timed out waiting for another start_postgres.sh run ($BASE.lock)."

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

running() {
  [ -f "$BASE/port" ] || return 1
  as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$BASE/port")" -t 5 >/dev/null 2>&1
}

init_cluster() {
  say "creating a throwaway cluster in $DATA"
  rm -rf "$DATA"
  as_pg "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$BASE/initdb.log" 2>&1 </dev/null \
    || { cat "$BASE/initdb.log" >&2; die "initdb failed."; }
}

start_server() {
  local attempt port
  for attempt in 1 2 3; do
    port=$(free_port)
    say "starting PostgreSQL on 127.0.0.1:$port"
    # The server outlives us: it must hold neither our stdout (the caller's $(...) would wait
    # for it) nor the lock (fd 9), so its output goes to files and fd 9 is closed for it.
    if as_pg "$bin/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 \
        -o "-p $port -k $BASE -c listen_addresses=127.0.0.1 -c fsync=off" start \
        >"$BASE/pg_ctl.log" 2>&1 </dev/null 9>&-; then
      echo "$port" >"$BASE/port"
      return 0
    fi
    say "start attempt $attempt failed:"
    tail -n 20 "$BASE/server.log" >&2 2>/dev/null || true
    as_pg "$bin/pg_ctl" -D "$DATA" stop -m immediate >/dev/null 2>&1 </dev/null 9>&- || true
  done
  return 1
}

if running; then
  say "reusing the server already running on port $(cat "$BASE/port")"
else
  # Stopped (e.g. the machine restarted) or never created: (re)start, rebuilding if needed.
  as_pg "$bin/pg_ctl" -D "$DATA" stop -m immediate >/dev/null 2>&1 </dev/null 9>&- || true
  [ -f "$DATA/PG_VERSION" ] || init_cluster
  if ! start_server; then
    init_cluster
    start_server || die "could not start PostgreSQL (see $BASE/server.log)."
  fi
fi

port=$(cat "$BASE/port")
psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
exists=$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" </dev/null) \
  || die "the server on port $port does not answer."
if [ "$exists" != 1 ]; then
  "${psql[@]}" -c "CREATE DATABASE \"$DB_NAME\"" </dev/null >&2 \
    || die "could not create database $DB_NAME."
fi

echo "postgresql+psycopg://postgres@127.0.0.1:$port/$DB_NAME"
