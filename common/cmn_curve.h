/* cmn_curve: CURVE security for the ZeroMQ channels, on czmq.
 *
 * A server (the coordinator) loads its key pair from a czmq certificate
 * file, starts its own ZAP handler with an allow-list directory of client
 * public certificates (cmn_allowlist: never "allow any", never czmq's
 * loader) and makes its sockets CURVE servers.
 * Every failed handshake on such a socket (an unknown client key, a
 * plaintext or otherwise mismatched peer) is logged and counted in
 * <prefix>_curve_denied_total{socket,reason}, read from a socket monitor by
 * a guard actor (logged at most once per socket per 10 s, with the number
 * suppressed); reasons are `unknown_key` (the ZAP handler said no) and
 * `handshake` (plaintext or mismatched peer, broken handshake: libzmq
 * reports these as PROTOCOL or NO_DETAIL depending on timing). A client (the
 * pipeline, a subscriber) loads its own key pair and the server's public
 * certificate. Key pairs are czmq certificate files: `NAME` holds the public
 * key (to hand out), `NAME_secret` both keys (mode 0600). The ZAP handler is
 * process-wide (it binds the one ZAP endpoint): one server object per
 * process. */
#ifndef CMN_CURVE_H
#define CMN_CURVE_H

#include <czmq.h>

#include "cmn_metrics.h"

typedef struct _cmn_curve_t cmn_curve_t;

/* Writes a new key pair to `path` (public) and `path`_secret (both keys,
 * mode 0600), with `name` as metadata. Refuses to overwrite either file.
 * Returns 0, or -1 with a reason printed to stderr. */
int cmn_curve_keygen(const char *path, const char *name);

/* Checks that `path` (or `path`_secret) is a certificate holding a secret
 * key. Returns 0, or -1 with a static reason in *reason. For start-up
 * validation of *_CURVE_SECRET_KEY_FILE. */
int cmn_curve_check_secret(const char *path, const char **reason);

/* Checks that `path` is a certificate with a public key (the server's key
 * for clients). Returns 0, or -1 with a static reason. */
int cmn_curve_check_public(const char *path, const char **reason);

/* Checks that `path` is a readable directory (the allow-list). Returns 0,
 * or -1 with a static reason. */
int cmn_curve_check_directory(const char *path, const char **reason);

/* A CURVE server with the key pair in `secret_key_file` and a ZAP handler
 * allowing the client certificates in `clients_dir` (files may be added or
 * removed while running: the directory is reread when it changes). Registers
 * <prefix>_curve_denied_total and <prefix>_curve_handshakes_total. Returns NULL
 * (logged) when a file is bad or an actor cannot start. Caller owns the result;
 * destroy it after the sockets it secured. */
cmn_curve_t *cmn_curve_server_new(const char *secret_key_file,
                                  const char *clients_dir,
                                  cmn_metrics_t *metrics,
                                  const char *metric_prefix);

/* Stops the ZAP handler and the guard; tolerates NULL, sets *self_p NULL. */
void cmn_curve_destroy(cmn_curve_t **self_p);

/* Makes `socket` a CURVE server with this key pair and starts counting its
 * denials under label socket=`name`. Call before bind, from the thread that
 * owns the socket (calls are serialised internally). Returns 0 or -1
 * (logged). */
int cmn_curve_server_apply(cmn_curve_t *self, zsock_t *socket,
                           const char *name);

/* The server's public key, Z85 text (40 characters; belongs to self). */
const char *cmn_curve_server_public_txt(cmn_curve_t *self);

/* Makes `socket` (a zsock_t or a libzmq socket handle) a CURVE client with
 * the key pair in `secret_key_file`, talking to the server whose public
 * certificate is `server_key_file`. Call before connect. Returns 0 or -1
 * (logged). */
int cmn_curve_client_apply(void *socket, const char *secret_key_file,
                           const char *server_key_file);

#endif
