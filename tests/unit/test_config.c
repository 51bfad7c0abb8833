/*
 * The configuration: every option's happy path, every kind of bad value, the rules between
 * options, secrecy of secret values in messages, the example files, the generated page, and no
 * leak on any allocation failure.  Cases start from a small valid configuration (BASE) and
 * override, add or remove pairs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_internal.h"
#include "saef_config.h"
#include "test_config_cases.h"

/* ---- allocation failure injection (the test links with -Wl,--wrap=malloc,--wrap=calloc) ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);

static long alloc_countdown = -1; /* fail the allocation that brings it to 0; -1: never */
static long alloc_calls;

static bool alloc_fails(void)
{
    alloc_calls++;
    if (alloc_countdown < 0)
        return false;
    return alloc_countdown-- == 0;
}

void *__wrap_malloc(size_t size)
{
    return alloc_fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_calloc(n, size);
}

/* ---- building pair lists ---- */

#define MAX_PAIRS 128

/* BASE with the case's pairs applied: a pair replaces the base pair with its section and key
 * (DEL removes it), or is added when there is none or when append is set. */
static size_t build(const kv_t *set, bool append, saef_config_pair_t *out)
{
    size_t n = 0, i, j;

    for (i = 0; base[i].k != NULL; i++)
        out[n++] = (saef_config_pair_t){base[i].s, base[i].k, base[i].v};
    for (j = 0; set != NULL && j < MAX_SET && set[j].k != NULL; j++) {
        bool replaced = false;

        for (i = 0; !append && i < n; i++) {
            if (strcmp(out[i].section, set[j].s) == 0 && strcmp(out[i].key, set[j].k) == 0) {
                if (set[j].v == DEL) {
                    memmove(&out[i], &out[i + 1], (n - i - 1) * sizeof(out[0]));
                    n--;
                } else {
                    out[i].value = set[j].v;
                }
                replaced = true;
                break;
            }
        }
        if (!replaced && set[j].v != DEL)
            out[n++] = (saef_config_pair_t){set[j].s, set[j].k, set[j].v};
        assert_true(n < MAX_PAIRS);
    }
    return n;
}

static saef_rc_t parse_with(const kv_t *set, bool append, const char *host, saef_cfg_t **cfg,
                            char *err, size_t errlen)
{
    saef_config_pair_t pairs[MAX_PAIRS];
    size_t n = build(set, append, pairs);

    return saef_cfg_parse(pairs, n, host, cfg, err, errlen);
}

/* ---- reading a parsed field generically, by the test's own offsets ---- */

static const field_t *field(const char *section, const char *key)
{
    bool maf = section[0] != '\0';
    size_t i;

    for (i = 0; fields[i].key != NULL; i++) {
        if (fields[i].maf == maf && strcmp(fields[i].key, key) == 0)
            return &fields[i];
    }
    fail_msg("test has no field for %s %s", section, key);
    return NULL;
}

static void check_field(const saef_cfg_t *cfg, const happy_t *h)
{
    const field_t *f = field(h->set[0].s, h->set[0].k);
    const char *base_ptr = f->maf ? (const char *)&cfg->mafs[0] : (const char *)cfg;
    const char *p = base_ptr + f->off;

    switch (f->kind) {
    case K_STR: {
        const char *s;

        memcpy(&s, p, sizeof(s));
        assert_non_null(s);
        assert_string_equal(s, h->exp_s);
        break;
    }
    case K_U32: {
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        assert_int_equal(v, h->exp_u);
        break;
    }
    case K_U16: {
        uint16_t v;

        memcpy(&v, p, sizeof(v));
        assert_int_equal(v, h->exp_u);
        break;
    }
    case K_BOOL: {
        bool v;

        memcpy(&v, p, sizeof(v));
        assert_int_equal(v, h->exp_u);
        break;
    }
    case K_ENUM: {
        int v;

        memcpy(&v, p, sizeof(v));
        assert_int_equal(v, h->exp_u);
        break;
    }
    }
}

