/*
 * The host<->module ABI as a third-party host sees it: dlopen() the built maf_saef.so with
 * RTLD_NOW | RTLD_LOCAL, resolve the one entry symbol, and drive instances through the table.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "saef/module.h"

/* A fake host: collects what the module logs, per instance. */
typedef struct fake_host {
    char log[8192];
    int lines;
} fake_host_t;

static void host_log(void *ctx, saef_log_level_t level, const char *line)
{
    fake_host_t *h = ctx;
    size_t used = strlen(h->log);

    snprintf(h->log + used, sizeof(h->log) - used, "%d %s\n", (int)level, line);
    h->lines++;
}

typedef struct fixture {
    void *dl;
    saef_module_entry_fn entry;
    const saef_module_t *mod;
    char km_path[64];
    char dir[64];
} fixture_t;

static int setup(void **state)
{
    const char *top = getenv("top_builddir");
    char path[1024];
    fixture_t *f = calloc(1, sizeof(*f));
    FILE *fp;

    assert_non_null(f);
    snprintf(path, sizeof(path), "%s/.libs/maf_saef.so", top != NULL ? top : ".");
    f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (f->dl == NULL)
        fail_msg("dlopen %s: %s", path, dlerror());
    *(void **)&f->entry = dlsym(f->dl, SAEF_MODULE_ENTRY_SYMBOL);
    assert_non_null(f->entry);
    f->mod = f->entry(SAEF_ABI_MAJOR, SAEF_ABI_MINOR);
    assert_non_null(f->mod);

    strcpy(f->dir, "/tmp/saef-abi-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->km_path, sizeof(f->km_path), "%s/km", f->dir);
    fp = fopen(f->km_path, "w");
    assert_non_null(fp);
    fputs("test-fixture-km-0123456789abcdef\n", fp);
    fclose(fp);
    assert_int_equal(chmod(f->km_path, 0600), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    unlink(f->km_path);
    rmdir(f->dir);
    dlclose(f->dl);
    free(f);
    return 0;
}

static saef_host_api_t host_api(fake_host_t *h, const char *cse_id)
{
    saef_host_api_t api = {.hdr = SAEF_ABI_HDR_INIT(saef_host_api_t),
                           .host_ctx = h,
                           .log = host_log,
                           .cse_id = cse_id};
    return api;
}

/* A minimal valid configuration: one MAF in KmID/Km mode. */
#define BASE_PAIRS(km, node)                                                                \
    {NULL, "node_id", node}, {"maf.m1", "fqdn", "maf.example.com"},                         \
        {"maf.m1", "key_retrieval_uri", "https://maf.example.com:8443/maf/keyRetrieval"},   \
        {"maf.m1", "kmid", "entityb@maf.example.com"}, {"maf.m1", "km_file", km}

static void test_major_mismatch_returns_null(void **state)
{
    fixture_t *f = *state;

    assert_null(f->entry(SAEF_ABI_MAJOR + 1, 0));
    assert_null(f->entry(SAEF_ABI_MAJOR - 1, SAEF_ABI_MINOR));
    assert_null(f->entry(0xffff, 0xffff));
}

static void test_minor_older_and_newer_work(void **state)
{
    fixture_t *f = *state;
    const saef_module_t *older = f->entry(SAEF_ABI_MAJOR, 0);
    const saef_module_t *newer = f->entry(SAEF_ABI_MAJOR, SAEF_ABI_MINOR + 7);

    assert_non_null(older);
    assert_non_null(newer);
    assert_ptr_equal(older, newer);
    assert_int_equal(newer->hdr.abi_major, SAEF_ABI_MAJOR);
    assert_int_equal(newer->hdr.abi_minor, SAEF_ABI_MINOR);
    /* A host of this minor may use every slot it knows. */
    assert_true(SAEF_HAS_FIELD(newer, saef_module_t, handshake_abort));
    assert_string_equal(newer->name, "maf_saef");
    assert_int_equal(newer->openssl_major, SAEF_BUILT_OPENSSL_MAJOR);
    assert_int_equal(strncmp(newer->libcoap_version, SAEF_BUILT_LIBCOAP_VERSION,
                             strlen(SAEF_BUILT_LIBCOAP_VERSION)),
                     0);
}

static void test_create_start_stop_destroy(void **state)
{
    fixture_t *f = *state;
    fake_host_t h = {0};
    saef_host_api_t api = host_api(&h, "/in-cse");
    saef_config_pair_t pairs[] = {BASE_PAIRS(f->km_path, "node-a")};
    saef_instance_t *inst = NULL;
    char err[256] = "sentinel";

    assert_int_equal(f->mod->create(&api, pairs, sizeof(pairs) / sizeof(pairs[0]), &inst, err,
                                    sizeof(err)),
                     SAEF_OK);
    assert_non_null(inst);
    assert_string_equal(err, "");
    assert_int_equal(f->mod->start(inst), SAEF_OK);
    assert_int_equal(f->mod->start(inst), SAEF_E_STATE);
    assert_non_null(strstr(h.log, "started: cse_id=/in-cse node_id=node-a"));
    f->mod->stop(inst);
    f->mod->stop(inst); /* idempotent */
    assert_int_equal(f->mod->start(inst), SAEF_OK); /* restartable */
    f->mod->destroy(inst);
}

static void test_destroy_and_stop_null_safe(void **state)
{
    fixture_t *f = *state;

    f->mod->destroy(NULL);
    f->mod->stop(NULL);
    assert_int_equal(f->mod->start(NULL), SAEF_E_INVALID_ARG);
}

static void test_host_struct_size_honoured(void **state)
{
    fixture_t *f = *state;
    fake_host_t h = {0};
    saef_config_pair_t with_cse[] = {{NULL, "cse_id", "//sp.example.com/in-cse"},
                                     BASE_PAIRS(f->km_path, "n1")};
    saef_config_pair_t without_cse[] = {BASE_PAIRS(f->km_path, "n1")};
    saef_instance_t *inst = NULL;
    char err[256];
    /* An older host whose struct ends before cse_id: the members past struct_size hold
     * poison that would crash the module if it read them. */
    saef_host_api_t api = host_api(&h, (const char *)(uintptr_t)1);

    api.close_connection = (void (*)(void *, void *, int))(uintptr_t)1;
    api.hdr.struct_size = (uint32_t)offsetof(saef_host_api_t, cse_id);
    assert_int_equal(f->mod->create(&api, with_cse, sizeof(with_cse) / sizeof(with_cse[0]), &inst,
                                    err, sizeof(err)),
                     SAEF_OK);
    assert_int_equal(f->mod->start(inst), SAEF_OK);
    assert_non_null(strstr(h.log, "cse_id=//sp.example.com/in-cse"));
    f->mod->destroy(inst);

    /* Without cse_id in the host struct, the config must supply it. */
    inst = NULL;
    assert_int_equal(f->mod->create(&api, without_cse,
                                    sizeof(without_cse) / sizeof(without_cse[0]), &inst, err,
                                    sizeof(err)),
                     SAEF_E_CFG_MISSING);
    assert_null(inst);
    assert_non_null(strstr(err, "cse_id"));

    /* Too small to hold the log callback: refused. */
    api.hdr.struct_size = (uint32_t)offsetof(saef_host_api_t, log);
    assert_int_equal(f->mod->create(&api, with_cse, sizeof(with_cse) / sizeof(with_cse[0]), &inst,
                                    err, sizeof(err)),
                     SAEF_E_ABI);
    assert_null(inst);
    assert_non_null(strstr(err, "struct_size"));

    /* Another major in the host's struct: refused. */
    api = host_api(&h, "/in-cse");
    api.hdr.abi_major = SAEF_ABI_MAJOR + 1;
    assert_int_equal(f->mod->create(&api, with_cse, sizeof(with_cse) / sizeof(with_cse[0]), &inst,
                                    err, sizeof(err)),
                     SAEF_E_ABI);

    /* Closing sessions at Kc expiry needs the host's hook. */
    {
        saef_config_pair_t close_pairs[] = {{NULL, "cse_id", "//sp.example.com/in-cse"},
                                            {NULL, "expiry_action", "close"},
                                            BASE_PAIRS(f->km_path, "n1")};

        api = host_api(&h, "/in-cse");
        assert_int_equal(f->mod->create(&api, close_pairs,
                                        sizeof(close_pairs) / sizeof(close_pairs[0]), &inst, err,
                                        sizeof(err)),
                         SAEF_E_CFG_CONFLICT);
        assert_non_null(strstr(err, "close_connection"));
    }

    /* No log callback: refused. */
    api = host_api(&h, "/in-cse");
    api.log = NULL;
    assert_int_equal(f->mod->create(&api, with_cse, sizeof(with_cse) / sizeof(with_cse[0]), &inst,
                                    err, sizeof(err)),
                     SAEF_E_ABI);
}

static void test_two_instances_coexist(void **state)
{
    fixture_t *f = *state;
    fake_host_t h1 = {0}, h2 = {0};
    saef_host_api_t a1 = host_api(&h1, "/cse-one");
    saef_host_api_t a2 = host_api(&h2, "/cse-two");
    saef_config_pair_t p1[] = {BASE_PAIRS(f->km_path, "node-1"), {NULL, "cache_size", "100"}};
    saef_config_pair_t p2[] = {BASE_PAIRS(f->km_path, "node-2"), {NULL, "cache_size", "5000"}};
    saef_instance_t *i1 = NULL, *i2 = NULL;

    assert_int_equal(f->mod->create(&a1, p1, sizeof(p1) / sizeof(p1[0]), &i1, NULL, 0), SAEF_OK);
    assert_int_equal(f->mod->create(&a2, p2, sizeof(p2) / sizeof(p2[0]), &i2, NULL, 0), SAEF_OK);
    assert_ptr_not_equal(i1, i2);
    assert_int_equal(f->mod->start(i1), SAEF_OK);
    assert_int_equal(f->mod->start(i2), SAEF_OK);
    /* Each instance logs to its own host context, with its own configuration. */
    assert_non_null(strstr(h1.log, "cse_id=/cse-one node_id=node-1"));
    assert_null(strstr(h1.log, "cse-two"));
    assert_non_null(strstr(h2.log, "cse_id=/cse-two node_id=node-2"));
    assert_null(strstr(h2.log, "cse-one"));
    f->mod->destroy(i1);
    /* The second one is unaffected by the first one's destruction. */
    f->mod->stop(i2);
    assert_int_equal(f->mod->start(i2), SAEF_OK);
    f->mod->destroy(i2);
}

static void test_bad_config_names_option(void **state)
{
    fixture_t *f = *state;
    fake_host_t h = {0};
    saef_host_api_t api = host_api(&h, "/in-cse");
    saef_config_pair_t pairs[] = {BASE_PAIRS(f->km_path, "n"), {NULL, "no_such_option", "1"}};
    saef_instance_t *inst = (saef_instance_t *)(uintptr_t)1;
    char err[256];

    assert_int_equal(f->mod->create(&api, pairs, sizeof(pairs) / sizeof(pairs[0]), &inst, err,
                                    sizeof(err)),
                     SAEF_E_CFG_UNKNOWN);
    assert_null(inst);
    assert_non_null(strstr(err, "no_such_option"));
    assert_int_equal(f->mod->create(NULL, pairs, 1, &inst, err, sizeof(err)), SAEF_E_INVALID_ARG);
    assert_int_equal(f->mod->create(&api, NULL, 3, &inst, err, sizeof(err)), SAEF_E_INVALID_ARG);
}

static void test_start_refuses_open_secret_file(void **state)
{
    fixture_t *f = *state;
    fake_host_t h = {0};
    saef_host_api_t api = host_api(&h, "/in-cse");
    saef_config_pair_t pairs[] = {BASE_PAIRS(f->km_path, "n")};
    saef_instance_t *inst = NULL;

    assert_int_equal(chmod(f->km_path, 0644), 0);
    assert_int_equal(f->mod->create(&api, pairs, sizeof(pairs) / sizeof(pairs[0]), &inst, NULL, 0),
                     SAEF_OK);
    assert_int_equal(f->mod->start(inst), SAEF_E_CFG_SECRET_FILE);
    assert_non_null(strstr(h.log, "maf.m1.km_file"));
    assert_non_null(strstr(h.log, "chmod 600"));
    /* The secret's content never reaches the log. */
    assert_null(strstr(h.log, "test-fixture-km"));
    f->mod->destroy(inst);
    assert_int_equal(chmod(f->km_path, 0600), 0);
}

static void test_slots_before_and_after_start(void **state)
{
    fixture_t *f = *state;
    fake_host_t h = {0};
    saef_host_api_t api = host_api(&h, "/in-cse");
    saef_config_pair_t pairs[] = {BASE_PAIRS(f->km_path, "n")};
    saef_instance_t *inst = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl;
    uint8_t psk[32];
    size_t psk_len = 99;
    saef_binding_t b = {.hdr = SAEF_ABI_HDR_INIT(saef_binding_t)};
    saef_admin_request_t rq = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_request_t),
                               .operation = SAEF_OP_RETRIEVE,
                               .path = ""};
    saef_admin_response_t rs = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_response_t)};

    assert_non_null(ctx);
    assert_int_equal(f->mod->create(&api, pairs, sizeof(pairs) / sizeof(pairs[0]), &inst, NULL, 0),
                     SAEF_OK);
    /* Not started: the handshake slots refuse. */
    assert_int_equal(f->mod->attach_openssl(inst, ctx, NULL), SAEF_E_STATE);
    assert_int_equal(f->mod->psk_lookup(inst, (const uint8_t *)"a@maf.example.com", 17, psk,
                                        sizeof(psk), &psk_len),
                     SAEF_E_STATE);
    assert_int_equal(psk_len, 0);

    assert_int_equal(f->mod->start(inst), SAEF_OK);
    assert_int_equal(f->mod->attach_openssl(inst, ctx, NULL), SAEF_OK);
    /* The TS-0003 mandatory suite is on the context now, DHE-PSK is not. */
    ssl = SSL_new(ctx);
    assert_non_null(ssl);
    {
        STACK_OF(SSL_CIPHER) *sk = SSL_get_ciphers(ssl);
        int i, mandatory = 0, dhe = 0;

        for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
            const char *name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i));

            mandatory |= strcmp(name, "PSK-AES128-CBC-SHA256") == 0;
            dhe |= strncmp(name, "DHE-PSK", 7) == 0;
        }
        assert_true(mandatory);
        assert_false(dhe);
    }
    /* No handshake on this SSL: no binding. */
    assert_int_equal(f->mod->binding_ssl(inst, ssl, &b), SAEF_E_NOT_FOUND);
    f->mod->handshake_abort(inst, ssl); /* harmless on an idle SSL */
    SSL_free(ssl);
    /* An identity of no configured MAF is not the module's. */
    assert_int_equal(f->mod->psk_lookup(inst, (const uint8_t *)"a@maf.other.com", 15, psk,
                                        sizeof(psk), &psk_len),
                     SAEF_E_MAF_UNKNOWN);
    /* Management resources: this instance names no administrator. */
    assert_int_equal(f->mod->admin_request(inst, &rq, &rs), SAEF_OK);
    assert_int_equal(rs.rsc, 4103);
    f->mod->admin_response_free(&rs);
    assert_null(rs.body);
    assert_int_equal(f->mod->attach_openssl(NULL, NULL, NULL), SAEF_E_INVALID_ARG);
    f->mod->destroy(inst);
    SSL_CTX_free(ctx);
}

