#!/bin/bash
# mdbp-healthcheck PORT [PATH]: exits 0 when GET http://127.0.0.1:PORT/PATH
# answers HTTP 200, 1 otherwise.
#
# The runtime images are debian:bookworm-slim, which has no curl or wget.
# Installing curl would pull libcurl, OpenSSL and a dozen more libraries into
# every image just for a local probe, so this uses what slim already has:
# bash (Essential) and its /dev/tcp redirection. The whole probe is bounded
# by the HEALTHCHECK --timeout; the read has its own bound as well.
set -u

readonly READ_TIMEOUT_S=2

port="${1:-}"
path="${2:-/health}"
case "$port" in
    '' | *[!0-9]*)
        echo "mdbp-healthcheck: PORT must be a number, got '${port}'" >&2
        exit 2
        ;;
esac

if ! exec 3<>"/dev/tcp/127.0.0.1/${port}"; then
    echo "mdbp-healthcheck: nothing listens on 127.0.0.1:${port}" >&2
    exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' \
    "$path" >&3
status_line=''
IFS= read -r -t "$READ_TIMEOUT_S" status_line <&3
exec 3<&-
case "$status_line" in
    'HTTP/1.'[01]' 200'*) exit 0 ;;
esac
echo "mdbp-healthcheck: GET ${path} answered '${status_line%$'\r'}'" >&2
exit 1
