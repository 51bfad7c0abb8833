/* Writes docs/configuration.md to stdout from the option table (see `make config-doc`). */
#include <stdio.h>
#include <stdlib.h>

#include "saef_config.h"

int main(void)
{
    if (saef_cfg_write_markdown(stdout) != SAEF_OK) {
        fputs("gen_config_doc: writing the page failed\n", stderr);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