/* One management request: rsc, and the body must contain want (NULL: anything). */
static void admin_call(fixture_t *f, saef_instance_t *inst, saef_operation_t op, const char *path,
                       const char *query, const char *body, int rsc, const char *want)
{
    saef_admin_request_t rq = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_request_t),
                               .operation = op,
                               .path = path,
                               .query = query,
                               .originator = "CAdmin",
                               .body = body,
                               .body_len = body != NULL ? strlen(body) : 0};
    saef_admin_response_t rs = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_response_t)};

    assert_int_equal(f->mod->admin_request(inst, &rq, &rs), SAEF_OK);
    if (rs.rsc != rsc || (want != NULL && (rs.body == NULL || strstr(rs.body, want) == NULL)))
        fail_msg("%s %s: rsc %d body %s; expected %d with %s", path, query ? query : "", rs.rsc,
                 rs.body ? rs.body : "(none)", rsc, want ? want : "anything");
    assert_string_equal(rs.content_type, "application/json");
    f->mod->admin_response_free(&rs);
}

/* The management resources of an instance without a database (the database ones are tested
 * end to end in tests/e2e/saef_nodes.sh). */
static void test_admin_resources(void **state)
{
    fixture_t *f = *state;
    fake_host_t h = {0};
    saef_host_api_t api = host_api(&h, "/in-cse");
    saef_config_pair_t pairs[] = {BASE_PAIRS(f->km_path, "n"),
                                  {NULL, "admin_originators", "CAdmin, /mn-cse"}};
    saef_instance_t *inst = NULL;
    saef_admin_request_t rq = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_request_t),
                               .operation = SAEF_OP_RETRIEVE,
                               .path = "status",
                               .originator = "CAdmin"};
    saef_admin_response_t rs = {.hdr = SAEF_ABI_HDR_INIT(saef_admin_response_t)};

    assert_int_equal(f->mod->create(&api, pairs, sizeof(pairs) / sizeof(pairs[0]), &inst, NULL, 0),
                     SAEF_OK);
    assert_int_equal(f->mod->admin_request(inst, &rq, &rs), SAEF_E_STATE);
    assert_int_equal(f->mod->start(inst), SAEF_OK);
    /* A request struct from an older host without body_len is refused, not misread. */
    rq.hdr.struct_size = offsetof(saef_admin_request_t, body);
    assert_int_equal(f->mod->admin_request(inst, &rq, &rs), SAEF_E_ABI);
    rq.hdr.struct_size = sizeof(rq);
    /* Only named administrators, compared exactly. */
    rq.originator = "Cadmin";
    assert_int_equal(f->mod->admin_request(inst, &rq, &rs), SAEF_OK);
    assert_int_equal(rs.rsc, 4103);
    assert_non_null(strstr(rs.body, "Cadmin is not an administrator"));
    f->mod->admin_response_free(&rs);
    assert_non_null(strstr(h.log, "management resource status refused to Cadmin"));

    admin_call(f, inst, SAEF_OP_RETRIEVE, "status", NULL, NULL, 2000,
               "\"saef:status\":{\"cseID\":\"/in-cse\",\"nodeID\":\"n\"");
    admin_call(f, inst, SAEF_OP_RETRIEVE, "status", NULL, NULL, 2000, "\"database\":null");
    admin_call(f, inst, SAEF_OP_DELETE, "status", NULL, NULL, 4005, "RETRIEVE only");
    admin_call(f, inst, SAEF_OP_RETRIEVE, "keys", NULL, NULL, 2000, "{\"saef:keys\":[]}");
    admin_call(f, inst, SAEF_OP_DELETE, "keys/", NULL, NULL, 4000, "not a Key Identifier");
    admin_call(f, inst, SAEF_OP_DELETE, "keys/no-at-sign", NULL, NULL, 4000, NULL);
    admin_call(f, inst, SAEF_OP_RETRIEVE, "keys/a@maf.example.com", NULL, NULL, 4005,
               "DELETE (revoke) only");
    admin_call(f, inst, SAEF_OP_DELETE, "keys/a@maf.example.com", NULL, NULL, 2002,
               "\"nodesNotified\":false");
    assert_non_null(strstr(h.log, "key a@maf.example.com revoked by CAdmin on this node"));
    /* Revoked in the canonical form, however the MAF-FQDN is spelled. */
    admin_call(f, inst, SAEF_OP_DELETE, "keys/Rel1@MAF.Example.COM.", NULL, NULL, 2002,
               "\"keyID\":\"Rel1@maf.example.com\"");
    admin_call(f, inst, SAEF_OP_DELETE, "keys/a b@maf.example.com", NULL, NULL, 4000,
               "not a Key Identifier");
    /* Whatever bytes the request quotes, the answer is JSON that says why. */
    admin_call(f, inst, SAEF_OP_RETRIEVE, "\xff/x", NULL, NULL, 4004,
               "no management resource ?/x");
    admin_call(f, inst, SAEF_OP_RETRIEVE, "associations", "limit=5", NULL, 4005,
               "no database (db_conninfo)");
    admin_call(f, inst, SAEF_OP_CREATE, "credmap", NULL, "{\"pattern\":\"11-*\"}", 4005,
               "no database");
    admin_call(f, inst, SAEF_OP_RETRIEVE, "nothing/here", NULL, NULL, 4004,
               "no management resource nothing/here");
    admin_call(f, inst, SAEF_OP_RETRIEVE, "", NULL, NULL, 4004, NULL);
    f->mod->destroy(inst);
}

static void test_strerror(void **state)
{
    fixture_t *f = *state;

    assert_string_equal(f->mod->strerror(SAEF_OK), "success");
    assert_string_equal(f->mod->strerror((saef_rc_t)-9999), "unknown result code");
    assert_string_equal(f->mod->strerror((saef_rc_t)42), "unknown result code");
    assert_string_not_equal(f->mod->strerror(SAEF_E_CFG_UNKNOWN),
                            f->mod->strerror(SAEF_E_CFG_MALFORMED));
    assert_string_not_equal(f->mod->strerror(SAEF_E_NOT_SUPPORTED), "unknown result code");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_major_mismatch_returns_null),
        cmocka_unit_test(test_minor_older_and_newer_work),
        cmocka_unit_test(test_create_start_stop_destroy),
        cmocka_unit_test(test_destroy_and_stop_null_safe),
        cmocka_unit_test(test_host_struct_size_honoured),
        cmocka_unit_test(test_two_instances_coexist),
        cmocka_unit_test(test_bad_config_names_option),
        cmocka_unit_test(test_start_refuses_open_secret_file),
        cmocka_unit_test(test_slots_before_and_after_start),
        cmocka_unit_test(test_admin_resources),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests_name("module_abi", tests, setup, teardown);
}
