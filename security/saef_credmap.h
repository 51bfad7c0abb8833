/*
 * Credential map: Credential-ID patterns -> CSE-ID / AE-ID.  When the MAF answers a Key
 * Retrieval with a KmID instead of a CSE-ID/AE-ID, the connection is bound to the
 * Credential-ID "11-<KmID>" (TS-0003 10.4) and this table says which oneM2M ID that credential
 * stands for.
 *
 * Patterns are exact Credential-IDs or contain '*' wildcards as in serviceSubscribedAppRule
 * applicableCredIDs: '*' matches any run of characters, possibly empty; every other character
 * matches itself.  Matching ignores ASCII case, because the parts of a KmID-derived
 * Credential-ID are case-insensitive (KmID relative part and FQDN, TS-0003 10.6); for the same
 * reason two patterns that differ only in case are duplicates.
 *
 * Precedence, deterministic whatever the insertion order:
 *   1. an exact pattern (no '*') equal to the Credential-ID;
 *   2. otherwise the matching wildcard pattern with the most literal (non-'*') characters;
 *   3. among those, the pattern that sorts first bytewise after ASCII lower-casing
 *      ('*' sorts before letters and digits).
 *
 * Pattern syntax: 1..255 bytes of [A-Za-z0-9._@-] and '*' (the Credential-ID alphabet plus the
 * wildcard).  Targets: a CSE-ID or AE-ID as saef_id_m2m_classify() accepts it.
 *
 * A saef_credmap_t is built by one thread (new, add, finish) and is immutable afterwards;
 * saef_credmap_live_t publishes one for concurrent lookups and swaps a whole new table
 * atomically (a loader builds the next table aside, then replaces).
 */
#ifndef SAEF_CREDMAP_H
#define SAEF_CREDMAP_H

#include <stddef.h>

#include "saef_rc.h"

#define SAEF_CREDMAP_PATTERN_MAX 255

/* The result of a lookup, copied into the caller's struct. */
typedef struct saef_credmap_hit {
    saef_peer_kind_t kind;     /* SAEF_PEER_CSE_ID or SAEF_PEER_AE_ID */
    char target[SAEF_ID_MAX];  /* the CSE-ID or AE-ID */
    char pattern[SAEF_ID_MAX]; /* the pattern that matched, as it was added */
} saef_credmap_hit_t;

typedef struct saef_credmap saef_credmap_t;
typedef struct saef_credmap_live saef_credmap_live_t;

/*
 * Check a pattern's syntax.
 * Returns SAEF_OK, SAEF_E_ID_EMPTY, SAEF_E_ID_TOO_LONG (> 255), SAEF_E_ID_CREDID_VALUE (a
 * character outside the alphabet) or SAEF_E_INVALID_ARG (NULL).  Thread-safe.
 */
saef_rc_t saef_credmap_pattern_check(const char *pattern);

/*
 * Check a target and tell its kind.
 *   kind  optional; receives SAEF_PEER_CSE_ID or SAEF_PEER_AE_ID.
 * Returns SAEF_OK or the code of saef_id_m2m_classify().  Thread-safe.
 */
saef_rc_t saef_credmap_target_check(const char *target, saef_peer_kind_t *kind);

/* Create an empty table (owned by the caller: saef_credmap_free()).
 * Returns SAEF_OK, SAEF_E_INVALID_ARG or SAEF_E_NOMEM. */
saef_rc_t saef_credmap_new(saef_credmap_t **out);

/*
 * Add a mapping (strings are copied).  Only before saef_credmap_finish().
 * Returns SAEF_OK; the codes of the two checks above; SAEF_E_INVALID_ARG for a pattern that
 * is already in the table (ignoring case); SAEF_E_STATE after finish; SAEF_E_NOMEM.
 */
saef_rc_t saef_credmap_add(saef_credmap_t *map, const char *pattern, const char *target);

/* Sort the table for lookups; after this it is immutable.  Idempotent.
 * Returns SAEF_OK or SAEF_E_INVALID_ARG. */
saef_rc_t saef_credmap_finish(saef_credmap_t *map);

/* Number of mappings. */
size_t saef_credmap_count(const saef_credmap_t *map);

/*
 * Look up a Credential-ID (len bytes, at most 255) in a finished table.
 *   hit  receives the target, its kind and the pattern (untouched unless SAEF_OK).
 * Returns SAEF_OK, SAEF_E_NOT_FOUND, SAEF_E_STATE (not finished) or SAEF_E_INVALID_ARG.
 * Thread-safe on a finished table.
 */
saef_rc_t saef_credmap_match(const saef_credmap_t *map, const char *cred_id, size_t len,
                             saef_credmap_hit_t *hit);

/* Free a table; NULL-safe. */
void saef_credmap_free(saef_credmap_t *map);

/* Create a holder with an empty table (owned by the caller: saef_credmap_live_free()).
 * Returns SAEF_OK, SAEF_E_INVALID_ARG, SAEF_E_NOMEM or SAEF_E_INTERNAL. */
saef_rc_t saef_credmap_live_new(saef_credmap_live_t **out);

/*
 * Publish map (finishing it when needed) in place of the current table, which is freed.
 * Takes ownership of map in every case (freed on error).  Lookups running concurrently see
 * either the old or the new table, never a mix.  Thread-safe.
 * Returns SAEF_OK or SAEF_E_INVALID_ARG.
 */
saef_rc_t saef_credmap_live_replace(saef_credmap_live_t *live, saef_credmap_t *map);

/* saef_credmap_match() on the current table; thread-safe. */
saef_rc_t saef_credmap_live_match(saef_credmap_live_t *live, const char *cred_id, size_t len,
                                  saef_credmap_hit_t *hit);

/* Number of mappings in the current table; thread-safe. */
size_t saef_credmap_live_count(saef_credmap_live_t *live);

/* Free the holder and its table; NULL-safe.  No lookup may be running. */
void saef_credmap_live_free(saef_credmap_live_t *live);

#endif /* SAEF_CREDMAP_H */
