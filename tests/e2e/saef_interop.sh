#!/bin/sh
# Entity B end to end, the successful path: stock clients play Entity A with a Key Identifier
# registered at the reference MAF; saef-csed with maf_saef.so retrieves Kc, completes the
# handshake and binds the connection to Entity A's AE-ID.  For each client: a CSEBase RETRIEVE
# with the bound From gets 2000 (2.05 over CoAP) and the m2m:cb, another From gets 4106.
#   openssl s_client TLS 1.2 (mandatory suite PSK-AES128-CBC-SHA256, and the default offer),
#   TLS 1.3; gnutls-cli TLS 1.2 and 1.3; coap-client-openssl (printable Kc) and
#   openssl s_client -dtls1_2 (binary Kc) over DTLS to the CoAP binding.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

e2e_require openssl gnutls-cli coap-client-openssl curl timeout od awk mkfifo
e2e_init

mafd_start m1 "$MAF_FQDN"
csed_config
csed_add_maf m1 m1
csed_start
O=$E2E_DIR/out
WRONG=//sp.example.test/in-cse/Cintruder

keyreg m1 || e2e_finish
K_ID=$KEY_ID K_HEX=$KC_HEX
# coap-client -k takes the key as text: a printable 32-byte Kc, registered with --key-hex.
coap_key='coap-demo-key-0123456789abcdef!!'
keyreg m1 --key-hex "$(printf '%s' "$coap_key" | od -An -v -tx1 | tr -d ' \n')" || e2e_finish
C_ID=$KEY_ID C_HEX=$KC_HEX
check_eq "the printable key is the registered Kc" \
    "$(printf '%s' "$coap_key" | od -An -v -tx1 | tr -d ' \n')" "$C_HEX"
retr0=$(mafd_retrievals m1)

# ---- openssl s_client, TLS 1.2 with only the TS-0003 mandatory suite
tls "$O.t12m" "$IDA" "$K_ID" "$K_HEX" -tls1_2 -cipher PSK-AES128-CBC-SHA256
expect_cb "$O.t12m" "s_client TLS 1.2 PSK-AES128-CBC-SHA256"
has "$CSED_LOG" "... and the host negotiated the mandatory suite" \
    "handshake ok: TLSv1.2 PSK-AES128-CBC-SHA256, psk_identity $K_ID"
tls "$O.t12mw" "$WRONG" "$K_ID" "$K_HEX" -tls1_2 -cipher PSK-AES128-CBC-SHA256
expect_4106 "$O.t12mw" "s_client TLS 1.2 PSK-AES128-CBC-SHA256"

# ---- openssl s_client, TLS 1.2 default offer
tls "$O.t12" "$IDA" "$K_ID" "$K_HEX" -tls1_2
expect_cb "$O.t12" "s_client TLS 1.2 (default suites)"
tls "$O.t12w" "$WRONG" "$K_ID" "$K_HEX" -tls1_2
expect_4106 "$O.t12w" "s_client TLS 1.2 (default suites)"
has "$CSED_LOG" "the host logs the refused originator" \
    "From \"$WRONG\" refused with 4106"

# ---- openssl s_client, TLS 1.3
tls "$O.t13" "$IDA" "$K_ID" "$K_HEX" -tls1_3
expect_cb "$O.t13" "s_client TLS 1.3"
has "$CSED_LOG" "... negotiated TLS 1.3" "handshake ok: TLSv1.3 "
tls "$O.t13w" "$WRONG" "$K_ID" "$K_HEX" -tls1_3
expect_4106 "$O.t13w" "s_client TLS 1.3"

# ---- gnutls-cli, a second TLS implementation
gnutls "$O.g12" "$IDA" "$K_ID" "$K_HEX" "$GNUTLS12"
has "$O.g12" "gnutls-cli TLS 1.2 completes a PSK handshake" "- Handshake was completed" \
    "(TLS1.2-" ")-(PSK)-" "- PSK authentication. Connected as '$K_ID'"
expect_cb "$O.g12" "gnutls-cli TLS 1.2"
gnutls "$O.g12w" "$WRONG" "$K_ID" "$K_HEX" "$GNUTLS12"
expect_4106 "$O.g12w" "gnutls-cli TLS 1.2"
gnutls "$O.g13" "$IDA" "$K_ID" "$K_HEX" "$GNUTLS13"
has "$O.g13" "gnutls-cli TLS 1.3 completes a PSK handshake" "- Handshake was completed" \
    "(TLS1.3-" "- PSK authentication. Connected as '$K_ID'"
