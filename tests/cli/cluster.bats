#!/usr/bin/env bats
# scripts/run --nodes: HAProxy in front of local nodes; a node drained by
# SIGTERM sends its listeners to the others.  And one node's drain.

load helper
load stream_helper
load cluster_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	export AURALIS_SHM=/auralis-bats-cluster-$$-$BATS_TEST_NUMBER
	CLIENT_PID=
}

teardown() {
	[ -z "$CLIENT_PID" ] || kill "$CLIENT_PID" 2>/dev/null || true
	run_stop
	[ ! -f run.log ] || cat run.log
}

need_haproxy() {
	command -v haproxy >/dev/null ||
		skip "haproxy is not installed: apt-get install haproxy (scripts/run --nodes installs it)"
}

@test "deploy/haproxy.cfg is valid; scripts/run --nodes checks its values" {
	need_haproxy
	run haproxy -c -f "$AURALIS_ROOT/deploy/haproxy.cfg"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^ *balance leastconn' "$AURALIS_ROOT/deploy/haproxy.cfg"
	grep -q "^ *http-check expect string '\"ready\":true'" "$AURALIS_ROOT/deploy/haproxy.cfg"
	run "$AURALIS_ROOT/scripts/run" --nodes 17
	[ "$status" -eq 2 ]
	[[ "$output" == *"scripts/run: --nodes: expected 1..16, not '17'"* ]]
	run "$AURALIS_ROOT/scripts/run" --nodes 3 --port 8080 --node-port 8076
	[ "$status" -eq 2 ]
	[[ "$output" == *"the nodes' ports 8076..8081 include 8080"* ]]
	run "$AURALIS_ROOT/scripts/run" --port 9000 --stat-port 9000
	[ "$status" -eq 2 ]
	[[ "$output" == *"scripts/run: --port and --stat-port are both 9000"* ]]
	run "$AURALIS_ROOT/scripts/run" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--nodes N"* ]]
	[[ "$output" == *"--drain S"* ]]
}

