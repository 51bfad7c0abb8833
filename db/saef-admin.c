/*
 * saef-admin: the operator's tool against the module's tables.  Every change goes through
 * the same store functions as the module (and NOTIFYs, so running modules follow at once).
 * Exit status: 0 done, 1 the operation failed, 2 usage error.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "saef_db.h"
#include "saef_vault.h"

#define EXIT_USAGE 2
#define LIST_PAGE 500

typedef struct opts {
    const char *conninfo;
    const char *schema;
    const char *node, *state, *key;
    const char *old_kek, *new_kek;
    long limit, batch;
    long audit_days, assoc_days, vault_days;
    char **args; /* positional arguments after the command */
    int nargs;
} opts_t;

static void usage(FILE *f)
{
    fputs("usage: saef-admin [--conninfo CONNINFO] [--schema NAME] COMMAND [ARGS]\n"
          "\n"
          "  migrate                        apply the module's migrations\n"
          "  status                         schema version and row counts\n"
          "  associations [--node N] [--state active|expired|revoked] [--key KEY-ID]\n"
          "               [--limit N]       list associations (default limit 100, 0: all)\n"
          "  revoke KEY-ID                  revoke a Key Identifier on every node\n"
          "  credmap list                   list the credential map\n"
          "  credmap add PATTERN TARGET     map a Credential-ID pattern to a CSE-ID/AE-ID\n"
          "  credmap set PATTERN TARGET     change the target of a pattern\n"
          "  credmap del PATTERN            delete a pattern\n"
          "  rotate-kek --old FILE --new FILE [--batch N]\n"
          "                                 re-seal the key vault under a new KEK\n"
          "  prune [--audit-days D] [--assoc-days D] [--vault-days D]\n"
          "                                 expire sweep, then delete old rows\n"
          "                                 (defaults 90, 30, 7; 0 keeps that table)\n"
          "\n"
          "The connection comes from --conninfo or the PG* environment (PGHOST, PGPORT,\n"
          "PGUSER, PGDATABASE, PGPASSFILE, ...); --schema defaults to saef.\n",
          f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "saef-admin: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    usage(stderr);
    return EXIT_USAGE;
}

static int db_error(saef_db_t *db, const char *what, saef_rc_t rc)
{
    const char *msg = saef_db_errmsg(db), *state = saef_db_sqlstate(db);

    if (*msg == '\0')
        msg = saef_strerror(rc);
    if (*state != '\0')
        fprintf(stderr, "saef-admin: %s: %s (SQLSTATE %s)\n", what, msg, state);
    else
        fprintf(stderr, "saef-admin: %s: %s\n", what, msg);
    return EXIT_FAILURE;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
        snprintf(buf, len, "-");
    else
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- commands */

static int cmd_migrate(saef_db_t *db, const opts_t *o)
{
    saef_db_migrate_result_t res;
    saef_rc_t rc = saef_db_migrate(db, &res);

    if (rc != SAEF_OK)
        return db_error(db, "migrate", rc);
    printf("schema %s: version %d -> %d (%d migration%s applied)\n", saef_db_schema(db),
           res.from_version, res.to_version, res.applied, res.applied == 1 ? "" : "s");
    return EXIT_SUCCESS;
}

static int cmd_status(saef_db_t *db, const opts_t *o)
{
    saef_db_status_t st;
    saef_rc_t rc = saef_db_status(db, &st);

    if (rc != SAEF_OK)
        return db_error(db, "status", rc);
    printf("schema:          %s\n", saef_db_schema(db));
    printf("schema version:  %d (module %d)%s\n", st.db_version, st.module_version,
           st.db_version < st.module_version   ? ": run saef-admin migrate"
           : st.db_version > st.module_version ? ": NEWER than this tool"
                                               : "");
    if (st.db_version == 0)
        return EXIT_SUCCESS;
    printf("associations:    %" PRId64 " active, %" PRId64 " expired, %" PRId64 " revoked\n",
           st.assoc_active, st.assoc_expired, st.assoc_revoked);
    printf("key vault:       %" PRId64 " rows, %" PRId64 " usable, %" PRId64 " revoked\n",
           st.vault_rows, st.vault_valid, st.vault_revoked);
    printf("credential map:  %" PRId64 " patterns\n", st.credmap_rows);
    printf("audit events:    %" PRId64 "\n", st.audit_rows);
    return EXIT_SUCCESS;
}

static const char *kind_name(saef_peer_kind_t k)
{
    switch (k) {
    case SAEF_PEER_CSE_ID:
        return "cse";
    case SAEF_PEER_AE_ID:
        return "ae";
    case SAEF_PEER_CREDENTIAL_ID:
        return "credid";
    default:
        return "?";
    }
}

static int cmd_associations(saef_db_t *db, const opts_t *o)
{
    saef_db_assoc_filter_t f = {.node_id = o->node, .key_id = o->key};
    saef_db_assoc_row_t *rows;
    char first[32], last[32], exp[32];
    long shown = 0;
    size_t n, i, page;
    saef_rc_t rc;

    if (o->state != NULL && (f.state = saef_db_assoc_state_parse(o->state)) == 0)
        return usage_error("unknown state \"%s\"", o->state);
    rows = calloc(LIST_PAGE, sizeof(*rows));
    if (rows == NULL)
        return EXIT_FAILURE;
    printf("id\tnode\tkey_id\tpeer_kind\tpeer_id\tcredential_id\ttransport\tremote\tfirst\tlast"
           "\tcount\tkc_expiry\tstate\n");
    do {
        page = LIST_PAGE;
        if (o->limit > 0 && (size_t)(o->limit - shown) < page)
            page = (size_t)(o->limit - shown);
        rc = saef_db_assoc_list(db, &f, rows, page, &n);
        if (rc != SAEF_OK) {
            free(rows);
            return db_error(db, "associations", rc);
        }
        for (i = 0; i < n; i++) {
            const saef_db_assoc_row_t *r = &rows[i];

            fmt_time(r->first_us / 1000000, first, sizeof(first));
            fmt_time(r->last_us / 1000000, last, sizeof(last));
            fmt_time(r->kc_expiry, exp, sizeof(exp));
            printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%" PRId64 "\t%s\t%s\n", r->id,
                   r->node_id, r->key_id, kind_name(r->peer_kind), r->peer_id,
                   *r->credential_id ? r->credential_id : "-",
                   r->transport == SAEF_DB_DTLS ? "dtls" : "tls",
                   *r->remote_addr ? r->remote_addr : "-", first, last, r->count, exp,
                   saef_db_assoc_state_name(r->state));
            f.after_id = r->id;
        }
        shown += (long)n;
    } while (n == page && (o->limit == 0 || shown < o->limit));
    free(rows);
    return EXIT_SUCCESS;
}

static int cmd_revoke(saef_db_t *db, const opts_t *o)
{
    int64_t vault = 0, assoc = 0;
    saef_rc_t rc;

    if (o->nargs != 1)
        return usage_error("revoke takes one Key Identifier");
    rc = saef_db_revoke(db, o->args[0], &vault, &assoc);
    if (rc == SAEF_E_INVALID_ARG)
        return usage_error("not a Key Identifier: \"%s\"", o->args[0]);
    if (rc != SAEF_OK)
        return db_error(db, "revoke", rc);
    printf("revoked %s: %" PRId64 " vault row%s, %" PRId64 " association%s; nodes notified\n",
           o->args[0], vault, vault == 1 ? "" : "s", assoc, assoc == 1 ? "" : "s");
    return EXIT_SUCCESS;
}

static int print_mapping(void *ctx, const saef_db_credmap_row_t *row)
{
    char upd[32];

    fmt_time(row->updated_at, upd, sizeof(upd));
    printf("%s\t%s\t%s\t%s\n", row->pattern, row->target, kind_name(row->kind), upd);
    ++*(long *)ctx;
    return 0;
}

static int cmd_credmap(saef_db_t *db, const opts_t *o)
{
    const char *sub = o->nargs > 0 ? o->args[0] : "";
    long count = 0;
    saef_rc_t rc;

    if (strcmp(sub, "list") == 0 && o->nargs == 1) {
        printf("pattern\ttarget\tkind\tupdated\n");
        rc = saef_db_credmap_list(db, print_mapping, &count);
        return rc == SAEF_OK ? EXIT_SUCCESS : db_error(db, "credmap list", rc);
    }
    if ((strcmp(sub, "add") == 0 || strcmp(sub, "set") == 0) && o->nargs == 3) {
        bool add = strcmp(sub, "add") == 0;

        rc = add ? saef_db_credmap_add(db, o->args[1], o->args[2])
                 : saef_db_credmap_update(db, o->args[1], o->args[2]);
        if (rc == SAEF_OK) {
            printf("%s %s -> %s\n", add ? "added" : "updated", o->args[1], o->args[2]);
            return EXIT_SUCCESS;
        }
        if (rc == SAEF_E_NOT_FOUND) {
            fprintf(stderr, "saef-admin: no pattern %s\n", o->args[1]);
            return EXIT_FAILURE;
        }
        if (rc == SAEF_E_DB && saef_db_errclass(db) == SAEF_DB_ERR_EXISTS) {
            fprintf(stderr, "saef-admin: pattern %s exists already (use credmap set)\n",
                    o->args[1]);
            return EXIT_FAILURE;
        }
        if (rc != SAEF_E_DB) {
            fprintf(stderr, "saef-admin: %s: %s\n",
                    saef_credmap_pattern_check(o->args[1]) != SAEF_OK
                        ? "bad pattern (1..255 of [A-Za-z0-9._@-] and '*')"
                        : "target is not a CSE-ID or AE-ID",
                    saef_strerror(rc));
            return EXIT_USAGE;
        }
        return db_error(db, "credmap", rc);
    }
    if (strcmp(sub, "del") == 0 && o->nargs == 2) {
        rc = saef_db_credmap_delete(db, o->args[1]);
        if (rc == SAEF_OK) {
            printf("deleted %s\n", o->args[1]);
            return EXIT_SUCCESS;
        }
        if (rc == SAEF_E_NOT_FOUND || rc == SAEF_E_INVALID_ARG) {
            fprintf(stderr, "saef-admin: no pattern %s\n", o->args[1]);
            return EXIT_FAILURE;
        }
        return db_error(db, "credmap del", rc);
    }
    return usage_error("credmap list | add PATTERN TARGET | set PATTERN TARGET | del PATTERN");
}

static void progress(void *ctx, int64_t done, int64_t total)
{
    printf("rotate-kek: %" PRId64 "/%" PRId64 " rows under the new KEK\n", done, total);
    fflush(stdout);
}

static int cmd_rotate(saef_db_t *db, const opts_t *o)
{
    saef_vault_kek_t *old_kek = NULL, *new_kek = NULL;
    saef_db_rotate_result_t res;
    char detail[512];
    saef_rc_t rc;
    int ret = EXIT_FAILURE;

    if (o->old_kek == NULL || o->new_kek == NULL || o->nargs != 0)
        return usage_error("rotate-kek needs --old FILE and --new FILE");
    if (saef_vault_kek_load(o->old_kek, &old_kek, detail, sizeof(detail)) != SAEF_OK ||
        saef_vault_kek_load(o->new_kek, &new_kek, detail, sizeof(detail)) != SAEF_OK) {
        fprintf(stderr, "saef-admin: %s\n", detail);
        goto out;
    }
    if (strcmp(saef_vault_kek_id(old_kek), saef_vault_kek_id(new_kek)) == 0) {
        fprintf(stderr, "saef-admin: --old and --new hold the same KEK\n");
        goto out;
    }
    printf("rotate-kek: old kek_id %s, new kek_id %s, batches of %ld\n", saef_vault_kek_id(old_kek),
           saef_vault_kek_id(new_kek), o->batch);
    rc = saef_db_vault_rotate(db, old_kek, new_kek, (size_t)o->batch, progress, NULL, &res);
    if (rc == SAEF_E_NOT_FOUND) {
        fprintf(stderr,
                "saef-admin: rotate-kek: %s; nothing was written (check --old, or delete "
                "the row)\n",
                saef_db_errmsg(db));
        goto out;
    }
    if (rc != SAEF_OK) {
        db_error(db, "rotate-kek", rc);
        fprintf(stderr,
                "saef-admin: %" PRId64 " rows were re-sealed before the failure; each row is "
                "wholly under one KEK; run the command again to finish\n",
                res.resealed);
        goto out;
    }
    printf("rotate-kek: %" PRId64 " rows: %" PRId64 " re-sealed, %" PRId64
           " already under the new KEK, %" PRId64 " remaining\n",
           res.total, res.resealed, res.already, res.remaining);
    if (res.remaining > 0)
        printf("rotate-kek: rows were added meanwhile under the old KEK; give every node the "
               "new KEK, then run again\n");
    ret = res.remaining > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
out:
    saef_vault_kek_free(old_kek);
    saef_vault_kek_free(new_kek);
    return ret;
}

static int cmd_prune(saef_db_t *db, const opts_t *o)
{
    int64_t now = (int64_t)time(NULL);
    saef_db_prune_result_t res;
    saef_rc_t rc;

    rc = saef_db_prune(db, o->audit_days > 0 ? now - o->audit_days * 86400 : 0,
                       o->assoc_days > 0 ? now - o->assoc_days * 86400 : 0,
                       o->vault_days > 0 ? now - o->vault_days * 86400 : 0, &res);
    printf("prune: %" PRId64 " associations expired; deleted %" PRId64 " audit events, %" PRId64
           " associations, %" PRId64 " vault rows\n",
           res.expired, res.audit, res.assoc, res.vault);
    return rc == SAEF_OK ? EXIT_SUCCESS : db_error(db, "prune", rc);
}

/* ---------------------------------------------------------------- arguments */

static bool number(const char *s, long *out)
{
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return false;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 1000000000L)
        return false;
    *out = v;
    return true;
}

