# saef-mafd in the integration scripts (mafd_smoke.sh, mafd_pg.sh, maf_client.sh); sourced, not
# run (POSIX sh).  MAFD_WRAPPER runs the daemon under a tool that execs it (valgrind, env ...).
# shellcheck shell=sh

# mafd_require TOOL... -- PROGRAM...: every TOOL installed (else skip, 77, or fail, 99, when
# CI=true: a missing tool there is a setup defect) and every PROGRAM built (else 99).
mafd_require() {
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        if ! command -v "$1" >/dev/null 2>&1; then
            echo "${0##*/}: $1 not installed (apt-get install $1)"
            [ "${CI:-}" = true ] && exit 99
            exit 77
        fi
        shift
    done
    [ $# -gt 0 ] && shift
    for mr_p in "$@"; do
        [ -x "$mr_p" ] || { echo "${0##*/}: $mr_p not built"; exit 99; }
    done
}

# mafd_launch LOG INI [ARGS...]: run $mafd with ARGS, wait for its "listening on" line (30 s at
# most), set $mafd_pid and $mafd_port; a daemon that dies or never listens ends the script
# with status 99.  LOG is truncated here, not in the background redirection, so that the loop
# cannot read an earlier daemon's line.
mafd_launch() {
    ml_log=$1 ml_ini=$2
    shift 2
    : >"$ml_log"
    # shellcheck disable=SC2086 # the wrapper is a command line
    ${MAFD_WRAPPER:-} "$mafd" -c "$ml_ini" "$@" 2>>"$ml_log" &
    mafd_pid=$!
    ml_i=0
    while ! grep -q 'listening on 127\.0\.0\.1:[0-9][0-9]*$' "$ml_log"; do
        ml_i=$((ml_i + 1))
        if [ $ml_i -gt 300 ] || ! kill -0 "$mafd_pid" 2>/dev/null; then
            echo "${0##*/}: saef-mafd did not start:"
            cat "$ml_log"
            exit 99
        fi
        sleep 0.1
    done
    mafd_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$ml_log")
}

# start [ARGS...]: the daemon of $dir/mafd.ini, logging to $dir/log; sets $pid and $port.
start() {
    mafd_launch "$dir/log" "$dir/mafd.ini" "$@"
    pid=$mafd_pid port=$mafd_port
}

# stop: SIGTERM; returns the daemon's exit status (its log is shown when it is not 0).
stop() {
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    pid=
    [ $rc -eq 0 ] || cat "$dir/log"
    return $rc
}
