/*
 * saef-csed configuration: the [cse] section of the INI file (inih) and the host's own PSK
 * table.  The module's [saef] and [saef.maf.<label>] sections are passed through unchanged by
 * ini_pairs_load(); the module validates them.
 *
 * Every error names the file and, when inih can tell, the line, the option and the value, so
 * that an operator fixes a typo without reading code.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/crypto.h>

#include "csed.h"

enum {
    OPT_CSE_ID,
    OPT_RESOURCE_NAME,
    OPT_RESOURCE_ID,
    OPT_CSE_TYPE,
    OPT_HTTP_LISTEN,
    OPT_COAP_LISTEN,
    OPT_MODULE,
    OPT_HOST_PSK_FILE,
    OPT_POA,
    OPT_TLS_CIPHERS,
    OPT_LOG_LEVEL,
    OPT_HANDSHAKE_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONNECTIONS,
    OPT_COUNT
};

static const char *const opt_names[OPT_COUNT] = {
    [OPT_CSE_ID] = "cse_id",
    [OPT_RESOURCE_NAME] = "resource_name",
    [OPT_RESOURCE_ID] = "resource_id",
    [OPT_CSE_TYPE] = "cse_type",
    [OPT_HTTP_LISTEN] = "http_listen",
    [OPT_COAP_LISTEN] = "coap_listen",
    [OPT_MODULE] = "module",
    [OPT_HOST_PSK_FILE] = "host_psk_file",
    [OPT_POA] = "poa",
    [OPT_TLS_CIPHERS] = "tls_ciphers",
    [OPT_LOG_LEVEL] = "log_level",
    [OPT_HANDSHAKE_TIMEOUT] = "handshake_timeout",
    [OPT_IDLE_TIMEOUT] = "idle_timeout",
    [OPT_MAX_CONNECTIONS] = "max_connections",
};

typedef struct load_ctx {
    csed_config_t *cfg;
    unsigned seen; /* bit per option */
    int failed;
    char *err; /* first error, without the "path:line: " prefix */
    size_t errlen;
} load_ctx_t;

/* Characters of an unstructured resource name / CSE-ID stem: RFC 3986 unreserved. */
static int is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int check_name(const char *v, size_t max)
{
    size_t n = strlen(v), i;

    if (n == 0 || n > max || strcmp(v, "-") == 0 || strcmp(v, "~") == 0 || strcmp(v, "_") == 0)
        return -1;
    for (i = 0; i < n; i++)
        if (!is_unreserved((unsigned char)v[i]))
            return -1;
    return 0;
}

/* "/stem" or "//sp-domain/stem". */
static int set_cse_id(csed_config_t *cfg, const char *v)
{
    const char *stem;
    size_t i;

    if (strncmp(v, "//", 2) == 0) {
        const char *slash = strchr(v + 2, '/');

        if (slash == NULL || slash == v + 2)
            return -1;
        for (i = 2; v + i < slash; i++)
            if (!is_unreserved((unsigned char)v[i]) || v[i] == '~' || v[i] == '_')
                return -1;
        cfg->sp_id = strndup(v + 2, (size_t)(slash - v - 2));
        stem = slash + 1;
    } else if (v[0] == '/') {
        stem = v + 1;
    } else {
        return -1;
    }
    if (check_name(stem, 64) != 0)
        return -1;
    cfg->cse_id = strdup(v);
    cfg->cse_stem = strdup(stem);
    cfg->csi = malloc(strlen(stem) + 2);
    if (cfg->csi != NULL)
        sprintf(cfg->csi, "/%s", stem);
    return 0;
}

static int set_uint(unsigned *out, const char *v, unsigned lo, unsigned hi)
{
    char *end;
    unsigned long n;

    if (v[0] < '0' || v[0] > '9')
        return -1;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (*end != '\0' || errno != 0 || n < lo || n > hi)
        return -1;
    *out = (unsigned)n;
    return 0;
}

static int set_string(char **out, const char *v)
{
    if (v[0] == '\0')
        return -1;
    *out = strdup(v);
    return 0;
}

