/*
 * saef-keyreg: Entity A's side of the MAF-based SAEF (TS-0003 8.2.2.3).  It registers with a
 * MAF as a client (8.8.2.3), registers a symmetric key Kc for one target (8.8.2.7: a key of its
 * own, or one derived from the TLS exporter of the MAF connection), updates (8.8.2.9) and
 * de-registers it (8.8.2.10), over the binding of docs/maf-binding.md.  After `key` it prints
 * the Key Identifier and Kc, so that stock TLS/DTLS clients can play Entity A against Entity B.
 * Printing Kc is the purpose of this test and diagnostic tool; Kc goes nowhere else.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "keyreg_internal.h"
#include "saef_id.h"
#include "saef_suid.h"
#include "saef_time.h"

/* --- talking to the MAF --- */

static int fail_transport(const char *what, saef_rc_t rc, const char *err)
{
    fprintf(stderr, "saef-keyreg: %s: %s\n", what, err);
    if (rc == SAEF_E_MAF_AUTH)
        fprintf(stderr, "saef-keyreg: check --ca/--cert/--key or --kmid/--km-file, that the MAF "
                        "trusts them, and that --maf names the MAF-FQDN of its certificate\n");
    return KR_EXIT_MAF;
}

static int fail_rsc(const char *what, const kr_response_t *resp)
{
    const char *name = kr_rsc_name(resp->rsc);

    fprintf(stderr, "saef-keyreg: %s failed: HTTP %ld, X-M2M-RSC %d%s%s%s%s\n", what,
            resp->http_status, resp->rsc, name[0] != '\0' ? " " : "", name,
            resp->dbg[0] != '\0' ? ": " : "", resp->dbg);
    return KR_EXIT_MAF;
}

/* One request to the MAF: 0 when it answered want_rsc (resp holds the answer), otherwise the
 * exit status, the failure reported on stderr. */
static int exchange(kr_run_t *r, const char *what, const char *method, const char *path,
                    json_t *body, bool exporter, int want_rsc, kr_response_t *resp)
{
    char err[KR_ERR_MAX];
    saef_rc_t rc = kr_request(r->sess, method, path, body, exporter, resp, err, sizeof(err));

    if (rc != SAEF_OK)
        return fail_transport(what, rc, err);
    if (resp->rsc != want_rsc)
        return fail_rsc(what, resp);
    return 0;
}

static int fail_protocol(const char *what, const char *why)
{
    fprintf(stderr, "saef-keyreg: %s: protocol error: %s\n", what, why);
    return KR_EXIT_MAF;
}

static const char *str_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Granted expirationTime: must parse; returns seconds from now through *in. */
static bool expiry_ok(const char *ts, long *in)
{
    struct timespec t;

    if (ts == NULL || saef_ts_parse(ts, strlen(ts), &t) != SAEF_OK)
        return false;
    *in = (long)(t.tv_sec - time(NULL));
    return true;
}

