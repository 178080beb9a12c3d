#!/bin/sh
# with_postgres.sh: runs a command against a throwaway PostgreSQL server.
#
#   tests/lib/with_postgres.sh COMMAND [ARG...]
#
# Makes a temp dir, initdb's a cluster in it (as the `postgres` user when run
# as root: initdb refuses root), starts it on 127.0.0.1 on a free port chosen
# now (unix socket in the temp dir, fsync off), runs COMMAND with
#   MDS_TEST_PG_URI    postgresql://postgres@127.0.0.1:PORT/postgres
#   MDS_TEST_PG_DATA   the data directory
#   MDS_TEST_PG_STOP   a script that stops the server (fast mode, waits)
#   MDS_TEST_PG_START  a script that starts it again on the same port
# in its environment, then always stops the server and removes the dir.
# Exits with COMMAND's status; 77 (meson's "skipped") with a message when
# PostgreSQL is not installed.
set -u

SKIP=77

pg_bin=${MDS_TEST_PG_BIN:-}
if [ -z "$pg_bin" ]; then
    for candidate in /usr/lib/postgresql/*/bin; do
        [ -x "$candidate/initdb" ] && pg_bin=$candidate
    done
fi
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
    echo "with_postgres: SKIP: PostgreSQL server not installed" \
         "(no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)" >&2
    exit $SKIP
fi
if [ $# -eq 0 ]; then
    echo "with_postgres: usage: with_postgres.sh COMMAND [ARG...]" >&2
    exit 2
fi

run_as_postgres=""
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "with_postgres: SKIP: running as root and there is no" \
             "'postgres' user to run initdb as" >&2
        exit $SKIP
    fi
    run_as_postgres="runuser -u postgres --"
    # /tmp so that the postgres user can reach the dir whatever TMPDIR is.
    dir=$(mktemp -d /tmp/mds-pg.XXXXXX) || exit 1
    chown postgres: "$dir" || exit 1
else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/mds-pg.XXXXXX") || exit 1
fi

cleanup() {
    if [ -f "$dir/data/postmaster.pid" ]; then
        # A test that SIGSTOPped the server and died before resuming it:
        # a stopped postmaster would never act on pg_ctl's stop.
        postmaster=$(head -n 1 "$dir/data/postmaster.pid")
        case $postmaster in
        '' | *[!0-9]*) ;;
        *) kill -CONT "$postmaster" $(pgrep -P "$postmaster") 2>/dev/null ;;
        esac
        $run_as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w \
            stop >/dev/null 2>&1
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# A free port below the ephemeral range (see tests/lib/harness.py:
# free_port, which this uses): ports from bind(0) can be taken by any
# outgoing connection before the server binds them.
free_port() {
    /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
from harness import free_port
print(free_port())' "$(dirname "$0")"
}

if ! $run_as_postgres "$pg_bin/initdb" -D "$dir/data" -U postgres -A trust \
        --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
    echo "with_postgres: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    exit 1
fi

# A port free now may be taken before the server binds it: try a few.
started=0
attempt=0
while [ $attempt -lt 5 ]; do
    attempt=$((attempt + 1))
    port=$(free_port) || exit 1
    options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off"
    options="$options -c full_page_writes=off -c synchronous_commit=off"
    cat >"$dir/start" <<SCRIPT
#!/bin/sh
exec $run_as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$options" start >/dev/null
SCRIPT
    cat >"$dir/stop" <<SCRIPT
#!/bin/sh
exec $run_as_postgres "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
SCRIPT
    chmod 755 "$dir/start" "$dir/stop"
    if "$dir/start"; then
        started=1
        break
    fi
done
if [ $started -ne 1 ]; then
    echo "with_postgres: the server did not start; its log:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi

MDS_TEST_PG_URI="postgresql://postgres@127.0.0.1:$port/postgres"
MDS_TEST_PG_DATA="$dir/data"
MDS_TEST_PG_STOP="$dir/stop"
MDS_TEST_PG_START="$dir/start"
export MDS_TEST_PG_URI MDS_TEST_PG_DATA MDS_TEST_PG_STOP MDS_TEST_PG_START

"$@"
status=$?
if [ $status -ne 0 ] && [ $status -ne $SKIP ]; then
    echo "with_postgres: command failed ($status); server log tail:" >&2
    tail -n 20 "$dir/server.log" >&2
fi
exit $status
