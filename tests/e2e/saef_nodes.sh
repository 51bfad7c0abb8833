#!/bin/sh
# Several nodes, one database (issue "PostgreSQL"): two saef-csed processes with different
# node IDs share one throwaway PostgreSQL cluster.  A key retrieved by node 1 is used by node 2
# through the key vault without a MAF request; a restarted node warms its cache from the
# vault; a revocation (saef-admin, a direct table change) reaches both nodes through
# LISTEN/NOTIFY; the credential map resolves a KmID source; the association rows of both
# nodes coexist.  Then the outage: PostgreSQL killed in the middle of a stream of handshakes,
# restarted, and every accepted association found in the table; with the writer queue full,
# new handshakes are refused and counted, never silently dropped.
# shellcheck shell=sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"
. "$top_srcdir/tests/integration/pg_harness.sh"

e2e_require openssl curl psql
ADMIN=$top_builddir/db/saef-admin
[ -x "$ADMIN" ] || { echo "$E2E_NAME: $ADMIN is not built"; exit 99; }
e2e_init
pg_cleanup() { pg_harness_destroy; e2e_cleanup; }
trap pg_cleanup EXIT
pg_harness_start >"$E2E_DIR/pg.out" 2>&1 || { cat "$E2E_DIR/pg.out"; exit 99; }
pg_harness_createdb cse >/dev/null || exit 99
CONNINFO="host=$PGHOST port=$PGPORT user=$PGUSER dbname=cse"

# sql QUERY: one value per line, fields separated by '|'.
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$CONNINFO" -c "$1" 2>&1; }
admin() { "$ADMIN" --conninfo "$CONNINFO" "$@"; }

# The key-encryption key both nodes share (a test fixture made now, never committed).
KEK=$E2E_DIR/kek
(umask 077 && openssl rand -hex 32 >"$KEK")

# Entity A with a KmID (PSK mode at the MAF): the MAF then names it by KmID, and Entity B
# binds the Credential-ID 11-<KmID>, resolved through the credential map.
KMID=deva@$MAF_FQDN
(umask 077 && openssl rand -hex 32 >"$E2E_DIR/km-deva")
MAFD_EXTRA_INI="
[client.deva]
kmid = $KMID
km_file = $E2E_DIR/km-deva"
mafd_start m1 "$MAF_FQDN"

# ---------------------------------------------------------------- nodes

# node_config N [module option lines...]: configuration of node N (node_id nN).
# NODE_VAULT=false: without the key vault (and without kek_file).
node_config() {
    nc_n=$1
    shift
    CSED_NAME=csed-$nc_n
    if [ "${NODE_VAULT:-true}" = true ]; then
        csed_config "node_id = n$nc_n" "db_conninfo = ${NODE_CONNINFO:-$CONNINFO}" \
            "key_vault = true" "kek_file = ${NODE_KEK:-$KEK}" "negative_ttl = 1" "$@"
    else
        csed_config "node_id = n$nc_n" "db_conninfo = ${NODE_CONNINFO:-$CONNINFO}" \
            "negative_ttl = 1" "$@"
    fi
    csed_add_maf m1 m1
    eval "node_ini_$nc_n=\$CSED_INI"
}

# node N: make node N the one lib.sh's csed_* and tls functions talk to.
node() {
    eval "CSED_NAME=csed-$1 CSED_INI=\$node_ini_$1 CSED_PID=\${node_pid_$1:-}"
    eval "CSED_HTTP=\${node_http_$1:-} CSED_LOG=\$E2E_DIR/csed-$1.log"
}

node_start() {
    node "$1"
    csed_start
    eval "node_pid_$1=\$CSED_PID node_http_$1=\$CSED_HTTP"
}

node_stop() {
    node "$1"
    csed_stop
    eval "node_pid_$1="
}

# handshake N OUT KEY_ID KC_HEX [FROM]: a CSEBase RETRIEVE over TLS-PSK at node N.
handshake() {
    node "$1"
    tls "$2" "${5:-$IDA}" "$3" "$4" -tls1_2
}

