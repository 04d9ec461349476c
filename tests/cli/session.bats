#!/usr/bin/env bats
# aur-session on its own, as websocketd runs it: the query string's
# refusals, word for word; the pipeline it starts, with the warm renderer
# or without; and how it ends, leaving no process, zombie or pipe behind.
# tests/cli/stream.bats and faults.bats run it behind websocketd.

load helper
bats_require_minimum_version 1.5.0

AUR_SESSION=${AUR_SESSION:-$AURALIS_BUILD/aur-session}

setup_file() {
	export AURALIS_SHM=off AURALIS_BIN=$AURALIS_BUILD
	unset AURALIS_NOTES_DIR AURALIS_STALL_TIMEOUT
	export SERVE_DIR=$BATS_FILE_TMPDIR/serve
	mkdir -m 700 "$SERVE_DIR"
	export AURALIS_RENDER_SOCKET=$SERVE_DIR/render.sock
	"$AUR_RENDER" --serve "$AURALIS_RENDER_SOCKET" 2> "$SERVE_DIR/serve.log" 3>&- &
	export SERVE_PID=$!
	until [ -S "$AURALIS_RENDER_SOCKET" ]; do
		kill -0 "$SERVE_PID" || { echo "the warm renderer ended"; return 1; }
		sleep 0.02
	done
}

teardown_file() {
	kill -TERM "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# A test that failed half-way leaves no process behind (a stopped one
# would hold bats's output open).
teardown() {
	exec 8>&-
	if [ -n "${PID:-}" ]; then
		for p in $(pgrep -P "$PID"); do kill -KILL "$p" 2>/dev/null || true; done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	[ -z "${OWN_SERVER:-}" ] || kill -TERM "$OWN_SERVER" 2>/dev/null || true
}

# session_start QUERY - aur-session in the background, QUERY its query
# string, its standard input a FIFO that fd 8 holds open (the browser),
# its output in out.jsonl and its messages in err.  Sets PID.
session_start() {
	mkfifo in
	QUERY_STRING=$1 "$AUR_SESSION" < in > out.jsonl 2> err 3>&- &
	PID=$!
	exec 8> in
}

# wait_audio N - until out.jsonl holds N audio messages, 10 s at most.
wait_audio() {
	for _ in $(seq 200); do
		[ "$(grep -c '"type":"audio"' out.jsonl)" -lt "$1" ] || return 0
		sleep 0.05
	done
	echo "no $1 audio messages: $(head -c 300 out.jsonl) $(cat err)"
	return 1
}

# wait_gone SECONDS PID... - until none of PID... runs (zombies count as gone).
wait_gone() {
	local deadline=$(( $(date +%s%N) + $1 * 1000000000 )) p left
	shift
	while :; do
		left=
		for p in "$@"; do
			[ "$(ps -o stat= -p "$p" 2>/dev/null | cut -c1)" = "" ] ||
				[ "$(ps -o stat= -p "$p" | cut -c1)" = Z ] || left+=" $p"
		done
		[ -n "$left" ] || return 0
		[ "$(date +%s%N)" -lt "$deadline" ] || { echo "still running:$left"; ps -o pid,stat,args -p "${left# }"; return 1; }
		sleep 0.05
	done
}

# children PID - the commands of PID's children, sorted, one a line.
children() {
	ps -o comm= --ppid "$1" | sort
}

# render_child - the pid of the warm renderer's newest render child.
render_child() {
	pgrep -n -P "$SERVE_PID"
}

@test "aur-session --help and --version; options and arguments are usage errors" {
	run "$AUR_SESSION" --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: aur-session" ]
	[[ "$output" == *"exit status:"* ]]
	[[ "$output" == *"AURALIS_RENDER_SOCKET"* ]]
	run "$AUR_SESSION" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "aur-session "[0-9]* ]]
	while IFS='|' read -r args message; do
		run "$AUR_SESSION" $args
		[ "$status" -eq 2 ] || { echo "$args: status $status"; false; }
		[ "${lines[0]}" = "$message" ] || { echo "$args: $output"; false; }
	done <<-'EOF'
	--bogus|aur-session: --bogus: unknown option
	-x|aur-session: -x: unknown option
	preset=sleep|aur-session: preset=sleep: no arguments: the start comes in $QUERY_STRING
	EOF
}

