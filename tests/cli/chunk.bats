#!/usr/bin/env bats
# aur-chunk: the command line, framing and base64, the ways a stream ends,
# acks and errors from the session ring in audio order, and its counters.

bats_require_minimum_version 1.5.0

load helper
load chunk_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	# A segment of our own: never the machine's /auralis.
	export AURALIS_SHM=/auralis-bats-$$-$BATS_TEST_NUMBER
	unset AURALIS_SESSION
}

teardown() {
	rm -f "/dev/shm/${AURALIS_SHM#/}"
}

@test "--help prints usage on stdout and exits 0" {
	run "$AUR_CHUNK" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: aur-chunk [options] < PCM" ]]
	[[ "$output" == *"exit status:"* ]]
}

@test "--version prints the version" {
	run "$AUR_CHUNK" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^aur-chunk\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "bad options are usage errors that name the accepted range" {
	while IFS='|' read -r args message; do
		run bash -c "'$AUR_CHUNK' $args < /dev/null > /dev/null"
		echo "$args -> $status: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"$message"* ]]
	done <<-'TABLE'
	--rate 7999|aur-chunk: --rate: expected 8000..192000, not '7999'
	--rate fast|aur-chunk: --rate: expected 8000..192000, not 'fast'
	--channels 0|aur-chunk: --channels: expected 1..8, not '0'
	--chunk-ms 5|aur-chunk: --chunk-ms: expected 10..1000, not '5'
	--chunk-ms 33|aur-chunk: --chunk-ms: 33 ms is not a whole number of frames at 44100 Hz
	--prefill 11|aur-chunk: --prefill: expected 0..10, not '11'
	--prefill -1|aur-chunk: --prefill: expected 0..10, not '-1'
	--session ''|aur-chunk: --session: expected 1..64 bytes, not ''
	--session xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx|--session: expected 1..64 bytes
	extra|aur-chunk: unexpected argument 'extra'
	--frobnicate|usage: aur-chunk
	--codec mp3|aur-chunk: --codec: expected pcm or opus, not 'mp3'
	--kbps 64|aur-chunk: --kbps: only for --codec opus
	--complexity 3|aur-chunk: --complexity: only for --codec opus
	--codec opus --kbps 5|aur-chunk: --kbps: expected 6..510, not '5'
	--codec opus --kbps 511|aur-chunk: --kbps: expected 6..510, not '511'
	--codec opus --complexity 11|aur-chunk: --complexity: expected 0..10, not '11'
	--codec opus --rate 44100|aur-chunk: --rate: Opus takes 8000, 12000, 16000, 24000 or 48000, not 44100
	--codec opus --chunk-ms 50|aur-chunk: --chunk-ms: 50 ms is not a whole number of 20 ms Opus packets
	--codec opus --channels 3|aur-chunk: --channels: Opus here codes 1 or 2, not 3
	--playing-nice 20|aur-chunk: --playing-nice: expected 0..19, not '20'
	TABLE
}

@test "hello comes first with the stream's format and session" {
	while IFS='|' read -r args env session; do
		pcm 10 > in.raw
		env $env "$AUR_CHUNK" $args < in.raw > out.jsonl
		echo "$args $env: $(head -n 1 out.jsonl)"
		head -n 1 out.jsonl | jq -e --arg s "$session" '
			.type == "hello" and .version == 1 and .codec == "pcm" and .sample_rate == 44100 and
			.channels == 2 and .chunk_ms == 100 and
			(if $s == "RANDOM" then .session | test("^[0-9a-f]{32}$") else .session == $s end)'
	done <<-'TABLE'
	--session abc||abc
	|AURALIS_SESSION=from-env|from-env
	--session opt|AURALIS_SESSION=from-env|opt
	||RANDOM
	TABLE
	# Two generated ids differ.
	a=$("$AUR_CHUNK" < /dev/null | jq -r .session)
	b=$("$AUR_CHUNK" < /dev/null | jq -r .session)
	[ "$a" != "$b" ]
}

@test "an Opus hello names what a decoder needs: rate, packet length, pre-skip, bitrate" {
	"$AUR_CHUNK" --codec opus --session o < /dev/null > out.jsonl
	cat out.jsonl
	# 312 frames is libopus's look-ahead at 48 kHz (6.5 ms), what opusenc
	# writes as pre-skip; any delay a decoder must drop would do, if named.
	jq -e '.type == "hello" and .codec == "opus" and .sample_rate == 48000 and .channels == 2 and
		.chunk_ms == 100 and .frame_ms == 20 and .pre_skip == 312 and .kbps == 96 and
		.session == "o"' out.jsonl
	"$AUR_CHUNK" --codec opus --kbps 48 --rate 24000 --channels 1 --chunk-ms 60 < /dev/null |
		jq -e '.sample_rate == 24000 and .channels == 1 and .chunk_ms == 60 and .kbps == 48 and .pre_skip > 0'
}

@test "Opus: five packets a chunk, one stream that decodes to the music, aligned" {
	notes_every_second 6 > six.notes
	"$AUR_RENDER" --rate 48000 six.notes > ref.raw
	"$AUR_CHUNK" --codec opus --session o < ref.raw > out.jsonl
	# Each chunk: 100 ms of packets in base64, no PCM.
	frames=$(frames_of ref.raw)
	chunks=$(( (frames + 4799) / 4800 ))
	jq -e -s --argjson n "$chunks" '[.[] | select(.type == "audio")] |
		length == $n and all(.[]; (.packets | length) == 5 and .data == null and .kbps == 96)
		and ([.[].seq] == [range(0; $n)])' out.jsonl
	tail -n 1 out.jsonl | jq -e --argjson f $(( frames - (chunks - 1) * 4800 )) '.last and .frames == $f'
	# Decoded as a browser does, less the pre-skip, it lines up with the
	# music: 312 frames off (the pre-skip kept), or a few, and the SNR falls
	# to nothing.  (A perceptual codec keeps the sound, not the waveform:
	# 20-28 dB is what 96 kbit/s gives; docs/performance.md.)
	"$AURALIS_BUILD/tests/sound/aur-opusdec" --ref ref.raw < out.jsonl 2> figures.json > dec.raw
	cat figures.json
	jq -e '.chunks == '"$chunks"' and .kbps == [96] and .snr_db >= 15 and .band_db < 2' figures.json
	[ "$(frames_of dec.raw)" -eq $(( chunks * 4800 - 312 )) ]
	# ... and 8 frames (0.17 ms) off, it would not pass.
	tail -c +33 ref.raw > shifted.raw
	"$AURALIS_BUILD/tests/sound/aur-opusdec" --ref shifted.raw < out.jsonl 2> shifted.json > /dev/null
	jq -e '.snr_db < 10' shifted.json
	# At 96 kbit/s the packets average 240 bytes (12 kB/s), give or take the VBR.
	jq -e '.bytes / .chunks / 5 | . > 150 and . < 330' figures.json
}

@test "Opus: a quality request sets the bitrate of the next chunk and is acked after it" {
	notes_every_second 2 > two.notes
	"$AUR_RENDER" --rate 48000 two.notes > in.raw
	"$SHM_POST" q1 quality 1 32 quality null 48 quality 2 5 ack 3 0.15 -- cat in.raw |
		"$AUR_CHUNK" --codec opus --session q1 > out.jsonl
	replies out.jsonl | head -n 7 > got.txt
	cat > want.txt <<-'WANT'
	hello
	audio 0
	ack 1 0
	error 2 kbps 5 is out of 6..510
	audio 1
	ack 3 0.15
	audio 2
	WANT
	diff -u want.txt got.txt
	# The last good request holds from chunk 0 on, and the stream decodes whole.
	jq -e -s 'map(select(.type == "audio") | .kbps) | unique == [48]' out.jsonl
	"$AURALIS_BUILD/tests/sound/aur-opusdec" < out.jsonl 2> figures.json > /dev/null
	jq -e '.kbps == [48]' figures.json
	# A PCM stream has no bitrate: the request is refused in words.
	pcm 4410 > pcm.raw
	"$SHM_POST" q2 quality 4 64 -- cat pcm.raw | "$AUR_CHUNK" --session q2 > pcm.jsonl
	[ "$(replies pcm.jsonl | tail -n 1)" = "error 4 quality: this stream is PCM, which has no bitrate to set (ask for codec=opus)" ]
}

@test "session ids are escaped as JSON strings" {
	"$AUR_CHUNK" --session $'q"b\\s\tt\x01' < /dev/null > out.jsonl
	[ "$(jq -r .session out.jsonl)" = $'q"b\\s\tt\x01' ]
	grep -qF '"session":"q\"b\\s\tt\u0001"' out.jsonl
}

@test "N frames make ceil(N/4410) chunks that decode to the input, padded at the end" {
	while read -r frames; do
		pcm "$frames" > in.raw
		run "$AUR_CHUNK" < in.raw
		[ "$status" -eq 0 ]
		printf '%s\n' "$output" > out.jsonl
		want=$(( (frames + 4409) / 4410 ))
		got=$(jq -s '[.[] | select(.type == "audio")] | length' out.jsonl)
		echo "$frames frames: $got chunks, want $want"
		[ "$got" -eq "$want" ]
		# Every message is on its own line; hello, then only audio.
		[ "$(wc -l < out.jsonl)" -eq $(( want + 1 )) ]
		# Each chunk: the fixed fields, 23520 base64 characters, 17640 bytes.
		jq -e -s '[.[] | select(.type == "audio")] | to_entries | all(
			.key as $i | .value |
			.seq == $i and (.t * 1000 | round) == $i * 100 and .duration_ms == 100 and
			.sample_rate == 44100 and .channels == 2 and (.data | length) == 23520 and
			(.timestamp | type) == "number")' out.jsonl
		jq -r 'select(.type == "audio") | .data' out.jsonl | while read -r data; do
			[ "$(printf '%s' "$data" | base64 -d | wc -c)" -eq 17640 ]
		done
		# The concatenated PCM, less the padding, is the input.
		audio_data out.jsonl > back.raw
		cmp <(head -c $(( frames * 4 )) back.raw) in.raw
		[ -z "$(tail -c +$(( frames * 4 + 1 )) back.raw | tr -d '\0')" ]
		# Only a partial last chunk is marked, with its real frames.
		partial=$(( frames % 4410 ))
		marked=$(jq -c 'select(.last) | [.seq, .frames]' out.jsonl)
		if [ "$partial" -ne 0 ]; then
			[ "$marked" = "[$(( want - 1 )),$partial]" ]
		else
			[ -z "$marked" ]
		fi
	done <<-'TABLE'
	0
	1
	4409
	4410
	4411
	44100
	50000
	TABLE
}

