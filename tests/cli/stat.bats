#!/usr/bin/env bats
# aur-stat: the command line, the three endpoints and their fields, counts
# that match what happened (stand-in processes, and real listeners through
# websocketd), health, the Prometheus text under a strict parser, bad paths
# and methods, CORS, 200 requests at once, a segment that is missing,
# foreign, replaced or shrunk, a listener's impossible stats that change
# nothing, and a clean stop.

bats_require_minimum_version 1.5.0

load helper
load stream_helper
load stat_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	# A segment of our own for every test: never the machine's /auralis.
	export AURALIS_SHM=/auralis-bats-stat-$$-$BATS_TEST_NUMBER
	unset AURALIS_SESSION
}

teardown() {
	stat_stop || true
	fakes_stop
	server_stop
	rm -f "/dev/shm/${AURALIS_SHM#/}"
}

# A segment with no session ever: one short-lived process counted nothing.
make_segment() {
	"$SHM_COUNT"
}

@test "--help prints usage on stdout and exits 0; --version the version" {
	run "$AUR_STAT" --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: aur-stat [options]" ]
	[[ "$output" == *"--cors-origin LIST"* && "$output" == *"exit status:"* ]]
	run "$AUR_STAT" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^aur-stat\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "bad options are usage errors that say what is accepted" {
	while IFS='|' read -r args message; do
		run timeout 5 bash -c "'$AUR_STAT' $args"
		echo "$args -> $status: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"$message"* ]]
	done <<-'TABLE'
	--port 65536|aur-stat: --port: expected 0..65535, not '65536'
	--port -1|aur-stat: --port: expected 0..65535, not '-1'
	--rate 5|aur-stat: --rate: expected 8000..192000, not '5'
	--window 0|aur-stat: --window: expected 1..3600, not '0'
	--threads 65|aur-stat: --threads: expected 1..64, not '65'
	--address localhost|aur-stat: --address: expected an IPv4 or IPv6 address such as 127.0.0.1 or ::1, not 'localhost'
	--address 1.2.3.4.5|not '1.2.3.4.5'
	--cors-origin ftp://example.org|aur-stat: --cors-origin: expected http://HOST[:PORT], https://HOST[:PORT] or *, not 'ftp://example.org'
	--cors-origin http://example.org/page|not 'http://example.org/page'
	--cors-origin http://a.example,http://b.example:x|not 'http://b.example:x'
	--bogus|usage: aur-stat
	extra|aur-stat: unexpected argument 'extra'
	TABLE
}

@test "a node nobody listened to yet is healthy and ready: aur-stat makes the shared memory" {
	[ ! -e "/dev/shm/${AURALIS_SHM#/}" ]
	stat_start
	[ "$(stat -c %a "/dev/shm/${AURALIS_SHM#/}")" = 600 ]
	get /api/status > status.json
	cat status.json
	jq -e --arg shm "$AURALIS_SHM" '.health == "ok" and .reasons == [] and .ready == true
		and .draining == false and .max_sessions == null
		and .sessions_active == 0 and .sessions_total == 0
		and .shm.name == $shm and .shm.ok == true' status.json
	# What a balancer's check looks for, as it is in the body.
	grep -q '"ready":true' status.json
	get /api/metrics > metrics.json
	jq -e '(.counters | length == 11 and all(.[]; . == 0)) and .sessions == []
		and (.histograms | all(.[]; . == {"count": 0, "mean": null, "p50": null, "p95": null, "p99": null}))' \
		metrics.json
	get /metrics > metrics.txt
	grep -qx 'auralis_up 1' metrics.txt
	grep -qx 'auralis_healthy 1' metrics.txt
	grep -qx 'auralis_ready 1' metrics.txt
	grep -qx 'auralis_draining 0' metrics.txt
	# Removed later, it is missing: 200, degraded, zeros, not ready.
	rm "/dev/shm/${AURALIS_SHM#/}"
	get /api/status > status.json
	jq -e --arg shm "$AURALIS_SHM" '.health == "degraded" and .ready == false
		and .reasons == ["shared memory \($shm) is missing"]
		and .shm == {"name": $shm, "ok": false, "error": "shared memory \($shm) is missing",
			"layout_version": 2, "age_s": null}' status.json
	get /metrics | grep -qx 'auralis_up 0'
}

@test "--max-sessions: the node is not ready while it is full" {
	make_segment
	stat_start --max-sessions 2
	get /api/status | jq -e '.ready == true and .max_sessions == 2'
	get /metrics | grep -qx 'auralis_sessions_max 2'
	fake --role chunk --session one counter chunks 1
	get /api/status | jq -e '.ready == true'
	fake --role chunk --session two counter chunks 1
	wait_for /api/status '.sessions_active == 2 and .ready == false and .health == "ok"'
	fakes_stop
	wait_for /api/status '.sessions_active == 0 and .ready == true'
}

@test "--drain and --undrain mark the node, make its shared memory if missing, and exit" {
	stat_start
	run "$AUR_STAT" --drain 2
	[ "$status" -eq 0 ]
	[ "$output" = "aur-stat: $AURALIS_SHM: draining: no new listeners; those playing are sent on in 2 s" ]
	get /api/status | jq -e '.draining == true and .ready == false and .health == "ok"'
	get /metrics | grep -qx 'auralis_draining 1'
	run "$AUR_STAT" --undrain
	[ "$status" -eq 0 ]
	[ "$output" = "aur-stat: $AURALIS_SHM: serving: new listeners are taken again" ]
	get /api/status | jq -e '.draining == false and .ready == true'
	stat_stop
	rm "/dev/shm/${AURALIS_SHM#/}"
	run "$AUR_STAT" --drain 0
	[ "$status" -eq 0 ]
	[ -e "/dev/shm/${AURALIS_SHM#/}" ]
	while IFS='|' read -r args message; do
		run "$AUR_STAT" $args
		[ "$status" -eq 2 ] || { echo "$args: $status"; false; }
		[[ "$output" == *"$message"* ]] || { echo "$args: $output"; false; }
	done <<-'TABLE'
	--drain -1|aur-stat: --drain: expected 0..3600, not '-1'
	--drain 1 --undrain|aur-stat: --drain and --undrain: one or the other
	--max-sessions 513|aur-stat: --max-sessions: expected 0..512, not '513'
	TABLE
}

@test "a segment of another layout version is named, with both versions" {
	name=${AURALIS_SHM#/}
	# The stable prefix: magic "AURALIS\0", version 3, size.
	printf 'AURALIS\0\3\0\0\0\0\0\0\0\0\20\0\0\0\0\0\0' > "/dev/shm/$name"
	truncate -s 4096 "/dev/shm/$name"
	chmod 600 "/dev/shm/$name"              # ours alone, or it is refused for that
	stat_start
	get /api/status > status.json
	jq -e --arg n "$name" '.health == "degraded" and .reasons == ["shared memory /\($n) has layout version 3, expected 2; remove it with: rm /dev/shm/\($n)"]' status.json
	jq -e '.sessions_active == 0 and .shm.ok == false' status.json
	# It reads; it never rewrites another version's segment.
	[ "$(head -c 9 "/dev/shm/$name" | od -An -tx1 | tr -d ' \n')" = 415552414c49530003 ]
}

@test "a segment never initialised is named, and does not hold requests up" {
	name=${AURALIS_SHM#/}
	head -c 4096 /dev/zero > "/dev/shm/$name"
	chmod 600 "/dev/shm/$name"
	stat_start
	# Opening it waits a second for its creator; the answer is kept for a second,
	# so that 40 requests do not wait a second each.
	start=$(date +%s%N)
	seq 40 | xargs -P 40 -I{} curl -s -o /dev/null --max-time 20 -w '%{http_code}\n' \
		"$STAT_URL/api/status" > codes
	elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
	echo "40 requests in $elapsed_ms ms"
	[ "$(grep -cx 200 codes)" -eq 40 ]
	[ "$elapsed_ms" -lt 5000 ]
	get /api/status | jq -e --arg n "$name" '.health == "degraded" and .reasons == ["shared memory /\($n) was never initialised (did its creator die?); remove it with: rm /dev/shm/\($n)"]'
}

@test "the fields and their types, with no session ever: zeros and nulls, health ok" {
	make_segment
	stat_start
	get /api/status > status.json
	cat status.json
	jq -e '(keys_unsorted[:11]) == ["version","uptime_s","sessions_active","sessions_total",
		"soundfont","sample_rate","health","ready","draining","max_sessions","reasons"]' status.json
	jq -e '(.version | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")) and (.uptime_s | type == "number" and . >= 0)
		and .sessions_active == 0 and .sessions_total == 0 and .sample_rate == 44100
		and .health == "ok" and .reasons == [] and .shm.ok == true
		and (.shm.age_s | type == "number")' status.json
	jq -e --arg sf "$AURALIS_SOUNDFONT" '.soundfont == $sf' status.json
	jq -e '.window | (.seconds | type == "number") and .chunks == 0 and .chunks_late == 0
		and .underruns == 0 and .render_p99_ms == null and .render_limit_ms == 18.576' status.json

	get /api/metrics > metrics.json
	jq -e '(keys_unsorted[:6]) == ["uptime_s","counters","sessions_active","sessions_total","histograms","sessions"]' metrics.json
	jq -e '.counters | keys_unsorted == ["chunks","chunks_late","bytes","acks","errors","events",
		"controls_applied","controls_rejected","stats_messages","underruns","ring_drops"]
		and all(.[]; type == "number")' metrics.json
	jq -e '.histograms | keys_unsorted == ["render_ms","lateness_ms","client_buffer_ms",
		"client_jitter_ms","control_latency_ms"]
		and all(.[]; . == {"count": 0, "mean": null, "p50": null, "p95": null, "p99": null})' metrics.json
	jq -e '.sessions == [] and .sessions_active == 0 and .dead_slots == 0
		and .processes == {"compose": 0, "render": 0, "chunk": 0, "stat": 0, "other": 0}' metrics.json
	run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$STAT_URL/api/status"
	[ "$output" = "200 application/json" ]
	run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$STAT_URL/metrics"
	[ "$output" = "200 text/plain; version=0.0.4; charset=utf-8" ]
}

@test "sessions are joined by id: details from the composer, chunks from the framer" {
	fake --role chunk --session s-one --detail 'codec=opus kbps=64' counter chunks 120 counter chunks_late 1 \
		counter bytes 176000
	fake --role compose --session s-one --detail 'preset=focus key=D mode=dorian bpm=72 intensity=0.45' \
		gauge buffer_ms 480 observe buffer 480000 1 counter underruns 2 counter stats_messages 1
	fake --role render --session s-one observe render 3000 50
	fake --role chunk --session s-two counter chunks 7
	# A composer without a framer is no session; a framer that died is none either.
	fake --role compose --session s-lonely --detail 'preset=sleep key=C mode=aeolian bpm=50 intensity=0.2'
	stat_start
	"$SHM_COUNT" --role chunk --session s-dead --hold 60 counter chunks 3 3>&- &
	dead=$!
	wait_for /api/metrics '[.sessions[].id] | index("s-dead")'
	kill -KILL $dead
	wait $dead || true
	wait_for /api/status '.sessions_active == 2'
	get /api/status | jq -e '.sessions_total == 3'
	get /api/metrics > metrics.json
	jq -c '.sessions[]' metrics.json
	jq -e '.sessions | length == 2' metrics.json
	jq -e '.sessions[0] | .id == "s-one" and .preset == "focus" and .key == "D" and .mode == "dorian"
		and .bpm == 72 and .intensity == 0.45 and .chunks == 120 and .late_chunks == 1
		and .buffer_ms == 480 and .jitter_ms == null and .underruns == 2
		and .codec == "opus" and .kbps == 64 and (.sent_kbps | type == "number" and . > 0)
		and (.age_s | type == "number" and . >= 0)' metrics.json
	jq -e '.sessions[1] | .id == "s-two" and .preset == null and .bpm == null and .chunks == 7
		and .buffer_ms == null and .codec == null and .kbps == null' metrics.json
	jq -e '.dead_slots == 1 and .processes.chunk == 2 and .processes.compose == 2
		and .processes.render == 1' metrics.json
	jq -e '.counters.chunks == 130 and .counters.chunks_late == 1 and .counters.underruns == 2' metrics.json
	# 50 blocks of 3 ms: the quantiles lie in 3 ms's bucket, (2.90, 4.10] ms.
	jq -e '.histograms.render_ms | .count == 50 and .mean == 3
		and ([.p50, .p95, .p99] | all(. > 2.896 and . <= 4.096))
		and .p50 <= .p95 and .p95 <= .p99' metrics.json
	jq -e '.histograms.client_buffer_ms | .count == 1 and .mean == 480' metrics.json
}

@test "health: late chunks over 1 %, underruns and slow renders, with numbers; the window forgets" {
	make_segment
	stat_start --window 3
	get /api/status | jq -e '.health == "ok"'
	# Exactly 1 % late is not over 1 %.
	"$SHM_COUNT" --role chunk counter chunks 100 counter chunks_late 1
	get /api/status | jq -e '.health == "ok" and .window.chunks == 100 and .window.chunks_late == 1'
	"$SHM_COUNT" --role chunk counter chunks 100 counter chunks_late 4
	get /api/status > status.json
	cat status.json
	jq -e '.health == "degraded" and (.reasons | length == 1)
		and (.reasons[0] | test("^5 of 200 chunks \\(2\\.5 %\\) were late in the last [0-9.]+ s, over 1 %$"))' \
		status.json
	"$SHM_COUNT" --role compose counter underruns 3
	"$SHM_COUNT" --role render observe render 20000 100
	get /api/status > status.json
	jq -c .reasons status.json
	jq -e '.reasons | length == 3
		and (.[1] | test("^clients reported 3 underruns in the last [0-9.]+ s$"))
		and (.[2] | test("^render time per block is 2[0-9]\\.[0-9] ms at p99 in the last [0-9.]+ s, over 80 % of a block.s 23\\.2 ms$"))' \
		status.json
	# Three seconds on, all of that is out of the window.
	sleep 3.5
	get /api/status > status.json
	jq -e '.health == "ok" and .reasons == [] and .window.chunks == 0' status.json
	# Lifetime counts stay in the metrics.
	get /api/metrics | jq -e '.counters.chunks == 200 and .counters.chunks_late == 5'
}

@test "health: 20 ms blocks are fine at a rate where a block lasts 46 ms" {
	make_segment
	stat_start --rate 22050
	"$SHM_COUNT" --role render observe render 20000 100
	get /api/status | jq -e '.health == "ok" and .sample_rate == 22050
		and .window.render_limit_ms == 37.152 and .window.render_p99_ms > 20'
}

@test "the SoundFont is the one aur-render would use; none is null and degraded" {
	make_segment
	stat_start --soundfont /nowhere/x.sf2
	get /api/status | jq -e '.soundfont == null and .health == "degraded"
		and .reasons == ["SoundFont /nowhere/x.sf2 (--soundfont) cannot be read: No such file or directory"]'
	stat_stop
	AURALIS_SOUNDFONT='' AURALIS_SOUNDFONT_SEARCH='/nowhere/*.sf2:/nowhere/b.sf2' stat_start
	get /api/status | jq -e '.soundfont == null and .reasons == ["no SoundFont found in /nowhere/*.sf2:/nowhere/b.sf2"]'
	stat_stop
	sf=$AURALIS_SOUNDFONT
	AURALIS_SOUNDFONT='' AURALIS_SOUNDFONT_SEARCH="/nowhere/*.sf2:$sf" stat_start
	get /api/status | jq -e --arg sf "$sf" '.soundfont == $sf and .health == "ok"'
}

@test "three listeners: sessions_active 3 while they listen, 0 when they have left" {
	server_start
	stat_start
	get /api/status | jq -e '.sessions_active == 0 and .sessions_total == 0'
	$WS_CLIENT --url "$WS_URL?preset=meditation&key=Eb" --seconds 4 --clients 3 \
		--send '2000:{"type":"preset","id":1,"name":"sleep"}' > clients.json 3>&- &
	client=$!
	wait_for /api/status '.sessions_active == 3' 3
	get /api/metrics > during.json
	jq -c '.sessions[]' during.json
	jq -e '.sessions | length == 3 and all(.[]; .preset == "meditation" and .key == "Eb"
		and (.mode | type == "string") and (.bpm | type == "number")
		and (.intensity | type == "number") and (.id | test("^[0-9a-f]{24}$")))' during.json
	# Three of each, once every renderer has loaded its SoundFont (and aur-session's
	# check of the start settings, a composer of its own, has gone).
	wait_for /api/metrics '.processes | .compose == 3 and .render == 3 and .chunk == 3' 4
	# The preset message shows in every session's detail.
	wait_for /api/metrics '.sessions | length == 3 and all(.[]; .preset == "sleep" and .chunks > 10)' 4
	wait "$client"
	wait_for /api/status '.sessions_active == 0' 5
	get /api/metrics > after.json
	jq -e '.sessions == [] and .sessions_total == 3' after.json
	# Every audio message a listener got was counted; a few more may have
	# been sent as the connections closed.
	received=$(jq '[.[].audio] | add' clients.json)
	acks=$(jq '[.[].acks | length] | add' clients.json)
	echo "received $received, counted $(jq .counters.chunks after.json)"
	jq -e --argjson n "$received" '.counters.chunks >= $n and .counters.chunks <= $n + 15' after.json
	jq -e --argjson n "$acks" '$n == 3 and .counters.acks == 3 and .counters.controls_applied == 3' after.json
	jq -e '.counters.events > 0 and .counters.bytes > 0 and .histograms.render_ms.count > 0
		and .histograms.lateness_ms.count == .counters.chunks' after.json
}

@test "/metrics passes a strict parser: names, types, cumulative buckets, escaped labels" {
	stat_start
	get /metrics > missing.txt
	$PROMPARSE missing.txt > /dev/null
	stat_stop
	fake --role chunk --session $'odd "id" \\ with\na newline and \xff' counter chunks 5
	fake --role compose --session $'odd "id" \\ with\na newline and \xff' \
		--detail 'preset=bright key=F# mode=lydian bpm=96 intensity=0.7' gauge buffer_ms 250 observe buffer 250000 1
	fake --role chunk --session plain --detail 'codec=opus kbps=32' counter chunks 2 counter bytes 3500
	fake --role render observe render 1500 30 observe render 40000 2
	fake --role other observe lateness 0 10 observe lateness 200000 1 observe lateness 99999999999 1
	stat_start
	wait_for /api/status '.sessions_active == 2'
	get /metrics > live.txt
	$PROMPARSE live.txt > parsed.json
	jq -c '.samples, (.families | length)' parsed.json
	jq -e '.families | .auralis_chunks_total == "counter" and .auralis_sessions_active == "gauge"
		and .auralis_render_block_seconds == "histogram" and .auralis_chunk_lateness_seconds == "histogram"
		and .auralis_client_buffer_seconds == "histogram" and .auralis_client_jitter_seconds == "histogram"
		and .auralis_control_latency_seconds == "histogram" and .auralis_session_info == "gauge"
		and (keys | all(startswith("auralis_")))' parsed.json
	grep -qx 'auralis_sessions_active 2' live.txt
	grep -qx 'auralis_chunks_total 7' live.txt
	grep -qx 'auralis_render_block_seconds_count 32' live.txt
	grep -qx 'auralis_chunk_lateness_seconds_bucket{le="8.388608"} 11' live.txt
	grep -qx 'auralis_chunk_lateness_seconds_bucket{le="+Inf"} 12' live.txt
	grep -qx 'auralis_session_chunks_total{session="odd \\"id\\" \\\\ with\\na newline and '$'\xef\xbf\xbd''"} 5' live.txt
	grep -qx 'auralis_session_info{session="odd \\"id\\" \\\\ with\\na newline and '$'\xef\xbf\xbd''",preset="bright",key="F#",mode="lydian",codec=""} 1' live.txt
	grep -qx 'auralis_session_opus_kbps{session="plain"} 32' live.txt
	grep -qx 'auralis_session_sent_bytes_total{session="plain"} 3500' live.txt
	[ "$(grep -c 'auralis_session_opus_kbps{session="odd' live.txt)" -eq 0 ]
	grep -qx 'auralis_session_buffer_seconds{session="odd \\"id\\" \\\\ with\\na newline and '$'\xef\xbf\xbd''"} 0.25' live.txt
	# promtool, when it is installed, agrees.
	if command -v promtool > /dev/null; then
		promtool check metrics < live.txt || [ $? -eq 3 ]      # 3: lint warnings only
	fi
}

@test "the strict parser refuses what a scraper would choke on" {
	good=$'# HELP a_total A.\n# TYPE a_total counter\na_total 1\n'
	printf '%s' "$good" | $PROMPARSE > /dev/null
	while IFS='|' read -r text want; do
		text=$(printf '%b' "$text")
		run --separate-stderr $PROMPARSE <<< "$text"
		echo "$text -> $status: $stderr"
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"$want"* ]]
	done <<-'TABLE'
	a_total 1|has no TYPE declared before it
	# TYPE a_total counter\na_total -1|counter a_total is -1
	# TYPE a_total counter\na_total one|bad value 'one'
	# TYPE a_total counter\na_total 1\na_total 2|appears twice
	# TYPE a counter\n# TYPE a gauge\na 1|second TYPE for a
	# TYPE a bogus\na 1|unknown type 'bogus'
	# TYPE 1a gauge\n1a 1|bad metric name
	# TYPE a gauge\na{b="c} 1|unterminated label value
	# TYPE a gauge\na{b="c\\t"} 1|bad escape
	# TYPE a gauge\na{b="c",} 1|trailing comma
	# TYPE a gauge\na{b="c",b="d"} 1|label b twice
	# TYPE a gauge\na{__b="c"} 1|reserved label name
	# TYPE a gauge\na{1b="c"} 1|bad label name
	# TYPE a gauge\na  1|expected ' value [timestamp]'
	# TYPE a gauge\na 1\n\na 2|blank line
	# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="y"} 2|samples of a are not together
	# TYPE a gauge\na 1\n# HELP a late|HELP for a after its samples
	# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1|is not cumulative
	# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 1\nh_sum 1\nh_count 1|the last bucket is not le="+Inf"
	# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3|+Inf bucket 2 != _count 3
	# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1|does not increase
	# TYPE h histogram\nh_bucket{le="x"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1|is not a number
	# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1|no _sum
	# TYPE h histogram\nh_bucket 1|without le
	TABLE
	# Invalid UTF-8, and a last line without its newline.
	run --separate-stderr $PROMPARSE < <(printf '# TYPE a gauge\na{b="\xff"} 1\n')
	[ "$status" -eq 1 ] && [[ "$stderr" == *"not valid UTF-8"* ]]
	run --separate-stderr $PROMPARSE < <(printf '# TYPE a gauge\na 1')
	[ "$status" -eq 1 ] && [[ "$stderr" == *"does not end in a newline"* ]]
}