@test "a bad query string is answered with one error message, word for word, and status 0" {
	long=$(printf 'x=%01017d' 0)
	many=$(printf 'a=1&%.0s' $(seq 40))
	while IFS='|' read -r query message; do
		QUERY_STRING=$query run --separate-stderr "$AUR_SESSION" < /dev/null
		echo "$query -> $output"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 1 ]
		jq -e --arg m "$message" '. == {type: "error", id: null, message: $m}' <<< "$output"
	done <<-TABLE
	preset=loud|--preset: expected focus, meditation, sleep or bright, not 'loud'
	bpm=300&key=D|--bpm: expected 40..120, not '300'
	key=D&intensity=2|--intensity: expected 0..1, not '2'
	key=X&mode=Y|--key: expected C, C#, Db, D, D#, Eb, E, F, F#, Gb, G, G#, Ab, A, A#, Bb or B, not 'X'
	key|--key: expected C, C#, Db, D, D#, Eb, E, F, F#, Gb, G, G#, Ab, A, A#, Bb or B, not 'key'
	key=%3Bls|query parameter key: ';ls' is not a valid value
	key=|query parameter key: '' is not a valid value
	mode=a%01%0a%22b|query parameter mode: 'a??"b' is not a valid value
	key=a%e2%82%acb|query parameter key: 'a???b' is not a valid value
	key=a%5Cb|query parameter key: 'a\\b' is not a valid value
	key=%zz|query parameter key: '%zz' is not a valid value
	preset=foo+bar|query parameter preset: 'foo bar' is not a valid value
	seed=123456789012345678901234567890123|query parameter seed: '123456789012345678901234567890123' is not a valid value
	codec=mp3|query parameter codec: 'mp3' is not one of pcm, opus
	codec=OPUS|query parameter codec: 'OPUS' is not one of pcm, opus
	codec=opus&kbps=5|query parameter kbps: '5' is not a bitrate in 6..510 kbit/s
	codec=opus&kbps=96k|query parameter kbps: '96k' is not a bitrate in 6..510 kbit/s
	codec=opus&kbps=0096|query parameter kbps: '0096' is not a bitrate in 6..510 kbit/s
	codec=opus&kbps=511|query parameter kbps: '511' is not a bitrate in 6..510 kbit/s
	kbps=64|query parameter kbps: only for codec=opus
	codec=opus&kbps=64&codec=pcm|query parameter kbps: only for codec=opus
	${long}&key=D|query string: 1025 bytes is more than 1024
	${many}key=D|query string: 41 parameters is more than 32
	TABLE
	# JSON-escaped on the wire: no byte of a URL breaks the line.
	QUERY_STRING='mode=a%01%0a%22b%5C' run "$AUR_SESSION" < /dev/null
	[ "$output" = '{"type":"error","id":null,"message":"query parameter mode: '"'"'a??\"b\\'"'"' is not a valid value"}' ]
}

@test "the start check: aur-compose's first line when it refuses, nothing when it just ends, a stop signal while it starts" {
	mkdir bin
	ln -s "$AURALIS_BUILD/aur-chunk" "$AURALIS_BUILD/aur-render" bin/
	while IFS='|' read -r body want; do
		printf '#!/bin/sh\n%s\n' "$body" > bin/aur-compose
		chmod +x bin/aur-compose
		AURALIS_BIN=$PWD/bin run --separate-stderr "$AUR_SESSION" < /dev/null
		echo "$body -> $status $output"
		[ "$status" -eq 0 ]
		[ "$output" = "$want" ]
	done <<-'EOF'
	echo 'aur-compose: --thing: no' >&2; echo 'usage: aur-compose' >&2; exit 2|{"type":"error","id":null,"message":"--thing: no"}
	echo 'compose: a "line"' >&2; exit 1|{"type":"error","id":null,"message":"compose: a \"line\""}
	exit 1|{"type":"error","id":null,"message":""}
	exit 0|
	kill -KILL $$|
	EOF
	# Stopped while aur-compose is starting: it is stopped too.
	printf '#!/bin/sh\nexec sleep 30\n' > bin/aur-compose
	AURALIS_BIN=$PWD/bin session_start ""
	for _ in $(seq 100); do compose=$(pgrep -P "$PID" -x sleep) && break; sleep 0.02; done
	[ -n "$compose" ]
	kill -TERM "$PID"
	wait_gone 1 "$PID" "$compose"
	wait "$PID"
	PID=
	[ ! -s out.jsonl ]
}

