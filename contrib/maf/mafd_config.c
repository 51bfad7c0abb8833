/*
 * saef-mafd configuration: an INI file (see contrib/maf/saef-mafd.ini.example and
 * docs/reference-maf.md).  Every error names the file, the line when there is one, the
 * section and the option.  Km files are secret files (mode 0600, saef_secret_read).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "mafd.h"
#include "saef_ascii.h"
#include "saef_id.h"
#include "saef_secret.h"

#define DURATION_MAX (10L * 366 * 86400)

typedef struct parse_ctx {
    mafd_config_t *cfg;
    char *err;
    size_t errlen;
    bool failed;   /* err holds the first error */
    unsigned seen; /* [maf] options already given (bit per entry of maf_opts) */
    size_t cap_clients;
} parse_ctx_t;

static const char *const maf_opts[] = {"fqdn",
                                       "listen",
                                       "base_path",
                                       "cert",
                                       "key",
                                       "ca",
                                       "max_key_lifetime",
                                       "max_client_lifetime",
                                       "purge_interval",
                                       "store",
                                       "db_conninfo",
                                       "db_schema",
                                       NULL};

static int fail(parse_ctx_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record the first error; inih then reports its line.  Returns 0 for inih. */
static int fail(parse_ctx_t *p, const char *fmt, ...)
{
    if (!p->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
        p->failed = true;
    }
    return 0;
}

static bool set_str(char **dst, const char *value)
{
    free(*dst);
    *dst = strdup(value);
    return *dst != NULL;
}

/* Seconds, optionally with a suffix s, m, h or d; 1 .. about ten years. */
static bool parse_duration(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    long mult = 1;
    if (end == v || errno != 0 || n <= 0)
        return false;
    if (*end != '\0') {
        const char *units = "smhd";
        const long mults[] = {1, 60, 3600, 86400};
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0')
            return false;
        mult = mults[u - units];
    }
    if (n > DURATION_MAX / mult)
        return false;
    *out = n * mult;
    return true;
}

/* "" or one or more "/segment" of [A-Za-z0-9._~-]+, not "." or "..", no trailing slash. */
static bool base_path_ok(const char *v)
{
    while (*v != '\0') {
        if (*v++ != '/')
            return false;
        size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-");
        if (n == 0 || (n == 1 && v[0] == '.') || (n == 2 && v[0] == '.' && v[1] == '.'))
            return false;
        v += n;
    }
    return true;
}

saef_rc_t mafd_config_set_listen(mafd_config_t *cfg, const char *value, char *err, size_t errlen)
{
    const char *colon = strrchr(value, ':');
    const char *host = value, *host_end = colon;
    if (colon != NULL && value[0] == '[') { /* [v6]:port */
        host = value + 1;
        host_end = colon > value && colon[-1] == ']' ? colon - 1 : NULL;
    }
    char *end;
    errno = 0;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || host_end == NULL || host_end == host || colon[1] == '\0' || *end != '\0' ||
        errno != 0 || port < 0 || port > 65535) {
        snprintf(err, errlen, "listen: \"%s\" is not ADDRESS:PORT (port 0 = any free port)", value);
        return SAEF_E_CFG_MALFORMED;
    }
    char *h = strndup(host, (size_t)(host_end - host));
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return SAEF_E_NOMEM;
    }
    free(cfg->listen_host);
    cfg->listen_host = h;
    cfg->listen_port = (uint16_t)port;
    return SAEF_OK;
}

/* [a-z_][a-z0-9_]{0,62}: used in SQL text as an identifier (it cannot be a parameter), so
 * only names that need no quoting at all are accepted. */
static bool schema_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > MAFD_DB_SCHEMA_MAX || !((*v >= 'a' && *v <= 'z') || *v == '_'))
        return false;
    return strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* A libpq conninfo (key=value or URI) without a password: the configuration file is not a
 * secret file, so the password belongs in a passfile or the PG* environment. */
static bool conninfo_ok(parse_ctx_t *p, const char *v)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(v, &perr);
    if (opts == NULL) {
        char msg[256] = "out of memory";
        if (perr != NULL) {
            /* libpq's message ends in a newline; the line number follows in ours. */
            snprintf(msg, sizeof(msg), "%s", perr);
            msg[strcspn(msg, "\n")] = '\0';
        }
        PQfreemem(perr);
        fail(p, "[maf] db_conninfo: not a libpq connection string: %s", msg);
        return false;
    }
    bool has_password = false;
    for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            has_password = true;
    PQconninfoFree(opts);
    if (has_password) {
        fail(p, "[maf] db_conninfo: contains a password; put it in a passfile (passfile=, "
                "PGPASSFILE or ~/.pgpass) or the PG* environment instead");
        return false;
    }
    return true;
}