@test "other paths get 404 and other methods 405, in JSON; HEAD has the headers only" {
	make_segment
	stat_start
	while read -r method path code; do
		run curl -s -X "$method" -o body -w '%{http_code} %{content_type}' "$STAT_URL$path"
		echo "$method $path -> $output: $(cat body)"
		[ "$output" = "$code application/json" ]
	done <<-'TABLE'
	GET / 404
	GET /api 404
	GET /api/status/ 404
	GET /api/statusx 404
	GET /metrics/x 404
	GET /%ff%00 404
	POST /api/status 405
	PUT /metrics 405
	DELETE /api/metrics 405
	PATCH /nowhere 405
	TABLE
	curl -s "$STAT_URL/nope?x=1" | jq -e '. == {"error": "not found", "path": "/nope"}'
	curl -s -X POST --data-binary @"$AUR_STAT" "$STAT_URL/api/status" |
		jq -e '. == {"error": "method not allowed", "method": "POST"}'
	curl -s -D headers -o /dev/null -X DELETE "$STAT_URL/api/status"
	grep -qi '^Allow: GET, HEAD, OPTIONS' headers
	# A query string is no part of the path.
	get '/api/status?cache=123' | jq -e '.health == "ok"'
	# HEAD: the headers of a GET, no body.
	curl -s -I "$STAT_URL/api/metrics" > head.txt
	cat head.txt
	grep -q '^HTTP/1.1 200' head.txt
	grep -qi '^Content-Type: application/json' head.txt
	grep -qi '^Content-Length: [1-9]' head.txt
	# OPTIONS answers what is allowed.
	run curl -s -X OPTIONS -D headers -o body -w '%{http_code}' "$STAT_URL/api/status"
	[ "$output" = 204 ] && [ ! -s body ]
	grep -qi '^Allow: GET, HEAD, OPTIONS' headers
	# Still serving after all that.
	get /api/status | jq -e '.health == "ok"'
}