@test "other rates, channel counts and chunk lengths" {
	while read -r rate channels ms frames; do
		per=$(( rate * ms / 1000 ))
		head -c $(( frames * channels * 2 )) /dev/urandom > in.raw
		"$AUR_CHUNK" --rate "$rate" --channels "$channels" --chunk-ms "$ms" < in.raw > out.jsonl
		head -n 1 out.jsonl | jq -e --argjson r "$rate" --argjson c "$channels" --argjson m "$ms" '
			.type == "hello" and .sample_rate == $r and .channels == $c and .chunk_ms == $m'
		[ "$(jq -s '[.[] | select(.type == "audio")] | length' out.jsonl)" -eq $(( (frames + per - 1) / per )) ]
		jq -e -s --argjson m "$ms" 'map(select(.type == "audio")) | all((.t * 1000 | round) == .seq * $m)' out.jsonl
		audio_data out.jsonl > back.raw
		[ "$(stat -c %s back.raw)" -eq $(( (frames + per - 1) / per * per * channels * 2 )) ]
		cmp <(head -c $(( frames * channels * 2 )) back.raw) in.raw
	done <<-'TABLE'
	48000 1 20 5000
	8000 8 1000 8001
	22050 2 200 4410
	TABLE
}

@test "input that ends inside a frame: the whole frames go out, exit 3" {
	{ pcm 4410; printf 'abc'; } > in.raw
	run --separate-stderr "$AUR_CHUNK" < in.raw
	[ "$status" -eq 3 ]
	[ "$stderr" = "aur-chunk: standard input: the input ended inside a frame: 3 stray bytes dropped" ]
	[ "$(printf '%s\n' "$output" | jq -s '[.[] | select(.type == "audio")] | length')" -eq 1 ]
}

