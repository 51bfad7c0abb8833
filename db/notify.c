/* The LISTEN side: one thread polling its connection's socket and a wake-up pipe. */
#include "saef_db_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "saef_db_internal.h"

struct saef_db_listener {
    pthread_t thread;
    pthread_mutex_t mu; /* guards st and stopping */
    bool stopping;
    int wake[2]; /* pipe: stop writes a byte, the thread polls the read end */
    saef_db_event_cb_t cb;
    void *ctx;
    char *conninfo;
    db_backoff_t backoff;
    saef_db_listener_stats_t st;
};

static bool stopping(saef_db_listener_t *l)
{
    bool s;

    pthread_mutex_lock(&l->mu);
    s = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return s;
}

static void failed(saef_db_listener_t *l, saef_db_t *db, const char *what)
{
    pthread_mutex_lock(&l->mu);
    snprintf(l->st.last_error, sizeof(l->st.last_error), "%s: %s", what,
             db != NULL ? saef_db_errmsg(db) : "out of memory");
    l->st.failures++;
    l->st.connected = false;
    pthread_mutex_unlock(&l->mu);
}

/* Wait for ms or until stop; returns true when stopping. */
static bool sleep_or_stop(saef_db_listener_t *l, uint32_t ms)
{
    struct pollfd p = {.fd = l->wake[0], .events = POLLIN};

    if (poll(&p, 1, (int)ms) > 0)
        return true;
    return stopping(l);
}

static bool connect_and_listen(saef_db_listener_t *l, saef_db_t **db)
{
    saef_rc_t rc;

    rc = *db == NULL ? saef_db_open(l->conninfo, NULL, db) : saef_db_reconnect(*db);
    if (rc == SAEF_OK)
        rc = db_exec_plain(*db, "LISTEN " SAEF_DB_CHANNEL_REVOCATIONS);
    if (rc == SAEF_OK)
        rc = db_exec_plain(*db, "LISTEN " SAEF_DB_CHANNEL_CREDMAP);
    if (rc != SAEF_OK) {
        failed(l, *db, "listen");
        return false;
    }
    pthread_mutex_lock(&l->mu);
    l->st.connected = true;
    l->st.connects++;
    pthread_mutex_unlock(&l->mu);
    db_backoff_reset(&l->backoff);
    /* Whatever was notified while we were away is gone: tell the receiver to reload. */
    l->cb(l->ctx, SAEF_DB_EVENT_RESYNC, "");
    return true;
}

static void deliver(saef_db_listener_t *l, PGconn *conn)
{
    PGnotify *n;

    while ((n = PQnotifies(conn)) != NULL) {
        saef_db_event_kind_t kind = 0;

        if (strcmp(n->relname, SAEF_DB_CHANNEL_REVOCATIONS) == 0)
            kind = SAEF_DB_EVENT_REVOKED;
        else if (strcmp(n->relname, SAEF_DB_CHANNEL_CREDMAP) == 0)
            kind = SAEF_DB_EVENT_CREDMAP;
        if (kind != 0) {
            l->cb(l->ctx, kind, n->extra);
            pthread_mutex_lock(&l->mu);
            l->st.events++;
            pthread_mutex_unlock(&l->mu);
        }
        PQfreemem(n);
    }
}

static void *listener_main(void *arg)
{
    saef_db_listener_t *l = arg;
    saef_db_t *db = NULL;
    bool up = false;

    while (!stopping(l)) {
        struct pollfd p[2];

        if (!up) {
            up = connect_and_listen(l, &db);
            if (!up && sleep_or_stop(l, db_backoff_next(&l->backoff)))
                break;
            /* Notifications that came in with the LISTEN replies are already read into
             * libpq's queue: the socket will not wake poll() for them. */
            if (up)
                deliver(l, db->conn);
            continue;
        }
        p[0].fd = PQsocket(db->conn);
        p[0].events = POLLIN;
        p[1].fd = l->wake[0];
        p[1].events = POLLIN;
        p[0].revents = p[1].revents = 0;
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents != 0)
            break;
        /* EOF on the socket (server gone) shows up here as a failed consume. */
        if (PQconsumeInput(db->conn) == 0 || PQstatus(db->conn) != CONNECTION_OK) {
            db_fail(db, NULL, "listen");
            failed(l, db, "connection lost");
            db_disconnect(db);
            up = false;
            continue;
        }
        deliver(l, db->conn);
    }
    saef_db_close(db);
    pthread_mutex_lock(&l->mu);
    l->st.connected = false;
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

saef_rc_t saef_db_listener_start(const saef_db_listener_cfg_t *cfg, saef_db_listener_t **out)
{
    saef_db_listener_t *l;

    if (cfg == NULL || cfg->cb == NULL || out == NULL)
        return SAEF_E_INVALID_ARG;
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return SAEF_E_NOMEM;
    l->cb = cfg->cb;
    l->ctx = cfg->ctx;
    l->conninfo = strdup(cfg->conninfo != NULL ? cfg->conninfo : "");
    db_backoff_init(&l->backoff, cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : 100,
                    cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 5000, db_backoff_seed(l));
    if (l->conninfo == NULL) {
        free(l);
        return SAEF_E_NOMEM;
    }
    if (pipe(l->wake) != 0) {
        free(l->conninfo);
        free(l);
        return SAEF_E_INTERNAL;
    }
    /* Not inherited by children the host may spawn. */
    fcntl(l->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(l->wake[1], F_SETFD, FD_CLOEXEC);
    if (pthread_mutex_init(&l->mu, NULL) != 0 ||
        pthread_create(&l->thread, NULL, listener_main, l) != 0) {
        close(l->wake[0]);
        close(l->wake[1]);
        free(l->conninfo);
        free(l);
        return SAEF_E_INTERNAL;
    }
    *out = l;
    return SAEF_OK;
}

void saef_db_listener_stats(saef_db_listener_t *l, saef_db_listener_stats_t *out)
{
    if (l == NULL || out == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    *out = l->st;
    pthread_mutex_unlock(&l->mu);
}

void saef_db_listener_stop(saef_db_listener_t *l)
{
    ssize_t n;

    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_mutex_unlock(&l->mu);
    do
        n = write(l->wake[1], "x", 1);
    while (n < 0 && errno == EINTR);
    pthread_join(l->thread, NULL);
    close(l->wake[0]);
    close(l->wake[1]);
    pthread_mutex_destroy(&l->mu);
    free(l->conninfo);
    free(l);
}
