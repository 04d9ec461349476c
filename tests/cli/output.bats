#!/usr/bin/env bats
# tests/cli/output.bats - how every tool that writes a stream ends when its
# reader does (DESIGN.md, decision 6; common/io.h, out_end_note): a reader
# that leaves ends it quietly with status 0, and a reader that stops
# reading does not keep a stopped tool from ending, quietly, with 128 + the
# signal.

load helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	export AURALIS_SHM=/auralis-bats-output-$$-$BATS_TEST_NUMBER
	unset AURALIS_SESSION
	"$AUR_COMPOSE" --seed 3 --duration 600 > long.notes
	mkfifo quiet            # opened read-write: open, and never a byte nor an end
}

teardown() {
	rm -f "/dev/shm/${AURALIS_SHM#/}"
}

# tool NAME - the binary of a tool named in a table.
tool() {
	case $1 in
	compose) echo "$AUR_COMPOSE" ;;
	render) echo "$AUR_RENDER" ;;
	chunk) echo "$AUR_CHUNK" ;;
	esac
}

# blocked_in_write PID - waits (5 s at most) until PID sleeps in a write to
# a pipe, or in the poll of aur-chunk's write (it gives up after 10 s).
blocked_in_write() {
	for _ in $(seq 50); do
		case $(cat "/proc/$1/wchan" 2> /dev/null) in
		*pipe_write* | poll_schedule*) return 0 ;;
		esac
		sleep 0.1
	done
	echo "pid $1 never blocked writing: $(cat "/proc/$1/wchan" 2> /dev/null)"
	return 1
}

# tool | arguments | standard input
TOOLS='compose|--seed 1 --duration 3600|/dev/null
compose|--live --seed 1|quiet
render|long.notes|/dev/null
render||long.notes
chunk||/dev/zero
chunk|--codec opus|/dev/zero'

@test "a reader that leaves: every tool ends quietly, with status 0" {
	while IFS='|' read -r name args input; do
		# shellcheck disable=SC2086
		"$(tool "$name")" $args 0<> "$input" 2> err.txt | head -c 300 > got.txt
		status=${PIPESTATUS[0]}
		echo "$name $args < $input: status $status, $(wc -c < got.txt) bytes read"
		cat err.txt
		[ "$status" -eq 0 ]
		[ ! -s err.txt ]
		[ "$(wc -c < got.txt)" -eq 300 ]
	done <<< "$TOOLS"
}

@test "a reader that stops reading: SIGTERM still ends every tool, quietly, with status 143" {
	mkfifo stuck            # opened read-write: a reader that never reads
	while IFS='|' read -r name args input; do
		# A live composer writes too little to fill a pipe.
		[[ "$args" == *--live* ]] && continue
		# shellcheck disable=SC2086
		"$(tool "$name")" $args 0<> "$input" 1<> stuck 2> err.txt 3>&- &
		pid=$!
		blocked_in_write "$pid"
		kill -TERM "$pid"
		status=0
		wait "$pid" || status=$?
		echo "$name $args < $input: status $status"
		cat err.txt
		[ "$status" -eq 143 ]
		[ ! -s err.txt ]
	done <<< "$TOOLS"
}
