/* The webhook endpoint (cmn_webhook_url_parse): MDS_FB_HTTP_ENDPOINT. An
 * accepted URL has a host, a port in 1..65535 and a path that starts with
 * '/'; a refused one always says why. */
#include "cmn_webhook.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    cmn_webhook_url_t url;
    const char *reason = NULL;
    if (cmn_webhook_url_parse(text, &url, &reason) == 0) {
        FUZZ_CHECK(url.host[0] != '\0');
        FUZZ_CHECK(url.port >= 1 && url.port <= 65535);
        FUZZ_CHECK(url.path[0] == '/');
        FUZZ_CHECK(strlen(url.host) < sizeof url.host &&
                   strlen(url.path) < sizeof url.path);
    } else {
        FUZZ_CHECK(reason && reason[0] != '\0');
    }
    free(text);
    return 0;
}
