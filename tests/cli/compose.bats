#!/usr/bin/env bats
# aur-compose: the command line, presets, determinism, the shape of the
# stream, the ways it ends, live pacing and live controls.

load helper
load compose_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	rm -f "/dev/shm/auralis-bats-compose-$$-$BATS_TEST_NUMBER"
}

# live_run SECONDS ARGS... - runs a live composer with standard input open
# and silent for SECONDS, output in live.notes.  (The sleep lets go of bats'
# fd 3, so that bats does not wait for it.)
live_run() {
	local seconds=$1
	shift
	"$AUR_COMPOSE" --live "$@" < <(exec 3>&-; sleep "$seconds") > live.notes
}

# ack_time ID - the music time of the ack of message ID in acks.jsonl,
# written as in the note stream (three decimals).
ack_time() {
	printf '%.3f' "$(jq -r --argjson id "$1" 'select(.type == "ack" and .id == $id) | .t' acks.jsonl)"
}

@test "--help prints usage on stdout and exits 0" {
	run "$AUR_COMPOSE" --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: aur-compose [options]" ]
	[[ "$output" == *"exit status:"* ]]
	[[ "$output" == *"--ack-log FILE"* ]]
	[[ "$output" == *"--list-presets"* ]]
}

@test "--list-presets prints the presets as JSON, the default first, as --preset plays them" {
	run "$AUR_COMPOSE" --list-presets
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(jq -c 'map([.name, .label, .key, .mode, .bpm, .intensity, .default, .sounds.piano, .sounds.pad, .sounds.layer])' <<<"$output")" = \
	  '[["focus","Focus","D","dorian",72,0.45,true,0,94,42],["meditation","Meditation","F","lydian",56,0.25,false,4,91,52],["sleep","Sleep","A","aeolian",44,0.1,false,0,92,53],["bright","Bright","G","ionian",96,0.7,false,1,90,102]]' ]
	# One object a line, between the brackets.
	[ "${#lines[@]}" -eq 6 ] && [ "${lines[0]}" = "[" ] && [ "${lines[5]}" = "]" ]
	# Each is what --preset NAME starts with: its header and its programs.
	for name in $(jq -r '.[].name' <<<"$output"); do
		want=$(jq -r --arg n "$name" '.[] | select(.name == $n)
			| "key=\(.key) mode=\(.mode) bpm=\(.bpm) intensity=\(.intensity) preset=\(.name) bars=1|\(.sounds.piano) \(.sounds.pad) \(.sounds.layer) "' <<<"$output")
		"$AUR_COMPOSE" --seed 1 --bars 1 --preset "$name" > out.notes
		got="$(sed -n 2p out.notes | sed 's/^# aur-compose [^ ]* seed=1 //')|$(awk '$2 == "program" { printf "%s ", $4 }' out.notes)"
		echo "$name: $got"
		[ "$got" = "$want" ]
	done
	# With anything wrong beside it, a usage error.
	run "$AUR_COMPOSE" --list-presets --seed x
	[ "$status" -eq 2 ]
	run "$AUR_COMPOSE" --list-presets extra
	[ "$status" -eq 2 ]
}

@test "--version prints the version" {
	run "$AUR_COMPOSE" --version
	[ "$status" -eq 0 ]
	[ "$output" = "aur-compose 0.1.0" ]
}

@test "bad options are usage errors that name what is accepted" {
	while IFS='|' read -r args message; do
		run bash -c "'$AUR_COMPOSE' $args < /dev/null > /dev/null"
		echo "$args -> $status: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"$message"* ]]
		[[ "$output" == *"usage: aur-compose"* ]]
	done <<-'TABLE'
	--bpm 300 --duration 1|aur-compose: --bpm: expected 40..120, not '300'
	--bpm 39.9 --duration 1|aur-compose: --bpm: expected 40..120, not '39.9'
	--bpm 4.05e1 --duration 1|aur-compose: --bpm: expected a decimal number (digits and at most one '.') in 40..120, not '4.05e1'
	--intensity 1.5 --duration 1|aur-compose: --intensity: expected 0..1, not '1.5'
	--intensity -0.1 --duration 1|aur-compose: --intensity: expected 0..1, not '-0.1'
	--key H --duration 1|aur-compose: --key: expected C, C#, Db, D, D#, Eb, E, F, F#, Gb, G, G#, Ab, A, A#, Bb or B, not 'H'
	--mode locrian --duration 1|aur-compose: --mode: expected ionian, dorian, phrygian, lydian, mixolydian or aeolian (or major, minor), not 'locrian'
	--preset loud --duration 1|aur-compose: --preset: expected focus, meditation, sleep or bright, not 'loud'
	--duration 0|aur-compose: --duration: expected 0.001..604800, not '0'
	--bars 0|aur-compose: --bars: expected 1..100000, not '0'
	--seed -1 --duration 1|aur-compose: --seed: expected 0..18446744073709551615, not '-1'
	--live --lookahead 11|aur-compose: --lookahead: expected 0..10, not '11'
	--duration 1 --bars 1|aur-compose: --duration and --bars exclude each other
	--seed 1|aur-compose: how much music? give --duration, --bars or --live
	--duration 1 --ack-log acks|aur-compose: --ack-log needs --live
	--duration 1 --lookahead 1|aur-compose: --lookahead needs --live
	--duration|aur-compose: --duration: needs a value
	--frobnicate|aur-compose: --frobnicate: unknown option
	--duration 1 extra|aur-compose: unexpected argument 'extra'
	TABLE
}

@test "the header gives the format, then seed, key, mode, tempo, intensity and preset" {
	"$AUR_COMPOSE" --seed 123 --duration 60 > out.notes
	[ "$(sed -n 1p out.notes)" = "# auralis-notes 1" ]
	[ "$(sed -n 2p out.notes)" = "# aur-compose 0.1.0 seed=123 key=D mode=dorian bpm=72 intensity=0.45 preset=focus duration=60" ]
	[ "$(sed -n 3,5p out.notes)" = "$(printf '0.000 program 0 0\n0.000 cc 0 7 100\n0.000 cc 0 91 100')" ]
	[ "$(sed -n 6,8p out.notes)" = "$(printf '0.000 program 1 94\n0.000 cc 1 7 100\n0.000 cc 1 91 100')" ]
}

@test "presets set key, mode, tempo, intensity and sounds; explicit options win" {
	while IFS='|' read -r args header programs volumes sends; do
		"$AUR_COMPOSE" --seed 1 --bars 1 $args > out.notes
		echo "$args: $(sed -n 2p out.notes)"
		[ "$(sed -n 2p out.notes)" = "# aur-compose 0.1.0 seed=1 $header bars=1" ]
		[ "$(awk '$2 == "program" { printf "%s ", $4 }' out.notes)" = "$programs " ]
		[ "$(awk '$2 == "cc" && $4 == 7 { printf "%s ", $5 }' out.notes)" = "$volumes " ]
		[ "$(awk '$2 == "cc" && $4 == 91 { printf "%s ", $5 }' out.notes)" = "$sends " ]
	done <<-'TABLE'
	--preset focus|key=D mode=dorian bpm=72 intensity=0.45 preset=focus|0 94 42|100 100 100|100 100 100
	--preset meditation|key=F mode=lydian bpm=56 intensity=0.25 preset=meditation|4 91 52|84 100 100|100 75 100
	--preset sleep|key=A mode=aeolian bpm=44 intensity=0.1 preset=sleep|0 92 53|100 85 100|100 120 100
	--preset bright|key=G mode=ionian bpm=96 intensity=0.7 preset=bright|1 90 102|100 100 100|100 100 100
	--key E --preset sleep --bpm 100|key=E mode=aeolian bpm=100 intensity=0.1 preset=sleep|0 92 53|100 85 100|100 120 100
	--preset Bright --mode minor --key bb --intensity 0.3|key=Bb mode=aeolian bpm=96 intensity=0.3 preset=bright|1 90 102|100 100 100|100 100 100
	--key Db --mode mixolydian --bpm 40.5|key=C# mode=mixolydian bpm=40.5 intensity=0.45 preset=focus|0 94 42|100 100 100|100 100 100
	TABLE
}

@test "the same seed gives the same bytes; another seed other music" {
	"$AUR_COMPOSE" --seed 42 --duration 300 > a.notes
	"$AUR_COMPOSE" --seed 42 --duration 300 > b.notes
	"$AUR_COMPOSE" --seed 43 --duration 300 > c.notes
	cmp a.notes b.notes
	if cmp -s <(sed 1,2d a.notes) <(sed 1,2d c.notes); then false; fi
	[ "$(grep -c ' note 0 ' a.notes)" -gt 50 ]
}

@test "the music is pinned: each preset, and the far corners, by the hash of its events" {
	# When the music changes on purpose (compose/compose_tables.c, the
	# engine), update the hashes: build, then run for each row
	#   build/aur-compose --seed S OPTIONS --duration 600 | sed 1,2d | sha256sum
	# and say in the commit why the music changed.  Code that only moves
	# leaves them as they are.  The header (lines 1-2, with the version) is
	# not pinned.
	while IFS='|' read -r seed options sum; do
		# shellcheck disable=SC2086
		got=$("$AUR_COMPOSE" --seed "$seed" $options --duration 600 | sed 1,2d | sha256sum | cut -d' ' -f1)
		echo "--seed $seed $options: $got"
		[ "$got" = "$sum" ]
	done <<-'TABLE'
	42|--preset focus|d21863d5c87f1ca9a4473ae5d30a6cd23a0adac6cb665b64d7815476e37012a2
	42|--preset meditation|927f18ee726cf8bc49a3991fee67a677cae7ca18e4a161f70de4ccdd20a39800
	42|--preset sleep|a6ed07fa400d90357eb05610b585b446cc8dec91e85525da7151c3621321a3a5
	42|--preset bright|9129365b946c5efa04251de364f5be36d687dcf4fd0b2d6d35402dd7a5854d2e
	7|--key F# --mode lydian --bpm 40 --intensity 1|15502758f63629a2392f8515fe25897bf817f835bd33024ceca6a9ada47c0387
	7|--key Eb --mode phrygian --bpm 120 --intensity 0|8c766ed8e40a43a7fe670894ca363a3ebfbcb17feaa0afe15bdab36543a270f2
	TABLE
}

@test "without --seed the header tells the seed that reproduces the stream" {
	"$AUR_COMPOSE" --duration 120 > first.notes
	seed=$(sed -n '2s/.* seed=\([0-9]*\) .*/\1/p' first.notes)
	[ -n "$seed" ]
	"$AUR_COMPOSE" --seed "$seed" --duration 120 > again.notes
	cmp first.notes again.notes
}

@test "ten minutes of music is a well-formed stream that ends with end" {
	"$AUR_COMPOSE" --seed 5 --duration 600 > out.notes
	check_stream out.notes
	[ "$(tail -n 1 out.notes)" = "600.000 end" ]
	# A piano melody and a pad, both busy until the closing chord.
	[ "$(awk '$2 == "note" && $3 == 0 && $1 > 480 && $1 < 570' out.notes | wc -l)" -gt 10 ]
	[ "$(awk '$2 == "on" && $3 == 1 && $1 > 480' out.notes | wc -l)" -gt 3 ]
}

# tonic_end FILE - the pitch classes the pad holds until `end`, then the pitch
# class of the last melody note and the last pad expression (CC 11), as
# "0 4 7|0|56".
tonic_end() {
	awk '
	/^#/ { next }
	$1 != now { delete held; for (k in pad) held[k] = 1; now = $1 }
	$2 == "on" && $3 == 1 { pad[$4] = 1 }
	$2 == "off" && $3 == 1 { delete pad[$4] }
	$2 == "note" && $3 == 0 { last = $4 % 12 }
	$2 == "cc" && $3 == 1 && $4 == 11 { expression = $5 }
	$2 == "end" {
		for (k in held) pcs[k % 12] = 1
		for (pc = 0; pc < 12; pc++) if (pc in pcs) out = out (out == "" ? "" : " ") pc
		print out "|" last "|" expression
	}' "$1"
}

@test "a piece with --duration or --bars ends on the tonic chord, the melody on it, fading" {
	while IFS='|' read -r args pcs; do
		"$AUR_COMPOSE" $args > out.notes
		check_stream out.notes
		IFS='|' read -r pad last expression < <(tonic_end out.notes)
		echo "$args: pad $pad at the end, last melody note $last, expression $expression"
		[ "$pad" = "$pcs" ]
		[[ " $pcs " == *" $last "* ]]
		[ "$expression" -lt 70 ]
	done <<-'TABLE'
	--seed 5 --duration 600|2 5 9
	--preset sleep --seed 8 --duration 900|0 4 9
	--preset meditation --seed 3 --bars 60|0 5 9
	--preset bright --seed 4 --bars 120|2 7 11
	--key E --mode phrygian --intensity 0.9 --seed 6 --duration 300|4 7 11
	TABLE
}

@test "--bars counts 4/4 bars at the starting tempo" {
	while read -r bars bpm end; do
		"$AUR_COMPOSE" --seed 2 --bars "$bars" --bpm "$bpm" > out.notes
		check_stream out.notes
		[ "$(tail -n 1 out.notes)" = "$end end" ]
	done <<-'TABLE'
	8 120 16.000
	16 72 53.333
	1 40 6.000
	TABLE
}

@test "the melody stays in the scale and resolves its chromatic tones, in any key and mode" {
	while read -r key mode intensity; do
		"$AUR_COMPOSE" --seed 9 --duration 900 --key "$key" --mode "$mode" \
			--intensity "$intensity" > out.notes
		read -r in resolved total < <(melody_in_scale out.notes 0 "$(scale_of "$key" "$mode")")
		read -r pad_in pad_total < <(pad_in_scale out.notes 0 "$(scale_of "$key" "$mode")")
		echo "$key $mode: $in of $total melody notes in the scale, $resolved resolved; pad $pad_in of $pad_total"
		[ "$total" -gt 200 ]
		[ $((in * 100)) -ge $((total * 95)) ]
		[ $((in + resolved)) -eq "$total" ]
		[ "$pad_in" -eq "$pad_total" ]
	done <<-'TABLE'
	C ionian 0.5
	F# lydian 0.9
	Bb phrygian 0.2
	E mixolydian 0.7
	Ab aeolian 1
	B dorian 0
	TABLE
}

@test "a closed downstream ends the composer quietly with status 0" {
	run bash -c "set -o pipefail; '$AUR_COMPOSE' --seed 1 --duration 3600 2> err.txt | head -c 100 > /dev/null"
	[ "$status" -eq 0 ]
	[ ! -s err.txt ]
}

@test "live: without controls the stream equals the offline one, byte for byte" {
	live_run 5 --seed 8 --duration 1.2
	"$AUR_COMPOSE" --seed 8 --duration 1.2 > offline.notes
	cmp live.notes offline.notes
}

@test "live: paced by the clock, the first 0.3 s at once, ended by a signal" {
	# Three seconds of wall time, then SIGTERM.
	run bash -c "timeout --preserve-status -s TERM 3 '$AUR_COMPOSE' --live --seed 4 < <(exec 3>&-; sleep 10) > live.notes"
	[ "$status" -eq 143 ]
	t=$(latest live.notes)
	echo "latest event at $t after 3 s"
	# At most 3 s + the lookahead (0.15) + the prefill (0.3); and it kept up.
	awk -v t="$t" 'BEGIN { exit !(t <= 3.45 && t >= 2.7) }'
	[ "$(tail -n 1 live.notes)" = "$t end" ]
	check_stream live.notes stopped
}

@test "live: the end of standard input ends the stream with status 0" {
	run bash -c "{ sleep 0.5; } | '$AUR_COMPOSE' --live --seed 4 > live.notes"
	[ "$status" -eq 0 ]
	check_stream live.notes stopped
	t=$(latest live.notes)
	awk -v t="$t" 'BEGIN { exit !(t >= 0.5 && t <= 1.2) }'
}

@test "live: a key and mode change is acked and heard from the acked time on" {
	{
		sleep 0.6
		echo '{"type":"control","id":7,"key":"F#","mode":"lydian"}'
		sleep 4
	} | "$AUR_COMPOSE" --live --seed 11 --bpm 120 --intensity 1 --ack-log acks.jsonl > live.notes
	cat acks.jsonl
	[ "$(jq -c 'del(.t)' acks.jsonl)" = '{"type":"ack","id":7}' ]
	t=$(ack_time 7)
	awk -v t="$t" 'BEGIN { exit !(t >= 0.6 && t <= 1.0) }'
	# The stream splits at the comment that records the change; the first
	# event after it, at the acked time, releases what clashes.
	sed '/^# from/,$d' live.notes > before.notes
	sed -n '/^# from/,$p' live.notes > after.notes
	grep -q "^# from $t: key=F# mode=lydian bpm=120 intensity=1$" after.notes
	[ "$(awk '!/^#/ && $2 != "tick" { print $1, $2; exit }' after.notes)" = "$t off" ]
	# The pad moves without a gap: no key is released and struck again at
	# the change, and something of the pad sounds throughout.
	[ -z "$(awk -v t="$t" '$1 == t && $3 == 1 && ($2 == "on" || $2 == "off") { n[$4]++ } END { for (k in n) if (n[k] > 1) print k }' after.notes)" ]
	# Every melody note still sounding at the change outside the new scale
	# gets an `off` at once.
	scale=$(scale_of F# lydian)
	awk -v t="$t" -v pcs="$scale" '
		BEGIN { n = split(pcs, p, " "); for (i = 1; i <= n; i++) in_scale[p[i]] = 1 }
		/^#/ { next }
		$2 == "note" && $3 == 0 && $1 < t && $1 + $6 > t && !(($4 % 12) in in_scale) { clash[$4]++ }
		$2 == "off" && $3 == 0 && $1 <= t + 0.1 { clash[$4]-- }
		END { for (k in clash) if (clash[k] > 0) { print "still sounding: " k; bad = 1 } exit bad }' live.notes
	# From then on the pad and the melody are in F# lydian; before, in D dorian.
	scale=$(scale_of F# lydian)
	read -r pad_in pad_total < <(pad_in_scale after.notes 0 "$scale")
	read -r in resolved total < <(melody_in_scale after.notes 0 "$scale")
	echo "after $t: pad $pad_in of $pad_total, melody $in (+$resolved resolved) of $total in F# lydian"
	[ "$pad_total" -ge 3 ]
	[ "$pad_in" -eq "$pad_total" ]
	[ "$total" -ge 1 ]                            # phrases breathe: a rest may follow
	[ $((in + resolved)) -ge $((total - 1)) ]     # the last one may be cut off before it resolves
	read -r pad_in pad_total < <(pad_in_scale before.notes 0 "$(scale_of D dorian)")
	[ "$pad_total" -ge 3 ]
	[ "$pad_in" -eq "$pad_total" ]
	check_stream live.notes stopped
}

@test "live: a tempo change is heard at once and sets the time still to come" {
	{
		sleep 0.5
		echo '{"type":"control","id":1,"bpm":40}'
		sleep 1.5
	} | "$AUR_COMPOSE" --live --seed 3 --bpm 120 --intensity 1 --ack-log acks.jsonl > live.notes
	t=$(ack_time 1)
	grep -q "^# from [0-9.]*: key=D mode=dorian bpm=40 intensity=1$" live.notes
	from=$(sed -n 's/^# from \([0-9.]*\):.*/\1/p' live.notes)
	end=$(awk '$2 == "end" { print $1 }' live.notes)
	echo "changed at $from, first event after it at $t, stopped at $end"
	# The pad is struck again at the change itself.
	[ "$t" = "$from" ]
	grep -q "^$from on 1 " live.notes
	# Eighths of 0.25 s before the change, of 0.75 s from it; the release
	# when the input closed is where it falls.
	awk -v from="$from" -v t="$t" -v end="$end" '
		function off_grid(x, unit) { x = x / unit; return x - int(x + 0.5) > 0.004 || int(x + 0.5) - x > 0.004 }
		/^#/ || $2 == "tick" || $1 == end { next }
		$1 < from && off_grid($1, 0.25) { print "off the 120 BPM grid: " $0; bad = 1 }
		$1 >= t && off_grid($1 - t, 0.75) { print "off the 40 BPM grid: " $0; bad = 1 }
		END { exit bad }' live.notes
	awk -v t="$t" 'BEGIN { exit !(t > 0.5) }'
	check_stream live.notes stopped
}

@test "live: a client's stats are held to what it can have seen, and only their growth is counted" {
	export AURALIS_SHM=/auralis-bats-compose-$$-$BATS_TEST_NUMBER    # teardown removes it
	# seconds after start | message | answer: ack, or the error (a regular expression).
	# About 0.55 s of music is written at 0.4 s (0.3 s at once, then 0.15 s
	# ahead of the clock): at most 6 underruns then, about 16 at 1.4 s.
	cat > table <<-'TABLE'
	0.4|{"type":"stats","id":1,"buffer_ms":420,"underruns":1e14,"jitter_ms":7,"latency_ms":380}|underruns 100000000000000 is more than one per 100 ms chunk of the music so far \(at most [0-9]+\)
	0.4|{"type":"stats","id":2,"buffer_ms":1e14}|buffer_ms 100000000000000 is out of 0\.\.60000
	0.4|{"type":"stats","id":3,"jitter_ms":60000.5}|jitter_ms 60000\.5 is out of 0\.\.60000
	0.4|{"type":"stats","id":4,"latency_ms":86400000}|latency_ms 86400000 is out of 0\.\.60000
	0.4|{"type":"stats","id":5,"underruns":40}|underruns 40 is more than one per 100 ms chunk of the music so far \(at most [0-9]+\)
	0.4|{"type":"stats","id":6,"buffer_ms":60000,"underruns":2}|ack
	0.4|{"type":"stats","id":7,"underruns":1}|ack
	1.4|{"type":"stats","id":8,"underruns":10}|ack
	1.4|{"type":"stats","id":9,"underruns":1e14}|underruns 100000000000000 is more than one per 100 ms chunk of the music so far \(at most [0-9]+\)
	1.4|{"type":"stats","id":10,"underruns":10,"jitter_ms":3}|ack
	TABLE
	{
		sleep 0.4
		awk -F'|' '$1 == "0.4" { print $2 }' table
		sleep 1
		awk -F'|' '$1 == "1.4" { print $2 }' table
		sleep 0.3
	} | "$AUR_COMPOSE" --live --seed 6 --ack-log acks.jsonl > live.notes 2> err.txt
	cat err.txt acks.jsonl
	n=0
	while IFS='|' read -r _ message want; do
		n=$((n + 1))
		id=$(jq .id <<< "$message")
		got=$(jq -r --argjson id "$id" 'select(.id == $id) | if .type == "ack" then "ack" else .message end' acks.jsonl)
		echo "$id: $got"
		[[ "$got" =~ ^$want$ ]]
	done < table
	[ "$(jq -s length acks.jsonl)" -eq "$n" ]
	# The bound grows with the music written: a second later, ten chunks more.
	first=$(jq -r 'select(.id == 1) | .message | capture("at most (?<n>[0-9]+)").n' acks.jsonl)
	later=$(jq -r 'select(.id == 9) | .message | capture("at most (?<n>[0-9]+)").n' acks.jsonl)
	echo "at most $first at 0.4 s, $later at 1.4 s"
	[ "$first" -ge 6 ] && [ "$first" -lt 40 ] && [ "$later" -ge $((first + 9)) ]
	# Counted: the growth of the reports accepted, 2, then nothing (a count
	# never goes back), then 8 -- never a claim that was refused.
	"$AURALIS_BUILD/tests/shm-post" --totals > totals
	grep -x 'underruns 10' totals
	grep -x 'stats_messages 4' totals
	grep -x 'controls_rejected 6' totals
	grep -x 'buffer_count 1' totals
	grep -x 'jitter_count 1' totals
	check_stream live.notes stopped
}

@test "live: a flood of bad messages is answered in full but logged within a budget" {
	{
		for i in $(seq 100); do echo "{\"type\":\"control\",\"id\":$i,\"bpm\":999}"; done
		sleep 0.3
	} | "$AUR_COMPOSE" --live --seed 6 --ack-log acks.jsonl > live.notes 2> err.txt
	# Every message is answered...
	[ "$(jq -s 'map(select(.type == "error")) | length' acks.jsonl)" -eq 100 ]
	# ... and standard error has the first 20 and a count of the rest.
	[ "$(grep -c 'bpm 999 is out of 40..120' err.txt)" -eq 20 ]
	[ "$(sed -n 20p err.txt)" = "aur-compose: stdin:20: bpm 999 is out of 40..120" ]
	[ "$(tail -n 1 err.txt)" = "aur-compose: stdin: 80 more rejected messages were not reported here" ]
	[ "$(wc -l < err.txt)" -eq 21 ]
}

@test "live: each bad message is rejected with its reason and the music goes on" {
	# message | reason | id in the answer
	cat > table <<-'TABLE'
	not json|not JSON: invalid token near 'not' (column 3)|null
	[1,2]|expected a JSON object, not an array|null
	{"type":"control","id":1,"bpm":300}|bpm 300 is out of 40..120|1
	{"type":"control","id":2,"intensity":1.5}|intensity 1.5 is out of 0..1|2
	{"type":"control","id":3,"key":"H"}|unknown key 'H' (expected C, C#, Db, D, ... Bb or B)|3
	{"type":"control","id":4,"mode":"locrian"}|unknown mode 'locrian' (expected ionian, dorian, phrygian, lydian, mixolydian or aeolian)|4
	{"type":"control","id":5,"tempo":80}|unknown field 'tempo' in a control message|5
	{"type":"control","id":6,"bpm":"fast"}|bpm must be a number, not 'fast'|6
	{"type":"preset","id":7,"name":"loud"}|unknown preset 'loud' (expected focus, meditation, sleep or bright)|7
	{"type":"preset","id":8}|a preset message needs a name|8
	{"type":"dance","id":9}|unknown type 'dance' (expected control, preset, quality or stats)|9
	{"id":10}|a message needs a type (control, preset, quality or stats)|10
	{"type":"control","id":"x"}|id must be an integer, not 'x'|null
	{"type":"stats","id":11,"buffer_ms":-5}|buffer_ms -5 is out of 0..60000|11
	{"type":"quality","id":15,"kbps":5}|kbps 5 is out of 6..510|15
	TABLE
	{
		sleep 0.4
		cut -d'|' -f1 table
		head -c 70000 /dev/zero | tr '\0' x
		echo
		printf '{"type":"control",\0"id":14}\n'
		echo                                    # a blank line is no message
		echo '{"type":"control","id":12,"intensity":0.2}'
		echo '{"type":"stats","id":13,"buffer_ms":180,"underruns":0,"jitter_ms":3.5,"latency_ms":310}'
		sleep 0.8
	} | "$AUR_COMPOSE" --live --seed 6 --ack-log acks.jsonl > live.notes 2> err.txt
	cat err.txt
	echo "line of 70000 bytes|line is longer than 65536 bytes|null" >> table
	echo "line with a NUL byte|NUL byte in the line|null" >> table
	# Each rejection: one line on standard error with its line number, one answer.
	n=0
	while IFS='|' read -r _ reason id; do
		n=$((n + 1))
		[ "$(sed -n "${n}p" err.txt)" = "aur-compose: stdin:$n: $reason" ]
		[ "$(sed -n "${n}p" acks.jsonl | jq -c .)" = "$(jq -cn --argjson id "$id" --arg m "$reason" '{type: "error", id: $id, message: $m}')" ]
	done < table
	[ "$(wc -l < err.txt)" -eq 17 ]
	# The good messages after them are acknowledged, and the music went on.
	[ "$(jq -c 'select(.type == "ack") | .id' acks.jsonl | tr '\n' ' ')" = "12 13 " ]
	grep -q "intensity=0.2$" live.notes
	t=$(latest live.notes)
	awk -v t="$t" 'BEGIN { exit !(t >= 1.1) }'
	check_stream live.notes stopped
}