static int maf_option(parse_ctx_t *p, const char *name, const char *value)
{
    mafd_config_t *cfg = p->cfg;
    unsigned i = 0;
    while (maf_opts[i] != NULL && strcmp(maf_opts[i], name) != 0)
        i++;
    if (maf_opts[i] == NULL)
        return fail(p, "[maf] %s: unknown option", name);
    if (p->seen & (1u << i))
        return fail(p, "[maf] %s: given twice", name);
    p->seen |= 1u << i;
    char detail[256];
    long *dur = NULL;
    switch (i) {
    case 0:
        return set_str(&cfg->fqdn, value) ? 1 : fail(p, "out of memory");
    case 1:
        if (mafd_config_set_listen(cfg, value, detail, sizeof(detail)) != SAEF_OK)
            return fail(p, "[maf] %s", detail);
        return 1;
    case 2:
        if (!base_path_ok(value))
            return fail(p, "[maf] base_path: must be empty or /segment[/segment...] of "
                           "[A-Za-z0-9._~-], without trailing slash");
        return set_str(&cfg->base_path, value) ? 1 : fail(p, "out of memory");
    case 3:
        return set_str(&cfg->cert, value) ? 1 : fail(p, "out of memory");
    case 4:
        return set_str(&cfg->key, value) ? 1 : fail(p, "out of memory");
    case 5:
        return set_str(&cfg->ca, value) ? 1 : fail(p, "out of memory");
    case 6:
        dur = &cfg->max_key_lifetime;
        break;
    case 7:
        dur = &cfg->max_client_lifetime;
        break;
    case 8:
        dur = &cfg->purge_interval;
        break;
    case 9:
        if (strcmp(value, "memory") == 0)
            cfg->store = MAFD_STORE_MEMORY;
        else if (strcmp(value, "postgresql") == 0)
            cfg->store = MAFD_STORE_POSTGRESQL;
        else
            return fail(p, "[maf] store: \"%s\" is neither memory nor postgresql", value);
        return 1;
    case 10:
        if (!conninfo_ok(p, value))
            return 0;
        return set_str(&cfg->db_conninfo, value) ? 1 : fail(p, "out of memory");
    default:
        if (!schema_ok(value))
            return fail(p,
                        "[maf] db_schema: \"%s\" is not [a-z_][a-z0-9_]{0,62} (an unquoted "
                        "PostgreSQL name)",
                        value);
        return set_str(&cfg->db_schema, value) ? 1 : fail(p, "out of memory");
    }
    if (!parse_duration(value, dur))
        return fail(p,
                    "[maf] %s: \"%s\" is not a duration (seconds, or a number with suffix "
                    "s, m, h or d; at most ten years)",
                    name, value);
    return 1;
}

static mafd_client_t *client_named(parse_ctx_t *p, const char *name)
{
    mafd_config_t *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_clients; i++)
        if (strcmp(cfg->clients[i].name, name) == 0)
            return &cfg->clients[i];
    if (cfg->n_clients == p->cap_clients) {
        size_t cap = p->cap_clients ? 2 * p->cap_clients : 8;
        mafd_client_t *n = realloc(cfg->clients, cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        cfg->clients = n;
        p->cap_clients = cap;
    }
    mafd_client_t *c = &cfg->clients[cfg->n_clients];
    memset(c, 0, sizeof(*c));
    if ((c->name = strdup(name)) == NULL)
        return NULL;
    cfg->n_clients++;
    return c;
}

/* 64 hex digits, optionally in colon-separated pairs (openssl x509 -fingerprint -sha256). */
static bool parse_fingerprint(const char *v, uint8_t fp[32])
{
    size_t n = 0;
    while (*v != '\0' && n < 32) {
        int hi = saef_hex_value(v[0]), lo = hi < 0 ? -1 : saef_hex_value(v[1]);
        if (lo < 0)
            return false;
        fp[n++] = (uint8_t)(hi << 4 | lo);
        v += 2;
        if (*v == ':' && n < 32)
            v++;
    }
    return n == 32 && *v == '\0';
}

