#!/bin/sh
# End to end: the reference host saef-csed with maf_saef.so loaded, serving the host's own PSK
# table (no MAF involved), against stock clients: openssl s_client (TLS 1.2 and 1.3),
# gnutls-cli and coap-client-openssl.  Asserts on what the clients printed: status line,
# X-M2M-RSC and the CSEBase JSON over HTTP, CoAP code, oneM2M-RSC option and payload over CoAP.
#
# coap-client (libcoap 4.3.1) discards a response that carries critical options it has not
# registered, and every oneM2M option is critical; it prints the response in its debug trace
# (-v 7) before discarding it, so that trace is what the CoAP checks read.
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
csed=$top_builddir/contrib/cse-host/saef-csed
module=$(cd "$top_builddir" && pwd)/.libs/maf_saef.so
passed=0
csed_pid=

work=$(mktemp -d "${TMPDIR:-/tmp}/csed_e2e.XXXXXX") || exit 1
cleanup() {
    if [ -n "$csed_pid" ] && kill -0 "$csed_pid" 2>/dev/null; then
        kill -KILL "$csed_pid" 2>/dev/null
        wait "$csed_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && { echo "--- client output"; cat "$2"; }
    [ -f "$work/csed.err" ] && { echo "--- saef-csed log"; cat "$work/csed.err"; }
    echo "$passed passed, 1 failed"
    exit 1
}
ok() {
    passed=$((passed + 1))
    echo "ok $passed - $1"
}
# expect FILE WHAT PATTERN... : every fixed-string PATTERN occurs in FILE
expect() {
    f=$1 what=$2
    shift 2
    for p in "$@"; do
        grep -qF -- "$p" "$f" || fail "$what: expected \"$p\"" "$f"
    done
    ok "$what"
}
# refuse FILE WHAT PATTERN... : no PATTERN occurs in FILE
refuse() {
    f=$1 what=$2
    shift 2
    for p in "$@"; do
        ! grep -qF -- "$p" "$f" || fail "$what: unexpected \"$p\"" "$f"
    done
    ok "$what"
}

for tool in openssl gnutls-cli coap-client-openssl bash; do
    command -v "$tool" >/dev/null 2>&1 ||
        fail "$tool not found (Debian packages: openssl gnutls-bin libcoap3-bin)"
done
[ -x "$csed" ] || fail "$csed not built"
[ -f "$module" ] || fail "$module not built"

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# coap-client takes the key as text (-k), the TLS clients as hex: an ASCII key serves all.
key1=csed-e2e-key-0123456789abcdef
key2=second-device-key-9876543210
umask 077
printf '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n' >"$work/km.hex"
cat >"$work/host_psk" <<EOF
# the host's own PSK table: identity hexkey
CAE-host-1 $(hex "$key1")
dev-2	$(hex "$key2")
EOF
cat >"$work/csed.ini" <<EOF
[cse]
cse_id = //sp.example.test/in-cse
resource_name = cse-in
http_listen = 127.0.0.1:0
coap_listen = 127.0.0.1:0
module = $module
host_psk_file = $work/host_psk
log_level = info
handshake_timeout = 2

[saef]
cse_id = //sp.example.test/in-cse

[saef.maf.m1]
fqdn = maf.example.test
key_retrieval_uri = https://maf.example.test:8443/keyRetrieval
kmid = entityb@maf.example.test
km_file = $work/km.hex
EOF

# ---- configuration errors name the file, the line and the option ----
sed 's/^http_listen = .*/http_listen = localhost:https/' "$work/csed.ini" >"$work/bad.ini"
"$csed" -t -c "$work/bad.ini" >"$work/bad.out" 2>&1
[ $? -eq 1 ] || fail "bad http_listen: exit status 1 expected" "$work/bad.out"
expect "$work/bad.out" "bad http_listen is reported with file:line and option" \
    "$work/bad.ini:4: [cse] http_listen = \"localhost:https\""
cp "$work/host_psk" "$work/open_psk"
chmod 644 "$work/open_psk"
sed "s#^host_psk_file = .*#host_psk_file = $work/open_psk#" "$work/csed.ini" >"$work/bad.ini"
"$csed" -t -c "$work/bad.ini" >"$work/bad.out" 2>&1
[ $? -eq 1 ] || fail "host_psk_file mode 0644: exit status 1 expected" "$work/bad.out"
expect "$work/bad.out" "a group/other readable host_psk_file is refused" "mode 0644" "chmod 600"

# ---- start ----
"$csed" -c "$work/csed.ini" --pidfile "$work/csed.pid" >"$work/csed.out" 2>"$work/csed.err" &
csed_pid=$!
i=0
while ! grep -q '^saef-csed: coap listening on ' "$work/csed.out" 2>/dev/null; do
    kill -0 "$csed_pid" 2>/dev/null || fail "saef-csed exited during start-up" "$work/csed.out"
    i=$((i + 1))
    [ $i -lt 200 ] || fail "saef-csed not ready after 20 s" "$work/csed.out"
    sleep 0.1