/* "--name VALUE" or "--name=VALUE"; *i advances past what was used. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int parse(int argc, char **argv, opts_t *o, const char **cmd)
{
    static const struct {
        const char *name;
        size_t off;
        bool num;
    } table[] = {
        {"--conninfo", offsetof(opts_t, conninfo), false},
        {"--schema", offsetof(opts_t, schema), false},
        {"--node", offsetof(opts_t, node), false},
        {"--state", offsetof(opts_t, state), false},
        {"--key", offsetof(opts_t, key), false},
        {"--old", offsetof(opts_t, old_kek), false},
        {"--new", offsetof(opts_t, new_kek), false},
        {"--limit", offsetof(opts_t, limit), true},
        {"--batch", offsetof(opts_t, batch), true},
        {"--audit-days", offsetof(opts_t, audit_days), true},
        {"--assoc-days", offsetof(opts_t, assoc_days), true},
        {"--vault-days", offsetof(opts_t, vault_days), true},
    };
    int i;
    size_t t;

    o->args = calloc((size_t)argc, sizeof(char *));
    if (o->args == NULL)
        return EXIT_FAILURE;
    for (i = 1; i < argc; i++) {
        const char *v = NULL;

        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(EXIT_SUCCESS);
        }
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            if (*cmd == NULL)
                *cmd = argv[i];
            else
                o->args[o->nargs++] = argv[i];
            continue;
        }
        for (t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
            size_t n = strlen(table[t].name);

            if (strncmp(argv[i], table[t].name, n) == 0 &&
                (argv[i][n] == '\0' || argv[i][n] == '='))
                break;
        }
        if (t == sizeof(table) / sizeof(table[0]))
            return usage_error("unknown option %s", argv[i]);
        v = option_value(argc, argv, &i, table[t].name);
        if (v == NULL)
            return usage_error("%s needs a value", table[t].name);
        if (table[t].num) {
            if (!number(v, (long *)((char *)o + table[t].off)))
                return usage_error("not a non-negative number: %s", v);
        } else {
            *(const char **)((char *)o + table[t].off) = v;
        }
    }
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(saef_db_t *, const opts_t *);
        bool needs_schema; /* refuse on a database at another version */
    } cmds[] = {
        {"migrate", cmd_migrate, false},
        {"status", cmd_status, false},
        {"associations", cmd_associations, true},
        {"revoke", cmd_revoke, true},
        {"credmap", cmd_credmap, true},
        {"rotate-kek", cmd_rotate, true},
        {"prune", cmd_prune, true},
    };
    opts_t o = {.schema = "saef",
                .limit = 100,
                .batch = 500,
                .audit_days = 90,
                .assoc_days = 30,
                .vault_days = 7};
    const char *cmd = NULL;
    saef_db_t *db = NULL;
    size_t c;
    int ret, version;
    saef_rc_t rc;

    ret = parse(argc, argv, &o, &cmd);
    if (ret != EXIT_SUCCESS)
        goto out;
    if (cmd == NULL) {
        ret = usage_error("no command");
        goto out;
    }
    for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmds[c].name, cmd) != 0; c++)
        ;
    if (c == sizeof(cmds) / sizeof(cmds[0])) {
        ret = usage_error("unknown command \"%s\"", cmd);
        goto out;
    }
    if (o.batch == 0 ||
        (strcmp(cmd, "rotate-kek") != 0 && (o.old_kek != NULL || o.new_kek != NULL))) {
        ret = usage_error("--batch must be positive; --old/--new belong to rotate-kek");
        goto out;
    }
    if (saef_db_schema_check(o.schema) != SAEF_OK) {
        ret = usage_error("bad schema name \"%s\" ([a-z_][a-z0-9_]{0,62}, not pg_*)", o.schema);
        goto out;
    }
    rc = saef_db_open(o.conninfo, o.schema, &db);
    if (rc != SAEF_OK) {
        ret = db_error(db, "connect", rc);
        goto out;
    }
    if (cmds[c].needs_schema) {
        rc = saef_db_schema_version(db, &version);
        if (rc != SAEF_OK) {
            ret = db_error(db, "schema version", rc);
            goto out;
        }
        if (version != saef_db_module_version()) {
            fprintf(stderr,
                    "saef-admin: schema %s is at version %d, this tool knows version %d%s\n",
                    o.schema, version, saef_db_module_version(),
                    version < saef_db_module_version() ? ": run saef-admin migrate" : "");
            ret = EXIT_FAILURE;
            goto out;
        }
    }
    ret = cmds[c].fn(db, &o);
out:
    saef_db_close(db);
    free(o.args);
    return ret;
}
