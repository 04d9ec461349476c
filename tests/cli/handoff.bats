#!/usr/bin/env bats
# The warm renderer (aur-render --serve) and its client, aur-handoff: the
# same bytes as a fresh aur-render, the exit status and messages of the
# render, a fallback when there is no warm renderer, and a clean stop.

load helper

AUR_HANDOFF=${AUR_HANDOFF:-$AURALIS_BUILD/aur-handoff}

setup_file() {
	export AURALIS_SHM=off
	export SERVE_DIR=$BATS_FILE_TMPDIR/serve
	mkdir -m 700 "$SERVE_DIR"
	export AURALIS_RENDER_SOCKET=$SERVE_DIR/render.sock
	"$AUR_RENDER" --serve "$AURALIS_RENDER_SOCKET" 2> "$SERVE_DIR/serve.log" 3>&- &
	export SERVE_PID=$!
	wait_for_socket "$AURALIS_RENDER_SOCKET" "$SERVE_PID"
}

teardown_file() {
	kill -TERM "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	[ -z "${silent:-}" ] || kill "$silent" 2>/dev/null || true
}

# wait_for_socket PATH PID - until PATH is a socket; fails if PID ends first.
wait_for_socket() {
	until [ -S "$1" ]; do
		kill -0 "$2" 2>/dev/null || { echo "the warm renderer ended"; return 1; }
		sleep 0.02
	done
}

@test "aur-handoff --help and --version" {
	run "$AUR_HANDOFF" --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: aur-handoff [options]" ]
	[[ "$output" == *"exit status:"* ]]
	run "$AUR_HANDOFF" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "aur-handoff "[0-9]* ]]
}

@test "usage errors: bad options, a FILE, --serve with -o or FILE" {
	while IFS='|' read -r args message; do
		run bash -c "\"\$0\" $args > /dev/null" "$AUR_HANDOFF"
		[ "$status" -eq 2 ] || { echo "$args: status $status"; false; }
		[[ "$output" == *"$message"* ]] || { echo "$args: $output"; false; }
	done <<-'EOF'
	--rate 7000|aur-handoff: --rate: expected 8000..192000
	--playing-nice 20|aur-handoff: --playing-nice: expected 0..19, not '20'
	--bogus|aur-handoff: --bogus: unknown option
	calm.notes|aur-handoff: calm.notes: no FILE arguments
	EOF
	run "$AUR_RENDER" --serve x.sock -o x.wav
	[ "$status" -eq 2 ]
	[[ "$output" == *"--serve: the streams come from aur-handoff; no --output, no FILE"* ]]
	run "$AUR_RENDER" --serve x.sock "$DATA/pinned.notes"
	[ "$status" -eq 2 ]
}

@test "the warm renderer's PCM equals a fresh aur-render's, byte for byte, at 44.1 and 48 kHz" {
	"$AUR_COMPOSE" --seed 11 --duration 30 --preset bright > n.notes
	for rate in 44100 48000; do
		"$AUR_HANDOFF" --rate "$rate" < n.notes > warm.raw
		"$AUR_RENDER" --rate "$rate" < n.notes > cold.raw
		[ "$(frames_of warm.raw)" -gt $((30 * rate)) ]
		cmp warm.raw cold.raw
	done
	# The stream was the warm renderer's: nothing said it rendered here.
	run "$AUR_HANDOFF" < n.notes
	[ -z "$(echo "$output" | tr -d '\0' | grep -a 'rendering here' || true)" ]
}

@test "every preset and program change renders the same warm as cold" {
	for preset in focus meditation sleep bright; do
		"$AUR_COMPOSE" --seed 4 --duration 8 --preset "$preset" > "$preset.notes"
		"$AUR_HANDOFF" < "$preset.notes" | cmp - <("$AUR_RENDER" < "$preset.notes")
	done
}

@test "bad note data: the render's messages and exit status come back through aur-handoff" {
	run bash -c '"$0" < "$1" > /dev/null' "$AUR_HANDOFF" "$DATA/bad.notes"
	[ "$status" -eq 3 ]
	[[ "$output" == *"aur-render: -:"*" bad line"* ]]
	[ -z "$(echo "$output" | grep 'rendering here' || true)" ]
}

@test "a closed reader downstream ends the render quietly with status 0" {
	run bash -c '"$0" --duration 600 | "$1" | head -c 10000 | wc -c; exit "${PIPESTATUS[1]}"' \
		"$AUR_COMPOSE" "$AUR_HANDOFF"
	[ "$status" -eq 0 ]
	[ "$output" = 10000 ]
}

@test "SIGTERM to aur-handoff stops the render, which exits 143 as aur-render does" {
	mkfifo in
	"$AUR_HANDOFF" < in > out.raw 2> err &
	pid=$!
	exec 8> in
	printf '# auralis-notes 1\n0.000 note 0 60 80 2\n3.000 tick\n' >&8
	until [ "$(stat -c %s out.raw)" -ge $((3 * 44100 * 4)) ]; do sleep 0.02; done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	exec 8>&-
	[ "$status" -eq 143 ]
}