/* Apply one option; on failure write the reason into why. */
static int set_option(csed_config_t *cfg, int opt, const char *v, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    unsigned sslen;

    switch (opt) {
    case OPT_CSE_ID:
        if (set_cse_id(cfg, v) == 0)
            return 0;
        snprintf(why, whylen,
                 "not a CSE-ID: /cse-id or //sp-domain/cse-id, cse-id of "
                 "letters, digits and -._~ (1-64)");
        return -1;
    case OPT_RESOURCE_NAME:
    case OPT_RESOURCE_ID:
        if (check_name(v, 64) == 0)
            return set_string(opt == OPT_RESOURCE_NAME ? &cfg->resource_name : &cfg->resource_id,
                              v);
        snprintf(why, whylen, "1-64 letters, digits and -._~ (not \"-\")");
        return -1;
    case OPT_CSE_TYPE:
        if (strcasecmp(v, "IN") == 0 || strcasecmp(v, "IN-CSE") == 0)
            cfg->cse_type = 1;
        else if (strcasecmp(v, "MN") == 0 || strcasecmp(v, "MN-CSE") == 0)
            cfg->cse_type = 2;
        else if (strcasecmp(v, "ASN") == 0 || strcasecmp(v, "ASN-CSE") == 0)
            cfg->cse_type = 3;
        else
            break;
        return 0;
    case OPT_HTTP_LISTEN:
    case OPT_COAP_LISTEN:
        if (csed_parse_listen(v, &ss, &sslen) == 0)
            return set_string(opt == OPT_HTTP_LISTEN ? &cfg->http_listen : &cfg->coap_listen, v);
        snprintf(why, whylen,
                 "not a numeric address and port: 127.0.0.1:8443, [::1]:8443, "
                 "0.0.0.0:0 (port 0 picks a free one)");
        return -1;
    case OPT_MODULE:
        return set_string(&cfg->module, v);
    case OPT_HOST_PSK_FILE:
        return set_string(&cfg->host_psk_file, v);
    case OPT_POA:
        return set_string(&cfg->poa, v);
    case OPT_TLS_CIPHERS:
        return set_string(&cfg->tls_ciphers, v);
    case OPT_LOG_LEVEL:
        if (strcasecmp(v, "error") == 0)
            cfg->log_level = SAEF_LOG_ERROR;
        else if (strcasecmp(v, "warning") == 0)
            cfg->log_level = SAEF_LOG_WARNING;
        else if (strcasecmp(v, "notice") == 0)
            cfg->log_level = SAEF_LOG_NOTICE;
        else if (strcasecmp(v, "info") == 0)
            cfg->log_level = SAEF_LOG_INFO;
        else if (strcasecmp(v, "debug") == 0)
            cfg->log_level = SAEF_LOG_DEBUG;
        else
            break;
        return 0;
    case OPT_HANDSHAKE_TIMEOUT:
        if (set_uint(&cfg->handshake_timeout_s, v, 1, 300) == 0)
            return 0;
        snprintf(why, whylen, "seconds, 1..300");
        return -1;
    case OPT_IDLE_TIMEOUT:
        if (set_uint(&cfg->idle_timeout_s, v, 1, 3600) == 0)
            return 0;
        snprintf(why, whylen, "seconds, 1..3600");
        return -1;
    case OPT_MAX_CONNECTIONS:
        if (set_uint(&cfg->max_connections, v, 1, 100000) == 0)
            return 0;
        snprintf(why, whylen, "1..100000");
        return -1;
    }
    if (opt == OPT_CSE_TYPE)
        snprintf(why, whylen, "one of IN, MN, ASN");
    else
        snprintf(why, whylen, "one of error, warning, notice, info, debug");
    return -1;
}

/* Keep the first error only; returns 0, which makes inih report this line. */
__attribute__((format(printf, 2, 3))) static int fail(load_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    if (!ctx->failed) {
        va_start(ap, fmt);
        vsnprintf(ctx->err, ctx->errlen, fmt, ap);
        va_end(ap);
    }
    ctx->failed = 1;
    return 0;
}

/* inih callback: 1 to go on, 0 to report this line. */
static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx_t *ctx = user;
    char why[160] = "invalid value";
    int opt;

    if (strncmp(section, "saef", 4) == 0 && (section[4] == '\0' || section[4] == '.'))
        return 1; /* the module's: ini_pairs_load() passes it on */
    if (strcmp(section, "cse") != 0)
        return fail(ctx,
                    "unknown section [%s]: the host reads [cse], the module [saef] and "
                    "[saef.maf.<label>]",
                    section);
    if (ctx->failed)
        return 1; /* the first error is the one reported */
    for (opt = 0; opt < OPT_COUNT && strcmp(name, opt_names[opt]) != 0; opt++)
        ;
    if (opt == OPT_COUNT)
        return fail(ctx, "[cse] %s: unknown option", name);
    if (ctx->seen & (1u << opt))
        return fail(ctx, "[cse] %s: given twice", name);
    ctx->seen |= 1u << opt;
    if (set_option(ctx->cfg, opt, value, why, sizeof(why)) != 0)
        return fail(ctx, "[cse] %s = \"%s\": %s", name, value, why);
    return 1;
}

