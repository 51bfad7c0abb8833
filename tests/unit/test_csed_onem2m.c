/*
 * saef-csed's transport-neutral request handling (contrib/cse-host/csed_onem2m.c): the
 * originator rules of TS-0004 7.3.2.1 for every kind of binding the module can report, target
 * resolution in the three To forms, the admin mount, and the RSC tables of TS-0009 and TS-0008.
 * The module is a fake function table: these rules must hold whatever the module binds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "csed.h"

/* ---- what csed_onem2m.c needs from the rest of the daemon ---- */

static char logged[8192]; /* every line since setup() */
static int rsc_counted;

void csed_log(const csed_t *srv, saef_log_level_t level, const char *fmt, ...)
{
    size_t used = strlen(logged);
    va_list ap;

    (void)srv;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(logged + used, sizeof(logged) - used, fmt, ap);
    va_end(ap);
    used = strlen(logged);
    snprintf(logged + used, sizeof(logged) - used, "\n");
}

void csed_count_rsc(csed_t *srv, int rsc)
{
    (void)srv;
    rsc_counted = rsc;
}

/* ---- a fake module ---- */

static saef_rc_t admin_rc;
static saef_admin_request_t admin_seen;
static char admin_path[256], admin_query[256], admin_from[256];

static const char *fake_strerror(saef_rc_t rc)
{
    return rc == SAEF_E_NOT_FOUND ? "not found" : "other";
}

static saef_rc_t fake_admin(saef_instance_t *inst, const saef_admin_request_t *req,
                            saef_admin_response_t *resp)
{
    (void)inst;
    admin_seen = *req;
    snprintf(admin_path, sizeof(admin_path), "%s", req->path);
    snprintf(admin_query, sizeof(admin_query), "%s", req->query ? req->query : "(null)");
    snprintf(admin_from, sizeof(admin_from), "%s", req->originator);
    if (admin_rc != SAEF_OK)
        return admin_rc;
    resp->rsc = 2000;
    resp->body = strdup("{\"saef:sum\":{}}");
    resp->content_type = "application/json";
    return SAEF_OK;
}

static void fake_admin_free(saef_admin_response_t *resp)
{
    free(resp->body);
    resp->body = NULL;
}

static const saef_module_t fake_mod = {
    .hdr = SAEF_ABI_HDR_INIT(saef_module_t),
    .strerror = fake_strerror,
    .admin_request = fake_admin,
    .admin_response_free = fake_admin_free,
};

static csed_t srv;

static int setup(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof(srv));
    srv.cfg.cse_id = "//sp.example.test/in-cse";
    srv.cfg.sp_id = "sp.example.test";
    srv.cfg.csi = "/in-cse";
    srv.cfg.cse_stem = "in-cse";
    srv.cfg.resource_name = "cse-in";
    srv.cfg.resource_id = "in-cse";
    srv.cfg.cse_type = 1;
    srv.mod = &fake_mod;
    snprintf(srv.ct, sizeof(srv.ct), "20250101T000000");
    snprintf(srv.poa_http, sizeof(srv.poa_http), "https://127.0.0.1:8443");
    admin_rc = SAEF_OK;
    logged[0] = '\0';
    return 0;
}

/* Serve one request and return its RSC; the response is released. */
static int serve(csed_peer_t *peer, saef_operation_t op, const char *to, const char *from,
                 const char *rvi)
{
    csed_req_t req = {.op = op, .to = to, .from = from, .rvi = rvi, .accept_ok = 1};
    csed_rsp_t rsp;
    int rsc;

    csed_onem2m_handle(&srv, peer, &req, &rsp);
    rsc = rsp.rsc;
    assert_int_equal(rsc_counted, rsc);
    csed_rsp_clear(&rsp);
    return rsc;
}

static csed_peer_t peer_bound(saef_peer_kind_t kind, const char *id)
{
    csed_peer_t p = {.transport = "tls", .addr = "192.0.2.1:1", .state = CSED_BIND_MODULE};

    p.binding.kind = kind;
    snprintf(p.binding.peer_id, sizeof(p.binding.peer_id), "%s", id);
    return p;
}

typedef struct from_case {
    const char *from;
    int rsc;
} from_case_t;