@test "a client that trickles its request head is cut off at --header-timeout" {
	make_segment
	stat_start --header-timeout 2
	# A header line every half second: libmicrohttpd's idle timeout never
	# comes, the head's deadline does.
	python3 "$AURALIS_ROOT/tests/ws/slow-http.py" "$STAT_PORT" 1 127.0.0.2 0.5 12 > slow.json
	cat slow.json
	jq -e '.closed == 1 and .closed_after[0] >= 2 and .closed_after[0] < 10' slow.json
	# A client that sends its head at once is answered as ever.
	get /api/status | jq -e '.health == "ok"'
}

@test "slow clients from many addresses cannot shut out a local health check" {
	make_segment
	stat_start
	# 64 connections an address: the 36 past that from 127.0.0.2 are closed at once.
	python3 "$AURALIS_ROOT/tests/ws/slow-http.py" "$STAT_PORT" 100 127.0.0.2 1 2 > one.json
	cat one.json
	jq -e '.held_at_1s == 64 and .closed == 36' one.json
	# 1100 from twenty addresses hold every connection but the sixteen kept
	# for 127.0.0.1 and ::1, where a health check still gets its answer.
	sources=$(seq -f '127.0.0.%g' 2 21 | paste -sd,)
	python3 "$AURALIS_ROOT/tests/ws/slow-http.py" "$STAT_PORT" 1100 "$sources" 1 4 > many.json &
	client=$!
	for _ in $(seq 100); do
		[ "$(ss -Htn state established "( sport = :$STAT_PORT )" | wc -l)" -ge 1000 ] && break
		sleep 0.1
	done
	ss -Htn state established "( sport = :$STAT_PORT )" | wc -l
	[ "$(ss -Htn state established "( sport = :$STAT_PORT )" | wc -l)" -ge 1000 ]
	run curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$STAT_URL/api/status"
	[ "$output" = 200 ]
	wait "$client"
	cat many.json
	# 1024 less the 16 kept; the threads that accept read the count a
	# connection or so late each, so a few more may get in, never all.
	jq -e '.held_at_1s >= 1000 and .held_at_1s <= 1012' many.json
}