@test "a good start: hello, then audio from the warm renderer; aur-session starts only aur-compose and aur-chunk" {
	# 32 parameters, the unknown ones ignored, in 1024 bytes.
	session_start "$(printf 'a=1&%.0s' $(seq 26))x&&preset=sleep&key=Eb&bpm=50&$(printf 'y=%0880d' 0)"
	wait_audio 5
	[ "$(head -1 out.jsonl | jq -r .type)" = hello ]
	head -1 out.jsonl | jq -e '.codec == "pcm" and .sample_rate == 44100 and (.session | test("^[0-9a-f]{24}$"))'
	[ "$(children "$PID" | tr '\n' ' ')" = "aur-chunk aur-compose " ]
	compose=$(pgrep -P "$PID" -x aur-compose)
	grep -qzx "AURALIS_SESSION=$(head -1 out.jsonl | jq -r .session)" "/proc/$compose/environ"
	tr '\0' '\n' < "/proc/$compose/cmdline" | paste -sd' ' | grep -qx ".*/aur-compose --live --preset sleep --key Eb --bpm 50"
	[ -n "$(render_child)" ]
	[ ! -s err ]
	exec 8>&-
	wait "$PID"
	PID=
}

@test "the listener goes: every process of the session ends, aur-session with status 0" {
	session_start "codec=opus&kbps=64"
	wait_audio 3
	head -1 out.jsonl | jq -e '.codec == "opus" and .sample_rate == 48000 and .kbps == 64'
	tools=$(pgrep -P "$PID" | tr '\n' ' ')
	render=$(render_child)
	[ -n "$render" ]
	exec 8>&-
	wait_gone 1 "$PID" $tools "$render"
	wait "$PID"
	PID=
	[ "$(tail -1 out.jsonl | jq -r .type)" = audio ]
}

@test "SIGTERM, SIGINT or SIGHUP stop the session at once: status 0, nothing left" {
	for sig in TERM INT HUP; do
		rm -f in
		session_start "preset=focus"
		wait_audio 2
		tools=$(pgrep -P "$PID" | tr '\n' ' ')
		render=$(render_child)
		kill -"$sig" "$PID"
		wait_gone 1 "$PID" $tools $render
		status=0
		wait "$PID" || status=$?
		echo "SIG$sig: status $status"
		[ "$status" -eq 0 ]
		exec 8>&-
		PID=
	done
}

@test "aur-session keeps no end of the pipeline's pipes: a render that dies ends the session" {
	session_start ""
	wait_audio 3
	compose=$(pgrep -P "$PID" -x aur-compose)
	chunk=$(pgrep -P "$PID" -x aur-chunk)
	notes=$(readlink "/proc/$compose/fd/1")
	pcm=$(readlink "/proc/$chunk/fd/0")
	echo "notes $notes, pcm $pcm; aur-session holds: $(readlink /proc/$PID/fd/* | paste -sd' ')"
	[[ "$notes" == pipe:* ]] && [[ "$pcm" == pipe:* ]]
	[ -z "$(readlink /proc/$PID/fd/* | grep -Fx -e "$notes" -e "$pcm" || true)" ]
	# So when the render dies, aur-compose's next write fails, and all end.
	kill -KILL "$(render_child)"
	wait_gone 2 "$PID" "$compose" "$chunk"
	wait "$PID"
	PID=
}

@test "no zombies: a tool that ends early is reaped at once, and its end ends the session" {
	session_start ""
	wait_audio 2
	chunk=$(pgrep -P "$PID" -x aur-chunk)
	compose=$(pgrep -P "$PID" -x aur-compose)
	# aur-compose held still, so that the session outlives aur-chunk a while.
	kill -STOP "$compose"
	kill -KILL "$chunk"
	sleep 0.3
	ps -o pid,stat,comm --ppid "$PID" || true
	[ "$(ps -o stat= --ppid "$PID" | tr -d ' \n')" = T ]
	kill -CONT "$compose"
	wait_gone 2 "$PID" "$compose"
	wait "$PID"
	PID=
}

@test "aur-session killed outright: its processes end by themselves when the listener goes" {
	session_start ""
	wait_audio 2
	tools=$(pgrep -P "$PID" | tr '\n' ' ')
	render=$(render_child)
	kill -KILL "$PID"
	wait "$PID" || true
	PID=
	exec 8>&-
	wait_gone 2 $tools $render
}

