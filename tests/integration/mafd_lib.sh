# Start and stop one saef-mafd in the integration scripts; sourced, not run (POSIX sh).
#
# Needs $mafd (the daemon) and $dir (the work directory holding mafd.ini; the log goes to
# $dir/log).  MAFD_WRAPPER runs the daemon under a tool that execs it (valgrind, env ...).
# shellcheck shell=sh

# start [ARGS...]: run the daemon with ARGS, wait for its "listening on" line (30 s at most),
# set $pid and $port; a daemon that dies or never listens ends the script with status 99.
start() {
    : >"$dir/log"
    # shellcheck disable=SC2086 # the wrapper is a command line
    ${MAFD_WRAPPER:-} "$mafd" -c "$dir/mafd.ini" "$@" 2>"$dir/log" &
    pid=$!
    i=0
    while ! grep -q 'listening on' "$dir/log"; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "${0##*/}: saef-mafd did not start:"
            cat "$dir/log"
            exit 99
        fi
        sleep 0.1
    done
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/log")
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