@test "CORS: pages from the same host on any port, listed origins, or * -- no one else" {
	make_segment
	stat_start
	allowed() {     # allowed ORIGIN [HOST]: prints the Access-Control-Allow-Origin answered
		curl -s -D - -o /dev/null -H "Origin: $1" ${2:+-H "Host: $2"} "$STAT_URL/api/status" |
			tr -d '\r' | awk -F': ' 'tolower($1) == "access-control-allow-origin" { print $2 }'
	}
	[ "$(allowed http://127.0.0.1:8080)" = http://127.0.0.1:8080 ]
	[ "$(allowed http://127.0.0.1)" = http://127.0.0.1 ]
	[ "$(allowed http://localhost:8080 localhost:$STAT_PORT)" = http://localhost:8080 ]
	[ "$(allowed 'http://[::1]:8080' "[::1]:$STAT_PORT")" = 'http://[::1]:8080' ]
	[ -z "$(allowed http://evil.example)" ]
	[ -z "$(allowed http://127.0.0.1.evil.example:8080)" ]
	[ -z "$(allowed https://127.0.0.1:8080)" ]
	[ "$(allowed http://localhost:8080)" = http://localhost:8080 ]   # loopback names the same
	# A page whose name was pointed at this machine (DNS rebinding) is not ours,
	# whatever its Host header says.
	[ -z "$(allowed http://evil.example:8080 evil.example:$STAT_PORT)" ]
	[ -z "$(allowed http://evil.example evil.example)" ]
	[ -z "$(allowed null)" ]
	curl -s -D - -o /dev/null "$STAT_URL/api/status" | grep -qi '^Vary: Origin'
	# Preflight.
	curl -s -D headers -o /dev/null -X OPTIONS -H 'Origin: http://127.0.0.1:8080' \
		-H 'Access-Control-Request-Method: GET' "$STAT_URL/metrics"
	grep -qi '^Access-Control-Allow-Origin: http://127.0.0.1:8080' headers
	grep -qi '^Access-Control-Allow-Methods: GET, HEAD, OPTIONS' headers
	stat_stop
	stat_start --cors-origin https://dash.example:8443,http://other.example --cors-origin http://third.example
	[ "$(allowed https://dash.example:8443)" = https://dash.example:8443 ]
	[ "$(allowed http://third.example)" = http://third.example ]
	[ "$(allowed http://127.0.0.1:9)" = http://127.0.0.1:9 ]
	[ -z "$(allowed https://dash.example)" ]
	stat_stop
	stat_start --cors-origin '*'
	[ "$(allowed http://anyone.example)" = '*' ]
}

@test "200 requests at once are all answered" {
	for i in 1 2 3; do
		fake --role chunk --session "s$i" counter chunks $i
		fake --role compose --session "s$i" --detail "preset=focus key=D mode=dorian bpm=72 intensity=0.4"
	done
	stat_start
	wait_for /api/status '.sessions_active == 3'
	for path in /api/status /api/metrics /metrics; do
		# One process making 200 connections at once (200 curls cost seconds
		# of process creation alone), from ten addresses: one address may
		# hold 64.
		node -e 'const http = require("http");
			const one = (i) => new Promise((resolve) => {
				const req = http.get(process.argv[1], { localAddress: `127.0.0.${2 + i % 10}`,
					agent: false, timeout: 20000 }, (res) => { res.resume(); resolve(res.statusCode); });
				req.on("error", () => resolve(0));
				req.on("timeout", () => { req.destroy(); resolve(0); });
			});
			Promise.all(Array.from({ length: 200 }, (_, i) => one(i)))
				.then((codes) => console.log(codes.join("\n")))' "$STAT_URL$path" > codes
		sort codes | uniq -c
		[ "$(grep -cx 200 codes)" -eq 200 ]
	done
}

@test "a segment removed while it runs is reported, and found again when made anew" {
	make_segment
	fake --role chunk --session before counter chunks 9
	stat_start
	wait_for /api/status '.sessions_active == 1 and .health == "ok"'
	rm "/dev/shm/${AURALIS_SHM#/}"
	get /api/status | jq -e --arg shm "$AURALIS_SHM" '.health == "degraded"
		and .reasons == ["shared memory \($shm) is missing"] and .sessions_active == 0'
	get /api/metrics | jq -e '.sessions == [] and .counters.chunks == 0'
	# A new segment: its own counts, nothing of the old one's.
	fake --role chunk --session after counter chunks 4
	wait_for /api/status '.sessions_active == 1 and .health == "ok"'
	get /api/metrics | jq -e '.counters.chunks == 4 and [.sessions[].id] == ["after"]'
}

@test "a segment shrunk while it runs is reported, not a crash, and found again when made anew" {
	make_segment
	fake --role chunk --session before counter chunks 9
	stat_start
	wait_for /api/status '.sessions_active == 1 and .health == "ok"'
	# size it is cut to | what aur-stat then says of it (opened again)
	while IFS='|' read -r size reason; do
		truncate -s "$size" "/dev/shm/${AURALIS_SHM#/}"
		reason=${reason//NAME/${AURALIS_SHM#/}}
		# The request that meets the shrink says so; a later one, why it cannot read it.
		get /api/status > status.json
		jq -c .reasons status.json
		jq -e --arg shm "$AURALIS_SHM" --arg r "$reason" '.health == "degraded" and .sessions_active == 0
			and (.reasons == ["shared memory \($shm) shrank while it was read; it is opened again at the next request"]
			  or .reasons == [$r])' status.json
		sleep 1.1                               # past the second an answer about a bad segment is kept
		get /api/status | jq -e --arg r "$reason" '.reasons == [$r] and .shm.ok == false'
		get /api/metrics | jq -e '.sessions == [] and .counters.chunks == 0'
		get /metrics | grep -qx 'auralis_up 0'
		kill -0 "$STAT_PID"
		# Made anew: counted again.
		fakes_stop
		rm "/dev/shm/${AURALIS_SHM#/}"
		fake --role chunk --session after counter chunks 4
		wait_for /api/status '.sessions_active == 1 and .health == "ok"'
		get /api/metrics | jq -e '.counters.chunks == 4 and [.sessions[].id] == ["after"]'
	done <<-'TABLE'
	0|shared memory /NAME was never initialised (did its creator die?); remove it with: rm /dev/shm/NAME
	4096|shared memory /NAME is 4096 bytes, expected 4263936 for layout version 2; remove it with: rm /dev/shm/NAME
	TABLE
	# Once for each mapping that met a shrink.
	cat stat.err
	[ "$(grep -c "^aur-stat: shared memory $AURALIS_SHM: counters detached: the segment shrank; going on without them$" stat.err)" -eq 2 ]
}

@test "a listener's impossible stats are refused, and leave the server's health alone" {
	server_start
	stat_start
	# The ack of the last waits for the next note, which may be a second or more away.
	$WS_CLIENT --url "$WS_URL" --seconds 4 \
		--send '300:{"type":"stats","id":1,"buffer_ms":420,"underruns":100000000000000,"jitter_ms":7.5,"latency_ms":380}' \
		--send '400:{"type":"stats","id":2,"buffer_ms":1e14}' \
		--send '500:{"type":"stats","id":3,"latency_ms":86400000,"underruns":0}' \
		--send '600:{"type":"stats","id":4,"buffer_ms":400,"underruns":0,"jitter_ms":6,"latency_ms":360}' \
		> out.json
	jq -c '.errors, .acks' out.json
	jq -e '[.errors[].id] == [1, 2, 3] and [.acks[].id] == [4]
		and (.errors[0].message | test("^underruns 100000000000000 is more than one per 100 ms chunk of the music so far \\(at most [0-9]+\\)$"))
		and .errors[1].message == "buffer_ms 100000000000000 is out of 0..60000"
		and .errors[2].message == "latency_ms 86400000 is out of 0..60000"' out.json
	wait_for /api/status '.sessions_active == 0' 5
	get /api/status > status.json
	jq -e '.window.underruns == 0 and all(.reasons[]; test("underrun") | not)' status.json
	get /api/metrics > metrics.json
	jq -c .counters metrics.json
	jq -e '.counters.underruns == 0 and .counters.stats_messages == 1
		and .counters.controls_rejected == 3 and .histograms.client_buffer_ms.count == 1
		and .histograms.control_latency_ms.count == 1' metrics.json
	get /metrics | grep -x 'auralis_underruns_total 0'
}

@test "SIGTERM and SIGINT stop it with status 0; a port in use is status 1" {
	make_segment
	for sig in TERM INT; do
		stat_start
		get /api/status > /dev/null
		kill -$sig "$STAT_PID"
		wait "$STAT_PID"
		STAT_PID=
		grep -q "^aur-stat: listening on http://127.0.0.1:[0-9]*/$" stat.err
	done
	stat_start
	run --separate-stderr "$AUR_STAT" --port "$STAT_PORT"
	[ "$status" -eq 1 ]
	[ "$stderr" = "aur-stat: cannot listen on 127.0.0.1 port $STAT_PORT: Address already in use" ]
}

@test "it listens on the address given only, IPv6 too" {
	make_segment
	stat_start
	run curl -s -g --max-time 2 "http://[::1]:$STAT_PORT/api/status"
	[ "$status" -ne 0 ]
	stat_stop
	if ! node -e 'require("net").createServer().listen(0, "::1", function () { this.close() })' 2>/dev/null; then
		skip "no IPv6 loopback here"
	fi
	"$AUR_STAT" --address ::1 --port 0 --port-file v6.port 2> v6.err 3>&- &
	STAT_PID=$!
	for _ in $(seq 100); do [ -s v6.port ] && break; sleep 0.05; done
	port=$(cat v6.port)
	grep -qx "aur-stat: listening on http://\[::1\]:$port/" v6.err
	curl -sf -g "http://[::1]:$port/api/status" | jq -e '.health == "ok"'
	run curl -s --max-time 2 "http://127.0.0.1:$port/api/status"
	[ "$status" -ne 0 ]
}
