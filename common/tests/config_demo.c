/* config_demo: a tiny program with service-like options, run by
 * test_config_exit.py to check exit codes and messages of cmn_config. */
#include <stdio.h>
#include <stdlib.h>

#include "cmn_config.h"

static const char *const s_levels[] = {"error", "warning", "info", "debug",
                                       NULL};

int main(int argc, char **argv)
{
    const cmn_option_t options[] = {
        {.flag = "queue-capacity",
         .env = "MDS_QUEUE_CAPACITY",
         .type = CMN_OPT_INT,
         .default_value = "10000",
         .help = "records the queue holds",
         .min = 1,
         .max = 10000000},
        {.flag = "low-watermark",
         .env = "MDS_LOW_WATERMARK",
         .type = CMN_OPT_DOUBLE,
         .default_value = "0.5",
         .help = "utilisation that ends soft backpressure",
         .min = 0,
         .max = 1},
        {.flag = "high-watermark",
         .env = "MDS_HIGH_WATERMARK",
         .type = CMN_OPT_DOUBLE,
         .default_value = "0.8",
         .help = "utilisation that starts soft backpressure",
         .min = 0,
         .max = 1},
        {.flag = "log-level",
         .env = "MDS_LOG_LEVEL",
         .type = CMN_OPT_CHOICE,
         .default_value = "info",
         .help = "least severe level logged",
         .choices = s_levels},
        {.flag = "enable-feedback",
         .env = "MDS_ENABLE_FEEDBACK",
         .type = CMN_OPT_BOOL,
         .default_value = "true",
         .help = "publish feedback"},
        {.flag = "admin-token",
         .env = "MDS_ADMIN_TOKEN",
         .type = CMN_OPT_STRING,
         .default_value = NULL,
         .help = "bearer token for admin routes"},
        /* Wider than a terminal on purpose: --help must wrap it. */
        {.flag = "provider-long-name-symbols",
         .env = "MDS_PROVIDER_LONG_NAME_SYMBOLS",
         .type = CMN_OPT_STRING,
         .default_value = "AAPL,MSFT,GOOG,AMZN,NVDA,TSLA",
         .help = "symbols of the provider, comma-separated; a description "
                 "long enough that no terminal of eighty columns shows it "
                 "on one line, with a-word-that-is-itself-rather-long-to-"
                 "wrap-at-all and then a few more words to finish"},
    };
    cmn_config_t *config =
        cmn_config_new("mds-demo", "9.9.9", "A demo of cmn_config.", options,
                       sizeof options / sizeof *options);
    int rc = cmn_config_load(config, argc, argv);
    if (rc == 0 && cmn_config_double(config, "low-watermark") >=
                       cmn_config_double(config, "high-watermark")) {
        cmn_config_reject(config, "low-watermark",
                          "must be below the high watermark");
        rc = -1;
    }
    if (rc != 0) {
        cmn_config_destroy(&config);
        return rc == CMN_CONFIG_EXIT ? CMN_EXIT_OK : CMN_EXIT_USAGE;
    }
    const char *token = cmn_config_string(config, "admin-token");
    printf("queue-capacity=%lld (%s)\n",
           (long long)cmn_config_int(config, "queue-capacity"),
           cmn_config_source(config, "queue-capacity"));
    printf("low-watermark=%g\n", cmn_config_double(config, "low-watermark"));
    printf("log-level=%s\n", s_levels[cmn_config_choice(config, "log-level")]);
    printf("enable-feedback=%d\n", cmn_config_bool(config, "enable-feedback"));
    printf("admin-token=%s\n", token ? token : "(unset)");
    for (size_t index = 0; index < cmn_config_positional_count(config); index++)
        printf("positional=%s\n", cmn_config_positional(config, index));
    cmn_config_destroy(&config);
    return CMN_EXIT_OK;
}