static void check_froms(csed_peer_t *peer, const from_case_t *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        int got = serve(peer, SAEF_OP_RETRIEVE, "cse-in", cases[i].from, "3");

        if (got != cases[i].rsc)
            fail_msg("binding %s, From \"%s\": got %d, want %d", peer->binding.peer_id,
                     cases[i].from ? cases[i].from : "(none)", got, cases[i].rsc);
    }
}

static void test_host_table_peer(void **state)
{
    static const from_case_t cases[] = {
        {"CAE1", 2000},
        {"Sae-s", 2000},
        {"/mn-cse/Cae", 2000},           /* an AE-ID, even of another registrar */
        {"//sp.example.test/Sae", 2000}, /* absolute S-type AE-ID */
        {"admin", 2000},                 /* not a CSE-ID */
        {"/mn-cse", 4107},               /* CSE-ID outside a security association */
        {"//sp.example.test/mn-cse", 4107},
        {"//other.example/mn-cse", 4107},
        {"", 4000},
        {NULL, 4000},
    };
    csed_peer_t peer = {
        .transport = "tls", .addr = "192.0.2.1:1", .state = CSED_BIND_NONE, .host_psk = 1};

    (void)state;
    check_froms(&peer, cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_cse_binding(void **state)
{
    static const from_case_t cases[] = {
        {"/mn-cse", 2000},
        {"//sp.example.test/mn-cse", 2000},
        {"//SP.Example.Test/mn-cse", 2000}, /* SP-ID compared case-insensitively */
        {"/mn-cse/Cae1", 2000},             /* C-type AE registered via the bound CSE */
        {"//sp.example.test/mn-cse/Cae1", 2000},
        {"Cae1", 2000}, /* AE-ID stem on this hop */
        {"/mn-cse2", 4106},
        {"/MN-CSE", 4106},                /* CSE-IDs are case-sensitive */
        {"//other.example/mn-cse", 4106}, /* same name, another SP */
        {"/other-cse/Cae1", 4106},        /* C-type AE of another registrar */
        {"Sae1", 4106},
        {"//sp.example.test/Sae1", 4106},
        {"/in-cse", 4106}, /* our own CSE-ID */
        {"mn-cse", 4106},
        {NULL, 4000},
    };
    csed_peer_t peer = peer_bound(SAEF_PEER_CSE_ID, "/mn-cse");
    csed_peer_t abs = peer_bound(SAEF_PEER_CSE_ID, "//sp.example.test/mn-cse");
    static const from_case_t abs_cases[] = {
        {"/mn-cse", 2000}, {"/mn-cse/Cx", 2000}, {"/mn-cse2", 4106}};

    (void)state;
    check_froms(&peer, cases, sizeof(cases) / sizeof(cases[0]));
    check_froms(&abs, abs_cases, sizeof(abs_cases) / sizeof(abs_cases[0]));
}

static void test_ae_binding(void **state)
{
    static const from_case_t c_cases[] = {
        {"Cae1", 2000},
        {"/in-cse/Cae1", 2000}, /* the same AE: registered with us */
        {"//sp.example.test/in-cse/Cae1", 2000},
        {"Cae2", 4106},
        {"/mn-cse/Cae1", 4106}, /* same stem, another registrar */
        {"/in-cse", 4106},
        {"Sae1", 4106},
    };
    static const from_case_t s_cases[] = {
        {"Sae9", 2000},
        {"//sp.example.test/Sae9", 2000},
        {"//other.example/Sae9", 4106},
        {"Sae8", 4106},
        {"Cae9", 4106},
    };
    csed_peer_t c = peer_bound(SAEF_PEER_AE_ID, "Cae1");
    csed_peer_t c_full = peer_bound(SAEF_PEER_AE_ID, "/in-cse/Cae1");
    csed_peer_t s = peer_bound(SAEF_PEER_AE_ID, "Sae9");

    (void)state;
    check_froms(&c, c_cases, sizeof(c_cases) / sizeof(c_cases[0]));
    check_froms(&c_full, c_cases, sizeof(c_cases) / sizeof(c_cases[0]));
    check_froms(&s, s_cases, sizeof(s_cases) / sizeof(s_cases[0]));
}

static void test_credential_and_unknown_binding(void **state)
{
    static const from_case_t cases[] = {
        {"11-entitya@maf.example.test", 4106}, {"/mn-cse", 4106}, {"Cae1", 4106}};
    csed_peer_t cred = peer_bound(SAEF_PEER_CREDENTIAL_ID, "11-entitya@maf.example.test");
    csed_peer_t err = {.transport = "tls", .addr = "192.0.2.1:1"};
    const char *p;

    (void)state;
    check_froms(&cred, cases, sizeof(cases) / sizeof(cases[0]));
    /* One warning per connection, however many requests. */
    p = strstr(logged, "11-entitya@maf.example.test has no mapping");
    assert_non_null(p);
    assert_null(strstr(p + strlen("11-entitya@maf.example.test has no mapping"), "has no mapping"));
    assert_int_equal(cred.warned, 1);

    /* A module key whose binding the module cannot tell: fail closed. */
    csed_peer_set_binding(&srv, &err, SAEF_E_NOT_FOUND);
    assert_int_equal(err.state, CSED_BIND_ERROR);
    assert_int_equal(serve(&err, SAEF_OP_RETRIEVE, "cse-in", "Cae1", "3"), 5000);

    /* The same answer for a host-table peer is simply "no association". */
    err = (csed_peer_t){.transport = "tls", .addr = "192.0.2.1:1", .host_psk = 1};
    csed_peer_set_binding(&srv, &err, SAEF_E_NOT_SUPPORTED);
    assert_int_equal(err.state, CSED_BIND_NONE);

    /* Kc over (TS-0003 8.2.2.3 step 15): the association is gone. */
    err = peer_bound(SAEF_PEER_CSE_ID, "/mn-cse");
    snprintf(err.binding.key_id, sizeof(err.binding.key_id), "k1@maf.example.test");
    csed_peer_set_binding(&srv, &err, SAEF_E_KEY_EXPIRED);
    assert_int_equal(err.state, CSED_BIND_EXPIRED);
    assert_int_equal(serve(&err, SAEF_OP_RETRIEVE, "cse-in", "/mn-cse", "3"), 4107);
    assert_int_equal(serve(&err, SAEF_OP_RETRIEVE, "cse-in", "Cae1", "3"), 4107);

    /* The module could not record the association (its database queue is full): the
     * connection is closed, its requests refused, and the log says why. */
    err = peer_bound(SAEF_PEER_AE_ID, "//sp.example.test/in-cse/Cae1");
    snprintf(err.binding.key_id, sizeof(err.binding.key_id), "k2@maf.example.test");
    csed_peer_set_binding(&srv, &err, SAEF_E_BUSY);
    assert_int_equal(err.state, CSED_BIND_REFUSED);
    assert_int_equal(serve(&err, SAEF_OP_RETRIEVE, "cse-in", "Cae1", "3"), 5000);
    assert_non_null(strstr(logged, "cannot record the association of k2@maf.example.test"));

    /* A binding of a kind the host does not know is refused, never trusted. */
    err = (csed_peer_t){.transport = "tls", .addr = "192.0.2.1:1"};
    err.binding.kind = (saef_peer_kind_t)9;
    snprintf(err.binding.peer_id, sizeof(err.binding.peer_id), "/mn-cse");
    csed_peer_set_binding(&srv, &err, SAEF_OK);
    assert_int_equal(err.state, CSED_BIND_ERROR);
}

static void test_targets(void **state)
{
    static const struct {
        saef_operation_t op;
        const char *to;
        int rsc;
    } cases[] = {
        {SAEF_OP_RETRIEVE, "cse-in", 2000},
        {SAEF_OP_RETRIEVE, "cse-in/", 2000},
        {SAEF_OP_RETRIEVE, "-", 2000},
        {SAEF_OP_RETRIEVE, "in-cse", 2000}, /* by resourceID */
        {SAEF_OP_RETRIEVE, "/in-cse", 2000},
        {SAEF_OP_RETRIEVE, "/in-cse/", 2000},
        {SAEF_OP_RETRIEVE, "/in-cse/cse-in", 2000},
        {SAEF_OP_RETRIEVE, "/in-cse/-", 2000},
        {SAEF_OP_RETRIEVE, "//sp.example.test/in-cse/cse-in", 2000},
        {SAEF_OP_RETRIEVE, "//SP.EXAMPLE.TEST/in-cse", 2000},
        {SAEF_OP_RETRIEVE, "//other.example/in-cse/cse-in", 4004},
        {SAEF_OP_RETRIEVE, "/other-cse/cse-in", 4004},
        {SAEF_OP_RETRIEVE, "/in-csex", 4004},
        {SAEF_OP_RETRIEVE, "cse-inx", 4004},
        {SAEF_OP_RETRIEVE, "cse-in/ae1", 4004},
        {SAEF_OP_RETRIEVE, "cse-in/saefx", 4004},
        {SAEF_OP_RETRIEVE, "", 4004},
        {SAEF_OP_DELETE, "cse-in", 4005},
        {SAEF_OP_UPDATE, "-", 4005},
        {SAEF_OP_CREATE, "/in-cse/cse-in", 4005},
        {SAEF_OP_NOTIFY, "cse-in", 4005},
        {(saef_operation_t)0, "cse-in", 4000},
    };
    csed_peer_t peer = {.transport = "tls", .addr = "192.0.2.1:1", .state = CSED_BIND_NONE};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = serve(&peer, cases[i].op, cases[i].to, "CAE1", "3");

        if (got != cases[i].rsc)
            fail_msg("op %d To \"%s\": got %d, want %d", (int)cases[i].op, cases[i].to, got,
                     cases[i].rsc);
    }
}

static void test_csebase_and_release(void **state)
{
    csed_peer_t peer = {.transport = "tls", .addr = "192.0.2.1:1", .state = CSED_BIND_NONE};
    csed_req_t req = {.op = SAEF_OP_RETRIEVE, .to = "cse-in", .from = "CAE1", .accept_ok = 1};
    csed_rsp_t rsp;
    json_error_t jerr;
    json_t *root, *cb;

    (void)state;
    req.rvi = "2a";
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_int_equal(rsp.rsc, 2000);
    assert_string_equal(rsp.rvi, "2a");
    assert_string_equal(rsp.content_type, "application/json");
    root = json_loadb(rsp.body, rsp.body_len, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(root);
    cb = json_object_get(root, "m2m:cb");
    assert_non_null(cb);
    assert_string_equal(json_string_value(json_object_get(cb, "rn")), "cse-in");
    assert_string_equal(json_string_value(json_object_get(cb, "ri")), "in-cse");
    assert_string_equal(json_string_value(json_object_get(cb, "pi")), "");
    assert_string_equal(json_string_value(json_object_get(cb, "csi")), "/in-cse");
    assert_string_equal(json_string_value(json_object_get(cb, "ct")), "20250101T000000");
    assert_int_equal(json_integer_value(json_object_get(cb, "ty")), 5);
    assert_int_equal(json_integer_value(json_object_get(cb, "cst")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(cb, "poa"), 0)),
                        "https://127.0.0.1:8443");
    assert_true(json_is_array(json_object_get(cb, "srt")));
    assert_true(json_is_array(json_object_get(cb, "srv")));
    json_decref(root);
    csed_rsp_clear(&rsp);

    req.rvi = NULL; /* Release 1: no RVI in the answer */
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_int_equal(rsp.rsc, 2000);
    assert_null(rsp.rvi);
    csed_rsp_clear(&rsp);

    req.rvi = "4";
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_int_equal(rsp.rsc, 4001);
    assert_string_equal(rsp.rvi, "3");
    csed_rsp_clear(&rsp);

    req.rvi = "3";
    req.accept_ok = 0; /* the answer would be JSON */
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_int_equal(rsp.rsc, 5207);
    assert_null(rsp.body);
    req.to = "nothing";
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_int_equal(rsp.rsc, 4004); /* an error stays itself, without content */
    assert_null(rsp.body);
}

static void test_admin_mount(void **state)
{
    csed_peer_t peer = {.transport = "tls", .addr = "192.0.2.1:1", .state = CSED_BIND_NONE};
    csed_req_t req = {.op = SAEF_OP_DELETE,
                      .to = "/in-cse/cse-in/saef/associations/42",
                      .query = "lim=5",
                      .from = "CAdmin",
                      .body = "{}",
                      .body_len = 2,
                      .accept_ok = 1};
    csed_rsp_t rsp;

    (void)state;
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_int_equal(rsp.rsc, 2000);
    assert_string_equal(rsp.body, "{\"saef:sum\":{}}");
    assert_string_equal(admin_path, "associations/42");
    assert_string_equal(admin_query, "lim=5");
    assert_string_equal(admin_from, "CAdmin");
    assert_int_equal(admin_seen.operation, SAEF_OP_DELETE);
    assert_int_equal(admin_seen.body_len, 2);
    csed_rsp_clear(&rsp);

    req.to = "-/saef";
    req.query = NULL;
    csed_onem2m_handle(&srv, &peer, &req, &rsp);
    assert_string_equal(admin_path, "");
    assert_string_equal(admin_query, "(null)");
    csed_rsp_clear(&rsp);

    admin_rc = SAEF_E_NOT_SUPPORTED;
    assert_int_equal(serve(&peer, SAEF_OP_RETRIEVE, "cse-in/saef/stats", "CAdmin", "3"), 5001);
    admin_rc = SAEF_E_INTERNAL;
    assert_int_equal(serve(&peer, SAEF_OP_RETRIEVE, "cse-in/saef/stats", "CAdmin", "3"), 5000);

    /* The From check comes first: the module never sees an unauthenticated originator. */
    admin_rc = SAEF_OK;
    admin_path[0] = '\0';
    assert_int_equal(serve(&peer, SAEF_OP_RETRIEVE, "cse-in/saef/stats", "/mn-cse", "3"), 4107);
    assert_string_equal(admin_path, "");
}

static void test_status_tables(void **state)
{
    /* TS-0009 Table 6.3.2-1 */
    static const int http[][2] = {
        {2000, 200}, {2001, 201}, {2002, 200}, {2004, 200}, {1001, 202}, {4000, 400},
        {4001, 501}, {4004, 404}, {4005, 405}, {4008, 504}, {4015, 415}, {4103, 403},
        {4104, 409}, {4105, 409}, {4106, 403}, {4107, 403}, {4120, 400}, {5000, 500},
        {5001, 501}, {5103, 404}, {5207, 406}, {6028, 409}, {6030, 504},
    };
    /* TS-0008 Table 6.2.4-1, as class * 100 + detail */
    static const int coap[][3] = {
        {2000, SAEF_OP_RETRIEVE, 205},
        {2000, SAEF_OP_NOTIFY, 204},
        {2001, SAEF_OP_CREATE, 201},
        {2002, SAEF_OP_DELETE, 202},
        {2004, SAEF_OP_UPDATE, 204},
        {4000, 0, 400},
        {4104, 0, 400},
        {4105, 0, 403},
        {4120, 0, 402},
        {4004, 0, 404},
        {4005, 0, 405},
        {4106, 0, 403},
        {4107, 0, 403},
        {5207, 0, 406},
        {4015, 0, 415},
        {5000, 0, 500},
        {5001, 0, 501},
        {4008, 0, 504},
        {6029, 0, 400},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(http) / sizeof(http[0]); i++)
        if (csed_rsc_http(http[i][0]) != http[i][1])
            fail_msg("HTTP status of %d: %d, want %d", http[i][0], csed_rsc_http(http[i][0]),
                     http[i][1]);
    for (i = 0; i < sizeof(coap) / sizeof(coap[0]); i++)
        if (csed_rsc_coap(coap[i][0], (saef_operation_t)coap[i][1]) != coap[i][2])
            fail_msg("CoAP code of %d: %d, want %d", coap[i][0],
                     csed_rsc_coap(coap[i][0], (saef_operation_t)coap[i][1]), coap[i][2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_host_table_peer, setup),
        cmocka_unit_test_setup(test_cse_binding, setup),
        cmocka_unit_test_setup(test_ae_binding, setup),
        cmocka_unit_test_setup(test_credential_and_unknown_binding, setup),
        cmocka_unit_test_setup(test_targets, setup),
        cmocka_unit_test_setup(test_csebase_and_release, setup),
        cmocka_unit_test_setup(test_admin_mount, setup),
        cmocka_unit_test(test_status_tables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
