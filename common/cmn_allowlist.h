/* cmn_allowlist: the CURVE allow-list, read from a directory of czmq public
 * certificates without czmq's loader.
 *
 * czmq's zcertstore (behind zauth) loads every file of the directory and
 * prints a line of any file it cannot parse: a symlink to /etc/passwd in
 * the directory leaked a line of it into the log (issue 12). This loader
 * reads only regular files (or symlinks whose target is a regular file
 * inside the directory, as Kubernetes ConfigMap and Secret volumes make
 * them), at most CMN_ALLOWLIST_FILE_BYTES_MAX bytes of printable text, and
 * keeps the `public-key` of those that parse as a certificate; every other
 * entry is refused and logged by name and reason, never by content. Names
 * starting with '.' (a volume's ..data) are skipped. Not thread-safe: one
 * owner (the ZAP handler actor). */
#ifndef CMN_ALLOWLIST_H
#define CMN_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMN_ALLOWLIST_KEY_BYTES 32        /* binary CURVE public key */
#define CMN_ALLOWLIST_FILE_BYTES_MAX 4096 /* a certificate is ~400 bytes */
#define CMN_ALLOWLIST_ENTRIES_MAX 10000   /* files read per scan */

typedef struct _cmn_allowlist_t cmn_allowlist_t;

/* Reads the public key of czmq certificate text (`length` bytes; a section
 * line `curve` and an indented `public-key = "<40 Z85 chars>"`). Returns 0
 * with the key in `key`, or -1 with a static reason. Pure. */
int cmn_allowlist_parse(const char *text, size_t length,
                        uint8_t key[CMN_ALLOWLIST_KEY_BYTES],
                        const char **reason);

/* An allow-list of `dir` (copied), scanned now. Returns NULL when memory
 * runs out. Caller owns the result. */
cmn_allowlist_t *cmn_allowlist_new(const char *dir);

/* Frees; tolerates NULL and sets *self_p to NULL. */
void cmn_allowlist_destroy(cmn_allowlist_t **self_p);

/* Scans the directory again if it changed (its mtime, ctime or inode)
 * since the last scan, or always with `force`. Returns the number of keys. */
size_t cmn_allowlist_refresh(cmn_allowlist_t *self, bool force);

/* True when `key` is in the list (as of the last scan). */
bool cmn_allowlist_has(const cmn_allowlist_t *self,
                       const uint8_t key[CMN_ALLOWLIST_KEY_BYTES]);

/* Entries refused by the last scan (not certificates, not regular files,
 * symlinks leaving the directory, unreadable or too large). */
size_t cmn_allowlist_refused(const cmn_allowlist_t *self);

#endif
