/* cmn_page_assets: the status page's files, compiled into the binary.
 *
 * The table is generated at build time by common/page/embed.py from
 * common/page/ (status.html at "/", the others at "/NAME"). Read-only:
 * any thread. */
#ifndef CMN_PAGE_ASSETS_H
#define CMN_PAGE_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path;           /* exact request path, e.g. "/page.js" */
    const char *content_type;   /* with charset for text */
    const unsigned char *bytes; /* the file's bytes (NUL after them) */
    size_t length;              /* bytes served */
} cmn_page_asset_t;

extern const cmn_page_asset_t cmn_page_assets[];
extern const size_t cmn_page_asset_count;

#endif
