/* cmn_page: the live status page both services serve at `/`.
 *
 * One self-contained page (HTML, a script, a style sheet; no CDN, no build
 * step) that reads the serving service's /status and /metrics every second
 * and draws the level, depth against the watermarks, rates, scales and the
 * transitions it sees. The files live in common/page/ and are compiled into
 * the binary. Every answer carries a Content-Security-Policy that allows
 * only this origin (no inline script or style), and Cache-Control: no-store
 * (cmn_http's default). */
#ifndef CMN_PAGE_H
#define CMN_PAGE_H

#include "cmn_http.h"

/* The Content-Security-Policy sent with the page's files. */
#define CMN_PAGE_CSP                                                           \
    "default-src 'none'; script-src 'self'; style-src 'self'; "                \
    "connect-src 'self'; img-src 'self'; base-uri 'none'; "                    \
    "form-action 'none'; frame-ancestors 'none'"

/* Adds GET routes for the page's files ("/" and its script and style) to
 * `http`, which must not be started yet. The files are static: no
 * argument, any thread serves them. */
void cmn_page_routes(cmn_http_t *http);

#endif
