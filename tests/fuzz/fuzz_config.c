/*
 * Fuzz target for the configuration parser.  Config values come from a file an operator
 * edits, but also from whatever generates that file, and every byte reaches typed parsers,
 * libcurl's URL parser and libpq's conninfo parser.
 *
 * Input: NUL-separated fields "section\0key\0value\0section\0key\0value\0...".  Each complete
 * triple is one pair; a single field left over is the host's CSE-ID (none otherwise).
 *
 * Checked: the result and the output agree; a successful configuration keeps the header's
 * promises; an error message is one printable, terminated line that never shows a secret
 * option's value.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "saef_config.h"

#define MAX_FIELDS 600

/* Abort on a broken invariant so that the fuzzer keeps the input as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool is_secret_key(const char *key)
{
    return strcmp(key, "client_key") == 0 || strcmp(key, "km_file") == 0 ||
           strcmp(key, "kek_file") == 0 || strcmp(key, "db_conninfo") == 0;
}

static void check_ok(const saef_cfg_t *cfg)
{
    size_t i;

    CHECK(cfg != NULL && cfg->cse_id != NULL && cfg->node_id != NULL);
    CHECK(cfg->suid == 32 && (cfg->psk_length == 16 || cfg->psk_length == 32));
    CHECK(cfg->db_schema != NULL && cfg->admin_originators != NULL);
    CHECK(cfg->admin_originators[cfg->n_admin_originators] == NULL);
    CHECK(!cfg->key_vault || (cfg->db_conninfo != NULL && cfg->kek_file != NULL));
    CHECK(cfg->n_mafs >= 1 && cfg->n_mafs <= SAEF_CFG_MAX_MAFS);
    for (i = 0; i < cfg->n_mafs; i++) {
        const saef_cfg_maf_t *m = &cfg->mafs[i];

        CHECK(m->label != NULL && m->fqdn != NULL && m->key_retrieval_uri != NULL);
        CHECK(saef_cfg_find_maf(cfg, m->fqdn, strlen(m->fqdn)) == m);
        if (m->auth == SAEF_CFG_AUTH_CERT)
            CHECK(m->client_cert && m->client_key && m->ca_file && !m->kmid && !m->km_file);
        else
            CHECK(m->auth == SAEF_CFG_AUTH_PSK && m->kmid && m->km_file && !m->client_cert &&
                  !m->client_key && !m->ca_file);
        CHECK(!m->register_client || (m->client_registration_uri && m->admin_fqdn));
        CHECK(m->request_timeout_ms >= m->connect_timeout_ms);
    }
}

/* True when needle occurs in a field the message may legitimately quote. */
static bool in_public_field(const char *needle, char **fields, size_t n, size_t except)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i != except && strstr(fields[i], needle) != NULL)
            return true;
    }
    return false;
}

static void check_err(const char *err, size_t errlen, char **fields, size_t nfields, size_t npairs)
{
    size_t len = strnlen(err, errlen), i;

    CHECK(len > 0 && len < errlen);
    for (i = 0; i < len; i++)
        CHECK(err[i] >= 0x20 && err[i] < 0x7f);
    for (i = 0; i < npairs; i++) {
        const char *key = fields[3 * i + 1], *value = fields[3 * i + 2];

        /* Short values could match message text by chance; long ones cannot. */
        if (is_secret_key(key) && strlen(value) >= 24 && strstr(err, value) != NULL)
            CHECK(in_public_field(value, fields, nfields, 3 * i + 2));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *fields[MAX_FIELDS], *p, *end;
    saef_config_pair_t pairs[MAX_FIELDS / 3];
    static saef_cfg_t dummy;
    saef_cfg_t *cfg = &dummy; /* parse must reset it to NULL on error */
    char err[256];
    size_t n = 0, npairs, i;
    const char *host;
    saef_rc_t rc;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* A trailing NUL ends the last field rather than starting an empty one. */
    end = buf + size - (size > 0 && buf[size - 1] == '\0' ? 1 : 0);
    for (p = buf; n < MAX_FIELDS && p <= end; p += strlen(p) + 1)
        fields[n++] = p;
    if (size == 0)
        n = 0;
    npairs = n / 3;
    host = n % 3 == 1 ? fields[n - 1] : NULL;
    for (i = 0; i < npairs; i++)
        pairs[i] = (saef_config_pair_t){fields[3 * i], fields[3 * i + 1], fields[3 * i + 2]};

    memset(err, 'X', sizeof(err));
    rc = saef_cfg_parse(pairs, npairs, host, &cfg, err, sizeof(err));
    if (rc == SAEF_OK) {
        check_ok(cfg);
        CHECK(err[0] == '\0');
    } else {
        CHECK(rc < 0 && cfg == NULL);
        check_err(err, sizeof(err), fields, n, npairs);
    }
    saef_cfg_free(cfg);
    free(buf);
    return 0;
}