# ok_rsc OUT: the RETRIEVE was answered 2000.
ok_rsc() { grep -aqi 'X-M2M-RSC: 2000' "$1"; }

# node_refuses N DESCRIPTION EXPECTED [module option lines]: node N does not start; its log
# names the reason (EXPECTED) and never repeats the connection string.
node_refuses() {
    nr_n=$1 nr_what=$2 nr_exp=$3
    shift 3
    node_config "$nr_n" "$@"
    timeout 60 "$CSED" -c "$CSED_INI" >"$E2E_DIR/csed-$nr_n.out" 2>"$E2E_DIR/csed-$nr_n.log"
    nr_rc=$?
    if [ $nr_rc -eq 0 ] || [ $nr_rc -eq 124 ]; then
        e2e_not_ok "$nr_what: saef-csed must not start (status $nr_rc)" "$E2E_DIR/csed-$nr_n.log"
    elif has "$E2E_DIR/csed-$nr_n.log" "$nr_what: start refused, and the log says why" "$nr_exp"; then
        lacks "$E2E_DIR/csed-$nr_n.log" "$nr_what: the log does not repeat db_conninfo" "dbname=cse"
    fi
}

# ---------------------------------------------------------------- start-up refusals

cp "$KEK" "$E2E_DIR/kek-open"
chmod 0644 "$E2E_DIR/kek-open"
NODE_KEK=$E2E_DIR/kek-open node_refuses 9 "a KEK file others can read" "start: kek_file: "
printf 'abcd\n' >"$E2E_DIR/kek-short"
chmod 0600 "$E2E_DIR/kek-short"
NODE_KEK=$E2E_DIR/kek-short node_refuses 9 "a short KEK file" "start: kek_file: "
NODE_CONNINFO="host=$PGHOST port=1 user=$PGUSER dbname=cse connect_timeout=2" \
    node_refuses 9 "a database that does not answer" "start: database (db_conninfo): "
# A database migrated by a newer module: this one must not touch it.
admin --schema newer migrate >"$E2E_DIR/newer.out" 2>&1 || e2e_not_ok "saef-admin migrate" \
    "$E2E_DIR/newer.out"
sql "INSERT INTO newer.schema_version (version, name, checksum)
     VALUES (99, 'from_the_future', repeat('0', 64))" >/dev/null
node_refuses 9 "a schema newer than the module" "newer than this module" "db_schema = newer"
check_eq "the newer schema was left as it was" 2 "$(sql 'SELECT count(*) FROM newer.schema_version')"

# ---------------------------------------------------------------- two nodes

# Node 1 lets $IDA use the module's management resources (<CSEBase>/saef/...); node 2 nobody.
node_config 1 "admin_originators = $IDA"
node_config 2
node_start 1
node_start 2
for n in 1 2; do
    has "$E2E_DIR/csed-$n.log" "node $n: the module migrated or found the schema, and started" \
        "database: node n$n, schema saef, key vault on"
done
check_eq "one schema version row after two nodes started" 1 \
    "$(sql 'SELECT count(*) FROM saef.schema_version')"

# ---------------------------------------------------------------- a key through the vault

keyreg m1 || exit 1
K1=$KEY_ID K1_HEX=$KC_HEX
handshake 1 "$E2E_DIR/n1-first.out" "$K1" "$K1_HEX"
ok_rsc "$E2E_DIR/n1-first.out" && e2e_ok "node 1: handshake and RETRIEVE with a new key" ||
    e2e_not_ok "node 1: handshake and RETRIEVE with a new key" "$E2E_DIR/n1-first.out" \
        "$E2E_DIR/csed-1.log"
check_eq "node 1 asked the MAF once" 1 "$(mafd_retrievals m1)"