@test "a closed stdout ends it quietly with status 0" {
	run bash -c "head -c 20000000 /dev/zero | '$AUR_CHUNK' 2> err.txt | head -n 3 > out.jsonl; echo \${PIPESTATUS[1]}"
	[ "$output" = 0 ]
	[ ! -s err.txt ]
	[ "$(wc -l < out.jsonl)" -eq 3 ]
}

@test "short reads: PCM that arrives in odd pieces frames the same" {
	pcm 9000 > in.raw
	"$AUR_CHUNK" --session s < in.raw | jq -c 'del(.timestamp)' > whole.jsonl
	{ head -c 7 in.raw; sleep 0.05; tail -c +8 in.raw | head -c 20001; sleep 0.05; tail -c +20009 in.raw; } |
		"$AUR_CHUNK" --session s | jq -c 'del(.timestamp)' > pieces.jsonl
	cmp whole.jsonl pieces.jsonl
}

@test "acks follow the first chunk that reaches their music time; errors the next chunk" {
	pcm 22050 > in.raw
	"$SHM_POST" s1 ack 1 0.25 ack 2 0 ack 3 0.1 ack 4 0.2999 error 5 $'bad "key"\tH' \
		error null 'not JSON' ack 6 0.45 ack 7 9.5 -- cat in.raw |
		"$AUR_CHUNK" --session s1 > out.jsonl
	replies out.jsonl > got.txt
	cat > want.txt <<-'WANT'
	hello
	audio 0
	ack 2 0
	error 5 bad "key"	H
	error null not JSON
	audio 1
	ack 3 0.1
	audio 2
	ack 1 0.25
	ack 4 0.2999
	audio 3
	audio 4
	ack 6 0.45
	WANT
	diff -u want.txt got.txt
	# What is not UTF-8 becomes U+FFFD: the line stays valid JSON; valid
	# UTF-8 goes through as it is.
	"$SHM_POST" s1 error 8 $'bad\xffbyte' error 9 $'caf\xc3\xa9 \xe2\x82\xac' -- cat in.raw |
		"$AUR_CHUNK" --session s1 > out.jsonl
	grep -qF '{"type":"error","id":8,"message":"bad\ufffdbyte"}' out.jsonl
	grep -qF "{\"type\":\"error\",\"id\":9,\"message\":\"caf"$'\xc3\xa9 \xe2\x82\xac'"\"}" out.jsonl
}

