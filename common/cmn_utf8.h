/* cmn_utf8: UTF-8 validation shared by the JSON writer and the metrics
 * renderer (internal to libcommon). */
#ifndef CMN_UTF8_H
#define CMN_UTF8_H

#include <stddef.h>

/* Length (2 to 4) of the valid multi-byte UTF-8 sequence at `bytes`, or 0 if
 * the bytes there are not one (overlong forms, surrogates and code points
 * above U+10FFFF are invalid). Stops at a NUL. ASCII bytes return 0 too. */
size_t cmn_utf8_length(const unsigned char *bytes);

#endif