i=0
while [ "$(sql "SELECT count(*) FROM saef.key_vault WHERE key_id = '$K1'")" != 1 ] &&
    [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "node 1 sealed the key into the vault" 1 \
    "$(sql "SELECT count(*) FROM saef.key_vault WHERE key_id = '$K1' AND created_by = 'n1'")"
# No column of the row holds the key, in hex or in base64.
K1_B64=$(printf '%s' "$K1_HEX" | xxd -r -p | base64)
sql "SELECT row_to_json(v)::text, encode(sealed, 'hex') FROM saef.key_vault v" \
    >"$E2E_DIR/vault.txt"
lacks "$E2E_DIR/vault.txt" "the vault row holds no plaintext Kc (hex or base64)" "$K1_HEX" \
    "$(printf '%s' "$K1_HEX" | tr a-f A-F)" "$K1_B64"

handshake 2 "$E2E_DIR/n2-first.out" "$K1" "$K1_HEX"
ok_rsc "$E2E_DIR/n2-first.out" && e2e_ok "node 2: the same key works" ||
    e2e_not_ok "node 2: the same key works" "$E2E_DIR/n2-first.out" "$E2E_DIR/csed-2.log"
check_eq "node 2 did not ask the MAF (the vault had the key)" 1 "$(mafd_retrievals m1)"
wait_re "$E2E_DIR/csed-2.log" "key vault: $(ere_quote "$K1") opened \\(no MAF request\\)" ||
    e2e_not_ok "node 2 logs that the key came from the vault" "$E2E_DIR/csed-2.log"

# A restarted node loads the vault's valid keys into its cache: no vault lookup, no MAF.
node_stop 2
node_start 2
has "$E2E_DIR/csed-2.log" "restarted node 2 warmed its cache from the vault" \
    "key vault: 1 valid key(s) loaded into the cache"
opened_before=$(count_re "$E2E_DIR/csed-2.log" 'opened \(no MAF request\)')
handshake 2 "$E2E_DIR/n2-warm.out" "$K1" "$K1_HEX"
ok_rsc "$E2E_DIR/n2-warm.out" && e2e_ok "restarted node 2: handshake from the warmed cache" ||
    e2e_not_ok "restarted node 2: handshake from the warmed cache" "$E2E_DIR/n2-warm.out" \
        "$E2E_DIR/csed-2.log"
check_eq "restarted node 2: neither the MAF nor the vault was asked" \
    "1 $opened_before" "$(mafd_retrievals m1) $(count_re "$E2E_DIR/csed-2.log" \
        'opened \(no MAF request\)')"

# ---------------------------------------------------------------- associations of both nodes

wait_assoc() { # wait_assoc WHERE COUNT
    i=0
    while [ "$(sql "SELECT count(*) FROM saef.associations WHERE $1")" -lt "$2" ] &&
        [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}
wait_assoc "key_id = '$K1'" 2
sql "SELECT node_id, peer_kind, peer_id, transport, handshake_count, state,
            remote_addr LIKE '127.0.0.1:%', kc_expiry > now()
       FROM saef.associations WHERE key_id = '$K1' ORDER BY node_id" >"$E2E_DIR/assoc-k1.txt"
check_eq "association rows of both nodes coexist (node, kind, peer, transport, count, state)" \
    "n1|2|$IDA|tls|1|active|t|t
n2|2|$IDA|tls|2|active|t|t" "$(cat "$E2E_DIR/assoc-k1.txt")"
AUDIT_K1="SELECT count(*) FROM saef.audit_events WHERE node_id = 'n1' AND key_id = '$K1'
             AND outcome = 'accepted'"
i=0
while [ "$(sql "$AUDIT_K1")" -lt 2 ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "audit rows: node 1 accepted the MAF retrieval and the handshake" 2 "$(sql "$AUDIT_K1")"

# A peer that offers the Key Identifier without holding Kc gets no association row.
handshake 1 "$E2E_DIR/n1-wrongkey.out" "$K1" "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
sleep 0.3
check_eq "a failed handshake (wrong key) adds no handshake to the association" "1" \
    "$(sql "SELECT handshake_count FROM saef.associations WHERE key_id = '$K1' AND node_id = 'n1'")"

# ---------------------------------------------------------------- credential map (KmID source)

"$KEYREG" key --maf "https://$MAF_FQDN:$mafd_port_m1/maf" --connect-to "127.0.0.1:$mafd_port_m1" \
    --kmid "$KMID" --km-file "$E2E_DIR/km-deva" --admin-fqdn "$ADMIN_FQDN" --register \
    --format=env --generate --lifetime 600 --target "$IDB" >"$E2E_DIR/key-km.env" \
    2>"$E2E_DIR/key-km.err" || e2e_not_ok "saef-keyreg registers a key in PSK mode" \
    "$E2E_DIR/key-km.err"
. "$E2E_DIR/key-km.env"
K2=$KEY_ID K2_HEX=$KC_HEX
admin credmap add "11-*@$MAF_FQDN" "$IDA" >"$E2E_DIR/credmap.out" 2>&1 ||
    e2e_not_ok "saef-admin credmap add" "$E2E_DIR/credmap.out"
for n in 1 2; do
    wait_re "$E2E_DIR/csed-$n.log" 'credential map: 1 pattern\(s\) loaded' 1 10 &&
        e2e_ok "node $n reloaded the credential map within 1 s of the change" ||
        e2e_not_ok "node $n reloaded the credential map within 1 s of the change" \
            "$E2E_DIR/csed-$n.log"
done
handshake 2 "$E2E_DIR/n2-km.out" "$K2" "$K2_HEX"
ok_rsc "$E2E_DIR/n2-km.out" && e2e_ok "KmID source resolved through the map: From $IDA accepted" ||
    e2e_not_ok "KmID source resolved through the map: From $IDA accepted" "$E2E_DIR/n2-km.out" \
        "$E2E_DIR/csed-2.log"
wait_assoc "key_id = '$K2'" 1
check_eq "the association records the AE-ID and the Credential-ID it came from" \
    "2|$IDA|11-$KMID" \
    "$(sql "SELECT peer_kind, peer_id, credential_id FROM saef.associations WHERE key_id = '$K2'")"

# ---------------------------------------------------------------- management resources

keyreg m1 || exit 1
KA=$KEY_ID KA_HEX=$KC_HEX
# mgmt N OUT METHOD PATH [JSON]: a request to node N's management resources, as $IDA over
# TLS-PSK (a POST with JSON is a oneM2M CREATE: Content-Type with ty=).
mgmt() {
    node "$1"
    printf '%s /~/in-cse/cse-in/saef/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M2M-Origin: %s\r\n' \
        "$3" "$4" "$IDA" >"$E2E_DIR/mgmt.req"
    if [ -n "${5:-}" ]; then
        printf 'Content-Type: application/json%s\r\nContent-Length: %d\r\n' \
            "$([ "$3" = POST ] && echo ';ty=1')" "${#5}" >>"$E2E_DIR/mgmt.req"
    fi
    printf 'X-M2M-RI: mgmt\r\nX-M2M-RVI: 3\r\nAccept: application/json\r\nConnection: close\r\n\r\n%s' \
        "${5:-}" >>"$E2E_DIR/mgmt.req"
    timeout 20 openssl s_client -connect "127.0.0.1:$CSED_HTTP" -psk_identity "$KA" \
        -psk "$KA_HEX" -tls1_2 -quiet <"$E2E_DIR/mgmt.req" >"$2" 2>&1
}
mgmt 1 "$E2E_DIR/mgmt-assoc.out" GET "associations?key=$K1"
has "$E2E_DIR/mgmt-assoc.out" "node 1's management resource lists the associations of both nodes" \
    'X-M2M-RSC: 2000' '"saef:associations":[' '"nodeID":"n1"' '"nodeID":"n2"' \
    "\"keyID\":\"$K1\"" '"peerKind":"AE-ID"' '"state":"active"' '"firstHandshake":"20'
mgmt 1 "$E2E_DIR/mgmt-keys.out" GET keys
has "$E2E_DIR/mgmt-keys.out" "node 1's keys resource lists its cached keys, never their bytes" \
    'X-M2M-RSC: 2000' "\"keyID\":\"$KA\"" '"kcExpiry":"20' "\"sourceID\":\"$IDA\"" &&
    lacks "$E2E_DIR/mgmt-keys.out" "... no key bytes in the keys resource" "$KA_HEX" "$K1_HEX"
mgmt 1 "$E2E_DIR/mgmt-status.out" GET status
has "$E2E_DIR/mgmt-status.out" "node 1's status resource reports its database connections" \
    'X-M2M-RSC: 2000' '"nodeID":"n1"' '"writerConnected":true' '"listenerConnected":true'
mgmt 1 "$E2E_DIR/mgmt-credmap.out" GET credmap
has "$E2E_DIR/mgmt-credmap.out" "node 1's credmap resource shows the mapping" \
    'X-M2M-RSC: 2000' "\"pattern\":\"11-*@$MAF_FQDN\"" "\"target\":\"$IDA\""
# Create, change and delete a mapping through node 1; node 2 reloads after each.
loads2=$(count_re "$E2E_DIR/csed-2.log" 'credential map: [0-9]+ pattern\(s\) loaded')
mgmt 1 "$E2E_DIR/mgmt-cm-add.out" POST credmap '{"pattern":"11-other@maf.example.test","target":"//sp.example.test/in-cse/Cother"}'
has "$E2E_DIR/mgmt-cm-add.out" "credmap CREATE through node 1: 2001" 'X-M2M-RSC: 2001' \
    '"pattern":"11-other@maf.example.test"'
mgmt 1 "$E2E_DIR/mgmt-cm-dup.out" POST credmap '{"pattern":"11-OTHER@maf.example.test","target":"//sp.example.test/in-cse/Cx"}'
has "$E2E_DIR/mgmt-cm-dup.out" "the same pattern again (case differs): 4105" 'X-M2M-RSC: 4105' \
    'already mapped'
mgmt 1 "$E2E_DIR/mgmt-cm-bad.out" POST credmap '{"pattern":"11-x y","target":"//sp.example.test/in-cse/Cx"}'
has "$E2E_DIR/mgmt-cm-bad.out" "a malformed pattern: 4000 naming it" 'X-M2M-RSC: 4000' '11-x y'
mgmt 1 "$E2E_DIR/mgmt-cm-set.out" PUT credmap/11-other@maf.example.test '{"target":"/mn-cse"}'
has "$E2E_DIR/mgmt-cm-set.out" "credmap UPDATE through node 1: 2004" 'X-M2M-RSC: 2004' \
    '"target":"/mn-cse"'
check_eq "... the table holds the new target" "/mn-cse|1" \
    "$(sql "SELECT target_id, target_kind FROM saef.credential_map WHERE pattern = '11-other@maf.example.test'")"
mgmt 1 "$E2E_DIR/mgmt-cm-del.out" DELETE credmap/11-other@maf.example.test
has "$E2E_DIR/mgmt-cm-del.out" "credmap DELETE through node 1: 2002" 'X-M2M-RSC: 2002'
mgmt 1 "$E2E_DIR/mgmt-cm-del2.out" DELETE credmap/11-other@maf.example.test
has "$E2E_DIR/mgmt-cm-del2.out" "deleting it again: 4004" 'X-M2M-RSC: 4004'
# Notifications that arrive together are read by one reload: wait for node 2's last reload to
# show the final map (one pattern again).
i=0
until [ "$(count_re "$E2E_DIR/csed-2.log" 'credential map: [0-9]+ pattern\(s\) loaded')" -gt "$loads2" ] &&
    grep -aE 'credential map: [0-9]+ pattern\(s\) loaded' "$E2E_DIR/csed-2.log" | tail -n 1 |
    grep -q 'map: 1 pattern(s)' || [ $i -ge 30 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ $i -lt 30 ] && e2e_ok "node 2 reloaded the map after the changes made through node 1" ||
    e2e_not_ok "node 2 reloaded the map after the changes made through node 1" "$E2E_DIR/csed-2.log"
mgmt 2 "$E2E_DIR/mgmt-denied.out" GET associations
has "$E2E_DIR/mgmt-denied.out" "node 2 names no administrator: 4103" 'X-M2M-RSC: 4103' \
    'is not an administrator'

# ---------------------------------------------------------------- revocation across nodes

# revoked KEY HEX HOW NODES-THAT-CACHED-IT: every node refuses KEY now, without the MAF, and
# the nodes that had it in their cache dropped it within a second of the revocation.
revoked() {
    for n in $4; do
        wait_re "$E2E_DIR/csed-$n.log" "key $(ere_quote "$1") revoked: removed from the cache" 1 10 &&
            e2e_ok "$3: node $n dropped the key within 1 s" ||
            e2e_not_ok "$3: node $n dropped the key within 1 s" "$E2E_DIR/csed-$n.log"
    done
    for n in 1 2; do
        handshake "$n" "$E2E_DIR/n$n-revoked.out" "$1" "$2"
        if ok_rsc "$E2E_DIR/n$n-revoked.out"; then
            e2e_not_ok "$3: node $n refuses the key" "$E2E_DIR/n$n-revoked.out"
        else
            wait_re "$E2E_DIR/csed-$n.log" \
                "handshake refused: key_id=$(ere_quote "$1") .*reason=the Key Identifier was revoked" &&
                e2e_ok "$3: node $n refuses the key, and its log says why" ||
                e2e_not_ok "$3: node $n refuses the key, and its log says why" \
                    "$E2E_DIR/csed-$n.log"
        fi
    done
}
retrievals_before=$(mafd_retrievals m1)
# On a node: DELETE of node 1's management resource keys/<Key Identifier>.
mgmt 1 "$E2E_DIR/mgmt-revoke.out" DELETE "keys/$K1"
has "$E2E_DIR/mgmt-revoke.out" "node 1 revokes through its management resource: 2002" \
    'X-M2M-RSC: 2002' "\"keyID\":\"$K1\"" '"vaultRows":1' '"associations":2' \
    '"nodesNotified":true'
wait_re "$E2E_DIR/csed-1.log" \
    "key $(ere_quote "$K1") revoked by $(ere_quote "$IDA"): 1 vault row\\(s\\), 2 association\\(s\\); nodes notified" &&
    e2e_ok "node 1 logs who revoked the key" || e2e_not_ok "node 1 logs who revoked the key" \
    "$E2E_DIR/csed-1.log"
revoked "$K1" "$K1_HEX" "revoked on node 1" "2"
check_eq "both nodes' associations of the revoked key are marked revoked" "revoked
revoked" "$(sql "SELECT state FROM saef.associations WHERE key_id = '$K1' ORDER BY node_id")"
# By the admin tool, directly in the tables.
admin revoke "$K2" >"$E2E_DIR/revoke.out" 2>&1 || e2e_not_ok "saef-admin revoke" "$E2E_DIR/revoke.out"
revoked "$K2" "$K2_HEX" "revoked by saef-admin" "2"
check_eq "revoked keys never went back to the MAF" "$retrievals_before" "$(mafd_retrievals m1)"

# ---------------------------------------------------------------- a database that hangs

# An operator's transaction holds the vault locked for 4 s: node 2's vault lookup for a new key
# hangs in the database, yet the handshake goes on through the MAF after 500 ms, and the key
# reaches the vault once the lock is gone.
keyreg m1 || exit 1
K5=$KEY_ID K5_HEX=$KC_HEX
retrievals_before=$(mafd_retrievals m1)
psql -X -q -d "$CONNINFO" -c "BEGIN; LOCK TABLE saef.key_vault IN ACCESS EXCLUSIVE MODE;
    SELECT pg_sleep(4); COMMIT;" >"$E2E_DIR/lock.out" 2>&1 &
lock_pid=$!
i=0
while [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
               WHERE c.relname = 'key_vault' AND l.mode = 'AccessExclusiveLock' AND l.granted")" != 1 ] &&
    [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
handshake 2 "$E2E_DIR/n2-hang.out" "$K5" "$K5_HEX"
if ok_rsc "$E2E_DIR/n2-hang.out" && kill -0 $lock_pid 2>/dev/null; then
    e2e_ok "node 2: handshake with a new key while the vault is locked (the MAF answered)"
else
    e2e_not_ok "node 2: handshake with a new key while the vault is locked (the MAF answered)" \
        "$E2E_DIR/n2-hang.out" "$E2E_DIR/csed-2.log"
fi
check_eq "... one MAF request" "$((retrievals_before + 1))" "$(mafd_retrievals m1)"
wait_re "$E2E_DIR/csed-2.log" \
    'key vault: 1 lookup\(s\) waited more than 500 ms for the database: asked the MAF instead' &&
    e2e_ok "... and the log says the vault was given up on" ||
    e2e_not_ok "... and the log says the vault was given up on" "$E2E_DIR/csed-2.log"
wait $lock_pid
i=0
while [ "$(sql "SELECT count(*) FROM saef.key_vault WHERE key_id = '$K5'")" != 1 ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "the key reached the vault once the lock was released" 1 \
    "$(sql "SELECT count(*) FROM saef.key_vault WHERE key_id = '$K5'")"

# ---------------------------------------------------------------- a missed notification

# K5 is cached on node 2.  Revoked by a direct table change that sends no NOTIFY, while the
# nodes' listeners lose their connections: once they are back, node 2 re-checks its cached keys
# against the vault and drops K5.
sql "UPDATE saef.key_vault SET revoked = true, revoked_at = now() WHERE key_id = '$K5'" >/dev/null
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'" >/dev/null
wait_re "$E2E_DIR/csed-2.log" \
    "key $(ere_quote "$K5") revoked while notifications were not heard: removed from the cache" 1 80 &&
    e2e_ok "node 2 found the revocation it missed once its listener was back" ||
    e2e_not_ok "node 2 found the revocation it missed once its listener was back" \
        "$E2E_DIR/csed-2.log"
handshake 2 "$E2E_DIR/n2-missed.out" "$K5" "$K5_HEX"
ok_rsc "$E2E_DIR/n2-missed.out" && e2e_not_ok "node 2 refuses the key revoked without a NOTIFY" \
    "$E2E_DIR/n2-missed.out" || e2e_ok "node 2 refuses the key revoked without a NOTIFY"

# ---------------------------------------------------------------- without the key vault

# Keys live in memory only: the node asks the MAF, stores no key, still records associations.
NODE_VAULT=false node_config 4
node_start 4
has "$E2E_DIR/csed-4.log" "a node without the key vault says so at start" \
    "database: node n4, schema saef, key vault off"
keyreg m1 || exit 1
K4=$KEY_ID
retrievals_before=$(mafd_retrievals m1)
vault_before=$(sql "SELECT count(*) FROM saef.key_vault")
handshake 4 "$E2E_DIR/n4.out" "$K4" "$KC_HEX"
ok_rsc "$E2E_DIR/n4.out" && e2e_ok "node 4 (no vault): handshake and RETRIEVE" ||
    e2e_not_ok "node 4 (no vault): handshake and RETRIEVE" "$E2E_DIR/n4.out" "$E2E_DIR/csed-4.log"
check_eq "node 4 asked the MAF" "$((retrievals_before + 1))" "$(mafd_retrievals m1)"
wait_assoc "node_id = 'n4'" 1
check_eq "node 4 recorded the association but stored no key" "1 $vault_before" \
    "$(sql "SELECT count(*) FROM saef.associations WHERE node_id = 'n4' AND key_id = '$K4'") $(sql "SELECT count(*) FROM saef.key_vault")"
node_stop 4

# ---------------------------------------------------------------- outage

node_stop 2
node_stop 1
# A small writer queue, so that the outage fills it (audit rows take at most half of it).
node_config 3 "db_queue_size = 64"
node_start 3
keys=
for k in 1 2 3; do
    keyreg m1 || exit 1
    eval "ok_$k=0 key_$k=\$KEY_ID hex_$k=\$KC_HEX"
    keys="$keys $k"
done
accepted=0 refused=0 round=0
stream() { # stream ROUNDS: one handshake per key and round; counts accepted / refused
    r=0
    while [ $r -lt "$1" ]; do
        for k in $keys; do
            eval "kid=\$key_$k khex=\$hex_$k"
            handshake 3 "$E2E_DIR/stream.out" "$kid" "$khex"
            if ok_rsc "$E2E_DIR/stream.out"; then
                eval "ok_$k=\$((ok_$k + 1))"
                accepted=$((accepted + 1))
            else
                refused=$((refused + 1))
            fi
        done
        r=$((r + 1))
    done
}
stream 3
pg_harness_kill >/dev/null 2>&1
stream 12
refused_in_outage=$refused
# Refused before the key goes to TLS (no room), or, when audit rows filled the last places in
# between, at the binding query once the handshake completed (the host then closes).
# The module logs from its housekeeping thread (decisions within 200 ms, the writer's counters
# once a second).
for re in 'no room to record the association|cannot record the association of .*: closing' \
    'database writer: queue full, [0-9]+ handshake\(s\) refused' \
    'database writer: database unavailable \(.*\); records stay queued'; do
    wait_re "$E2E_DIR/csed-3.log" "$re" 1 30 &&
        e2e_ok "the module reports: $re" ||
        e2e_not_ok "the module reports: $re" "$E2E_DIR/csed-3.log"
done
[ "$refused_in_outage" -gt 0 ] && [ "$accepted" -gt 9 ] &&
    e2e_ok "during the outage: cached keys kept working ($accepted accepted), then the full queue refused $refused_in_outage" ||
    e2e_not_ok "during the outage: $accepted accepted, $refused_in_outage refused" "$E2E_DIR/csed-3.log"
pg_harness_restart >/dev/null 2>&1 || exit 99
# The writer reconnects (back-off at most 5 s) and writes the queue.
i=0
want=$accepted
while [ "$(sql "SELECT coalesce(sum(handshake_count), 0) FROM saef.associations WHERE node_id = 'n3'" 2>/dev/null)" != "$want" ] &&
    [ $i -lt 150 ]; do
    sleep 0.1
    i=$((i + 1))
done
check_eq "after the restart every accepted handshake is in the table (sum of handshake_count)" \
    "$want" "$(sql "SELECT sum(handshake_count) FROM saef.associations WHERE node_id = 'n3'")"
for k in $keys; do
    eval "kid=\$key_$k n_ok=\$ok_$k"
    check_eq "key $k: its association counts its $n_ok accepted handshakes" "$n_ok" \
        "$(sql "SELECT handshake_count FROM saef.associations WHERE node_id = 'n3' AND key_id = '$kid'")"
done
stream 1
check_eq "after the outage handshakes are accepted again" 0 "$((refused - refused_in_outage))"

# Loaded at start, at the listener's first connection, and again once the listener is back
# after the server restart (its RESYNC; the worker's own connection had died with the server).
# The listener's back-off reaches 5 s.
wait_re "$E2E_DIR/csed-3.log" 'credential map: 1 pattern\(s\) loaded' 3 80 &&
    lacks "$E2E_DIR/csed-3.log" "node 3 reloaded the credential map after the database came back" \
        "reload failed" ||
    e2e_not_ok "node 3 reloaded the credential map after the database came back" \
        "$E2E_DIR/csed-3.log"
node_stop 3
lacks "$E2E_DIR/csed-3.log" "node 3 stopped without losing queued records" \
    "could not be written before stop"
has_re "$E2E_DIR/csed-3.log" "node 3's writer summary counts the refusals and no loss" \
    "database writer: [0-9]+ association\\(s\\) .* $refused_in_outage handshake\\(s\\) refused, .* 0 record\\(s\\) lost"
e2e_finish
