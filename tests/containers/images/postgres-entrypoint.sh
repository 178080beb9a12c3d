#!/bin/bash
# Test image's entrypoint: on an empty data directory, creates the cluster
# with superuser POSTGRES_USER (password POSTGRES_PASSWORD, scram-sha-256
# over TCP, trust on the local socket) and database POSTGRES_DB, as the
# official postgres image does; then runs the server in the foreground as
# PID 1 (SIGINT from `docker stop` is a fast shutdown).
set -euo pipefail

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD must be set" >&2
    exit 2
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # A server on the socket only while the database is created.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
    if [ "$POSTGRES_DB" != postgres ]; then
        createdb -U "$POSTGRES_USER" -O "$POSTGRES_USER" "$POSTGRES_DB"
    fi
    pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
    echo "postgres-entrypoint: cluster created, database ${POSTGRES_DB}"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
