/*
 * Change notifications between nodes (LISTEN/NOTIFY).  A node that revokes a key or changes
 * the credential map NOTIFYs in the same transaction as the change (saef_db_revoke(),
 * saef_db_credmap_*(), or saef_db_notify() inside saef_db_begin/commit), so listeners hear of
 * it exactly when it is committed.  The listener runs one thread with its own connection,
 * LISTENs on saef_revocations and saef_credmap, and calls back as soon as a notification
 * arrives (it waits on the socket, so delivery takes well under a second).
 *
 * Notifications sent while a listener is disconnected are lost: PostgreSQL keeps none for
 * absent listeners.  So after every successful (re)connection, the first one included, the
 * listener calls back with SAEF_DB_EVENT_RESYNC: the receiver reloads the credential map and
 * re-checks the revocations it cares about.  Reconnects use the writer's back-off (100 ms
 * doubling to 5 s, jittered).
 *
 * Channel names are fixed, so deployments in several schemas of one database hear each
 * other's notifications; the only effect is an extra reload or an eviction of a key that is
 * fetched again.
 */
#ifndef SAEF_DB_NOTIFY_H
#define SAEF_DB_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "saef_db.h"

typedef enum saef_db_event_kind {
    SAEF_DB_EVENT_REVOKED = 1, /* payload: the revoked Key Identifier */
    SAEF_DB_EVENT_CREDMAP = 2, /* payload: the pattern that changed */
    SAEF_DB_EVENT_RESYNC = 3,  /* payload "": (re)connected, earlier notifications may be lost */
} saef_db_event_kind_t;

/* Called on the listener's thread; payload is borrowed for the call.  It must return quickly
 * and must not call saef_db_listener_stop(). */
typedef void (*saef_db_event_cb_t)(void *ctx, saef_db_event_kind_t kind, const char *payload);

typedef struct saef_db_listener saef_db_listener_t;

typedef struct saef_db_listener_cfg {
    const char *conninfo;    /* borrowed for the call; NULL/"": PG* environment */
    saef_db_event_cb_t cb;   /* required */
    void *ctx;               /* passed to cb; borrowed for the listener's life */
    uint32_t backoff_min_ms; /* 0: 100 */
    uint32_t backoff_max_ms; /* 0: 5000 */
} saef_db_listener_cfg_t;

typedef struct saef_db_listener_stats {
    bool connected;                      /* LISTENing now */
    uint64_t connects;                   /* successful (re)connections */
    uint64_t failures;                   /* failed connects and lost connections */
    uint64_t events;                     /* notifications delivered (RESYNC not counted) */
    char last_error[SAEF_DB_ERRMSG_MAX]; /* "" until the first failure */
} saef_db_listener_stats_t;

/*
 * Start the listener thread; it connects on its own (an unreachable database is retried, not
 * an error).
 *   out  receives the listener (owned by the caller: saef_db_listener_stop()).
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or SAEF_E_INTERNAL.
 */
saef_rc_t saef_db_listener_start(const saef_db_listener_cfg_t *cfg, saef_db_listener_t **out);

/* Copy the counters; thread-safe. */
void saef_db_listener_stats(saef_db_listener_t *l, saef_db_listener_stats_t *out);

/* Stop the thread (it wakes at once), close the connection and free; NULL-safe. */
void saef_db_listener_stop(saef_db_listener_t *l);

#endif /* SAEF_DB_NOTIFY_H */
