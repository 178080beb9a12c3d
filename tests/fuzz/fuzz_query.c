/* Query strings of the HTTP routes (cmn_http_query_value: the pipeline's
 * /admin/cooldown and /admin/scale read provider, scope, seconds, scale).
 * A value found fits its buffer, is not empty and holds no NUL. */
#include "cmn_http.h"
#include "fuzz_common.h"

#define FUZZ_QUERY_VALUE_BYTES 64 /* as pipeline/main.c's PL_QUERY_VALUE_MAX   \
                                   */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"provider", "scope", "seconds", "scale",
                                       "a"};
    char *query = fuzz_text(data, size);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char value[FUZZ_QUERY_VALUE_BYTES];
        int result = cmn_http_query_value(query, keys[k], value, sizeof value);
        FUZZ_CHECK(result >= -1 && result <= 1);
        if (result == 1) {
            size_t length = strnlen(value, sizeof value);
            FUZZ_CHECK(length > 0 && length < sizeof value);
        }
    }
    free(query);
    return 0;
}
