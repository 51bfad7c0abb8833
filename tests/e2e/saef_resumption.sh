#!/bin/sh
# Entity B end to end, session resumption with resumption = bounded: a session resumes while
# Kc lives (s_client prints "Reused"), and never after Kc's expiry (not reused, and the full
# handshake that follows fails like a wrong key).
#   TLS 1.2: -sess_out / -sess_in (session ID or ticket), the external PSK offered as well.
#   TLS 1.3: the ticket alone (no -psk: with an external PSK s_client prints "Reused" for any
#   PSK handshake, so only a ticket-only connection shows resumption); after the expiry also
#   with the external PSK.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

e2e_require openssl curl timeout date
e2e_init

LIFE=${E2E_KC_LIFETIME:-10}

mafd_start m1 "$MAF_FQDN"
csed_config "resumption = bounded"
csed_add_maf m1 m1
csed_start
O=$E2E_DIR/out
S12=$E2E_DIR/sess12.pem
S13=$E2E_DIR/sess13.pem

# sc OUT [s_client options]: a RETRIEVE with From = Entity A, s_client's session report kept.
sc() {
    sc_o=$1
    shift
    http_get "$IDA" | timeout 20 openssl s_client -connect "127.0.0.1:$CSED_HTTP" -ign_eof \
        "$@" >"$sc_o" 2>&1
}
epoch_of() {
    date -u -d "$(echo "$1" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\).*/\1-\2-\3 \4:\5:\6/')" +%s
}
# resumed OUT WHAT: s_client resumed the session and the request was answered.
resumed() {
    if grep -aqF 'Reused, ' "$1" && grep -aqF 'X-M2M-RSC: 2000' "$1"; then
        e2e_ok "$2: resumed (\"Reused\") and 2000"
    else
        e2e_not_ok "$2: resumed (\"Reused\") and 2000" "$1"
    fi
}
# saved FILE WHAT: s_client wrote a session it may resume.
saved() {
    if [ -s "$1" ]; then
        e2e_ok "$2: the server issued a resumable session"
    else
        e2e_not_ok "$2: the server issued a resumable session (s_client -sess_out wrote nothing)" \
            "$3"
    fi
}

keyreg m1 --lifetime "$LIFE" || e2e_finish
R_ID=$KEY_ID R_HEX=$KC_HEX R_EXP=$(epoch_of "$EXPIRES")
PSK="-psk_identity $R_ID -psk $R_HEX"

# ---- while Kc lives
# shellcheck disable=SC2086 # $PSK is an option list
sc "$O.12full" -tls1_2 $PSK -sess_out "$S12"
expect_cb "$O.12full" "TLS 1.2 full handshake"
has "$O.12full" "... a new session" "New, "
saved "$S12" "TLS 1.2" "$O.12full"
if [ -s "$S12" ]; then
    # shellcheck disable=SC2086
    sc "$O.12res" -tls1_2 $PSK -sess_in "$S12"
    resumed "$O.12res" "TLS 1.2 -sess_in before the Kc expiry"
else
    e2e_not_ok "TLS 1.2 resumption before the Kc expiry: not tested, no session to resume"
fi

# shellcheck disable=SC2086
sc "$O.13full" -tls1_3 $PSK -sess_out "$S13"
expect_cb "$O.13full" "TLS 1.3 full handshake"
saved "$S13" "TLS 1.3" "$O.13full"
if [ -s "$S13" ]; then
    sc "$O.13res" -tls1_3 -sess_in "$S13"
    resumed "$O.13res" "TLS 1.3 ticket alone (no external PSK) before the Kc expiry"
else
    e2e_not_ok "TLS 1.3 resumption before the Kc expiry: not tested, no ticket to resume"
fi

# The reference: a wrong key for this Key Identifier.
tls "$O.wk12" "$IDA" "$R_ID" "$(echo "$R_HEX" | tr '0-9a-f' '1-9a-f0')" -tls1_2
tls "$O.wk13" "$IDA" "$R_ID" "$(echo "$R_HEX" | tr '0-9a-f' '1-9a-f0')" -tls1_3
REF12=$(alert_of "$O.wk12")
REF13=$(alert_of "$O.wk13")
before=$(date +%s)
check_eq "the checks before the expiry ran while Kc lived" yes \
    "$([ "$before" -lt "$R_EXP" ] && echo yes || echo "no: $((before - R_EXP)) s late")"

# ---- after the expiry
i=0
while [ "$(date +%s)" -le "$R_EXP" ] && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
if [ -s "$S12" ]; then
    # shellcheck disable=SC2086
    sc "$O.12late" -tls1_2 $PSK -sess_in "$S12"
    lacks "$O.12late" "TLS 1.2 -sess_in after the Kc expiry: not reused" "Reused, "
    expect_refused "$O.12late" "TLS 1.2 -sess_in after the Kc expiry: the full handshake" "$REF12"
else
    e2e_not_ok "TLS 1.2 resumption after the Kc expiry: not tested, no session to resume"
    tls "$O.12late" "$IDA" "$R_ID" "$R_HEX" -tls1_2
    expect_refused "$O.12late" "TLS 1.2 after the Kc expiry: the full handshake" "$REF12"
fi
if [ -s "$S13" ]; then
    sc "$O.13late" -tls1_3 -sess_in "$S13"
    lacks "$O.13late" "TLS 1.3 ticket alone after the Kc expiry: not reused, no answer" \
        "Reused, " "X-M2M-RSC"
    # shellcheck disable=SC2086
    sc "$O.13latepsk" -tls1_3 $PSK -sess_in "$S13"
    expect_refused "$O.13latepsk" "TLS 1.3 ticket and PSK after the Kc expiry: the full handshake" \
        "$REF13"
else
    e2e_not_ok "TLS 1.3 resumption after the Kc expiry: not tested, no ticket to resume"
    tls "$O.13late" "$IDA" "$R_ID" "$R_HEX" -tls1_3
    expect_refused "$O.13late" "TLS 1.3 after the Kc expiry: the full handshake" "$REF13"
fi
expect_module_refusal "after the Kc expiry" "$R_ID" "Kc lifetime over|expir|MAF refused"

e2e_finish