@test "acks reach aur-chunk through AURALIS_SESSION, and only its own session's" {
	pcm 4410 > in.raw
	AURALIS_SESSION=mine "$SHM_POST" --wait 0 other ack 1 0 -- "$SHM_POST" mine ack 2 0 -- cat in.raw |
		AURALIS_SESSION=mine "$AUR_CHUNK" > out.jsonl
	[ "$(replies out.jsonl | tr '\n' ' ')" = "hello audio 0 ack 2 0 " ]
}

@test "a full session ring: the drops are reported, never silent" {
	pcm 4410 > in.raw
	args=()
	for i in $(seq 1 20); do args+=(ack "$i" 0); done
	run --separate-stderr bash -c "'$SHM_POST' s2 ${args[*]} -- cat in.raw | '$AUR_CHUNK' --session s2"
	[ "$status" -eq 0 ]
	[ "$stderr" = "shm-post: 4 dropped" ]
	printf '%s\n' "$output" > out.jsonl
	[ "$(jq -s '[.[] | select(.type == "ack")] | map(.id)' out.jsonl | jq -c .)" = "[$(seq -s, 1 16)]" ]
	jq -e -s 'map(select(.type == "error")) | length == 1 and
		(.[0] | .id == null and (.message | startswith("4 control replies were lost")))' out.jsonl
}

