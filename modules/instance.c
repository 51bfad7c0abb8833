/* Instance lifecycle: create (validate host and config, no I/O), start, stop, destroy. */
#include "config.h"

#include "saef_instance_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saef_rc.h"
#include "saef_secret.h"

/* A key file (PEM) and a KEK/Km file: the sizes we accept.  Km and the KEK are raw or hex
 * text; a 128-bit key is the least we take. */
#define SECRET_KEY_MIN 16

void saef_log(const saef_instance_t *inst, saef_log_level_t level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (inst == NULL || inst->host.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    inst->host.log(inst->host.ctx, level, line);
}

/* Copy what the host offers, touching only members its struct_size covers. */
static saef_rc_t host_view_init(const saef_host_api_t *host, saef_host_view_t *view,
                                const char **cse_id)
{
    if (host->hdr.abi_major != SAEF_ABI_MAJOR || !SAEF_HAS_FIELD(host, saef_host_api_t, log) ||
        host->log == NULL)
        return SAEF_E_ABI;
    view->ctx = host->host_ctx;
    view->log = host->log;
    view->close_connection = SAEF_HAS_FIELD(host, saef_host_api_t, close_connection)
                                 ? host->close_connection
                                 : NULL;
    *cse_id = SAEF_HAS_FIELD(host, saef_host_api_t, cse_id) ? host->cse_id : NULL;
    return SAEF_OK;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

saef_rc_t saef_instance_create(const saef_host_api_t *host, const saef_config_pair_t *pairs,
                               size_t npairs, saef_instance_t **out, char *err, size_t errlen)
{
    saef_instance_t *inst;
    const char *host_cse_id = NULL;
    saef_rc_t rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL || host == NULL || (pairs == NULL && npairs != 0)) {
        set_err(err, errlen, "create: NULL host, out or pairs");
        return SAEF_E_INVALID_ARG;
    }
    *out = NULL;
    inst = calloc(1, sizeof(*inst));
    if (inst == NULL)
        return SAEF_E_NOMEM;
    rc = host_view_init(host, &inst->host, &host_cse_id);
    if (rc != SAEF_OK) {
        set_err(err, errlen, "host API: other ABI major, struct_size too small or no log callback");
        free(inst);
        return rc;
    }
    rc = saef_cfg_parse(pairs, npairs, host_cse_id, &inst->cfg, err, errlen);
    if (rc != SAEF_OK) {
        free(inst);
        return rc;
    }
    if (inst->cfg->expiry_action == SAEF_CFG_EXPIRY_CLOSE && inst->host.close_connection == NULL) {
        set_err(err, errlen,
                "expiry_action = \"close\": the host offers no close_connection hook");
        saef_cfg_free(inst->cfg);
        free(inst);
        return SAEF_E_CFG_CONFLICT;
    }
    inst->state = SAEF_INSTANCE_CREATED;
    *out = inst;
    return SAEF_OK;
}

/* Refuse to start with a secret file we could not use later: better a clear failure at start
 * than a failed handshake at the first peer. */
static saef_rc_t check_secret(saef_instance_t *inst, const char *option, const char *path)
{
    char detail[512];
    saef_rc_t rc;

    if (path == NULL)
        return SAEF_OK;
    rc = saef_secret_check(path, SECRET_KEY_MIN, SAEF_SECRET_FILE_MAX, detail, sizeof(detail));
    if (rc != SAEF_OK)
        saef_log(inst, SAEF_LOG_ERROR, "start: %s: %s", option, detail);
    return rc;
}

saef_rc_t saef_instance_start(saef_instance_t *inst)
{
    char option[64];
    saef_rc_t rc;
    size_t i;

    if (inst == NULL)
        return SAEF_E_INVALID_ARG;
    if (inst->state == SAEF_INSTANCE_STARTED)
        return SAEF_E_STATE;
    rc = check_secret(inst, "kek_file", inst->cfg->key_vault ? inst->cfg->kek_file : NULL);
    for (i = 0; rc == SAEF_OK && i < inst->cfg->n_mafs; i++) {
        const saef_cfg_maf_t *maf = &inst->cfg->mafs[i];

        snprintf(option, sizeof(option), "maf.%s.%s", maf->label,
                 maf->auth == SAEF_CFG_AUTH_PSK ? "km_file" : "client_key");
        rc = check_secret(inst, option,
                          maf->auth == SAEF_CFG_AUTH_PSK ? maf->km_file : maf->client_key);
    }
    if (rc == SAEF_OK)
        rc = saef_runtime_start(inst);
    if (rc != SAEF_OK)
        return rc;
    inst->state = SAEF_INSTANCE_STARTED;
    saef_log(inst, SAEF_LOG_NOTICE, "maf_saef %s started: cse_id=%s node_id=%s, %zu MAF(s)",
             PACKAGE_VERSION, inst->cfg->cse_id, inst->cfg->node_id, inst->cfg->n_mafs);
    return SAEF_OK;
}

void saef_instance_stop(saef_instance_t *inst)
{
    if (inst == NULL || inst->state != SAEF_INSTANCE_STARTED)
        return;
    saef_runtime_stop(inst);
    inst->state = SAEF_INSTANCE_CREATED;
    saef_log(inst, SAEF_LOG_NOTICE, "maf_saef stopped");
}

void saef_instance_destroy(saef_instance_t *inst)
{
    if (inst == NULL)
        return;
    saef_instance_stop(inst);
    saef_cfg_free(inst->cfg);
    free(inst);
}