static json_t *labels_json(const kr_opts_t *o)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < o->nlabels; i++) {
        if (json_array_append_new(a, json_string(o->labels[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

/* The common members of a registration request; NULL when out of memory. */
static json_t *request_body(const kr_run_t *r, bool with_admin, bool with_expiry)
{
    char ts[SAEF_TS_BUF_SIZE];
    json_t *body = json_object();

    if (body == NULL || json_object_set_new(body, "mafFQDN", json_string(r->maf_fqdn)) != 0)
        goto fail;
    if (with_expiry) {
        if (saef_ts_from_time(time(NULL) + r->o->lifetime, ts, sizeof(ts)) != SAEF_OK ||
            json_object_set_new(body, "expirationTime", json_string(ts)) != 0)
            goto fail;
    }
    if (with_admin && json_object_set_new(body, "adminFQDN", json_string(r->o->admin_fqdn)) != 0)
        goto fail;
    if ((r->o->nlabels > 0 || r->o->clear_labels) &&
        json_object_set_new(body, "labels", labels_json(r->o)) != 0)
        goto fail;
    return body;
fail:
    json_decref(body);
    return NULL;
}

static int out_of_memory(void)
{
    fprintf(stderr, "saef-keyreg: out of memory\n");
    return KR_EXIT_MAF;
}

static int cmd_register(kr_run_t *r)
{
    static const char what[] = "client registration";
    kr_response_t resp;
    const char *id, *exp, *cid, *admin;
    json_t *body = request_body(r, true, true);
    long in = 0;
    int ex = 0;

    if (body == NULL)
        return out_of_memory();
    kr_response_clear(&resp, true);
    ex = exchange(r, what, "POST", "/clientRegistrations", body, false, 2001, &resp);
    json_decref(body);
    if (ex != 0)
        goto out;
    id = str_member(resp.body, "mafClientRegID");
    exp = str_member(resp.body, "expirationTime");
    cid = str_member(resp.body, "mafClientID");
    admin = str_member(resp.body, "adminFQDN");
    if (id == NULL || !kr_rel_id_ok(id)) {
        ex = fail_protocol(what, "mafClientRegID missing or malformed");
        goto out;
    }
    if (!expiry_ok(exp, &in) || cid == NULL || admin == NULL) {
        ex = fail_protocol(what, "expirationTime, mafClientID or adminFQDN missing or invalid");
        goto out;
    }
    if (r->o->env) {
        kr_print_env(stdout, "REG_ID", id);
        kr_print_env(stdout, r->o->cmd == CMD_KEY ? "REG_EXPIRES" : "EXPIRES", exp);
        kr_print_env(stdout, "MAF_CLIENT_ID", cid);
        kr_print_env(stdout, "ADMIN_FQDN", admin);
    } else {
        printf("Client registration at %s\n", r->maf_fqdn);
        printf("mafClientRegID: %s\n", id);
        printf("MAF Client ID:  %s\n", cid);
        printf("adminFQDN:      %s\n", admin);
        printf("Expires:        %s UTC (in %ld s)\n", exp, in);
        if (r->o->cmd == CMD_KEY)
            putchar('\n');
    }
    /* The MAF says under which identity it knows us; a surprise here explains later 4103s. */
    if (r->o->origin != NULL && r->o->kmid == NULL && strcmp(cid, r->o->origin) != 0)
        fprintf(stderr, "saef-keyreg: warning: the MAF knows us as %s, not as --origin %s\n", cid,
                r->o->origin);
out:
    kr_response_clear(&resp, false);
    return ex;
}

/* Remove a registration this run made but must not leave behind. */
static void delete_quietly(kr_run_t *r, const char *rel_id)
{
    char path[128], err[KR_ERR_MAX];
    kr_response_t resp;
    saef_rc_t rc;

    kr_response_clear(&resp, true);
    snprintf(path, sizeof(path), "/keyRegistrations/%s", rel_id);
    rc = kr_request(r->sess, "DELETE", path, NULL, false, &resp, err, sizeof(err));
    if (rc != SAEF_OK)
        fprintf(stderr, "saef-keyreg: could not delete key registration %s: %s\n", rel_id, err);
    else if (resp.rsc != 2002)
        fail_rsc("deleting the key registration", &resp);
    else
        fprintf(stderr, "saef-keyreg: key registration %s deleted\n", rel_id);
    kr_response_clear(&resp, false);
}

/* The members of a key registration response (binding 6.5); NULL on success, else why not. */
static const char *check_key_response(const json_t *body, const char *want_target, const char **rel,
                                      const char **exp, const char **src, const char **target,
                                      long *in)
{
    const json_t *suid = json_object_get(body, "suid");
    const json_t *targets = json_object_get(body, "targetIDs");
    const char *admin = str_member(body, "adminFQDN");

    *rel = str_member(body, "relativeKeyID");
    *exp = str_member(body, "expirationTime");
    *src = str_member(body, "sourceMAFClientID");
    *target = NULL;
    if (*rel == NULL || !kr_rel_id_ok(*rel))
        return "relativeKeyID missing or malformed";
    if (!expiry_ok(*exp, in))
        return "expirationTime missing or not an m2m:timestamp";
    if (*src == NULL || **src == '\0')
        return "sourceMAFClientID missing";
    if (admin == NULL || saef_id_fqdn_check(admin, strlen(admin), NULL) != SAEF_OK)
        return "adminFQDN missing or not an FQDN";
    if (!json_is_integer(suid) || json_integer_value(suid) != SAEF_SUID_MAF_SAEF)
        return "suid is not 32";
    if (!json_is_array(targets) || json_array_size(targets) != 1 ||
        !json_is_string(json_array_get(targets, 0)))
        return "targetIDs is not a list of one ID";
    *target = json_string_value(json_array_get(targets, 0));
    if (want_target != NULL && strcmp(*target, want_target) != 0)
        return "targetIDs is not the target we asked for";
    return NULL;
}

static bool ascii_case_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        char ca = (*a >= 'a' && *a <= 'z') ? (char)(*a - 'a' + 'A') : *a;
        char cb = (*b >= 'a' && *b <= 'z') ? (char)(*b - 'a' + 'A') : *b;

        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

static int cmd_key(kr_run_t *r)
{
    static const char what[] = "key registration";
    const kr_opts_t *o = r->o;
    bool exporter = o->key_src == KS_EXPORTER;
    kr_response_t resp;
    char b64[4 * KR_KC_LEN / 3 + 4], kcid_hex[2 * KR_KCID_LEN + 1];
    char key_id[SAEF_ID_IDENTITY_MAX + 1];
    const char *rel, *exp, *src, *target, *why;
    uint8_t kc[KR_KC_LEN];
    json_t *body, *kv = NULL;
    saef_rc_t rc;
    long in = 0;
    int ex = 0;

    if (o->do_register && (ex = cmd_register(r)) != 0)
        return ex;
    kr_response_clear(&resp, true);
    body = request_body(r, true, true);
    if (body == NULL || json_object_set_new(body, "suid", json_integer(SAEF_SUID_MAF_SAEF)) != 0 ||
        json_object_set_new(body, "targetIDs", json_pack("[s]", o->target)) != 0) {
        json_decref(body);
        return out_of_memory();
    }
    if (!exporter) {
        if (o->key_src == KS_HEX) {
            memcpy(kc, o->given_kc, KR_KC_LEN);
        } else if (RAND_bytes(kc, KR_KC_LEN) != 1) {
            json_decref(body);
            fprintf(stderr, "saef-keyreg: RAND_bytes failed\n");
            return KR_EXIT_MAF;
        }
        if (EVP_EncodeBlock((unsigned char *)b64, kc, KR_KC_LEN) != 44 ||
            (kv = json_stringn(b64, 44)) == NULL || json_object_set(body, "keyValue", kv) != 0) {
            OPENSSL_cleanse(b64, sizeof(b64));
            OPENSSL_cleanse(kc, sizeof(kc));
            json_decref(kv);
            json_decref(body);
            return out_of_memory();
        }
        OPENSSL_cleanse(b64, sizeof(b64));
    }
    ex = exchange(r, what, "POST", "/keyRegistrations", body, exporter, 2001, &resp);
    if (kv != NULL) {
        /* jansson cannot wipe a string it owns; we hold a reference, so the buffer is alive
         * and writable (the const only guards jansson's invariants, which a same-length
         * overwrite keeps). */
        OPENSSL_cleanse((char *)json_string_value(kv), json_string_length(kv));
        json_decref(kv);
    }
    json_decref(body);
    if (ex != 0)
        goto out;
    why = check_key_response(resp.body, o->target, &rel, &exp, &src, &target, &in);
    if (why != NULL) {
        ex = fail_protocol(what, why);
        if (rel != NULL && kr_rel_id_ok(rel))
            delete_quietly(r, rel);
        else
            fprintf(stderr, "saef-keyreg: the MAF may hold a key registration nobody can "
                            "delete; it ends at its expirationTime\n");
        goto out;
    }
    if (exporter) {
        if (!resp.exported) {
            fprintf(stderr,
                    "saef-keyreg: %s: cannot compute the TLS exporter on the MAF "
                    "connection: %s\n",
                    what, resp.exporter_error != NULL ? resp.exporter_error : "unknown reason");
            delete_quietly(r, rel);
            ex = KR_EXIT_MAF;
            goto out;
        }
        kr_hex(resp.ekm, KR_KCID_LEN, true, kcid_hex);
        /* Binding 6.5.1: the MAF derived relativeKeyID from KcID of the connection it received
         * the request on.  Different means another connection or another derivation: the key
         * we hold is not the key the MAF holds. */
        if (!ascii_case_equal(rel, kcid_hex)) {
            fprintf(stderr,
                    "saef-keyreg: %s: the MAF's relativeKeyID %s is not our exporter KcID %s: "
                    "the MAF derived another key (other connection or other derivation); "
                    "deleting the registration\n",
                    what, rel, kcid_hex);
            delete_quietly(r, rel);
            ex = KR_EXIT_MAF;
            goto out;
        }
        memcpy(kc, resp.ekm + KR_KCID_LEN, KR_KC_LEN);
    }
    rc = saef_id_scoped_format(rel, strlen(rel), r->maf_fqdn, strlen(r->maf_fqdn), key_id,
                               sizeof(key_id));
    if (rc != SAEF_OK) {
        ex = fail_protocol(what, "relativeKeyID@MAF-FQDN is not a valid Key Identifier");
        delete_quietly(r, rel);
        goto out;
    }
    if (in < o->lifetime - 5 && !o->env)
        fprintf(stderr, "saef-keyreg: note: the MAF granted %ld s of the %ld s asked for\n", in,
                o->lifetime);
    kr_key_info_t info = {
        .key_id = key_id,
        .rel_id = rel,
        .maf_fqdn = r->maf_fqdn,
        .kc = kc,
        .kcid_hex = exporter ? kcid_hex : NULL,
        .expires = exp,
        .expires_in = in,
        .target = target,
        .source = src,
        .key_src = exporter               ? "exporter"
                   : o->key_src == KS_HEX ? "given"
                                          : "generated",
        .tls = resp.tls_version,
    };
    kr_print_key(stdout, &info, o->have_entity_b ? &o->entity_b : NULL,
                 o->have_entity_b_dtls ? &o->entity_b_dtls : NULL, o->env);
    fflush(stdout);
out:
    OPENSSL_cleanse(kc, sizeof(kc));
    kr_response_clear(&resp, false);
    return ex;
}

/* RelativeKeyID from the update/delete argument: the ID itself or RelativeKeyID@MAF-FQDN. */
static int resolve_id(const kr_run_t *r, char *rel, size_t rellen)
{
    const char *arg = r->o->id_arg;
    saef_id_scoped_t k;

    if (strchr(arg, '@') != NULL) {
        if (saef_id_keyid_parse(arg, strlen(arg), &k) != SAEF_OK)
            return kr_usage_error("\"%s\" is not a Key Identifier", arg);
        if (!saef_id_fqdn_equal(k.fqdn.ptr, k.fqdn.len, r->maf_fqdn, strlen(r->maf_fqdn)))
            return kr_usage_error("Key Identifier \"%s\" belongs to another MAF than --maf", arg);
        snprintf(rel, rellen, "%.*s", (int)k.rel.len, k.rel.ptr);
    } else {
        snprintf(rel, rellen, "%s", arg);
    }
    if (!kr_rel_id_ok(rel))
        return kr_usage_error("\"%s\" is not a RelativeKeyID ([A-Za-z0-9._-]{1,64})", arg);
    return 0;
}

static int cmd_update(kr_run_t *r)
{
    static const char what[] = "key registration update";
    const kr_opts_t *o = r->o;
    char rel_arg[SAEF_ID_REL_MAX + 1], path[128];
    char key_id[SAEF_ID_IDENTITY_MAX + 1];
    const char *rel, *exp, *src, *target, *why;
    kr_response_t resp;
    json_t *body;
    long in = 0;
    int ex;

    if ((ex = resolve_id(r, rel_arg, sizeof(rel_arg))) != 0)
        return ex;
    body = request_body(r, false, o->lifetime_set);
    if (body == NULL ||
        (o->target != NULL &&
         json_object_set_new(body, "targetIDs", json_pack("[s]", o->target)) != 0)) {
        json_decref(body);
        return out_of_memory();
    }
    kr_response_clear(&resp, true);
    snprintf(path, sizeof(path), "/keyRegistrations/%s", rel_arg);
    ex = exchange(r, what, "PUT", path, body, false, 2004, &resp);
    json_decref(body);
    if (ex != 0)
        goto out;
    why = check_key_response(resp.body, o->target, &rel, &exp, &src, &target, &in);
    if (why != NULL) {
        ex = fail_protocol(what, why);
        goto out;
    }
    if (saef_id_scoped_format(rel, strlen(rel), r->maf_fqdn, strlen(r->maf_fqdn), key_id,
                              sizeof(key_id)) != SAEF_OK) {
        ex = fail_protocol(what, "relativeKeyID@MAF-FQDN is not a valid Key Identifier");
        goto out;
    }
    if (o->env) {
        kr_print_env(stdout, "KEY_ID", key_id);
        kr_print_env(stdout, "REL_KEY_ID", rel);
        kr_print_env(stdout, "EXPIRES", exp);
        kr_print_env(stdout, "TARGET", target);
    } else {
        printf("Key registration updated\n");
        printf("Key Identifier: %s\n", key_id);
        printf("Expires:        %s UTC (in %ld s)\n", exp, in);
        printf("Target:         %s\n", target);
        printf("Note: a target that already retrieved the key keeps the expiry it received.\n");
    }
out:
    kr_response_clear(&resp, false);
    return ex;
}

static int cmd_delete(kr_run_t *r)
{
    static const char what[] = "key de-registration";
    char rel[SAEF_ID_REL_MAX + 1], path[128];
    kr_response_t resp;
    int ex;

    if ((ex = resolve_id(r, rel, sizeof(rel))) != 0)
        return ex;
    kr_response_clear(&resp, true);
    snprintf(path, sizeof(path), "/keyRegistrations/%s", rel);
    ex = exchange(r, what, "DELETE", path, NULL, false, 2002, &resp);
    if (ex == 0 && r->o->env)
        kr_print_env(stdout, "DELETED", rel);
    else if (ex == 0)
        printf("Key registration %s@%s deleted (targets that already hold the key keep it until "
               "its expiry)\n",
               rel, r->maf_fqdn);
    kr_response_clear(&resp, false);
    return ex;
}

int main(int argc, char **argv)
{
    kr_opts_t opts;
    kr_run_t run;
    char err[KR_ERR_MAX];
    int ex;

    memset(&opts, 0, sizeof(opts));
    memset(&run, 0, sizeof(run));
    run.o = &opts;
    if ((ex = kr_cli_setup(argc, argv, &run)) != 0)
        goto out;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "saef-keyreg: curl_global_init failed\n");
        ex = KR_EXIT_MAF;
        goto out;
    }
    if (kr_session_new(&run.conf, &run.sess, err, sizeof(err)) != SAEF_OK) {
        fprintf(stderr, "saef-keyreg: %s\n", err);
        ex = KR_EXIT_MAF;
    } else {
        switch (opts.cmd) {
        case CMD_REGISTER:
            ex = cmd_register(&run);
            break;
        case CMD_KEY:
            ex = cmd_key(&run);
            break;
        case CMD_UPDATE:
            ex = cmd_update(&run);
            break;
        default:
            ex = cmd_delete(&run);
            break;
        }
    }
    kr_session_free(run.sess);
    curl_global_cleanup();
out:
    kr_run_wipe(&run);
    if (fflush(stdout) != 0 && ex == 0)
        ex = KR_EXIT_MAF;
    return ex;
}