done
http_port=$(sed -n 's/^saef-csed: http listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/csed.out")
coap_port=$(sed -n 's/^saef-csed: coap listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/csed.out")
[ -n "$http_port" ] && [ -n "$coap_port" ] || fail "no listening ports printed" "$work/csed.out"
[ "$(cat "$work/csed.pid")" = "$csed_pid" ] || fail "pidfile does not hold the daemon's pid"
ok "saef-csed listens: http $http_port, coap $coap_port"

# request METHOD PATH FROM RI: one HTTP/1.1 request, the connection closed after the answer
request() {
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n' "$1" "$2"
    [ -n "$3" ] && printf 'X-M2M-Origin: %s\r\n' "$3"
    printf 'X-M2M-RI: %s\r\nX-M2M-RVI: 3\r\nAccept: application/json\r\n' "$4"
    printf 'Connection: close\r\n\r\n'
}
# s_client VERSION IDENTITY KEY OUT: -quiet keeps reading until the server closes
s_client() {
    timeout 20 openssl s_client -connect "127.0.0.1:$http_port" "$1" -psk_identity "$2" \
        -psk "$(hex "$3")" -quiet >"$4" 2>&1
}
# gnutls PRIORITY IDENTITY KEY OUT: stdin stays open until the server has answered and closed
gnutls() {
    timeout 20 gnutls-cli --no-ca-verification -p "$http_port" 127.0.0.1 --pskusername "$2" \
        --pskkey "$(hex "$3")" --priority "$1" >"$4" 2>&1
}
# TLS 1.2: plain PSK only.  gnutls-cli 3.7.9 (Debian 12) crashes after a handshake that
# negotiated ECDHE-PSK-AES128-CBC-SHA256, against any server.
GNUTLS12='NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+SHA256'
GNUTLS13='NORMAL:-VERS-ALL:+VERS-TLS1.3:+PSK:+ECDHE-PSK:+DHE-PSK'

# ---- HTTP over TLS-PSK ----
request GET /cse-in CAE-e2e rq-t12 | s_client -tls1_2 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "TLS 1.2 (openssl): AE retrieves the CSEBase" "HTTP/1.1 200 " \
    "X-M2M-RSC: 2000" "X-M2M-RI: rq-t12" "X-M2M-RVI: 3" "Content-Type: application/json" \
    '{"m2m:cb":{' '"rn":"cse-in"' '"ri":"in-cse"' '"ty":5' '"csi":"/in-cse"' '"cst":1' \
    "\"poa\":[\"https://127.0.0.1:$http_port\",\"coaps://127.0.0.1:$coap_port\"]"
expect "$work/csed.err" "the host table served the TLS 1.2 handshake" \
    "handshake ok: TLSv1.2 " "psk_identity CAE-host-1 (host table)"

request GET /cse-in CAE-e2e rq-mand |
    timeout 20 openssl s_client -connect "127.0.0.1:$http_port" -tls1_2 \
        -cipher PSK-AES128-CBC-SHA256 -psk_identity CAE-host-1 -psk "$(hex "$key1")" -quiet \
        >"$work/o" 2>&1
expect "$work/o" "TLS 1.2 with only the TS-0003 mandatory suite offered" "X-M2M-RSC: 2000" \
    "X-M2M-RI: rq-mand"
expect "$work/csed.err" "... which is what was negotiated" \
    "handshake ok: TLSv1.2 PSK-AES128-CBC-SHA256, psk_identity CAE-host-1"

request GET /cse-in /mn-cse rq-cse | s_client -tls1_3 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "TLS 1.3 (openssl): CSE-ID From on a host-table connection gets 4107" \
    "HTTP/1.1 403 " "X-M2M-RSC: 4107" "X-M2M-RI: rq-cse"
refuse "$work/o" "... and no CSEBase" '"m2m:cb"'

request GET /cse-in //sp.example.test/mn-cse rq-cse2 | s_client -tls1_2 dev-2 "$key2" "$work/o"
expect "$work/o" "absolute CSE-ID From gets 4107 too" "X-M2M-RSC: 4107"

request GET /~/in-cse/cse-in Cae-sp rq-sp | s_client -tls1_3 dev-2 "$key2" "$work/o"
expect "$work/o" "SP-relative target /~/in-cse/cse-in" "HTTP/1.1 200 " "X-M2M-RSC: 2000" \
    '"csi":"/in-cse"'

{ request GET /_/sp.example.test/in-cse/cse-in CAE-abs rq-g12; sleep 1; } |
    gnutls "$GNUTLS12" CAE-host-1 "$key1" "$work/o"
expect "$work/o" "TLS 1.2 (gnutls-cli): absolute target" "HTTP/1.1 200 " "X-M2M-RSC: 2000" \
    "X-M2M-RI: rq-g12" '"m2m:cb"'

{ request GET /- S-e2e rq-g13; sleep 1; } | gnutls "$GNUTLS13" dev-2 "$key2" "$work/o"
expect "$work/o" "TLS 1.3 (gnutls-cli): \"-\" names the CSEBase" "HTTP/1.1 200 " \
    "X-M2M-RSC: 2000" '"rn":"cse-in"'

request GET /cse-in "" rq-nofrom | s_client -tls1_2 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "no X-M2M-Origin: 4000" "HTTP/1.1 400 " "X-M2M-RSC: 4000" "X-M2M-RI: rq-nofrom"

request GET /cse-in/nothing CAE-e2e rq-404 | s_client -tls1_2 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "unknown resource: 4004" "HTTP/1.1 404 " "X-M2M-RSC: 4004"

request GET /~/other-cse/cse-in CAE-e2e rq-other | s_client -tls1_2 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "another CSE's resource: 4004" "X-M2M-RSC: 4004"

request DELETE /cse-in CAE-e2e rq-del | s_client -tls1_3 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "DELETE of the CSEBase: 4005" "HTTP/1.1 405 " "X-M2M-RSC: 4005"

request GET /cse-in/saef/associations CAdmin rq-adm | s_client -tls1_2 CAE-host-1 "$key1" "$work/o"
expect "$work/o" "admin mount reaches the module" "X-M2M-RI: rq-adm" "X-M2M-RSC: "
refuse "$work/o" "... which answers, not the host's 4004" "X-M2M-RSC: 4004"

request GET /cse-in CAE-e2e rq-bad | s_client -tls1_2 CAE-host-1 "wrong-key-0123456789" "$work/o"
refuse "$work/o" "TLS 1.2 with a wrong key gets no answer" "X-M2M-RSC" "m2m:cb"
expect "$work/o" "... but an alert" "alert"

request GET /cse-in CAE-e2e rq-bad | s_client -tls1_3 nobody "$key1" "$work/o"
refuse "$work/o" "TLS 1.3 with an unknown identity gets no answer" "X-M2M-RSC" "m2m:cb"
expect "$work/csed.err" "the daemon logs failed handshakes with the peer address" \
    "handshake failed: decryption failed or bad record mac (psk_identity CAE-host-1)" \
    "(psk_identity nobody)"

# ---- CoAP over DTLS-PSK ----
# coap GET|DELETE... IDENTITY KEY PATH OUT [-O ...]
coap() {
    id=$1 key=$2 path=$3 out=$4
    shift 4
    timeout 20 coap-client-openssl -B 2 -v 7 -u "$id" -k "$key" "$@" \
        "coaps://127.0.0.1:$coap_port$path" >"$out" 2>&1
}
coap CAE-host-1 "$key1" /cse-in "$work/o" -O 256,CAE-coap
expect "$work/o" "CoAP: AE (oneM2M-FR 256) retrieves the CSEBase" "t:ACK c:2.05" \
    '307:\x07\xD0' 'Content-Format:application/json' '{"m2m:cb":{' '"csi":"/in-cse"'

coap dev-2 "$key2" /~/in-cse/cse-in "$work/o" -O 279,CAE-coap -O 283,rq-c
expect "$work/o" "CoAP: oneM2M-FR 279, SP-relative path, oneM2M-RQI echoed" "t:ACK c:2.05" \
    '283:\x72\x71\x2D\x63' '307:\x07\xD0' '"m2m:cb"'

coap CAE-host-1 "$key1" /cse-in "$work/o" -O 279,/mn-cse
expect "$work/o" "CoAP: CSE-ID From on a host-table session gets 4.03 / 4107" "t:ACK c:4.03" \
    '307:\x10\x0B'
refuse "$work/o" "... and no CSEBase" '"m2m:cb"'

coap CAE-host-1 "$key1" /cse-in "$work/o"
expect "$work/o" "CoAP: no From gets 4.00 / 4000" "t:ACK c:4.00" '307:\x0F\xA0'

coap CAE-host-1 "$key1" /cse-in "$work/o" -m delete -O 256,CAE-coap
expect "$work/o" "CoAP: DELETE of the CSEBase gets 4.05 / 4005" "t:ACK c:4.05" '307:\x0F\xA5'

coap CAE-host-1 "$key1" /cse-in/nothing "$work/o" -O 256,CAE-coap
expect "$work/o" "CoAP: unknown resource gets 4.04 / 4004" "t:ACK c:4.04" '307:\x0F\xA4'

coap CAE-host-1 "wrong-key-0123456789" /cse-in "$work/o" -O 256,CAE-coap
refuse "$work/o" "CoAP: a wrong key gets no answer" "t:ACK" "m2m:cb"

# ---- handshake timeout: a client that connects and says nothing ----
bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && sleep 3' "$http_port" 2>/dev/null
grep -q "handshake timeout after 2 s" "$work/csed.err" ||
    fail "a silent client is not dropped after handshake_timeout"
ok "a silent TCP client is dropped after handshake_timeout"

# ---- SIGTERM ----
kill -TERM "$csed_pid"
wait "$csed_pid"
status=$?
csed_pid=
[ $status -eq 0 ] || fail "saef-csed exited with $status after SIGTERM"
[ ! -e "$work/csed.pid" ] || fail "pidfile left behind"
expect "$work/csed.err" "SIGTERM: exit 0, counters logged" "SIGTERM: stopping" \
    "counters: tls handshakes ok=" "timeout=1" " 2000=" " 4107=" " 4000=" "stopped"

echo "$passed passed, 0 failed"