@test "scripts/run --nodes 2: listeners spread over both nodes, a drained node's play on the other within 2 s, nothing left" {
	need_haproxy
	port=$(free_port)
	stat_port=$(free_port)
	# Two free ports in a row may be the same one.
	while [ "$stat_port" -eq "$port" ]; do stat_port=$(free_port); done
	node_port=$(free_ports 4)
	run_start --nodes 2 --port "$port" --stat-port "$stat_port" --node-port "$node_port" --max-sessions 12
	poll_for 120 grep -q "nodes in service" run.log
	grep -q "auralis: listening on http://127.0.0.1:$port/" run.log
	grep -q "auralis: 2 of 2 nodes in service" run.log
	node1=$(sed -n 's/^auralis: node 1 (pid \([0-9]*\)).*/\1/p' run.log)
	[ -n "$node1" ]
	stat1=$(( node_port + 1 )) stat2=$(( node_port + 3 ))
	status_of "$stat1" | jq -e '.ready == true and .draining == false and .max_sessions == 12'
	curl -sf "http://127.0.0.1:$port/" | grep -q '<title>Auralis'

	# Ten listeners through HAProxy, following a bye at once.
	node "$AURALIS_ROOT/tests/ws/client.mjs" --url "ws://127.0.0.1:$port/stream" \
		--clients 10 --seconds 9 --reconnect > out.json 3>&- &
	CLIENT_PID=$!
	all_playing() { [ $(( $(sessions_of "$stat1") + $(sessions_of "$stat2") )) -eq 10 ]; }
	poll_for 10 all_playing
	on1=$(sessions_of "$stat1") on2=$(sessions_of "$stat2")
	echo "sessions: node 1 $on1, node 2 $on2"
	[ "$on1" -ge 3 ] && [ "$on2" -ge 3 ]

	# Drain node 1: out of HAProxy's rotation at once, its listeners told
	# to reconnect 2 s later; it stops once they have gone.
	kill -TERM "$node1"
	poll_for 2 eval 'status_of "$stat1" | jq -e ".draining == true and .ready == false" > /dev/null'
	poll_for 15 node_gone 1
	# The node's scripts/run itself (its environment names the cluster's segment).
	poll_for 2 eval '! kill -0 "$node1" 2>/dev/null'
	[ -z "$(pgrep -f -- "--port=$node_port( |\$)")" ]
	grep -q "auralis: a node ended (status 0); 1 of 2 left" run.log
	poll_for 5 eval '[ "$(sessions_of "$stat2")" -eq 10 ]'

	wait "$CLIENT_PID"
	CLIENT_PID=
	jq -c '.[] | {connections, byes, bye_gaps_ms, audio, late}' out.json
	# Node 1's listeners, and only they, got a bye and played again.
	[ "$(jq '[.[] | select(.byes > 0)] | length' out.json)" -eq "$on1" ]
	jq -e 'all(.[]; .bye_unanswered != true and .seq_gaps == 0 and .bad_sizes == 0)' out.json
	jq -e "all(.[] | select(.byes > 0); .connections >= 2 and .bye.reason == \"draining\" and .bye.reconnect == true)" out.json
	gaps=$(jq -r '[.[] | .bye_gaps_ms[]] | sort | "max \(.[-1] | round) ms, median \(.[length / 2 | floor] | round) ms, over \(length) listeners"' out.json)
	echo "# silence from the bye to sound on the other node: $gaps" >&3
	# The design's bound is 2 s; the test allows 5 on a loaded machine.
	jq -e 'all(.[] | .bye_gaps_ms[]; . < 5000)' out.json
	# Still playing at the end, on node 2: the moved ones lost at most the
	# 5 s the bound above allows.
	jq -e 'all(.[]; .audio > 30)' out.json

	# The whole cluster stops on SIGTERM: nothing left.
	kill -TERM "$RUN_PID"
	poll_for 15 eval '! kill -0 "$RUN_PID" 2>/dev/null'
	wait "$RUN_PID" || true
	RUN_PID=
	poll_for 5 nothing_tagged
	[ -z "$(pgrep -f "haproxy -db -f $BATS_TEST_TMPDIR/")" ]
	[ -z "$(ls -d "$BATS_TEST_TMPDIR"/auralis-run.* 2>/dev/null)" ]
	run curl -s -o /dev/null "http://127.0.0.1:$port/"
	[ "$status" -ne 0 ]
}

@test "scripts/run (one node): SIGTERM drains: not ready at once, a bye to its listeners, then everything stops" {
	port=$(free_port)
	stat_port=$(free_port)
	while [ "$stat_port" -eq "$port" ]; do stat_port=$(free_port); done
	run_start --port "$port" --stat-port "$stat_port" --max-sessions 4 --drain 1
	poll_for 120 grep -q "auralis: status on" run.log
	status_of "$stat_port" | jq -e '.ready == true and .max_sessions == 4'
	# The warm renderer.
	for pid in $(tagged); do tr '\0' ' ' < "/proc/$pid/cmdline"; echo; done | grep -q -- '--serve'
	node "$AURALIS_ROOT/tests/ws/client.mjs" --url "ws://127.0.0.1:$port/stream" \
		--seconds 10 > out.json 3>&- &
	CLIENT_PID=$!
	poll_for 10 eval '[ "$(sessions_of "$stat_port")" -eq 1 ]'
	kill -TERM "$RUN_PID"
	poll_for 2 eval 'status_of "$stat_port" | jq -e ".ready == false and .draining == true" > /dev/null'
	wait "$CLIENT_PID"
	CLIENT_PID=
	jq -c '{audio, byes, bye, closed_by_server}' out.json
	jq -e '.byes == 1 and .bye.reconnect == true and .closed_by_server and .audio > 5' out.json
	poll_for 8 eval '! kill -0 "$RUN_PID" 2>/dev/null'
	wait "$RUN_PID"
	RUN_PID=
	poll_for 3 nothing_tagged
	! curl -s -o /dev/null "http://127.0.0.1:$port/"
}