expect_cb "$O.g13" "gnutls-cli TLS 1.3"
gnutls "$O.g13w" "$WRONG" "$K_ID" "$K_HEX" "$GNUTLS13"
expect_4106 "$O.g13w" "gnutls-cli TLS 1.3"

# ---- coap-client-openssl over DTLS (From as option 256)
coap "$O.c" "$IDA" "$C_ID" "$coap_key"
has "$O.c" "coap-client-openssl: DTLS handshake and 2.05 / 2000 with the CSEBase" \
    "DTLS: session connected" "t:ACK c:2.05" '307:\x07\xD0' '{"m2m:cb":{' '"csi":"/in-cse"'
coap "$O.cw" "$WRONG" "$C_ID" "$coap_key"
has "$O.cw" "coap-client-openssl: wrong From gets 4.03 / 4106" "t:ACK c:4.03" '307:\x10\x0A'
lacks "$O.cw" "... and no CSEBase" '"m2m:cb"'

# ---- openssl s_client -dtls1_2 to the CoAP binding, binary Kc
dtls "$O.d" "$IDA" "$K_ID" "$K_HEX"
has "$O.d" "s_client DTLS 1.2: 2.05 / 2000 with the CSEBase" "code=2.05 rsc=2000 payload=" \
    '{"m2m:cb":{' '"csi":"/in-cse"'
dtls "$O.dw" "$WRONG" "$K_ID" "$K_HEX"
has "$O.dw" "s_client DTLS 1.2: wrong From gets 4.03 / 4106" "code=4.03 rsc=4106 payload="

# ---- the MAF-FQDN is matched case-insensitively, a trailing dot ignored (same Key Identifier)
rel=${K_ID%@*}
tls "$O.case" "$IDA" "$rel@MAF.Example.TEST." "$K_HEX" -tls1_2
expect_cb "$O.case" "s_client TLS 1.2 with $rel@MAF.Example.TEST."

# ---- the bindings the host applied, and what the module logged
has "$CSED_LOG" "TLS: the host bound the connection to Entity A's AE-ID" \
    "saef-csed info: tls 127.0.0.1:" "bound to AE-ID $IDA (Key Identifier $K_ID)"
has "$CSED_LOG" "DTLS: the host bound the session to Entity A's AE-ID (coap-client)" \
    "bound to AE-ID $IDA (Key Identifier $C_ID)"
has_re "$CSED_LOG" "DTLS: the host bound the s_client session too" \
    "saef-csed info: dtls 127\.0\.0\.1:[0-9]+: bound to AE-ID $(ere_quote "$IDA") \(Key Identifier $(ere_quote "$K_ID")\)"
wait_re "$CSED_LOG" "handshake accepted: key_id=$K_ID .*transport=coap" 1 "$E2E_LOG_WAIT"
has_re "$CSED_LOG" "the module logged its decision for TLS" \
    "maf_saef info: handshake accepted: key_id=$K_ID peer=127\.0\.0\.1:[0-9]+ transport=tls bound to AE-ID $(ere_quote "$IDA")"
has_re "$CSED_LOG" "the module logged its decision for DTLS" \
    "maf_saef info: handshake accepted: key_id=$K_ID peer=127\.0\.0\.1:[0-9]+ transport=coap bound to AE-ID $(ere_quote "$IDA")"
check_eq "one MAF key retrieval per Key Identifier (module log, $K_ID)" 1 \
    "$(count_re "$CSED_LOG" "MAF key retrieval for $K_ID: key received")" "$CSED_LOG"
check_eq "one MAF key retrieval per Key Identifier (module log, $C_ID)" 1 \
    "$(count_re "$CSED_LOG" "MAF key retrieval for $C_ID: key received")" "$CSED_LOG"
check_eq "the MAF counted two key retrievals for 14 handshakes on two Key Identifiers" \
    "$((retr0 + 2))" "$(mafd_retrievals m1)" "$E2E_DIR/mafd-m1.log"
lacks "$CSED_LOG" "Kc never reaches a log line" "$K_HEX" "$C_HEX"

e2e_finish
