/*
 * One module instance: everything the module keeps hangs off it (no globals), so that two
 * instances in one process are independent.
 */
#ifndef SAEF_INSTANCE_INTERNAL_H
#define SAEF_INSTANCE_INTERNAL_H

#include <stdarg.h>

#include "saef/module.h"
#include "saef_config.h"

typedef enum saef_instance_state {
    SAEF_INSTANCE_CREATED = 0,
    SAEF_INSTANCE_STARTED = 1,
} saef_instance_state_t;

/* What we use of the host's API, copied at create() only as far as its struct_size reaches. */
typedef struct saef_host_view {
    void *ctx;                                               /* borrowed */
    void (*log)(void *host_ctx, saef_log_level_t level, const char *line);
    void (*close_connection)(void *host_ctx, void *conn, int is_coap); /* or NULL */
} saef_host_view_t;

struct saef_instance {
    saef_host_view_t host;
    saef_cfg_t *cfg; /* owned */
    saef_instance_state_t state;
};

/* The ABI slots, implemented in instance.c; see saef/module.h for their contracts. */
saef_rc_t saef_instance_create(const saef_host_api_t *host, const saef_config_pair_t *pairs,
                               size_t npairs, saef_instance_t **out, char *err, size_t errlen);
saef_rc_t saef_instance_start(saef_instance_t *inst);
void saef_instance_stop(saef_instance_t *inst);
void saef_instance_destroy(saef_instance_t *inst);

/* Log one line through the host (printf-style).  Never pass key material. */
void saef_log(const saef_instance_t *inst, saef_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