@test "counts chunks, bytes and the session in shared memory, and frees its slot" {
	pcm 44100 > in.raw
	"$AUR_CHUNK" < in.raw > out.jsonl
	[ "$(total chunks)" -eq 10 ]
	[ "$(total bytes)" -eq "$(stat -c %s out.jsonl)" ]
	[ "$(total lateness_count)" -eq 10 ]
	[ "$(total chunks_late)" -eq 0 ]
	[ "$(total sessions_total)" -eq 1 ]
	[ "$(total live_chunk)" -eq 0 ]
	[ "$(total dead)" -eq 0 ]
}

@test "a chunk that arrives long after it was due is counted late" {
	pcm 8820 > in.raw
	{ head -c 17640 in.raw; sleep 0.6; tail -c +17641 in.raw; } | "$AUR_CHUNK" > out.jsonl
	[ "$(total chunks)" -eq 2 ]
	[ "$(total chunks_late)" -eq 1 ]
}

@test "without shared memory it warns once and streams anyway" {
	pcm 8820 > in.raw
	AURALIS_SHM=no-slash run --separate-stderr "$AUR_CHUNK" < in.raw
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "aur-chunk: shared memory name 'no-slash': "*"; going on without counters" ]]
	[ "$(printf '%s\n' "$output" | jq -s '[.[] | select(.type == "audio")] | length')" -eq 2 ]
}

@test "a segment of another layout version is named, with how to remove it" {
	name=${AURALIS_SHM#/}
	# The stable prefix: magic "AURALIS\0", version 3, size.
	printf 'AURALIS\0\3\0\0\0\0\0\0\0\0\20\0\0\0\0\0\0' > "/dev/shm/$name"
	truncate -s 4096 "/dev/shm/$name"
	chmod 600 "/dev/shm/$name"     # ours in every other way: only the version is wrong
	run --separate-stderr "$AUR_CHUNK" < /dev/null
	[ "$status" -eq 0 ]
	[ "$stderr" = "aur-chunk: shared memory /$name has layout version 3, expected 2; remove it with: rm /dev/shm/$name; going on without counters" ]
}

@test "SIGTERM and SIGINT end it cleanly and free its slot" {
	mkfifo in.fifo
	while read -r sig want; do
		# A writer that sends one chunk, then nothing: aur-chunk blocks in read.
		{ pcm 4410; exec sleep 30; } > in.fifo &
		writer=$!
		"$AUR_CHUNK" < in.fifo > out.jsonl 2> err.txt &
		pid=$!
		for _ in $(seq 100); do [ "$(wc -l < out.jsonl)" -eq 2 ] && break; sleep 0.05; done
		[ "$(total live_chunk)" -eq 1 ]
		kill "-$sig" "$pid"
		status=0
		wait "$pid" || status=$?
		kill "$writer"
		echo "$sig: $status"
		[ "$status" -eq "$want" ]
		[ ! -s err.txt ]
		[ "$(wc -l < out.jsonl)" -eq 2 ]
		[ "$(total live_chunk)" -eq 0 ]
		[ "$(total dead)" -eq 0 ]
	done <<-'TABLE'
	TERM 143
	INT 130
	TABLE
}

@test "--playing-nice N: once a second of music is sent, and not before, its priority drops by N" {
	base=$(nice_of $$)
	mkfifo in.fifo
	while read -r args frames lowered_by; do
		# The PCM, then an input held open: aur-chunk waits in read, its
		# chunks sent, and its nice value can be read without a race.
		{ pcm "$frames"; exec sleep 30; } > in.fifo &
		writer=$!
		"$AUR_CHUNK" $args < in.fifo > out.jsonl &
		pid=$!
		want=$(( 1 + frames / 4410 ))
		for _ in $(seq 200); do [ "$(wc -l < out.jsonl)" -ge "$want" ] && break; sleep 0.05; done
		echo "$args, $frames frames: $(wc -l < out.jsonl) lines, nice $(nice_of "$pid")"
		[ "$(wc -l < out.jsonl)" -eq "$want" ]
		wait_nice "$pid" "$(lowered "$base" "$lowered_by")"
		kill "$pid" "$writer"
		wait "$pid" || true
	done <<-'TABLE'
	--playing-nice=7 44100 7
	--playing-nice=7 39690 0
	--playing-nice=0 44100 0
	--playing-nice=19 88200 19
	TABLE
}