static int client_option(parse_ctx_t *p, const char *sect, const char *name, const char *value)
{
    mafd_client_t *c = client_named(p, sect + strlen("client."));
    if (c == NULL)
        return fail(p, "out of memory");
    char **field = NULL;
    if (strcmp(name, "kmid") == 0)
        field = &c->kmid;
    else if (strcmp(name, "km_file") == 0)
        field = &c->km_file;
    else if (strcmp(name, "id") == 0)
        field = &c->id;
    else if (strcmp(name, "cert_sha256") != 0)
        return fail(p, "[%s] %s: unknown option", sect, name);
    if ((field != NULL && *field != NULL) || (field == NULL && c->has_fp))
        return fail(p, "[%s] %s: given twice", sect, name);
    if (field == NULL) {
        if (!parse_fingerprint(value, c->fp))
            return fail(p, "[%s] cert_sha256: not 64 hex digits (colons allowed)", sect);
        c->has_fp = true;
        return 1;
    }
    saef_id_scoped_t kmid;
    if (field == &c->kmid && saef_id_kmid_parse(value, strlen(value), &kmid) != SAEF_OK)
        return fail(p, "[%s] kmid: \"%s\" is not a KmID (relative@MAF-FQDN)", sect, value);
    if (field == &c->id && !mafd_is_absolute_id(value, strlen(value)))
        return fail(p, "[%s] id: \"%s\" is not an Absolute CSE-ID or AE-ID", sect, value);
    return set_str(field, value) ? 1 : fail(p, "out of memory");
}

static int on_option(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx_t *p = user;
    if (name == NULL) /* section start, when inih is built to report it */
        return 1;
    if (strcmp(section, "maf") == 0)
        return maf_option(p, name, value);
    if (strncmp(section, "client.", 7) == 0 && section[7] != '\0')
        return client_option(p, section, name, value);
    return fail(p, "[%s]: unknown section (expected [maf] or [client.NAME])", section);
}

/* Km: hex text (or the raw bytes) of 16 to 64 bytes, read as the module reads its own. */
static int load_km(parse_ctx_t *p, mafd_client_t *c)
{
    uint8_t km[MAFD_KM_MAX];
    size_t len = 0;
    char detail[512];

    if (saef_secret_read_key(c->km_file, MAFD_KM_MIN, MAFD_KM_MAX, km, sizeof(km), &len, detail,
                             sizeof(detail)) != SAEF_OK)
        return fail(p, "[client.%s] km_file: %s", c->name, detail);
    c->km = malloc(len);
    if (c->km != NULL)
        memcpy(c->km, km, len);
    OPENSSL_cleanse(km, sizeof(km));
    if (c->km == NULL)
        return fail(p, "[client.%s] km_file: out of memory", c->name);
    c->km_len = len;
    return 1;
}

static int check_client(parse_ctx_t *p, mafd_client_t *c, size_t idx)
{
    const mafd_config_t *cfg = p->cfg;
    if (c->kmid == NULL && !c->has_fp)
        return fail(p,
                    "[client.%s]: needs kmid (PSK client) or cert_sha256 (certificate "
                    "record)",
                    c->name);
    if ((c->kmid == NULL) != (c->km_file == NULL))
        return fail(p, "[client.%s] %s: needs %s as well", c->name, c->kmid ? "kmid" : "km_file",
                    c->kmid ? "km_file" : "kmid");
    if (c->has_fp && c->id == NULL)
        return fail(p, "[client.%s] cert_sha256: needs id (the MAF Client ID on record)", c->name);
    for (size_t j = 0; j < idx; j++) {
        const mafd_client_t *o = &cfg->clients[j];
        if (c->kmid && o->kmid &&
            saef_id_kmid_equal(c->kmid, strlen(c->kmid), o->kmid, strlen(o->kmid)))
            return fail(p, "[client.%s] kmid: same KmID as [client.%s]", c->name, o->name);
        if (c->has_fp && o->has_fp && memcmp(c->fp, o->fp, 32) == 0)
            return fail(p, "[client.%s] cert_sha256: same as [client.%s]", c->name, o->name);
    }
    if (c->kmid != NULL) {
        saef_id_scoped_t kmid;
        if (saef_id_kmid_parse(c->kmid, strlen(c->kmid), &kmid) != SAEF_OK ||
            !saef_id_fqdn_equal(kmid.fqdn.ptr, kmid.fqdn.len, cfg->fqdn, strlen(cfg->fqdn)))
            return fail(p, "[client.%s] kmid: the FQDN after '@' must be [maf] fqdn (%s)", c->name,
                        cfg->fqdn);
        return load_km(p, c);
    }
    return 1;
}

