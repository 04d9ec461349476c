# tests/cli/stat_helper.bash - aur-stat for the tests: each test that needs
# one starts it on 127.0.0.1 and a port it picks, and stops it (teardown
# makes sure).  Stand-in processes (shm-count) are stopped the same way.

AUR_STAT=${AUR_STAT:-$AURALIS_BUILD/aur-stat}
SHM_COUNT=${SHM_COUNT:-$AURALIS_BUILD/tests/shm-count}
PROMPARSE="node $AURALIS_ROOT/tests/cli/promparse.mjs"
FAKES=()

# stat_start [OPTION...] - aur-stat on 127.0.0.1, port 0; sets STAT_PID,
# STAT_PORT and STAT_URL once it listens.  Its stderr goes to stat.err.
stat_start() {
	local portfile=$BATS_TEST_TMPDIR/stat.port
	rm -f "$portfile"
	"$AUR_STAT" --address 127.0.0.1 --port 0 --port-file "$portfile" "$@" \
		2> "$BATS_TEST_TMPDIR/stat.err" 3>&- &
	STAT_PID=$!
	for _ in $(seq 100); do
		if [ -s "$portfile" ]; then
			STAT_PORT=$(cat "$portfile")
			STAT_URL=http://127.0.0.1:$STAT_PORT
			return 0
		fi
		kill -0 "$STAT_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "aur-stat did not start:" >&2
	cat "$BATS_TEST_TMPDIR/stat.err" >&2
	return 1
}

# stat_stop - SIGTERM, and its exit status.
stat_stop() {
	local status=0
	[ -n "${STAT_PID:-}" ] || return 0
	kill -TERM "$STAT_PID" 2>/dev/null || true
	wait "$STAT_PID" || status=$?
	STAT_PID=
	return $status
}

# fake [shm-count ARG...] - a process that holds a slot, in the background.
fake() {
	"$SHM_COUNT" --hold 60 "$@" 3>&- &
	FAKES+=($!)
}

fakes_stop() {
	local pid
	for pid in "${FAKES[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	FAKES=()
}

# get PATH [CURL ARG...] - the body of a GET; fails on any status but 200.
get() {
	local path=$1
	shift
	curl -sf --max-time 10 "$@" "$STAT_URL$path"
}

# wait_for PATH JQ_FILTER [SECONDS] - polls until the filter holds for the answer.
wait_for() {
	local deadline=$(( $(date +%s%N) + ${3:-5} * 1000000000 ))
	until get "$1" | jq -e "$2" > /dev/null; do
		[ "$(date +%s%N)" -lt "$deadline" ] || { echo "timed out: $1 $2" >&2; get "$1" >&2; return 1; }
		sleep 0.05
	done
}