static void test_happy(void **state)
{
    size_t i;

    for (i = 0; i < n_happy; i++) {
        saef_cfg_t *cfg = NULL;
        char err[512] = "";
        saef_rc_t rc = parse_with(happy[i].set, false, NULL, &cfg, err, sizeof(err));

        if (rc != SAEF_OK)
            fail_msg("happy case %zu (%s = \"%s\"): rc %d, %s", i, happy[i].set[0].k,
                     happy[i].set[0].v, rc, err);
        assert_string_equal(err, "");
        check_field(cfg, &happy[i]);
        saef_cfg_free(cfg);
    }
}

static void test_bad(void **state)
{
    size_t i;

    for (i = 0; i < n_bad; i++) {
        const bad_t *b = &bad[i];
        saef_cfg_t *cfg = (saef_cfg_t *)(uintptr_t)1;
        char err[512] = "";
        saef_rc_t rc = parse_with(b->set, b->append, b->host, &cfg, err, sizeof(err));

        if (rc != b->rc || strstr(err, b->want) == NULL ||
            (b->want2 != NULL && strstr(err, b->want2) == NULL) ||
            (b->never != NULL && strstr(err, b->never) != NULL))
            fail_msg("bad case %zu (%s = \"%s\"): rc %d (want %d), err \"%s\" (want \"%s\"%s%s"
                     "%s%s)",
                     i, b->set[0].k, b->set[0].v == DEL ? "<deleted>" : b->set[0].v, rc, b->rc, err,
                     b->want, b->want2 ? ", \"" : "", b->want2 ? b->want2 : "",
                     b->never ? ", without " : "", b->never ? b->never : "");
        assert_null(cfg);
        /* one line, printable */
        for (const char *p = err; *p != '\0'; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
    }
}

/* The documented defaults, checked against the base configuration (which sets none of them). */
static void test_defaults(void **state)
{
    saef_cfg_t *cfg = NULL;
    char host[256] = "";
    const saef_cfg_maf_t *m;

    assert_int_equal(parse_with(NULL, false, NULL, &cfg, NULL, 0), SAEF_OK);
    assert_string_equal(cfg->cse_id, "//sp.example.com/cse-in");
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    assert_string_equal(cfg->node_id, host);
    assert_int_equal(cfg->suid, 32);
    assert_int_equal(cfg->psk_length, 32);
    assert_int_equal(cfg->cache_size, 16384);
    assert_int_equal(cfg->negative_ttl_s, 30);
    assert_int_equal(cfg->max_inflight, 256);
    assert_int_equal(cfg->coap_fetch_timeout_ms, 1000);
    assert_int_equal(cfg->resumption, SAEF_CFG_RESUMPTION_OFF);
    assert_int_equal(cfg->expiry_action, SAEF_CFG_EXPIRY_KEEP);
    assert_non_null(cfg->admin_originators);
    assert_null(cfg->admin_originators[0]);
    assert_int_equal(cfg->n_admin_originators, 0);
    assert_null(cfg->db_conninfo);
    assert_string_equal(cfg->db_schema, "saef");
    assert_int_equal(cfg->db_queue_size, 65536);
    assert_false(cfg->key_vault);
    assert_null(cfg->kek_file);
    assert_int_equal(cfg->n_mafs, 1);
    m = &cfg->mafs[0];
    assert_string_equal(m->label, "m1");
    assert_string_equal(m->fqdn, "maf.example.com");
    assert_int_equal(m->auth, SAEF_CFG_AUTH_CERT);
    assert_null(m->client_registration_uri);
    assert_false(m->register_client);
    assert_null(m->admin_fqdn);
    assert_null(m->kmid);
    assert_null(m->km_file);
    assert_int_equal(m->connect_timeout_ms, 2000);
    assert_int_equal(m->request_timeout_ms, 3000);
    assert_int_equal(m->max_inflight, 64);
    assert_int_equal(m->breaker_threshold, 5);
    assert_int_equal(m->breaker_cooldown_ms, 10000);
    assert_null(m->connect_to);
    assert_int_equal(m->registration_lifetime_s, 86400);
    saef_cfg_free(cfg);
}

static void test_originator_list(void **state)
{
    const kv_t set[MAX_SET] = {
        {"", "admin_originators", "/cse-in/CAdmin ,//sp.example.com/cse-ops,\tCfoo"}};
    saef_cfg_t *cfg = NULL;

    assert_int_equal(parse_with(set, false, NULL, &cfg, NULL, 0), SAEF_OK);
    assert_int_equal(cfg->n_admin_originators, 3);
    assert_string_equal(cfg->admin_originators[0], "/cse-in/CAdmin");
    assert_string_equal(cfg->admin_originators[1], "//sp.example.com/cse-ops");
    assert_string_equal(cfg->admin_originators[2], "Cfoo");
    assert_null(cfg->admin_originators[3]);
    saef_cfg_free(cfg);
}

/* At most 64 originators: the 65th is refused with the bound in the message. */
static void test_originator_limit(void **state)
{
    char list[65 * 8] = "";
    kv_t set[MAX_SET] = {{"", "admin_originators", list}};
    char err[512] = "";
    saef_cfg_t *cfg = NULL;
    size_t i, used = 0;

    for (i = 0; i < 64; i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%sC%zu", i ? "," : "", i);
    assert_int_equal(parse_with(set, false, NULL, &cfg, err, sizeof(err)), SAEF_OK);
    assert_int_equal(cfg->n_admin_originators, 64);
    assert_string_equal(cfg->admin_originators[63], "C63");
    assert_null(cfg->admin_originators[64]);
    saef_cfg_free(cfg);
    snprintf(list + used, sizeof(list) - used, ",C64");
    assert_int_equal(parse_with(set, false, NULL, &cfg, err, sizeof(err)), SAEF_E_CFG_RANGE);
    assert_non_null(strstr(err, "admin_originators = \"C0,C1,"));
    assert_non_null(strstr(err, ": more than 64 entries"));
    assert_null(cfg);
}

static void test_auth_modes(void **state)
{
    const kv_t psk[MAX_SET] = {{"maf.m1", "client_cert", DEL},
                               {"maf.m1", "client_key", DEL},
                               {"maf.m1", "ca_file", DEL},
                               {"maf.m1", "kmid", "Km-01@MAF.example.com"},
                               {"maf.m1", "km_file", "/etc/saef/km.bin"}};
    saef_cfg_t *cfg = NULL;

    assert_int_equal(parse_with(psk, false, NULL, &cfg, NULL, 0), SAEF_OK);
    assert_int_equal(cfg->mafs[0].auth, SAEF_CFG_AUTH_PSK);
    assert_string_equal(cfg->mafs[0].kmid, "Km-01@MAF.example.com");
    assert_null(cfg->mafs[0].client_cert);
    saef_cfg_free(cfg);
}

#define PSK_MODE                                                                                   \
    {"maf.m1", "client_cert", DEL}, {"maf.m1", "client_key", DEL}, {"maf.m1", "ca_file", DEL},     \
        {"maf.m1", "kmid", "k@maf.example.com"},                                                   \
    {                                                                                              \
        "maf.m1", "km_file", "/etc/saef/km"                                                        \
    }

static void test_host_cse_id(void **state)
{
    const kv_t no_opt[MAX_SET] = {{"", "cse_id", DEL}, PSK_MODE};
    const kv_t rel[MAX_SET] = {{"", "cse_id", "/cse-in"}, PSK_MODE};
    const kv_t abs_opt[MAX_SET] = {{"", "cse_id", "//SP.example.com/cse-in"}, PSK_MODE};
    const kv_t cert_no_opt[MAX_SET] = {{"", "cse_id", DEL}};
    saef_cfg_t *cfg = NULL;

    /* only the host's */
    assert_int_equal(parse_with(no_opt, false, "/cse-host", &cfg, NULL, 0), SAEF_OK);
    assert_string_equal(cfg->cse_id, "/cse-host");
    saef_cfg_free(cfg);
    /* only the host's, absolute, as a certificate-mode MAF needs */
    assert_int_equal(parse_with(cert_no_opt, false, "//sp.example.com/cse-h", &cfg, NULL, 0),
                     SAEF_OK);
    assert_string_equal(cfg->cse_id, "//sp.example.com/cse-h");
    saef_cfg_free(cfg);
    /* both, the host's absolute form is more precise and is kept */
    assert_int_equal(parse_with(rel, false, "//sp.example.com/cse-in", &cfg, NULL, 0), SAEF_OK);
    assert_string_equal(cfg->cse_id, "//sp.example.com/cse-in");
    saef_cfg_free(cfg);
    /* both absolute, SP domains differ only in case */
    assert_int_equal(parse_with(abs_opt, false, "//sp.example.com/cse-in", &cfg, NULL, 0), SAEF_OK);
    assert_string_equal(cfg->cse_id, "//SP.example.com/cse-in");
    saef_cfg_free(cfg);
    /* the option absolute, the host relative: ours is kept */
    assert_int_equal(parse_with(abs_opt, false, "/cse-in", &cfg, NULL, 0), SAEF_OK);
    assert_string_equal(cfg->cse_id, "//SP.example.com/cse-in");
    saef_cfg_free(cfg);
    /* an empty host CSE-ID counts as none */
    assert_int_equal(parse_with(rel, false, "", &cfg, NULL, 0), SAEF_OK);
    assert_string_equal(cfg->cse_id, "/cse-in");
    saef_cfg_free(cfg);
}

static void test_too_many_mafs(void **state)
{
    static char sections[SAEF_CFG_MAX_MAFS + 1][16], fqdns[SAEF_CFG_MAX_MAFS + 1][32],
        uris[SAEF_CFG_MAX_MAFS + 1][48];
    saef_config_pair_t pairs[2 + 5 * (SAEF_CFG_MAX_MAFS + 1)];
    saef_cfg_t *cfg = NULL;
    char err[256] = "";
    size_t n = 0, i;

    pairs[n++] = (saef_config_pair_t){"", "cse_id", "/cse-in"};
    for (i = 0; i < SAEF_CFG_MAX_MAFS + 1; i++) {
        snprintf(sections[i], sizeof(sections[i]), "maf.m%zu", i);
        snprintf(fqdns[i], sizeof(fqdns[i]), "maf%zu.example.com", i);
        snprintf(uris[i], sizeof(uris[i]), "https://maf%zu.example.com/keyRetrieval", i);
        pairs[n++] = (saef_config_pair_t){sections[i], "fqdn", fqdns[i]};
        pairs[n++] = (saef_config_pair_t){sections[i], "key_retrieval_uri", uris[i]};
        pairs[n++] = (saef_config_pair_t){sections[i], "kmid", "k@x.example.com"};
        pairs[n++] = (saef_config_pair_t){sections[i], "km_file", "/etc/saef/km"};
    }
    /* 32 sections are fine until the kmid rule; the 33rd section is refused as it appears */
    assert_int_equal(saef_cfg_parse(pairs, n, NULL, &cfg, err, sizeof(err)), SAEF_E_CFG_RANGE);
    assert_non_null(strstr(err, "maf.m32"));
    assert_null(cfg);
}

static void test_api_misuse(void **state)
{
    saef_config_pair_t null_key = {"", NULL, "x"}, null_val = {"", "cse_id", NULL};
    saef_cfg_t *cfg = NULL;
    char err[256] = "";

    assert_int_equal(saef_cfg_parse(NULL, 0, "/cse", NULL, err, sizeof(err)), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cfg_parse(NULL, 3, "/cse", &cfg, err, sizeof(err)), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_cfg_parse(&null_key, 1, "/cse", &cfg, err, sizeof(err)),
                     SAEF_E_INVALID_ARG);
    assert_non_null(strstr(err, "pair 1"));
    assert_int_equal(saef_cfg_parse(&null_val, 1, "/cse", &cfg, err, sizeof(err)),
                     SAEF_E_INVALID_ARG);
    assert_null(cfg);
    /* no pairs at all: the first thing missing is a MAF */
    assert_int_equal(saef_cfg_parse(NULL, 0, "/cse", &cfg, err, sizeof(err)), SAEF_E_CFG_MISSING);
    assert_non_null(strstr(err, "maf.<label>"));
    saef_cfg_free(NULL);
}

/* A NULL or tiny err buffer gets a truncated, terminated message and nothing past its end. */
static void test_err_buffer(void **state)
{
    const kv_t set[MAX_SET] = {{"maf.m1", "connect_timeout_ms", "0"}};
    char full[512] = "", buf[32];
    saef_cfg_t *cfg = NULL;
    size_t len;

    assert_int_equal(parse_with(set, false, NULL, &cfg, full, sizeof(full)), SAEF_E_CFG_RANGE);
    assert_string_equal(full, "maf.m1.connect_timeout_ms = \"0\": out of range 100..60000");
    assert_int_equal(parse_with(set, false, NULL, &cfg, NULL, 0), SAEF_E_CFG_RANGE);
    assert_int_equal(parse_with(set, false, NULL, &cfg, NULL, 100), SAEF_E_CFG_RANGE);
    for (len = 0; len <= 12; len++) {
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(parse_with(set, false, NULL, &cfg, buf, len), SAEF_E_CFG_RANGE);
        if (len > 0) {
            assert_int_equal(buf[len - 1], '\0');
            assert_memory_equal(buf, full, len - 1);
        }
        for (size_t i = len; i < sizeof(buf); i++)
            assert_int_equal(buf[i], 'X');
    }
}

/* Untrusted bytes in a value or key never reach the message raw. */
static void test_err_escaping(void **state)
{
    const kv_t set[MAX_SET] = {{"", "cache_size", "1\x1b[2J\n\"x\\"}};
    const kv_t key[MAX_SET] = {{"maf.m1", "b\x01ogus", "1"}};
    char err[512] = "";
    saef_cfg_t *cfg = NULL;

    assert_int_equal(parse_with(set, false, NULL, &cfg, err, sizeof(err)), SAEF_E_CFG_MALFORMED);
    assert_non_null(strstr(err, "cache_size = \"1\\x1b[2J\\x0a\\\"x\\\\\": "));
    assert_int_equal(parse_with(key, false, NULL, &cfg, err, sizeof(err)), SAEF_E_CFG_UNKNOWN);
    assert_non_null(strstr(err, "maf.m1.b\\x01ogus: unknown option"));
}

/* A long value is cut in the message: the line stays readable, the reason stays visible. */
static void test_err_long_value(void **state)
{
    char value[201], shown[96];
    kv_t set[MAX_SET] = {{"", "cache_size", value}};
    char err[512] = "";
    saef_cfg_t *cfg = NULL;

    memset(value, '7', 200);
    value[200] = '\0';
    memset(shown, '7', 64);
    strcpy(shown + 64, "...\": out of range");
    assert_int_equal(parse_with(set, false, NULL, &cfg, err, sizeof(err)), SAEF_E_CFG_RANGE);
    if (strstr(err, shown) == NULL)
        fail_msg("err \"%s\" does not show the value cut after 64 characters", err);
}

static void test_value_too_long(void **state)
{
    char *big = malloc(CFG_VALUE_MAX + 2);
    kv_t set[MAX_SET] = {{"", "db_conninfo", NULL}};
    char err[512] = "";
    saef_cfg_t *cfg = NULL;

    assert_non_null(big);
    memset(big, 'a', CFG_VALUE_MAX + 1);
    big[CFG_VALUE_MAX + 1] = '\0';
    set[0].v = big;
    assert_int_equal(parse_with(set, false, NULL, &cfg, err, sizeof(err)), SAEF_E_CFG_RANGE);
    assert_non_null(strstr(err, "db_conninfo = <not shown>: longer than"));
    free(big);
}

static void test_find_maf(void **state)
{
    const kv_t two[MAX_SET] = {
        {"maf.m2", "fqdn", "maf2.example.com"},
        {"maf.m2", "key_retrieval_uri", "https://maf2.example.com/keyRetrieval"},
        {"maf.m2", "kmid", "k1@maf2.example.com"},
        {"maf.m2", "km_file", "/etc/saef/km2"}};
    saef_cfg_t *cfg = NULL;
    const char *longer = "MAF2.Example.com.trailing";

    assert_int_equal(parse_with(two, false, NULL, &cfg, NULL, 0), SAEF_OK);
    assert_int_equal(cfg->n_mafs, 2);
    assert_ptr_equal(saef_cfg_find_maf(cfg, "maf.example.com", 15), &cfg->mafs[0]);
    assert_ptr_equal(saef_cfg_find_maf(cfg, "MAF.EXAMPLE.COM.", 16), &cfg->mafs[0]);
    assert_ptr_equal(saef_cfg_find_maf(cfg, longer, 17), &cfg->mafs[1]); /* with the dot */
    assert_ptr_equal(saef_cfg_find_maf(cfg, longer, 16), &cfg->mafs[1]);
    assert_null(saef_cfg_find_maf(cfg, longer, 15));
    assert_null(saef_cfg_find_maf(cfg, "evil.example.com", 16));
    assert_null(saef_cfg_find_maf(cfg, "", 0));
    assert_null(saef_cfg_find_maf(NULL, "maf.example.com", 15));
    assert_null(saef_cfg_find_maf(cfg, NULL, 0));
    saef_cfg_free(cfg);
}

/* Every allocation of a full configuration may fail: each failure is SAEF_E_NOMEM with no
 * output and, under ASan or valgrind, no leak. */
static void test_alloc_failures(void **state)
{
    const kv_t *full = psk_example;
    saef_config_pair_t pairs[MAX_PAIRS];
    size_t n = 0;
    long k, total;
    saef_cfg_t *cfg = NULL;
    char err[256];

    for (; full[n].k != NULL; n++)
        pairs[n] = (saef_config_pair_t){full[n].s, full[n].k, full[n].v};
    alloc_calls = 0;
    assert_int_equal(saef_cfg_parse(pairs, n, NULL, &cfg, NULL, 0), SAEF_OK);
    total = alloc_calls;
    saef_cfg_free(cfg);
    assert_true(total > 20);
    for (k = 0; k < total; k++) {
        cfg = (saef_cfg_t *)(uintptr_t)1;
        alloc_countdown = k;
        saef_rc_t rc = saef_cfg_parse(pairs, n, NULL, &cfg, err, sizeof(err));

        alloc_countdown = -1;
        if (rc != SAEF_E_NOMEM)
            fail_msg("allocation %ld failed: rc %d, %s", k, rc, err);
        assert_null(cfg);
        assert_non_null(strstr(err, "out of memory"));
    }
}

/* Both example files parse the way a host would feed them. */
static void test_examples(void **state)
{
    ini_t ini;
    saef_cfg_t *cfg = NULL;
    char err[512] = "";

    ini_load("saef-cert.ini", &ini);
    assert_int_equal(saef_cfg_parse(ini.pairs, ini.n, NULL, &cfg, err, sizeof(err)), SAEF_OK);
    assert_string_equal(err, "");
    assert_int_equal(cfg->n_mafs, 1);
    assert_int_equal(cfg->mafs[0].auth, SAEF_CFG_AUTH_CERT);
    saef_cfg_free(cfg);
    ini_free(&ini);

    ini_load("saef-psk.ini", &ini);
    assert_int_equal(saef_cfg_parse(ini.pairs, ini.n, NULL, &cfg, err, sizeof(err)), SAEF_OK);
    assert_string_equal(err, "");
    assert_int_equal(cfg->n_mafs, 2);
    assert_int_equal(cfg->mafs[0].auth, SAEF_CFG_AUTH_PSK);
    assert_int_equal(cfg->mafs[1].auth, SAEF_CFG_AUTH_PSK);
    assert_true(cfg->key_vault);
    assert_true(cfg->mafs[0].register_client);
    assert_int_equal(cfg->n_admin_originators, 2);
    saef_cfg_free(cfg);
    ini_free(&ini);
}

static void test_markdown(void **state)
{
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);
    char row[96];

    assert_non_null(f);
    assert_int_equal(saef_cfg_write_markdown(f), SAEF_OK);
    fclose(f);
    assert_non_null(strstr(text, "[saef.maf.<label>]"));
    for (i = 0; i < saef_cfg_table_len; i++) {
        snprintf(row, sizeof(row), "| `%s` | %s |", saef_cfg_table[i].name,
                 saef_cfg_type_name(&saef_cfg_table[i]));
        if (strstr(text, row) == NULL)
            fail_msg("no row \"%s\" in the page", row);
    }
    assert_non_null(strstr(text, "| `connect_timeout_ms` | uint | `2000` | no | no | "
                                 "`100..60000` ms |"));
    assert_non_null(strstr(text, "| `client_key` | secret path | none | conditional | yes |"));
    assert_non_null(strstr(text, "| `node_id` | name | the system host name | no | no |"));
    assert_non_null(strstr(text, "| `fqdn` | FQDN | none | yes | no |  |"));
    assert_non_null(strstr(text, "| `key_retrieval_uri` | https URI | none | yes | no | "
                                 "`https://fqdn[:port][/base]/keyRetrieval` |"));
    free(text);

    f = fopen("/dev/full", "w");
    if (f != NULL) {
        setvbuf(f, NULL, _IONBF, 0);
        assert_int_equal(saef_cfg_write_markdown(f), SAEF_E_IO);
        fclose(f);
    }
    assert_int_equal(saef_cfg_write_markdown(NULL), SAEF_E_INVALID_ARG);
}

/* Rows a future edit could get wrong, which no other test would notice. */
static void test_table_sane(void **state)
{
    size_t i, j;

    assert_true(saef_cfg_table_len <= CFG_MAX_OPTIONS);
    for (i = 0; i < saef_cfg_table_len; i++) {
        const cfg_option_t *o = &saef_cfg_table[i];

        assert_non_null(o->desc);
        assert_true(strlen(o->desc) > 40);
        assert_null(strchr(o->desc, '\n'));
        if (o->type == CFG_T_UINT)
            assert_true(o->min <= o->max);
        if (o->type == CFG_T_UINT || o->type == CFG_T_ENUM)
            assert_true(o->size == 2 || o->size == 4);
        if (o->type == CFG_T_ENUM)
            assert_non_null(o->choices);
        if (o->flags & CFG_F_SECRET)
            assert_int_equal(o->type, CFG_T_PATH);
        if (o->type == CFG_T_HTTPS_URI)
            assert_true(o->suffix != NULL && o->suffix[0] == '/');
        for (j = 0; j < i; j++)
            assert_false(o->scope == saef_cfg_table[j].scope &&
                         strcmp(o->name, saef_cfg_table[j].name) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_originator_list),
        cmocka_unit_test(test_originator_limit),
        cmocka_unit_test(test_auth_modes),
        cmocka_unit_test(test_host_cse_id),
        cmocka_unit_test(test_too_many_mafs),
        cmocka_unit_test(test_api_misuse),
        cmocka_unit_test(test_err_buffer),
        cmocka_unit_test(test_err_escaping),
        cmocka_unit_test(test_err_long_value),
        cmocka_unit_test(test_value_too_long),
        cmocka_unit_test(test_find_maf),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_table_sane),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
