/* Options as an operator (or a compromised deployment file) gives them:
 * the input is split at NUL bytes into argv and loaded against a table
 * with every option type (cmn_config_load). A loaded value respects its
 * type and range: no integer slips in with white space (issue 12 item 9),
 * no string outside its length range (item 8). */
#include <ctype.h>
#include <math.h>

#include "cmn_config.h"
#include "fuzz_common.h"

#define FUZZ_CONFIG_ARGS_MAX 16

static const char *const s_choices[] = {"step", "proportional", NULL};
static const cmn_option_t s_options[] = {
    {"count", "FUZZ_COUNT", CMN_OPT_INT, "5", "an int", -1000, 1000000, NULL},
    {"ratio", "FUZZ_RATIO", CMN_OPT_DOUBLE, "0.5", "a double", 0, 1, NULL},
    {"flag", "FUZZ_FLAG", CMN_OPT_BOOL, "false", "a bool", 0, 0, NULL},
    {"policy", "FUZZ_POLICY", CMN_OPT_CHOICE, "step", "a choice", 0, 0,
     s_choices},
    {"producer-id", "FUZZ_PRODUCER_ID", CMN_OPT_STRING, NULL, "an id", 1, 64,
     NULL},
    {"name", "FUZZ_NAME", CMN_OPT_STRING, NULL, "a string", 0, 0, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    char *argv[FUZZ_CONFIG_ARGS_MAX + 2] = {"fuzz"};
    int argc = 1;
    for (char *at = text; at <= text + size && argc <= FUZZ_CONFIG_ARGS_MAX;
         at += strlen(at) + 1)
        argv[argc++] = at;
    argv[argc] = NULL;
    cmn_config_t *config =
        cmn_config_new("fuzz", "0", "Fuzzing.", s_options,
                       sizeof s_options / sizeof s_options[0]);
    FUZZ_CHECK(config);
    if (cmn_config_load(config, argc, argv) == 0) {
        int64_t count = cmn_config_int(config, "count");
        FUZZ_CHECK(count >= -1000 && count <= 1000000);
        double ratio = cmn_config_double(config, "ratio");
        FUZZ_CHECK(isfinite(ratio) && ratio >= 0 && ratio <= 1);
        FUZZ_CHECK(cmn_config_choice(config, "policy") >= 0 &&
                   cmn_config_choice(config, "policy") <= 1);
        const char *id = cmn_config_string(config, "producer-id");
        FUZZ_CHECK(!id || (strlen(id) >= 1 && strlen(id) <= 64));
        (void)cmn_config_bool(config, "flag");
        for (size_t k = 0; k < cmn_config_positional_count(config); k++)
            FUZZ_CHECK(cmn_config_positional(config, k));
    }
    cmn_config_destroy(&config);
    free(text);
    return 0;
}
