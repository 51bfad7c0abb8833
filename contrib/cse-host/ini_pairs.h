/*
 * The reference hosts' side of enabling the module: read the host's INI file with inih and turn
 * its [saef] and [saef.maf.<label>] sections into saef_config_pair_t (section "" and
 * "maf.<label>"); every other section belongs to the host.
 */
#ifndef SAEF_INI_PAIRS_H
#define SAEF_INI_PAIRS_H

#include <stddef.h>

#include "saef/module.h"

typedef struct ini_pairs {
    saef_config_pair_t *pairs; /* owned, with every string */
    size_t n;
    size_t cap;
} ini_pairs_t;

/* Parse path; on failure returns -1 and writes the reason (file, line) into err. */
int ini_pairs_load(const char *path, ini_pairs_t *out, char *err, size_t errlen);

/* Free everything ini_pairs_load() allocated; NULL-safe. */
void ini_pairs_free(ini_pairs_t *p);

#endif