int csed_config_load(const char *path, csed_config_t *cfg, char *err, size_t errlen)
{
    static const int required[] = {OPT_CSE_ID, OPT_RESOURCE_NAME, OPT_HTTP_LISTEN, OPT_MODULE};
    char first[400] = "";
    load_ctx_t ctx = {.cfg = cfg, .err = first, .errlen = sizeof(first)};
    size_t i;
    int line;

    memset(cfg, 0, sizeof(*cfg));
    cfg->cse_type = 1;
    cfg->log_level = SAEF_LOG_NOTICE;
    cfg->handshake_timeout_s = 10;
    cfg->idle_timeout_s = 60;
    cfg->max_connections = 1024;
    line = ini_parse(path, on_entry, &ctx);
    if (line == -1) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    } else if (line == -2) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    } else if (line > 0) {
        snprintf(err, errlen, "%s:%d: %s", path, line, ctx.failed ? first : "INI syntax error");
        goto fail;
    }
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!(ctx.seen & (1u << required[i]))) {
            snprintf(err, errlen, "%s: [cse] %s: required option missing", path,
                     opt_names[required[i]]);
            goto fail;
        }
    }
    if (cfg->resource_id == NULL)
        cfg->resource_id = strdup(cfg->cse_stem);
    if (cfg->cse_id == NULL || cfg->csi == NULL || cfg->cse_stem == NULL ||
        cfg->resource_id == NULL ||
        (ctx.seen & (1u << OPT_CSE_ID) && cfg->cse_id[1] == '/' && cfg->sp_id == NULL)) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    return 0;
fail:
    csed_config_free(cfg);
    return -1;
}

void csed_config_free(csed_config_t *cfg)
{
    char **fields[] = {&cfg->cse_id,        &cfg->sp_id,         &cfg->csi,
                       &cfg->cse_stem,      &cfg->resource_name, &cfg->resource_id,
                       &cfg->http_listen,   &cfg->coap_listen,   &cfg->module,
                       &cfg->host_psk_file, &cfg->poa,           &cfg->tls_ciphers};
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}

/* ---- host PSK table ---- */

int csed_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parse one non-comment line into e; returns a reason or NULL. */
static const char *psk_parse_line(char *line, csed_psk_entry_t *e)
{
    char *id, *hex, *rest, *save = NULL;
    size_t i, n;

    id = strtok_r(line, " \t", &save);
    hex = strtok_r(NULL, " \t", &save);
    rest = strtok_r(NULL, " \t", &save);
    if (id == NULL || hex == NULL || rest != NULL)
        return "expected \"identity hexkey\"";
    n = strlen(id);
    if (n > CSED_IDENTITY_MAX)
        return "identity longer than 128 characters";
    for (i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return "identity must be printable ASCII without blanks";
    n = strlen(hex);
    if (n == 0 || n % 2 != 0 || n / 2 > CSED_PSK_MAX)
        return "key must be an even number of hex digits, at most 64 bytes";
    e->key = OPENSSL_zalloc(n / 2);
    e->identity = strdup(id);
    if (e->key == NULL || e->identity == NULL)
        return "out of memory";
    e->key_len = n / 2;
    for (i = 0; i < n / 2; i++) {
        int hi = csed_hex_value((unsigned char)hex[2 * i]), lo = csed_hex_value((unsigned char)hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return "key is not hex";
        e->key[i] = (uint8_t)(hi << 4 | lo);
    }
    return NULL;
}

static void psk_entry_clear(csed_psk_entry_t *e)
{
    if (e->key != NULL)
        OPENSSL_clear_free(e->key, e->key_len);
    free(e->identity);
    memset(e, 0, sizeof(*e));
}

int csed_psk_load(const char *path, csed_psk_table_t *t, char *err, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0, n_alloc = 0;
    ssize_t len;
    struct stat st;
    FILE *f = NULL;
    int fd, rc = -1;

    memset(t, 0, sizeof(*t));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "host_psk_file %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* Checked on the open descriptor: the file cannot be swapped between check and read. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "host_psk_file %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "host_psk_file %s: mode %04o lets group or others in; chmod 600",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        snprintf(err, errlen, "host_psk_file %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        csed_psk_entry_t e = {0};
        const char *why;
        char *p = line;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        why = psk_parse_line(p, &e);
        if (why == NULL && csed_psk_find(t, e.identity, strlen(e.identity)) != NULL)
            why = "identity given twice";
        if (why == NULL && t->n == n_alloc) {
            size_t grow = n_alloc ? n_alloc * 2 : 8;
            csed_psk_entry_t *g = realloc(t->entries, grow * sizeof(*g));

            if (g == NULL) {
                why = "out of memory";
            } else {
                t->entries = g;
                n_alloc = grow;
            }
        }
        if (why != NULL) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            psk_entry_clear(&e);
            goto out;
        }
        t->entries[t->n++] = e;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "host_psk_file %s: read error", path);
        goto out;
    }
    rc = 0;
out:
    if (line != NULL)
        OPENSSL_cleanse(line, cap); /* held hex key text */
    free(line);
    fclose(f);
    if (rc != 0)
        csed_psk_free(t);
    return rc;
}

void csed_psk_free(csed_psk_table_t *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++)
        psk_entry_clear(&t->entries[i]);
    free(t->entries);
    memset(t, 0, sizeof(*t));
}

const csed_psk_entry_t *csed_psk_find(const csed_psk_table_t *t, const char *identity, size_t len)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (strlen(t->entries[i].identity) == len &&
            memcmp(t->entries[i].identity, identity, len) == 0)
            return &t->entries[i];
    return NULL;
}
