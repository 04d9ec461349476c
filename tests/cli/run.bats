#!/usr/bin/env bats
# scripts/run: serves the page and the stream, and SIGTERM stops all of it.

load helper
load stream_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	export AURALIS_SHM=/auralis-bats-run-$$
}

teardown() {
	[ -z "${RUN_PID:-}" ] || kill -TERM "$RUN_PID" 2>/dev/null || true
	rm -f "/dev/shm/${AURALIS_SHM#/}"
}

@test "scripts/run --help and bad options" {
	run "$AURALIS_ROOT/scripts/run" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--stat-port"* ]]
	run "$AURALIS_ROOT/scripts/run" --port 70000
	[ "$status" -eq 2 ]
	[[ "$output" == *"scripts/run: --port: expected 1..65535, not '70000'"* ]]
	run "$AURALIS_ROOT/scripts/run" --bogus
	[ "$status" -eq 2 ]
}

@test "the other scripts' --help is their whole header comment, whatever its length" {
	for script in test bench soak sound-report; do
		run "$AURALIS_ROOT/scripts/$script" --help
		[ "$status" -eq 0 ] || { echo "$script: status $status"; false; }
		# The comment from line 2 to the first line that is not one.
		header=$(sed -n '2,$p' "$AURALIS_ROOT/scripts/$script" | sed '/^[^#]/,$d; /^$/,$d' | sed 's/^# \{0,1\}//')
		[ "$output" = "$header" ] || { echo "$script: --help differs from its header"; false; }
		[[ "${lines[0]}" == "scripts/$script - "* ]]
		[ "${#lines[@]}" -ge 5 ]
	done
}

@test "scripts/run --demo --out DIR renders the demo and 45 s of every preset" {
	run "$AURALIS_ROOT/scripts/run" --demo --out demos
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"auralis: rendered the demo to demos/demo.wav"* ]]
	awk -v d="$(seconds demos/demo.wav)" 'BEGIN { exit !(d > 16 && d < 30) }'
	for preset in focus meditation sleep bright; do
		[[ "$output" == *"auralis: rendered 45 s of $preset to demos/demo-$preset.wav"* ]]
		d=$(seconds "demos/demo-$preset.wav")
		echo "$preset: $d s"
		awk -v d="$d" 'BEGIN { exit !(d >= 45 && d < 60) }'
	done
	[ "$(ls demos | wc -l)" -eq 5 ]
}

@test "scripts/run serves the page and the stream; SIGTERM stops everything it started" {
	port=$(free_port)
	stat_port=$(free_port)
	"$AURALIS_ROOT/scripts/run" --port "$port" --stat-port "$stat_port" > run.log 2>&1 3>&- &
	RUN_PID=$!
	# aur-stat says "listening on" too, and may say it first: wait for scripts/run's own line.
	for _ in $(seq 300); do grep -q "auralis: listening on" run.log && break; sleep 0.1; done
	cat run.log
	grep -q "auralis: listening on http://127.0.0.1:$port/" run.log
	curl -sf "http://127.0.0.1:$port/" | grep -q '<title>Auralis'
	node "$AURALIS_ROOT/tests/ws/client.mjs" --url "ws://127.0.0.1:$port/stream" --seconds 1.5 > out.json 3>&- &
	client=$!
	sleep 1
	[ -n "$(pgrep -f "^$AURALIS_BUILD/aur-compose --live")" ]
	kill -TERM "$RUN_PID"
	wait "$RUN_PID"
	RUN_PID=
	wait "$client" || true
	jq -e '.audio > 5' out.json
	# Nothing it started is left: no websocketd on that port, no session.
	for _ in $(seq 20); do
		[ -z "$(pgrep -f "websocketd.*--port=$port")$(pgrep -f "^$AURALIS_BUILD/aur-")" ] && break
		sleep 0.05
	done
	[ -z "$(pgrep -f "websocketd.*--port=$port")" ]
	[ -z "$(pgrep -f "^$AURALIS_BUILD/aur-")" ]
	! curl -s -o /dev/null "http://127.0.0.1:$port/"
}
