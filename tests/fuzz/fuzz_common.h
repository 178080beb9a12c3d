/* fuzz_common: what every libFuzzer harness of tests/fuzz/ shares.
 *
 * A harness feeds outside bytes to one decoder or parser exactly as a peer,
 * a file or an operator would reach it, and checks the invariants the
 * caller relies on; a broken invariant calls FUZZ_CHECK's abort(), which
 * libFuzzer reports like a sanitizer finding. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(condition)                                                  \
    do {                                                                       \
        if (!(condition)) {                                                    \
            fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", __FILE__, \
                    __LINE__, #condition);                                     \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The input as a NUL-terminated heap copy (exactly sized, so ASan sees a
 * read past its end); the caller frees it. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