@test "without a warm renderer aur-handoff renders here: no socket, a dead one, an unserved rate" {
	"$AUR_COMPOSE" --seed 2 --duration 5 > n.notes
	"$AUR_RENDER" < n.notes > cold.raw
	"$AUR_RENDER" --rate 22050 < n.notes > cold22.raw
	AURALIS_RENDER_SOCKET= "$AUR_HANDOFF" < n.notes 2> err | cmp - cold.raw
	[ ! -s err ]
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' dead.sock
	"$AUR_HANDOFF" --socket dead.sock < n.notes 2> err | cmp - cold.raw
	grep -q "^aur-handoff: warm renderer dead.sock: Connection refused; rendering here$" err
	"$AUR_HANDOFF" --socket missing.sock < n.notes 2> err | cmp - cold.raw
	grep -q "^aur-handoff: warm renderer missing.sock: No such file or directory; rendering here$" err
	"$AUR_HANDOFF" --rate 22050 < n.notes 2> err | cmp - cold22.raw
	grep -q "no renderer at 22050 Hz here (it serves 44100 and 48000 Hz); rendering here$" err
}

@test "a client that connects and says nothing holds up no stream, and is dropped after a second" {
	"$AUR_COMPOSE" --seed 2 --duration 5 > n.notes
	"$AUR_RENDER" < n.notes > cold.raw
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
print("connected", flush=True)
time.sleep(60)' "$AURALIS_RENDER_SOCKET" > silent.out 3>&- &
	silent=$!
	until grep -q connected silent.out; do kill -0 "$silent"; sleep 0.02; done
	# Another stream while it is connected, its request unsent.
	"$AUR_HANDOFF" < n.notes 2> err | cmp - cold.raw
	[ ! -s err ]
	# Its connection is closed, by its pid, once its second is up (10 s allowed).
	message="a handoff from pid $silent: no request within 1000 ms"
	for _ in $(seq 500); do
		grep -q "$message" "$SERVE_DIR/serve.log" && break
		sleep 0.02
	done
	grep "$message" "$SERVE_DIR/serve.log"
}

@test "a second warm renderer on a live socket is refused; a stale socket file is replaced" {
	run "$AUR_RENDER" --serve "$AURALIS_RENDER_SOCKET"
	[ "$status" -eq 1 ]
	[[ "$output" == *"another warm renderer is listening there"* ]]
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' stale.sock
	"$AUR_RENDER" --serve stale.sock --rate 44100 3>&- &
	pid=$!
	# The stale file is there already: wait for the server's own, mode 0700.
	until [ "$(stat -c %a stale.sock 2>/dev/null)" = 700 ]; do
		kill -0 "$pid"
		sleep 0.02
	done
	"$AUR_COMPOSE" --seed 1 --duration 2 | "$AUR_HANDOFF" --socket stale.sock 2> err | wc -c
	[ ! -s err ]
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	[ ! -e stale.sock ]
}

@test "SIGTERM to the warm renderer: no new streams, and the ones it renders finish and are reported" {
	"$AUR_RENDER" --serve own.sock 3>&- &
	pid=$!
	wait_for_socket own.sock "$pid"
	mkfifo in
	"$AUR_HANDOFF" --socket own.sock < in > out.raw 2> err &
	client=$!
	exec 8> in
	printf '# auralis-notes 1\n0.000 note 0 60 80 1\n1.000 tick\n' >&8
	until [ "$(stat -c %s out.raw)" -ge $((44100 * 4)) ]; do sleep 0.02; done
	kill -TERM "$pid"
	until [ ! -e own.sock ]; do sleep 0.02; done
	kill -0 "$pid"          # still there: its stream is not over
	printf '2.000 end\n' >&8
	exec 8>&-
	status=0
	wait "$client" || status=$?
	[ "$status" -eq 0 ]
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	[ ! -s err ]
}

@test "--playing-nice: the warm renderer's child lowers its priority once a second is rendered" {
	base=$(nice_of "$SERVE_PID")
	mkfifo in.fifo
	{ printf '# auralis-notes 1\n0.000 note 0 60 70 0.500\n1.500 tick\n'; exec sleep 30; } > in.fifo &
	silent=$!
	"$AUR_HANDOFF" --playing-nice 6 < in.fifo > out.raw &
	client=$!
	for _ in $(seq 200); do [ "$(frames_of out.raw)" -ge 66150 ] && break; sleep 0.05; done
	[ "$(frames_of out.raw)" -ge 66150 ]
	child=$(pgrep -n -P "$SERVE_PID")
	[ -n "$child" ]
	wait_nice "$child" "$(lowered "$base" 6)"
	# The warm renderer itself keeps its priority.
	[ "$(nice_of "$SERVE_PID")" = "$base" ]
	kill "$silent"
	wait "$client"
}
