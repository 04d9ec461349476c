#!/usr/bin/env bats
# aur-meter: each figure read from a signal made with sox whose figure is
# known, and the command line's errors.

load sound_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# synth FILE CHANNELS SOX_SYNTH_ARGS... - a 16-bit 44.1 kHz file, undithered.
synth() {
	local file=$1 channels=$2
	shift 2
	sox -D -n -r 44100 -c "$channels" -b 16 "$file" "$@"
}

# check FILE KEY LO HI - FILE's KEY (aur-meter's JSON) is within [LO, HI].
check() {
	local value
	value=$(figure "$1" "$2")
	echo "$1: $2 $value, expected $3..$4"
	within "$value" "$3" "$4"
}

@test "--help, --version and usage errors" {
	run "$AUR_METER" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: aur-meter [--from S] [--until S] [--gap-db DB] FILE" ]]
	run "$AUR_METER" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^aur-meter\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	while IFS='|' read -r args code message; do
		run bash -c "'$AUR_METER' $args"
		echo "$args -> $status: $output"
		[ "$status" -eq "$code" ]
		[[ "$output" == *"$message"* ]]
	done <<-'TABLE'
	|2|usage: aur-meter
	a.wav b.wav|2|usage: aur-meter
	--minus a.wav|2|usage: aur-meter
	--from x a.wav|2|aur-meter: --from: expected a decimal number (digits and at most one '.') in 0..1e+06, not 'x'
	--gap-db 3 a.wav|2|aur-meter: --gap-db: expected -200..0, not '3'
	--from 2 --until 1 a.wav|2|aur-meter: --until: expected more than --from (2), not '1'
	--frobnicate a.wav|2|usage: aur-meter
	no-such.wav|1|aur-meter: no-such.wav: No such file or directory
	TABLE
	echo "not audio" > text.wav
	run "$AUR_METER" text.wav
	[ "$status" -eq 1 ]
	[[ "$output" == "aur-meter: text.wav: "* ]]
	synth mono.wav 1 synth 1 sine 440
	synth stereo.wav 2 synth 1 sine 440
	run "$AUR_METER" --minus mono.wav stereo.wav
	[ "$status" -eq 1 ]
	[[ "$output" == "aur-meter: stereo.wav: 2 channels at 44100 Hz, but mono.wav has 1 at 44100 Hz" ]]
}

@test "loudness, peaks, RMS and DC of sines (BS.1770: a stereo sine reads its peak level in LUFS)" {
	synth stereo.wav 2 synth 10 sine 1000 vol -20dB
	synth mono.wav 1 synth 10 sine 1000 vol -20dB
	synth loud.wav 2 synth 2 sine 1000 vol -1dB
	synth dc.wav 2 synth 4 sine 100 vol -20dB dcshift 0.01
	# Every key is there, once, as a number.
	[ "$("$AUR_METER" stereo.wav | jq -r 'keys_unsorted | join(" ")')" = \
		"lufs lra peak_dbfs true_peak_dbfs dc_dbfs rms_dbfs over_3db gap_max_s clicks seconds" ]
	while read -r file key lo hi; do
		check "$file" "$key" "$lo" "$hi"
	done <<-'TABLE'
	stereo.wav lufs -20.1 -19.9
	stereo.wav lra 0 0.1
	stereo.wav peak_dbfs -20.05 -19.95
	stereo.wav true_peak_dbfs -20.05 -19.9
	stereo.wav rms_dbfs -23.05 -22.95
	stereo.wav dc_dbfs -200 -100
	stereo.wav over_3db 0 0
	stereo.wav seconds 10 10
	mono.wav lufs -23.1 -22.9
	loud.wav peak_dbfs -1.05 -0.95
	loud.wav over_3db 73000 74000
	dc.wav dc_dbfs -40.05 -39.95
	dc.wav lufs -22.5 -21
	TABLE
}

@test "a gap of silence is measured; --from and --until bound what is measured" {
	synth tone.wav 2 synth 3 sine 440 vol -20dB
	sox tone.wav padded.wav pad 0 2
	sox padded.wav tone.wav gap.wav
	# 3 s tone, 2 s silence, 3 s tone: 400 ms windows from 3.0 to 4.6 s are quiet.
	while read -r args key lo hi; do
		value=$("$AUR_METER" $args gap.wav | jq ".$key")
		echo "$args: $key $value, expected $lo..$hi"
		within "$value" "$lo" "$hi"
	done <<-'TABLE'
	--gap-db=-45 gap_max_s 2.0 2.0
	--until=3 gap_max_s 0 0
	--until=4 gap_max_s 1.0 1.0
	--from=3.5 gap_max_s 1.5 1.5
	--gap-db=-20 gap_max_s 8.0 8.0
	--until=3 seconds 3 3
	--from=6 seconds 2 2
	--from=6 lufs -20.8 -20.5
	TABLE
}

@test "clicks: a noise burst or a tone cut mid-cycle counts 1; a fade and a clean tone 0" {
	synth sine.wav 2 synth 4 sine 440 vol -20dB
	synth burst.wav 2 synth 0.001 whitenoise vol 0.5 pad 2 1.999
	sox -m sine.wav burst.wav click.wav
	# A pad-like tone cut off mid-cycle, as a stolen voice is, while the
	# next tone fades in; and the same tone faded out over 50 ms instead.
	synth next.wav 2 synth 2 sine 330 fade 0.3 2 0.3 vol -6dB pad 1.0123 0
	synth cut.wav 2 synth 1.0123 sine 220 fade 0.3 pad 0 1
	synth faded.wav 2 synth 1.0123 sine 220 fade 0.3 1.0123 0.05 pad 0 1
	sox -m cut.wav next.wav stolen.wav
	sox -m faded.wav next.wav released.wav
	while read -r file clicks; do
		value=$(figure "$file" clicks)
		echo "$file: clicks $value, expected $clicks"
		[ "$value" -eq "$clicks" ]
	done <<-'TABLE'
	sine.wav 0
	click.wav 1
	stolen.wav 1
	released.wav 0
	TABLE
}

@test "--minus: the share of B's energy that A lacks" {
	synth a.wav 2 synth 4 sine 440 vol -20dB
	synth b.wav 2 synth 4 sine 440 vol -20dB
	synth half.wav 2 synth 4 sine 440 vol -26.0206dB
	synth silent.wav 2 trim 0 4
	while read -r a b lo hi; do
		value=$("$AUR_METER" --minus "$a" "$b" | jq .share)
		echo "$a from $b: share $value, expected $lo..$hi"
		within "$value" "$lo" "$hi"
	done <<-'TABLE'
	a.wav b.wav 0 0
	half.wav b.wav 0.249 0.251
	silent.wav b.wav 1 1
	TABLE
	run "$AUR_METER" --minus a.wav silent.wav
	[ "$status" -eq 1 ]
	[[ "$output" == "aur-meter: silent.wav: silent: no share of nothing" ]]
}
