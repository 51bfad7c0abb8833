/*
 * One module instance: everything the module keeps hangs off it (no globals), so that two
 * instances in one process are independent.
 */
#ifndef SAEF_INSTANCE_INTERNAL_H
#define SAEF_INSTANCE_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "saef/module.h"
#include "saef_cache.h"
#include "saef_config.h"
#include "saef_credmap.h"
#include "saef_entityb.h"
#include "saef_maf.h"
#include "saef_runtime_db.h"
#include "saef_tls.h"

#define SAEF_REPORT_RING 512 /* queued handshake decisions awaiting their log line */
#define SAEF_RUNTIME_KM_MAX 64

/* One handshake decision, copied off the handshake thread for logging. */
typedef struct saef_report_rec {
    saef_rc_t rc, cause;
    char key_id[SAEF_ID_MAX];
    char peer[64];
    char transport[8];
    char detail[SAEF_EB_DETAIL_MAX];
    saef_peer_kind_t kind;
    char peer_id[SAEF_ID_MAX];
    long long expiry;
    int64_t at_us; /* when it was decided, microseconds since the Epoch */
} saef_report_rec_t;

/* What start() builds; all zero while stopped. */
typedef struct saef_runtime {
    uint8_t km[SAEF_CFG_MAX_MAFS][SAEF_RUNTIME_KM_MAX]; /* secret: Km per PSK-mode MAF */
    size_t km_len[SAEF_CFG_MAX_MAFS];
    saef_maf_client_t *maf;       /* owned */
    saef_cache_t *cache;          /* owned */
    saef_credmap_live_t *credmap; /* owned */
    saef_eb_t *eb;                /* owned */
    saef_tls_t *tls;              /* owned */
    saef_rtdb_t *db;              /* owned; NULL without db_conninfo */
    pthread_mutex_t mu;           /* ring and stopping */
    pthread_cond_t cv;
    bool sync_ready;              /* mu and cv initialised */
    pthread_t thread;             /* housekeeper */
    bool thread_running;
    bool stopping;
    saef_report_rec_t ring[SAEF_REPORT_RING];
    size_t ring_head, ring_count;
    uint64_t reports_dropped;
    atomic_uint_fast64_t handshakes_ok, handshakes_failed, retrievals;
} saef_runtime_t;

typedef enum saef_instance_state {
    SAEF_INSTANCE_CREATED = 0,
    SAEF_INSTANCE_STARTED = 1,
} saef_instance_state_t;

/* What we use of the host's API, copied at create() only as far as its struct_size reaches. */
typedef struct saef_host_view {
    void *ctx;                                               /* borrowed */
    void (*log)(void *host_ctx, saef_log_level_t level, const char *line);
    void (*close_connection)(void *host_ctx, void *conn, int is_coap); /* or NULL */
} saef_host_view_t;

struct saef_instance {
    saef_host_view_t host;
    saef_cfg_t *cfg; /* owned */
    saef_instance_state_t state;
    saef_runtime_t rt; /* valid while started */
};

/* The ABI slots, implemented in instance.c; see saef/module.h for their contracts. */
saef_rc_t saef_instance_create(const saef_host_api_t *host, const saef_config_pair_t *pairs,
                               size_t npairs, saef_instance_t **out, char *err, size_t errlen);
saef_rc_t saef_instance_start(saef_instance_t *inst);
void saef_instance_stop(saef_instance_t *inst);
void saef_instance_destroy(saef_instance_t *inst);

/* Build / tear down the handshake machinery (runtime.c).  start logs its failures. */
saef_rc_t saef_runtime_start(saef_instance_t *inst);
void saef_runtime_stop(saef_instance_t *inst);

/* Microseconds since the Epoch (CLOCK_REALTIME). */
int64_t saef_now_us(void);

/* Static name of a peer kind: "CSE-ID", "AE-ID", "Credential-ID", "none". */
const char *saef_peer_kind_name(saef_peer_kind_t k);

/* Log one line through the host (printf-style).  Never pass key material. */
void saef_log(const saef_instance_t *inst, saef_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
