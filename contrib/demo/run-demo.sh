#!/bin/sh
# The MAF-based SAEF end to end on loopback, with the reference MAF (saef-mafd), the reference
# host (saef-csed) loading maf_saef.so, Entity A's tool (saef-keyreg) and stock clients:
#
#   contrib/demo/run-demo.sh BUILD-DIR
#
# Everything runs from a temporary directory with throwaway test credentials and is stopped
# at the end.  contrib/quickstart demo builds and calls this.
set -eu

build=$(cd "${1:?usage: run-demo.sh BUILD-DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
mafd=$build/contrib/maf/saef-mafd
csed=$build/contrib/cse-host/saef-csed
keyreg=$build/contrib/maf/saef-keyreg
mafget=$build/contrib/maf/saef-mafget
admin=$build/db/saef-admin
module=$build/.libs/maf_saef.so

MAF=maf.example.test
IDB=//sp.example.test/in-cse
IDA=//sp.example.test/in-cse/Cdevice01

dir=$(mktemp -d "${TMPDIR:-/tmp}/saef-demo.XXXXXX")
pids=
# shellcheck source=tests/integration/pg_harness.sh
. "$src/tests/integration/pg_harness.sh"
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    pg_harness_destroy >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { sed 's/^/   | /'; }

# wait_line FILE PATTERN: the daemon's ready line, at most 10 s.
wait_line() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 100 ] || { echo "timed out waiting for '$2' in $1"; cat "$1"; exit 1; }
        sleep 0.1
    done
}

step "1. Throwaway test PKI: a CA, the MAF's certificate for $MAF, Entity A and Entity B"
sh "$src/tests/fixtures/mkpki.sh" "$dir/pki" "$MAF" "$IDB" "$IDA" | show

step "2. The MAF (saef-mafd), mutual TLS"
cat >"$dir/mafd.ini" <<EOF
[maf]
fqdn = $MAF
listen = 127.0.0.1:0
base_path = /maf
cert = $dir/pki/maf.crt
key = $dir/pki/maf.key
ca = $dir/pki/ca.crt
EOF
"$mafd" -c "$dir/mafd.ini" 2>"$dir/mafd.log" &
pids="$pids $!"
wait_line "$dir/mafd.log" "listening on"
mport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/mafd.log" | head -n1)
grep "listening on" "$dir/mafd.log" | show

step "3. The host CSE's database: a throwaway PostgreSQL cluster, and the key vault's KEK"
pg_harness_start >"$dir/pg.log" 2>&1 || { cat "$dir/pg.log"; exit 1; }
pg_harness_createdb cse >/dev/null
conninfo="host=$PGHOST port=$PGPORT user=$PGUSER dbname=cse"
(umask 077 && openssl rand -hex 32 >"$dir/kek")
echo "PostgreSQL $(psql -X -qAt -d "$conninfo" -c 'SHOW server_version') on $PGHOST:$PGPORT" | show

step "4. The host CSE (saef-csed) loads maf_saef.so; the module trusts one MAF"
cat >"$dir/csed.ini" <<EOF
[cse]
cse_id = $IDB
resource_name = cse-in
http_listen = 127.0.0.1:0
coap_listen = 127.0.0.1:0
module = $module
log_level = info

[saef]
cse_id = $IDB
node_id = demo-node-1
admin_originators = $IDA
db_conninfo = $conninfo
key_vault = true
kek_file = $dir/kek

