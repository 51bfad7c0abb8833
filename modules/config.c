/*
 * Applying the host's (section, key, value) pairs to a saef_cfg_t: defaults from the table,
 * one typed parse per pair, then the rules between options.  The first problem found wins and
 * is reported in one line that names the option with its section, the value (never for secret
 * options) and the reason.  On any error everything built so far is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "saef_id.h"

typedef struct parse_ctx {
    saef_cfg_t *cfg;
    uint64_t seen_global;                 /* bit i: table row i was given */
    uint64_t seen_maf[SAEF_CFG_MAX_MAFS]; /* the same, per MAF section */
    char *err;                            /* borrowed caller buffer, may be NULL */
    size_t errlen;
} parse_ctx_t;

/* Printable rendering of untrusted text for a message: quotes and backslashes escaped, other
 * bytes outside printable ASCII as \xNN, cut after a few dozen characters.  Control bytes must
 * not reach the host's log, where they could forge or hide lines. */
static void quote(char *out, size_t outlen, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    for (i = 0; s[i] != '\0' && o + 8 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (i == 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 0xf];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

/* "maf.<label>.<name>" or "<name>". */
static void qualify(char *buf, size_t buflen, const char *label, const char *name)
{
    if (label != NULL)
        saef_cfg_msg(buf, buflen, "maf.%s.%s", label, name);
    else
        saef_cfg_msg(buf, buflen, "%s", name);
}

/* `option = "value": why`, with the value hidden for options that may hold secrets. */
static saef_rc_t value_error(parse_ctx_t *c, saef_rc_t rc, const char *label,
                             const cfg_option_t *opt, const char *value, const char *why)
{
    char name[96], q[320];

    qualify(name, sizeof(name), label, opt->name);
    if (opt->flags & CFG_F_SECRET) {
        saef_cfg_msg(c->err, c->errlen, "%s = <secret>: %s", name, why);
    } else if (opt->flags & CFG_F_NO_ECHO) {
        saef_cfg_msg(c->err, c->errlen, "%s = <not shown>: %s", name, why);
    } else {
        quote(q, sizeof(q), value);
        saef_cfg_msg(c->err, c->errlen, "%s = \"%s\": %s", name, q, why);
    }
    return rc;
}

static saef_rc_t nomem(parse_ctx_t *c)
{
    saef_cfg_msg(c->err, c->errlen, "out of memory while parsing the configuration");
    return SAEF_E_NOMEM;
}

static void *field_of(void *base, const cfg_option_t *opt)
{
    return (char *)base + opt->offset;
}

/* Move a parsed value into its field, releasing what the field held (a default). */
static void store(const cfg_option_t *opt, void *base, cfg_value_t *val)
{
    void *field = field_of(base, opt);
    char *old;

    switch (opt->type) {
    case CFG_T_BOOL:
        memcpy(field, &val->b, sizeof(bool));
        break;
    case CFG_T_UINT:
    case CFG_T_ENUM:
        /* The table records each field's width; enums are int-sized. */
        if (opt->size == sizeof(uint16_t)) {
            uint16_t v = (uint16_t)val->u;
            memcpy(field, &v, sizeof(v));
        } else {
            memcpy(field, &val->u, sizeof(val->u));
        }
        break;
    case CFG_T_ORIGINATORS: {
        char **old_list;
        size_t old_n;
        void *count = (char *)base + opt->count_offset;

        memcpy(&old_list, field, sizeof(old_list));
        memcpy(&old_n, count, sizeof(old_n));
        saef_cfg_list_free(old_list, old_n);
        memcpy(field, &val->list, sizeof(val->list));
        memcpy(count, &val->n, sizeof(val->n));
        val->list = NULL;
        val->n = 0;
        break;
    }
    default:
        memcpy(&old, field, sizeof(old));
        free(old);
        memcpy(field, &val->s, sizeof(val->s));
        val->s = NULL;
        break;
    }
}

static saef_rc_t apply_defaults(parse_ctx_t *c, cfg_scope_t scope, void *base)
{
    cfg_value_t val;
    char why[160];
    size_t i;
    saef_rc_t rc;

    for (i = 0; i < saef_cfg_table_len; i++) {
        const cfg_option_t *opt = &saef_cfg_table[i];

        if (opt->scope != scope || opt->def == NULL)
            continue;
        rc = saef_cfg_value_parse(opt, opt->def, &val, why, sizeof(why));
        if (rc == SAEF_E_NOMEM)
            return nomem(c);
        if (rc != SAEF_OK) { /* a defect of the table, caught by the unit tests */
            saef_cfg_msg(c->err, c->errlen, "%s: built-in default: %s", opt->name, why);
            return SAEF_E_INTERNAL;
        }
        store(opt, base, &val);
    }
    return SAEF_OK;
}

static bool label_ok(const char *l)
{
    size_t n = strnlen(l, CFG_LABEL_MAX + 1), i;

    if (n == 0 || n > CFG_LABEL_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char ch = l[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* *label: NULL for the global section, else the label inside section. */
static saef_rc_t section_of(parse_ctx_t *c, const char *section, const char **label)
{
    char q[320];

    *label = NULL;
    if (section == NULL || section[0] == '\0')
        return SAEF_OK;
    if (strncmp(section, "maf.", 4) == 0 && label_ok(section + 4)) {
        *label = section + 4;
        return SAEF_OK;
    }
    quote(q, sizeof(q), section);
    saef_cfg_msg(c->err, c->errlen,
                 "section \"%s\": unknown section (the global one, or maf.<label> with a label "
                 "of 1..%d characters [A-Za-z0-9_-])",
                 q, CFG_LABEL_MAX);
    return SAEF_E_CFG_UNKNOWN;
}

/* The MAF slot of label, created with its defaults on first use. */
static saef_rc_t maf_slot(parse_ctx_t *c, const char *label, size_t *idx)
{
    saef_cfg_t *cfg = c->cfg;
    saef_cfg_maf_t *m;
    size_t i, len;

    for (i = 0; i < cfg->n_mafs; i++) {
        if (strcmp(cfg->mafs[i].label, label) == 0) {
            *idx = i;
            return SAEF_OK;
        }
    }
    if (cfg->n_mafs == SAEF_CFG_MAX_MAFS) {
        saef_cfg_msg(c->err, c->errlen, "section \"maf.%s\": more than %d MAF sections", label,
                     SAEF_CFG_MAX_MAFS);
        return SAEF_E_CFG_RANGE;
    }
    m = &cfg->mafs[cfg->n_mafs];
    len = strlen(label);
    m->label = malloc(len + 1);
    if (m->label == NULL)
        return nomem(c);
    memcpy(m->label, label, len + 1);
    *idx = cfg->n_mafs++; /* counted before the defaults so that free() sees partial slots */
    return apply_defaults(c, CFG_SCOPE_MAF, m);
}

static saef_rc_t apply_pair(parse_ctx_t *c, const saef_config_pair_t *p, size_t n)
{
    const cfg_option_t *opt;
    const char *label;
    char name[96], q[320], why[256];
    cfg_value_t val;
    uint64_t *seen, bit;
    size_t row, idx = 0;
    void *base;
    saef_rc_t rc;

    if (p->key == NULL || p->value == NULL) {
        saef_cfg_msg(c->err, c->errlen, "pair %zu: NULL key or value", n + 1);
        return SAEF_E_INVALID_ARG;
    }
    rc = section_of(c, p->section, &label);
    if (rc != SAEF_OK)
        return rc;
    opt = saef_cfg_option_find(label != NULL ? CFG_SCOPE_MAF : CFG_SCOPE_GLOBAL, p->key, &row);
    if (opt == NULL) {
        bool elsewhere = saef_cfg_option_find(label != NULL ? CFG_SCOPE_GLOBAL : CFG_SCOPE_MAF,
                                              p->key, NULL) != NULL;

        quote(q, sizeof(q), p->key);
        qualify(name, sizeof(name), label, q);
        saef_cfg_msg(c->err, c->errlen, "%s: unknown option%s", name,
                     !elsewhere      ? ""
                     : label != NULL ? " (it belongs in the global section)"
                                     : " (it belongs in a maf.<label> section)");
        return SAEF_E_CFG_UNKNOWN;
    }
    if (label != NULL) {
        rc = maf_slot(c, label, &idx);
        if (rc != SAEF_OK)
            return rc;
        base = &c->cfg->mafs[idx];
        seen = &c->seen_maf[idx];
    } else {
        base = c->cfg;
        seen = &c->seen_global;
    }
    bit = UINT64_C(1) << row;
    if (*seen & bit) {
        qualify(name, sizeof(name), label, opt->name);
        saef_cfg_msg(c->err, c->errlen, "%s: given twice", name);
        return SAEF_E_CFG_DUPLICATE;
    }
    *seen |= bit;
    rc = saef_cfg_value_parse(opt, p->value, &val, why, sizeof(why));
    if (rc == SAEF_E_NOMEM)
        return nomem(c);
    if (rc != SAEF_OK)
        return value_error(c, rc, label, opt, p->value, why);
    store(opt, base, &val);
    return SAEF_OK;
}

static char *dup_str(const char *s)
{
    size_t len = strlen(s);
    char *d = malloc(len + 1);

    if (d != NULL)
        memcpy(d, s, len + 1);
    return d;
}

static bool span_eq(saef_span_t a, saef_span_t b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* cse_id and the host's CSE-ID: one must be there, and they must name the same CSE. */
static saef_rc_t resolve_cse_id(parse_ctx_t *c, const char *host_id)
{
    saef_cfg_t *cfg = c->cfg;
    saef_m2m_id_t h, o;
    char q[320], q2[320];
    saef_rc_t rc;
    bool h_abs;

    if (host_id != NULL && host_id[0] == '\0')
        host_id = NULL;
    if (host_id == NULL) {
        if (cfg->cse_id != NULL)
            return SAEF_OK;
        saef_cfg_msg(c->err, c->errlen,
                     "cse_id: missing, and the host passes no CSE-ID: Entity B must know its "
                     "own CSE-ID");
        return SAEF_E_CFG_MISSING;
    }
    rc = saef_id_m2m_classify(host_id, strlen(host_id), &h);
    if (rc == SAEF_OK && h.kind != SAEF_M2M_ID_CSE_SP_RELATIVE &&
        h.kind != SAEF_M2M_ID_CSE_ABSOLUTE)
        rc = SAEF_E_ID_CSE_ID;
    if (rc != SAEF_OK) {
        quote(q, sizeof(q), host_id);
        saef_cfg_msg(c->err, c->errlen, "host CSE-ID \"%s\": not a CSE-ID: %s", q,
                     saef_strerror(rc));
        return SAEF_E_CFG_MALFORMED;
    }
    h_abs = h.kind == SAEF_M2M_ID_CSE_ABSOLUTE;
    if (cfg->cse_id != NULL) {
        if (saef_id_m2m_classify(cfg->cse_id, strlen(cfg->cse_id), &o) != SAEF_OK)
            return SAEF_E_INTERNAL; /* validated when it was parsed */
        if (!span_eq(h.cse_id, o.cse_id) ||
            (h_abs && o.kind == SAEF_M2M_ID_CSE_ABSOLUTE &&
             !saef_id_fqdn_equal(h.sp_domain.ptr, h.sp_domain.len, o.sp_domain.ptr,
                                 o.sp_domain.len))) {
            quote(q, sizeof(q), cfg->cse_id);
            quote(q2, sizeof(q2), host_id);
            saef_cfg_msg(c->err, c->errlen,
                         "cse_id = \"%s\": differs from the host's CSE-ID \"%s\"", q, q2);
            return SAEF_E_CFG_CONFLICT;
        }
        if (!h_abs || o.kind == SAEF_M2M_ID_CSE_ABSOLUTE)
            return SAEF_OK; /* ours says as much as the host's */
    }
    free(cfg->cse_id);
    cfg->cse_id = dup_str(host_id);
    return cfg->cse_id != NULL ? SAEF_OK : nomem(c);
}

/* Default node_id: the host name, so that the nodes of a cluster differ without a setting. */
static saef_rc_t default_node_id(parse_ctx_t *c)
{
    const cfg_option_t *opt = saef_cfg_option_find(CFG_SCOPE_GLOBAL, "node_id", NULL);
    char host[256], why[160], q[320];
    cfg_value_t val;
    saef_rc_t rc;

    if (c->cfg->node_id != NULL)
        return SAEF_OK;
    if (gethostname(host, sizeof(host)) != 0)
        host[0] = '\0';
    host[sizeof(host) - 1] = '\0';
    rc = saef_cfg_value_parse(opt, host, &val, why, sizeof(why));
    if (rc == SAEF_E_NOMEM)
        return nomem(c);
    if (rc != SAEF_OK) {
        quote(q, sizeof(q), host);
        saef_cfg_msg(c->err, c->errlen,
                     "node_id: not set, and the host name \"%s\" cannot serve: %s", q, why);
        return SAEF_E_CFG_MISSING;
    }
    store(opt, c->cfg, &val);
    return SAEF_OK;
}

/* Exactly one of the two ways to authenticate to the MAF, complete. */
static saef_rc_t check_auth(parse_ctx_t *c, saef_cfg_maf_t *m)
{
    const char *cert_opts[] = {m->client_cert ? "client_cert" : NULL,
                               m->client_key ? "client_key" : NULL, m->ca_file ? "ca_file" : NULL};
    const char *psk_opts[] = {m->kmid ? "kmid" : NULL, m->km_file ? "km_file" : NULL};
    const char *cert_any = NULL, *psk_any = NULL;
    size_t i;

    for (i = 0; i < 3; i++)
        cert_any = cert_any ? cert_any : cert_opts[i];
    for (i = 0; i < 2; i++)
        psk_any = psk_any ? psk_any : psk_opts[i];
    if (cert_any && psk_any) {
        saef_cfg_msg(c->err, c->errlen,
                     "maf.%s.%s and maf.%s.%s: choose one way to authenticate to the MAF: "
                     "certificate (client_cert, client_key, ca_file) or PSK (kmid, km_file)",
                     m->label, cert_any, m->label, psk_any);
        return SAEF_E_CFG_CONFLICT;
    }
    if (!cert_any && !psk_any) {
        saef_cfg_msg(c->err, c->errlen,
                     "maf.%s: no credentials for the MAF: set client_cert, client_key and "
                     "ca_file, or kmid and km_file",
                     m->label);
        return SAEF_E_CFG_MISSING;
    }
    if (cert_any) {
        static const char *const need[] = {"client_cert", "client_key", "ca_file"};

        for (i = 0; i < 3; i++) {
            if (cert_opts[i] == NULL) {
                saef_cfg_msg(c->err, c->errlen,
                             "maf.%s.%s: missing; certificate mode (maf.%s.%s) needs "
                             "client_cert, client_key and ca_file",
                             m->label, need[i], m->label, cert_any);
                return SAEF_E_CFG_CONFLICT;
            }
        }
        m->auth = SAEF_CFG_AUTH_CERT;
        return SAEF_OK;
    }
    if (psk_opts[0] == NULL || psk_opts[1] == NULL) {
        saef_cfg_msg(c->err, c->errlen,
                     "maf.%s.%s: missing; PSK mode (maf.%s.%s) needs kmid and km_file", m->label,
                     psk_opts[0] == NULL ? "kmid" : "km_file", m->label, psk_any);
        return SAEF_E_CFG_CONFLICT;
    }
    m->auth = SAEF_CFG_AUTH_PSK;
    return SAEF_OK;
}

/* A URI of this MAF must point at the MAF itself, never at another host. */
static saef_rc_t check_uri_host(parse_ctx_t *c, const saef_cfg_maf_t *m, const char *name,
                                const char *uri)
{
    const cfg_option_t *opt = saef_cfg_option_find(CFG_SCOPE_MAF, name, NULL);
    char why[320];
    size_t len;
    const char *host;

    if (uri == NULL)
        return SAEF_OK;
    host = saef_cfg_uri_host(uri, &len);
    if (saef_id_fqdn_equal(host, len, m->fqdn, strlen(m->fqdn)))
        return SAEF_OK;
    saef_cfg_msg(why, sizeof(why), "host must be maf.%s.fqdn (%s)", m->label, m->fqdn);
    return value_error(c, SAEF_E_CFG_CONFLICT, m->label, opt, uri, why);
}

static saef_rc_t check_maf(parse_ctx_t *c, saef_cfg_maf_t *m, uint64_t seen)
{
    saef_id_scoped_t kmid;
    char why[320];
    size_t i;
    saef_rc_t rc;

    for (i = 0; i < saef_cfg_table_len; i++) {
        const cfg_option_t *opt = &saef_cfg_table[i];

        if (opt->scope == CFG_SCOPE_MAF && (opt->flags & CFG_F_REQUIRED) &&
            !(seen & (UINT64_C(1) << i))) {
            saef_cfg_msg(c->err, c->errlen, "maf.%s.%s: required option missing", m->label,
                         opt->name);
            return SAEF_E_CFG_MISSING;
        }
    }
    rc = check_auth(c, m);
    if (rc == SAEF_OK)
        rc = check_uri_host(c, m, "key_retrieval_uri", m->key_retrieval_uri);
    if (rc == SAEF_OK)
        rc = check_uri_host(c, m, "client_registration_uri", m->client_registration_uri);
    if (rc != SAEF_OK)
        return rc;
    if (m->kmid != NULL) {
        if (saef_id_kmid_parse(m->kmid, strlen(m->kmid), &kmid) != SAEF_OK)
            return SAEF_E_INTERNAL; /* validated when it was parsed */
        if (!saef_id_fqdn_equal(kmid.fqdn.ptr, kmid.fqdn.len, m->fqdn, strlen(m->fqdn))) {
            saef_cfg_msg(why, sizeof(why), "its FQDN part must be maf.%s.fqdn (%s)", m->label,
                         m->fqdn);
            return value_error(c, SAEF_E_CFG_CONFLICT, m->label,
                               saef_cfg_option_find(CFG_SCOPE_MAF, "kmid", NULL), m->kmid, why);
        }
    }
    if (m->register_client && (m->client_registration_uri == NULL || m->admin_fqdn == NULL)) {
        saef_cfg_msg(c->err, c->errlen, "maf.%s.register = true: needs maf.%s.%s", m->label,
                     m->label,
                     m->client_registration_uri == NULL ? "client_registration_uri" : "admin_fqdn");
        return SAEF_E_CFG_CONFLICT;
    }
    if (m->request_timeout_ms < m->connect_timeout_ms) {
        saef_cfg_msg(c->err, c->errlen,
                     "maf.%s.request_timeout_ms = %u: shorter than maf.%s.connect_timeout_ms = "
                     "%u, which it includes",
                     m->label, (unsigned)m->request_timeout_ms, m->label,
                     (unsigned)m->connect_timeout_ms);
        return SAEF_E_CFG_CONFLICT;
    }
    return SAEF_OK;
}

/* A MAF authenticates a certificate-mode client by its Absolute CSE-ID (docs/maf-binding.md). */
static bool cse_id_absolute(const char *id)
{
    saef_m2m_id_t m;

    return saef_id_m2m_classify(id, strlen(id), &m) == SAEF_OK &&
           m.kind == SAEF_M2M_ID_CSE_ABSOLUTE;
}

static saef_rc_t finish(parse_ctx_t *c, const char *host_cse_id)
{
    saef_cfg_t *cfg = c->cfg;
    char q[320];
    size_t i, j;
    saef_rc_t rc;

    rc = resolve_cse_id(c, host_cse_id);
    if (rc == SAEF_OK)
        rc = default_node_id(c);
    if (rc != SAEF_OK)
        return rc;
    if (cfg->admin_originators == NULL) { /* always a NULL-terminated list, maybe empty */
        cfg->admin_originators = calloc(1, sizeof(char *));
        if (cfg->admin_originators == NULL)
            return nomem(c);
    }
    if (cfg->n_mafs == 0) {
        saef_cfg_msg(c->err, c->errlen,
                     "maf.<label>: no MAF section; at least one trusted MAF is required");
        return SAEF_E_CFG_MISSING;
    }
    for (i = 0; i < cfg->n_mafs; i++) {
        rc = check_maf(c, &cfg->mafs[i], c->seen_maf[i]);
        if (rc != SAEF_OK)
            return rc;
        if (cfg->mafs[i].auth == SAEF_CFG_AUTH_CERT && !cse_id_absolute(cfg->cse_id)) {
            quote(q, sizeof(q), cfg->cse_id);
            saef_cfg_msg(c->err, c->errlen,
                         "maf.%s: certificate mode sends our CSE-ID to the MAF as X-M2M-Origin, "
                         "which must be absolute (//sp-domain/cse-id); cse_id is \"%s\"",
                         cfg->mafs[i].label, q);
            return SAEF_E_CFG_CONFLICT;
        }
    }
    for (i = 1; i < cfg->n_mafs; i++) {
        for (j = 0; j < i; j++) {
            const saef_cfg_maf_t *a = &cfg->mafs[j], *b = &cfg->mafs[i];

            if (saef_id_fqdn_equal(a->fqdn, strlen(a->fqdn), b->fqdn, strlen(b->fqdn))) {
                saef_cfg_msg(c->err, c->errlen, "maf.%s.fqdn = \"%s\": the same MAF as maf.%s.fqdn",
                             b->label, b->fqdn, a->label);
                return SAEF_E_CFG_DUPLICATE;
            }
        }
    }
    if (cfg->key_vault && (cfg->db_conninfo == NULL || cfg->kek_file == NULL)) {
        saef_cfg_msg(c->err, c->errlen, "key_vault = true: needs %s",
                     cfg->db_conninfo == NULL ? "db_conninfo" : "kek_file");
        return SAEF_E_CFG_CONFLICT;
    }
    return SAEF_OK;
}

saef_rc_t saef_cfg_parse(const saef_config_pair_t *pairs, size_t npairs, const char *host_cse_id,
                         saef_cfg_t **out, char *err, size_t errlen)
{
    parse_ctx_t c;
    size_t i;
    saef_rc_t rc;

    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL || (pairs == NULL && npairs != 0)) {
        saef_cfg_msg(err, errlen, "configuration: NULL output or pairs");
        return SAEF_E_INVALID_ARG;
    }
    *out = NULL;
    c.cfg = calloc(1, sizeof(*c.cfg));
    if (c.cfg == NULL)
        return nomem(&c);
    rc = apply_defaults(&c, CFG_SCOPE_GLOBAL, c.cfg);
    for (i = 0; rc == SAEF_OK && i < npairs; i++)
        rc = apply_pair(&c, &pairs[i], i);
    if (rc == SAEF_OK)
        rc = finish(&c, host_cse_id);
    if (rc != SAEF_OK) {
        saef_cfg_free(c.cfg);
        return rc;
    }
    *out = c.cfg;
    return SAEF_OK;
}

void saef_cfg_free(saef_cfg_t *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    free(cfg->cse_id);
    free(cfg->node_id);
    saef_cfg_list_free(cfg->admin_originators, cfg->n_admin_originators);
    free(cfg->db_conninfo);
    free(cfg->db_schema);
    free(cfg->kek_file);
    for (i = 0; i < cfg->n_mafs; i++) {
        saef_cfg_maf_t *m = &cfg->mafs[i];

        free(m->label);
        free(m->fqdn);
        free(m->key_retrieval_uri);
        free(m->client_registration_uri);
        free(m->admin_fqdn);
        free(m->ca_file);
        free(m->client_cert);
        free(m->client_key);
        free(m->kmid);
        free(m->km_file);
        free(m->connect_to);
    }
    free(cfg);
}

const saef_cfg_maf_t *saef_cfg_find_maf(const saef_cfg_t *cfg, const char *fqdn, size_t len)
{
    size_t i;

    if (cfg == NULL || fqdn == NULL)
        return NULL;
    for (i = 0; i < cfg->n_mafs; i++) {
        const saef_cfg_maf_t *m = &cfg->mafs[i];

        if (saef_id_fqdn_equal(m->fqdn, strlen(m->fqdn), fqdn, len))
            return m;
    }
    return NULL;
}
