# tests/cli/cluster_helper.bash - scripts/run as a cluster (--nodes) or a
# single node, started in the background with a tag of its own in its
# environment, so that every process it starts can be found and none is left.

# free_ports N - the first of N consecutive TCP ports on 127.0.0.1 that
# nothing listens on now, below the kernel's range for outgoing connections.
free_ports() {
	node -e '
		const net = require("net");
		const n = Number(process.argv[1]);
		const [low] = require("fs").readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
			.trim().split(/\s+/).map(Number);
		const listen = (port) => new Promise((ok) => {
			const s = net.createServer();
			s.once("error", () => ok(null));
			s.listen(port, "127.0.0.1", () => ok(s));
		});
		(async () => {
			for (let i = 0; i < 200; i++) {
				const base = 10000 + Math.floor(Math.random() * (low - 10000 - n));
				const got = [];
				for (let p = base; p < base + n; p++) got.push(await listen(p));
				for (const s of got) s?.close();
				if (got.every(Boolean)) { console.log(base); return; }
			}
			process.exit(1);
		})();' "$1"
}

# run_start OPTION... - scripts/run OPTION... in the background, its output in
# run.log, with shared memory RUN_SHM ($AURALIS_SHM-run; node I of a cluster
# uses RUN_SHM-nodeI), its temporary files in the test's directory, and a tag
# in its environment; sets RUN_PID.
run_start() {
	RUN_TAG=auralis-bats-$$-$BATS_TEST_NUMBER
	RUN_SHM=$AURALIS_SHM-run
	AURALIS_RUN_TAG=$RUN_TAG AURALIS_SHM=$RUN_SHM TMPDIR=$BATS_TEST_TMPDIR \
		"$AURALIS_ROOT/scripts/run" "$@" > run.log 2>&1 3>&- &
	RUN_PID=$!
}

# procs_with PATTERN... - the processes whose environment has a line that
# matches one of the (grep) PATTERNs.
procs_with() {
	local env pid args=()
	for pid in "$@"; do args+=(-e "$pid"); done
	for env in $(grep -lz "${args[@]}" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${env#/proc/}
		echo "${pid%/environ}"
	done
}

# tagged - every process this test's scripts/run started: they carry its tag,
# but the sessions (websocketd passes them only the variables it is told to)
# carry its shared memory name.
tagged() {
	procs_with "^AURALIS_RUN_TAG=$RUN_TAG\$" "^AURALIS_SHM=$RUN_SHM\(-node[0-9]*\)\?\$"
}

# node_tagged I - the processes of node I, its sessions too.
node_tagged() {
	procs_with "^AURALIS_SHM=$RUN_SHM-node$1\$"
}

nothing_tagged() { [ -z "$(tagged)" ]; }
node_gone() { [ -z "$(node_tagged "$1")" ]; }

# run_stop - stops this test's scripts/run (SIGTERM: it drains, then stops),
# at last with SIGKILL to whatever it started, so that a failed test leaves
# nothing running.
run_stop() {
	[ -n "${RUN_TAG:-}" ] || return 0
	if [ -n "${RUN_PID:-}" ]; then
		kill -TERM "$RUN_PID" 2>/dev/null || true
		# A second SIGTERM stops at once, without waiting for a drain.
		poll_for 15 eval '! kill -0 "$RUN_PID" 2>/dev/null' || kill -TERM "$RUN_PID" 2>/dev/null || true
		poll_for 5 eval '! kill -0 "$RUN_PID" 2>/dev/null' || true
		wait "$RUN_PID" 2>/dev/null || true
		RUN_PID=
	fi
	poll_for 5 nothing_tagged || kill -KILL $(tagged) 2>/dev/null || true
	rm -f "/dev/shm/${RUN_SHM#/}" "/dev/shm/${RUN_SHM#/}"-node*
}

# status_of PORT - aur-stat's /api/status on 127.0.0.1:PORT.
status_of() {
	curl -s --max-time 2 "http://127.0.0.1:$1/api/status"
}

# sessions_of PORT - live sessions by aur-stat on 127.0.0.1:PORT (0 when it does not answer).
sessions_of() {
	local n
	n=$(status_of "$1" | jq -r '.sessions_active // 0' 2>/dev/null) || n=0
	echo "${n:-0}"
}