[saef.maf.demo]
fqdn = $MAF
key_retrieval_uri = https://$MAF:$mport/maf/keyRetrieval
connect_to = 127.0.0.1:$mport
ca_file = $dir/pki/ca.crt
client_cert = $dir/pki/entity-b.crt
client_key = $dir/pki/entity-b.key
EOF
sed -n '/^\[saef/,$p' "$dir/csed.ini" | show
"$csed" -c "$dir/csed.ini" >"$dir/csed.log" 2>&1 &
pids="$pids $!"
wait_line "$dir/csed.log" "coap listening on"
hport=$(sed -n 's/.*http listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/csed.log")
cport=$(sed -n 's/.*coap listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/csed.log")
grep -E "listening|started|loaded|database" "$dir/csed.log" | sed 's/^[0-9T:.-]*Z //' | show

keyreg_a() {
    "$keyreg" key --maf "https://$MAF:$mport/maf" --connect-to "127.0.0.1:$mport" \
        --ca "$dir/pki/ca.crt" --cert "$dir/pki/entity-a.crt" --key "$dir/pki/entity-a.key" \
        --origin "$IDA" --admin-fqdn admin.example.test --target "$IDB" --format=env "$@"
}

step "5. Entity A registers with the MAF and registers a key Kc for Entity B ($IDB)"
keyreg_a --register --generate --lifetime 600 >"$dir/key.env"
show <"$dir/key.env"
. "$dir/key.env"

step "6. Entity B retrieves that key from the MAF (MAF Key Retrieval, TS-0003 8.8.2.8)"
"$mafget" --fqdn "$MAF" --uri "https://$MAF:$mport/maf/keyRetrieval" \
    --connect-to "127.0.0.1:$mport" --ca "$dir/pki/ca.crt" --cert "$dir/pki/entity-b.crt" \
    --key "$dir/pki/entity-b.key" --cse-id "$IDB" "$KEY_ID" | show

request() { # FROM [METHOD PATH]: a oneM2M request over HTTP, by default RETRIEVE of the CSEBase
    printf '%s /~/in-cse/cse-in%s HTTP/1.1\r\nHost: cse\r\nX-M2M-Origin: %s\r\nX-M2M-RI: demo-1\r\nX-M2M-RVI: 3\r\nAccept: application/json\r\nConnection: close\r\n\r\n' \
        "${2:-GET}" "${3:-}" "$1"
}

for v in tls1_2 tls1_3; do
    step "7. Entity A as 'openssl s_client -$v -psk_identity $KEY_ID -psk <Kc>': TLS-PSK + RETRIEVE"
    request "$IDA" | openssl s_client -connect "127.0.0.1:$hport" "-$v" -psk_identity "$KEY_ID" \
        -psk "$KC_HEX" -quiet -ign_eof 2>/dev/null | tr -d '\r' | show
done

step "8. The same key, with a From that is not the bound AE-ID: 4106"
request //sp.example.test/in-cse/Cintruder | openssl s_client -connect "127.0.0.1:$hport" \
    -tls1_2 -psk_identity "$KEY_ID" -psk "$KC_HEX" -quiet -ign_eof 2>/dev/null |
    tr -d '\r' | grep -E '^(HTTP|X-M2M-RSC)' | show

step "9. DTLS-PSK + CoAP: coap-client-openssl with a printable test key (its -k limit)"
ascii=demo-coap-key-0123456789abcdefgh
keyreg_a --key-hex "$(printf %s "$ascii" | od -An -tx1 | tr -d ' \n')" --lifetime 600 \
    >"$dir/coap.env"
. "$dir/coap.env"
# coap-client 4.3.1 drops responses with oneM2M's critical options after printing them in its
# trace (-v 7): show the response line and payload from there.
timeout 10 coap-client-openssl -B 2 -v 7 -m get -u "$KEY_ID" -k "$ascii" -O "256,$IDA" \
    "coaps://127.0.0.1:$cport/~/in-cse/cse-in" 2>&1 |
    grep -E 't:ACK c:|"m2m:cb"' | head -n 2 | cut -c1-160 | show || true

step "10. An expired Kc (TS-0003 8.2.2.3 step 15): a 3-second key works, then fails"
keyreg_a --generate --lifetime 3 >"$dir/short.env"
. "$dir/short.env"
request "$IDA" | openssl s_client -connect "127.0.0.1:$hport" -tls1_2 -psk_identity "$KEY_ID" \
    -psk "$KC_HEX" -quiet -ign_eof 2>/dev/null | tr -d '\r' | grep -E '^X-M2M-RSC' |
    sed 's/^/before expiry: /' | show
sleep 4
request "$IDA" | openssl s_client -connect "127.0.0.1:$hport" -tls1_2 -psk_identity "$KEY_ID" \
    -psk "$KC_HEX" -quiet -ign_eof 2>&1 | grep -oE 'alert [a-z ]+' | head -n1 |
    sed 's/^/after expiry, the client sees: /' | show

step "11. What the host and the module logged (the binding applied, every refusal's real reason)"
sleep 1.2
grep -E "bound to|handshake (accepted|refused)|MAF key retrieval|key vault|4106" "$dir/csed.log" |
    sed 's/^[0-9T:.-]*Z //' | show

step "12. The MAF's request counters"
curl -s --cacert "$dir/pki/ca.crt" --cert "$dir/pki/entity-b.crt" --key "$dir/pki/entity-b.key" \
    --connect-to "$MAF:$mport:127.0.0.1:$mport" "https://$MAF:$mport/maf/stats" | show
echo

step "13. The module's management resources through the host, as the administrator $IDA"
. "$dir/key.env"
echo "GET <CSEBase>/saef/status:" | show
request "$IDA" GET /saef/status | openssl s_client -connect "127.0.0.1:$hport" -tls1_2 \
    -psk_identity "$KEY_ID" -psk "$KC_HEX" -quiet -ign_eof 2>/dev/null | tr -d '\r' |
    awk '/^\{/ { print }' | show
echo "DELETE <CSEBase>/saef/keys/$KEY_ID (revocation on every node):" | show
request "$IDA" DELETE "/saef/keys/$KEY_ID" | openssl s_client -connect "127.0.0.1:$hport" \
    -tls1_2 -psk_identity "$KEY_ID" -psk "$KC_HEX" -quiet -ign_eof 2>/dev/null | tr -d '\r' |
    grep -E '^(X-M2M-RSC|\{)' | show
request "$IDA" | openssl s_client -connect "127.0.0.1:$hport" -tls1_2 -psk_identity "$KEY_ID" \
    -psk "$KC_HEX" -quiet -ign_eof 2>&1 | grep -oE 'alert [a-z ]+' | head -n1 |
    sed 's/^/the revoked key, next handshake: /' | show
sleep 0.5
grep -E "revoked" "$dir/csed.log" | sed 's/^[0-9T:.-]*Z //' | show
step "14. What the module stored in PostgreSQL: one association row per node, key and peer"
"$admin" --conninfo "$conninfo" associations | show
"$admin" --conninfo "$conninfo" status | show
echo "sealed keys in the vault (no plaintext; the MAF's metadata in clear):" | show
psql -X -q -d "$conninfo" -c "SELECT key_id, octet_length(sealed) AS sealed_bytes, kek_id,
    expires_at, source_id, created_by FROM saef.key_vault ORDER BY created_at" | show

echo "demo complete"