/* Checks that need the whole file. */
static void check_all(parse_ctx_t *p)
{
    mafd_config_t *cfg = p->cfg;
    saef_span_t span;
    if (cfg->fqdn == NULL) {
        fail(p, "[maf] fqdn: missing (the MAF-FQDN)");
        return;
    }
    if (saef_id_fqdn_check(cfg->fqdn, strlen(cfg->fqdn), &span) != SAEF_OK ||
        span.len > MAFD_MAF_FQDN_MAX) {
        fail(p, "[maf] fqdn: \"%s\" is not an FQDN of at most %d characters", cfg->fqdn,
             MAFD_MAF_FQDN_MAX);
        return;
    }
    /* Stored in lower case without trailing dot (binding section 2). */
    cfg->fqdn[span.len] = '\0';
    for (char *q = cfg->fqdn; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    if ((cfg->cert == NULL) != (cfg->key == NULL)) {
        fail(p, "[maf] %s: needs %s as well", cfg->cert ? "cert" : "key",
             cfg->cert ? "key" : "cert");
        return;
    }
    if (cfg->ca != NULL && cfg->cert == NULL) {
        fail(p, "[maf] ca: certificate clients need the MAF's own cert and key as well");
        return;
    }
    if (cfg->store != MAFD_STORE_POSTGRESQL &&
        (cfg->db_conninfo != NULL || cfg->db_schema != NULL)) {
        fail(p, "[maf] %s: needs store = postgresql",
             cfg->db_conninfo ? "db_conninfo" : "db_schema");
        return;
    }
    if (cfg->store == MAFD_STORE_POSTGRESQL &&
        ((cfg->db_conninfo == NULL && (cfg->db_conninfo = strdup("")) == NULL) ||
         (cfg->db_schema == NULL && (cfg->db_schema = strdup("saef_maf")) == NULL))) {
        fail(p, "out of memory");
        return;
    }
    bool any_psk = false;
    for (size_t i = 0; i < cfg->n_clients && !p->failed; i++) {
        check_client(p, &cfg->clients[i], i);
        any_psk |= cfg->clients[i].kmid != NULL;
    }
    if (!p->failed && cfg->ca == NULL && !any_psk)
        fail(p, "[maf] ca: missing, and no [client.NAME] with kmid: no client could "
                "authenticate");
}

saef_rc_t mafd_config_load(const char *path, mafd_config_t *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    char msg[512] = "";
    parse_ctx_t p = {.cfg = cfg, .err = msg, .errlen = sizeof(msg)};
    cfg->max_key_lifetime = 86400;
    cfg->max_client_lifetime = 7 * 86400;
    cfg->purge_interval = 10;
    int line = ini_parse(path, on_option, &p);
    if (line < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 line == -1 ? "cannot open the configuration file" : "out of memory");
        mafd_config_free(cfg);
        return SAEF_E_CFG_MISSING;
    }
    if (line > 0) {
        if (!p.failed)
            snprintf(msg, sizeof(msg), "syntax error (or a line longer than 200 characters)");
        snprintf(err, errlen, "%s:%d: %s", path, line, msg);
        mafd_config_free(cfg);
        return SAEF_E_CFG_MALFORMED;
    }
    if ((cfg->listen_host == NULL &&
         mafd_config_set_listen(cfg, "127.0.0.1:8443", msg, sizeof(msg)) != SAEF_OK) ||
        (cfg->base_path == NULL && (cfg->base_path = strdup("")) == NULL)) {
        snprintf(err, errlen, "out of memory");
        mafd_config_free(cfg);
        return SAEF_E_NOMEM;
    }
    check_all(&p);
    if (p.failed) {
        snprintf(err, errlen, "%s: %s", path, msg);
        mafd_config_free(cfg);
        return SAEF_E_CFG_MALFORMED;
    }
    return SAEF_OK;
}

void mafd_config_free(mafd_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_clients; i++) {
        mafd_client_t *c = &cfg->clients[i];
        if (c->km != NULL)
            OPENSSL_cleanse(c->km, c->km_len);
        free(c->km);
        free(c->name);
        free(c->kmid);
        free(c->km_file);
        free(c->id);
    }
    free(cfg->clients);
    free(cfg->fqdn);
    free(cfg->listen_host);
    free(cfg->base_path);
    free(cfg->cert);
    free(cfg->key);
    free(cfg->ca);
    free(cfg->db_conninfo);
    free(cfg->db_schema);
    memset(cfg, 0, sizeof(*cfg));
}
