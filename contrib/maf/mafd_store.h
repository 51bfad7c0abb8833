/*
 * saef-mafd state: client registrations, key registrations and the set of every ID the MAF has
 * ever issued.  The daemon talks to its state only through this interface: mafd_store.c keeps
 * it in memory, mafd_store_pg.c in PostgreSQL ([maf] store), each implementing
 * mafd_store_ops_t.
 *
 * Records are plain fixed-size structs copied in and out: no backend hands out pointers into
 * its own memory, so a row-based backend fits the same calls.  A mafd_kreg_t holds a key: every
 * copy must be wiped with mafd_kreg_wipe() before it goes out of scope.
 *
 * "Active" means now < expires (docs/maf-binding.md 5.5): lookups never return an expired
 * record, exactly as if it had never existed.  Not thread-safe: the daemon is single-threaded.
 */
#ifndef MAFD_STORE_H
#define MAFD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "saef_rc.h"

#define MAFD_ID_LEN 16      /* mafClientRegID / RelativeKeyID, binary (32 hex characters) */
#define MAFD_KEY_LEN 32     /* key value (Kc) */
#define MAFD_LABELS_MAX 16  /* labels per registration */
#define MAFD_LABEL_MAX 128  /* characters per label */
#define MAFD_M2M_ID_MAX 255 /* CSE-ID, AE-ID, KmID */
#define MAFD_FQDN_MAX 253   /* adminFQDN, lower case, no trailing dot */

typedef struct mafd_labels {
    size_t n;
    char v[MAFD_LABELS_MAX][MAFD_LABEL_MAX + 1];
} mafd_labels_t;

/* One client registration, keyed by id; (client_id, admin_fqdn) is unique among active ones. */
typedef struct mafd_creg {
    uint8_t id[MAFD_ID_LEN];
    char client_id[MAFD_M2M_ID_MAX + 1]; /* MAF Client ID of the registrant */
    char admin_fqdn[MAFD_FQDN_MAX + 1];
    time_t expires;
    mafd_labels_t labels;
} mafd_creg_t;

/* One key registration (suid 32: exactly one target). */
typedef struct mafd_kreg {
    uint8_t id[MAFD_ID_LEN];
    char source_id[MAFD_M2M_ID_MAX + 1]; /* sourceMAFClientID */
    char admin_fqdn[MAFD_FQDN_MAX + 1];
    char target_id[MAFD_M2M_ID_MAX + 1];
    unsigned suid;
    time_t expires;
    mafd_labels_t labels;
    uint8_t key[MAFD_KEY_LEN]; /* secret */
} mafd_kreg_t;

typedef struct mafd_store mafd_store_t;

/*
 * A backend.  Every function returns SAEF_OK or an error (SAEF_E_NOT_FOUND where stated,
 * SAEF_E_NOMEM, SAEF_E_DB, ...); the caller answers 5000 to anything unexpected.
 */
typedef struct mafd_store_ops {
    /* Wipe every key and release the store. */
    void (*free)(mafd_store_t *st);
    /* Mark id as issued.  *fresh = false when it was issued before (in either namespace: a MAF
     * never issues an ID twice), even if its registration is gone. */
    saef_rc_t (*reserve_id)(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], bool *fresh);
    /* Active client registration by id / by (client_id, admin_fqdn); SAEF_E_NOT_FOUND. */
    saef_rc_t (*creg_get)(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], time_t now,
                          mafd_creg_t *out);
    saef_rc_t (*creg_find)(mafd_store_t *st, const char *client_id, const char *admin_fqdn,
                           time_t now, mafd_creg_t *out);
    /* Insert, or replace the record with the same id. */
    saef_rc_t (*creg_put)(mafd_store_t *st, const mafd_creg_t *rec);
    /* Remove by id; SAEF_E_NOT_FOUND. */
    saef_rc_t (*creg_del)(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN]);
    /* Active key registration by id (out receives the key); SAEF_E_NOT_FOUND. */
    saef_rc_t (*kreg_get)(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN], time_t now,
                          mafd_kreg_t *out);
    saef_rc_t (*kreg_put)(mafd_store_t *st, const mafd_kreg_t *rec);
    /* Remove by id and wipe the key; SAEF_E_NOT_FOUND. */
    saef_rc_t (*kreg_del)(mafd_store_t *st, const uint8_t id[MAFD_ID_LEN]);
    /* Remove (and wipe) every record with expires <= now. */
    saef_rc_t (*purge)(mafd_store_t *st, time_t now, size_t *purged);
    /* Number of active registrations. */
    saef_rc_t (*count)(mafd_store_t *st, time_t now, size_t *cregs, size_t *kregs);
} mafd_store_ops_t;

/* Every backend's handle starts with this. */
struct mafd_store {
    const mafd_store_ops_t *ops; /* borrowed, static */
};

/* The in-memory backend (mafd_store.c).  NULL when out of memory. */
mafd_store_t *mafd_store_mem_new(void);

/*
 * The PostgreSQL backend (mafd_store_pg.c): connects with the libpq conninfo ("" = the PG*
 * environment) and creates schema and its tables when missing.  NULL with a message in err
 * naming the connection (never a password) when the database cannot be reached or prepared.
 * Database errors later make the operations return SAEF_E_DB after logging the SQLSTATE.
 */
mafd_store_t *mafd_store_pg_new(const char *conninfo, const char *schema, char *err, size_t errlen);

/* NULL-safe. */
static inline void mafd_store_free(mafd_store_t *st)
{
    if (st != NULL)
        st->ops->free(st);
}

/* Wipe a record copy that may hold a key. */
void mafd_kreg_wipe(mafd_kreg_t *k);

#endif
