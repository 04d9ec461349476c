# tests/cli/stream_helper.bash - a websocketd serving Auralis sessions for the
# stream tests: started once per file on a free loopback port, stopped at the end.

# start_websocketd, as scripts/run uses it.
. "$AURALIS_ROOT/scripts/setup.sh"

WS_CLIENT="node $AURALIS_ROOT/tests/ws/client.mjs"
SHM_POST=${SHM_POST:-$AURALIS_BUILD/tests/shm-post}

# free_port - a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1",
		() => { console.log(s.address().port); s.close(); })'
}

# server_start [NAME] - websocketd with scripts/aur-session at /stream and
# the warm renderer, as scripts/run starts them (AURALIS_COLD=1: no warm
# renderer, every session loads the SoundFont itself); sets WS_PID,
# WS_PORT, WS_URL and NOTES_DIR.  A test
# that needs a server of its own (other options) starts one with another
# NAME and stops it at its end; the file's server goes on for the others.
server_start() {
	export AURALIS_BIN=$AURALIS_BUILD
	export AURALIS_SHM=/auralis-bats-${1:-stream}-$$
	export NOTES_DIR=$BATS_FILE_TMPDIR/notes
	export AURALIS_NOTES_DIR=$NOTES_DIR
	mkdir -p "$NOTES_DIR"
	WS_PORT=$(free_port)
	if [ -z "${AURALIS_COLD:-}" ]; then
		start_renderer 2>> "$BATS_FILE_TMPDIR/websocketd.log" 3>&- || return 1
	fi
	start_websocketd 127.0.0.1 "$WS_PORT" --loglevel=error --maxforks="${MAX_FORKS:-0}" \
		>> "$BATS_FILE_TMPDIR/websocketd.log" 2>&1 3>&-
	WS_PID=$WEBSOCKETD_PID
	export WS_PID WS_PORT WS_URL=ws://127.0.0.1:$WS_PORT/stream
	for _ in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$WS_PORT/" && return 0
		sleep 0.1
	done
	echo "websocketd did not start" >&2
	return 1
}

server_stop() {
	[ -n "${WS_PID:-}" ] || return 0
	kill -TERM "$WS_PID" 2>/dev/null || true
	wait "$WS_PID" 2>/dev/null || true
	stop_renderer
	rm -f "/dev/shm/${AURALIS_SHM#/}"
}

# sessions - the processes websocketd has running for sessions now.
sessions() {
	pgrep -P "$WS_PID" || true
}

# session_processes - every process of this server's sessions, orphans too:
# those whose environment names this server's shared memory.
session_processes() {
	local env pid
	for env in $(grep -lzx "AURALIS_SHM=$AURALIS_SHM" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${env#/proc/}
		pid=${pid%/environ}
		[ "$pid" != "${RENDERER_PID:-}" ] || continue    # the warm renderer itself
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		aur-compose|aur-render|aur-handoff|aur-chunk|stream|aur-session|tee) echo "$pid" ;;
		esac
	done
}

# poll_for SECONDS COMMAND... - runs COMMAND every 50 ms until it succeeds;
# fails when SECONDS pass first.
poll_for() {
	local deadline=$(( $(date +%s%N) + ${1%.*}000000000 ))
	shift
	until "$@"; do
		[ "$(date +%s%N)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

no_session_left() {
	[ -z "$(sessions)$(session_processes)" ]
}

session_running() {
	[ -n "$(sessions)" ] && [ "$(session_processes | wc -l)" -ge 4 ]
}

# wait_no_sessions SECONDS - waits until no session process is left.
wait_no_sessions() {
	poll_for "$1" no_session_left
}

# wait_session_running SECONDS - waits until a session's script and its three
# tools run.
wait_session_running() {
	poll_for "$1" session_running
}

# total NAME - a shared-memory total (see shm-post --totals).
total() {
	"$SHM_POST" --totals | awk -v n="$1" '$1 == n { print $2 }'
}