@test "aur-compose's messages reach standard error, before the start and after" {
	# A shared-memory name that cannot be opened: each tool says so, and plays on.
	AURALIS_SHM=/no/such session_start ""
	wait_audio 2
	grep -q "^aur-compose: .*going on without counters$" err
	echo 'not json' >&8
	for _ in $(seq 40); do grep -q "^aur-compose: stdin:1: not JSON" err && break; sleep 0.05; done
	grep "^aur-compose: stdin:1: not JSON" err
	exec 8>&-
	wait "$PID"
	PID=
}

@test "the notes are kept in AURALIS_NOTES_DIR, through tee" {
	mkdir notes
	AURALIS_NOTES_DIR=$PWD/notes session_start "key=D&mode=dorian&seed=7"
	wait_audio 3
	[ "$(children "$PID" | tr '\n' ' ')" = "aur-chunk aur-compose tee " ]
	exec 8>&-
	wait "$PID"
	PID=
	session=$(head -1 out.jsonl | jq -r .session)
	head -2 "notes/$session.notes" | grep -q 'seed=7 key=D mode=dorian'
	grep -q ' end$' "notes/$session.notes"
}

@test "without a warm renderer aur-render runs here: no socket, a missing one, a dead one, an unserved rate" {
	AURALIS_RENDER_SOCKET= session_start ""
	wait_audio 2
	[ "$(children "$PID" | tr '\n' ' ')" = "aur-chunk aur-compose aur-render " ]
	[ ! -s err ]
	exec 8>&-
	wait "$PID"
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' dead.sock
	"$AUR_RENDER" --serve only44.sock --rate 44100 2> /dev/null 3>&- &
	OWN_SERVER=$!
	until [ -S only44.sock ]; do kill -0 "$OWN_SERVER"; sleep 0.02; done
	while IFS='|' read -r sock query message; do
		rm -f in
		AURALIS_RENDER_SOCKET=$sock session_start "$query"
		wait_audio 2
		cat err
		[ "$(cat err)" = "aur-session: warm renderer $sock: $message; rendering here" ]
		[ "$(children "$PID" | tr '\n' ' ')" = "aur-chunk aur-compose aur-render " ]
		exec 8>&-
		wait "$PID"
	done <<-'EOF'
	missing.sock||No such file or directory
	dead.sock|codec=opus|Connection refused
	only44.sock|codec=opus|no renderer at 48000 Hz here (it serves 44100 Hz)
	EOF
	head -1 out.jsonl | jq -e '.sample_rate == 48000'
	PID=
}

@test "tools that cannot run: the browser is told, status 1, nothing left" {
	mkdir bin
	ln -s "$AURALIS_BUILD/aur-compose" bin/aur-compose
	for dir in "$PWD/nowhere" "$PWD/bin"; do
		AURALIS_BIN=$dir run --separate-stderr "$AUR_SESSION" < /dev/null
		echo "$dir: $status $output; $stderr"
		[ "$status" -eq 1 ]
		[ "$output" = '{"type":"error","id":null,"message":"the server could not start the stream"}' ]
	done
	[[ "$stderr" == "aur-session: $PWD/bin/aur-chunk: No such file or directory"* ]]
}

@test "a stream that has played a second yields: its render and aur-chunk lower their priority by 10, aur-compose does not" {
	for socket in "$AURALIS_RENDER_SOCKET" ""; do
		AURALIS_RENDER_SOCKET=$socket session_start "codec=opus"
		wait_audio 12
		base=$(nice_of "$PID")
		chunk=$(pgrep -P "$PID" -x aur-chunk)
		if [ -n "$socket" ]; then render=$(render_child); else render=$(pgrep -P "$PID" -x aur-render); fi
		echo "socket '$socket': chunk $chunk, render $render"
		[ -n "$chunk" ] && [ -n "$render" ]
		wait_nice "$chunk" "$(lowered "$base" 10)"
		wait_nice "$render" "$(lowered "$base" 10)"
		[ "$(nice_of "$(pgrep -P "$PID" -x aur-compose)")" = "$base" ]
		exec 8>&-
		wait "$PID"
		PID=
		rm in out.jsonl
	done
}
