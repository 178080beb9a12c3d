/* Log lines with a value from outside (a nack detail, a path, a peer id):
 * cmn_log_event in both formats with the input as quoted, unquoted and
 * bare values. Only the sanitizers judge here (the output goes to stderr,
 * which the runner closes); tests/common's cmn_log tests check that such
 * values cannot forge fields (issue 12 item 5). */
#include "cmn_log.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = fuzz_text(data, size);
    for (int format = CMN_LOG_TEXT; format <= CMN_LOG_JSON; format++) {
        cmn_log_setup("fuzz", CMN_LOG_INFO, (cmn_log_format_t)format);
        cmn_log_info("ingest", "nack", "peer=%s detail=\"%s\" n=%d %s", value,
                     value, (int)size, value);
        cmn_log_info("ingest", "bad", "%.*s=%s", (int)(size % 7), value, value);
    }
    free(value);
    return 0;
}
