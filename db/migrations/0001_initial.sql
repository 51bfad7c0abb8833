-- 0001_initial: the module's tables.
--
-- Runs inside the migrator's transaction with search_path set to the module's schema alone
-- (pg_catalog is searched first implicitly), so names are not schema-qualified and the same
-- text works for any schema name.  No BEGIN/COMMIT here.  Never edit an applied migration:
-- its checksum is recorded and a changed text stops the module; add NNNN_next.sql instead.

-- Which migrations are applied; the migrator reads and writes it.
CREATE TABLE schema_version (
    version     integer PRIMARY KEY CHECK (version > 0),
    name        text NOT NULL CHECK (name ~ '^[a-z0-9_]{1,64}$'),
    applied_at  timestamptz NOT NULL DEFAULT now(),
    checksum    text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$')
);

-- One row per (host node, Key Identifier, peer): the security associations a node
-- established.  Several nodes share the table, so node_id is part of the key; a peer that
-- comes back with the same Kc updates its row (last handshake, count) instead of adding one.
CREATE TABLE associations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node_id          text NOT NULL CHECK (length(node_id) BETWEEN 1 AND 64),
    key_id           text NOT NULL CHECK (length(key_id) BETWEEN 3 AND 255),
    peer_kind        smallint NOT NULL CHECK (peer_kind IN (1, 2, 3)), -- CSE-ID, AE-ID, Cred-ID
    peer_id          text NOT NULL CHECK (length(peer_id) BETWEEN 1 AND 255),
    credential_id    text CHECK (length(credential_id) BETWEEN 1 AND 255),
    maf_fqdn         text NOT NULL CHECK (length(maf_fqdn) BETWEEN 1 AND 253),
    transport        text NOT NULL CHECK (transport IN ('tls', 'dtls')),
    remote_addr      text CHECK (length(remote_addr) BETWEEN 1 AND 63),
    first_handshake  timestamptz NOT NULL,
    last_handshake   timestamptz NOT NULL,
    handshake_count  bigint NOT NULL DEFAULT 1 CHECK (handshake_count > 0),
    kc_expiry        timestamptz NOT NULL,
    state            text NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'expired', 'revoked')),
    revoked_at       timestamptz,
    CONSTRAINT associations_peer_uq UNIQUE (node_id, key_id, peer_kind, peer_id),
    CONSTRAINT associations_handshake_order CHECK (first_handshake <= last_handshake),
    CONSTRAINT associations_revoked_at CHECK ((state = 'revoked') = (revoked_at IS NOT NULL))
);
-- associations_peer_uq also serves the writer's ON CONFLICT and "associations --node N".
-- Revocation by Key Identifier (all nodes, all peers):
CREATE INDEX associations_key_id_idx ON associations (key_id);
-- The expire sweep looks at active rows only:
CREATE INDEX associations_active_expiry_idx ON associations (kc_expiry) WHERE state = 'active';
-- Listing by state and retention of old non-active rows:
CREATE INDEX associations_state_last_idx ON associations (state, last_handshake);

-- Kc sealed with AES-256-GCM under the KEK (AAD = key_id), with the MAF's metadata in clear
-- so that the vault can be inspected and pruned without the KEK.  sealed = ciphertext || tag.
CREATE TABLE key_vault (
    key_id      text PRIMARY KEY CHECK (length(key_id) BETWEEN 3 AND 255),
    sealed      bytea NOT NULL CHECK (length(sealed) BETWEEN 17 AND 80),
    nonce       bytea NOT NULL CHECK (length(nonce) = 12),
    kek_id      text NOT NULL CHECK (kek_id ~ '^[0-9a-f]{16}$'),
    maf_fqdn    text NOT NULL CHECK (length(maf_fqdn) BETWEEN 1 AND 253),
    expires_at  timestamptz NOT NULL,
    suid        smallint NOT NULL,
    source_id   text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 255),
    admin_fqdn  text CHECK (length(admin_fqdn) BETWEEN 1 AND 253),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 64),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    revoked     boolean NOT NULL DEFAULT false,
    revoked_at  timestamptz,
    CONSTRAINT key_vault_revoked_at CHECK (revoked = (revoked_at IS NOT NULL))
);
-- Cache warm-up lists usable keys, latest expiry first:
CREATE INDEX key_vault_valid_idx ON key_vault (expires_at DESC) WHERE NOT revoked;
-- Status shows how many rows each KEK sealed (rotation progress):
CREATE INDEX key_vault_kek_id_idx ON key_vault (kek_id);

-- Credential-ID pattern -> CSE-ID / AE-ID.  Patterns match ignoring ASCII case, so they are
-- unique ignoring case; every lookup by pattern uses lower(pattern).
CREATE TABLE credential_map (
    pattern     text NOT NULL CHECK (pattern ~ '^[A-Za-z0-9._@*-]{1,255}$'),
    target_id   text NOT NULL CHECK (length(target_id) BETWEEN 1 AND 255),
    target_kind smallint NOT NULL CHECK (target_kind IN (1, 2)), -- CSE-ID, AE-ID
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX credential_map_pattern_uq ON credential_map (lower(pattern));

-- Handshake outcomes; never key material.  key_id is what the peer sent (possibly invalid).
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    node_id     text NOT NULL CHECK (length(node_id) BETWEEN 1 AND 64),
    key_id      text CHECK (length(key_id) <= 1024),
    peer_addr   text CHECK (length(peer_addr) <= 256),
    outcome     text NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    reason_code integer NOT NULL,
    reason_text text CHECK (length(reason_text) <= 4096)
);
-- Retention deletes by time, and reading recent events scans by time:
CREATE INDEX audit_events_at_idx ON audit_events (at);
-- The history of one Key Identifier:
CREATE INDEX audit_events_key_id_idx ON audit_events (key_id, at);
