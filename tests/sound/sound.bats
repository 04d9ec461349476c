#!/usr/bin/env bats
# The sound check (DESIGN.md, decision 10): every preset, and Focus at both
# ends of the intensity, composed at seed 42, rendered for two minutes with
# the default SoundFont (the one scripts/run plays, not the tests' small
# one) and measured with aur-meter against the design's bounds:
#
#   |DC| < -50 dBFS; -26..-16 LUFS integrated; presets within 4 LU of each
#   other; intensity 0 to 1 spans <= 8 LU; sample peak < -1 dBFS and nothing
#   over -3 dBFS (the soft knee is never reached); no clicks; no voice stolen
#   (the render equals a 1024-voice one byte for byte, at intensity 1 and in
#   Bright); piano
#   alone -4..+6 LU against the pad alone; the reverb carries 20-30 % of the
#   energy; the pad never under -45 dBFS for 400 ms while the music plays;
#   and one short render pinned by its hash.
#
# The renders run in setup_file, as many at once as there are cores; each
# test reads the figures.  A failure prints every figure with its bound and
# the SoundFont.  docs/sound.md tells how the figures are measured.

load sound_helper

# The default SoundFont, as scripts/run resolves it.
unset AURALIS_SOUNDFONT
MUSIC_S=120
PRESETS="focus meditation sleep bright"
# Every full render: the presets at their own intensity, Focus at 0 and 1.
FULL="$PRESETS focus-i0 focus-i1"

# render_job NAME NOTES [AUR_RENDER_OPTION...] - renders NOTES.notes to
# NAME.wav and measures it into NAME.json; a failure leaves NAME.err.
render_job() {
	local name=$1 notes=$2
	shift 2
	cd "$SOUND_DIR" || return 1
	if "$AUR_RENDER" -q "$@" -o "$name.wav" "$notes.notes" 2> "$name.err" &&
		"$AUR_METER" "$name.wav" > "$name.json" 2>> "$name.err" &&
		"$AUR_METER" --until "$MUSIC_S" "$name.wav" > "$name.music.json" 2>> "$name.err"; then
		rm -f "$name.err"
	else
		echo "aur-render $* -o $name.wav $notes.notes failed" >> "$name.err"
	fi
}

# only_channels CHANNELS - note events of the listed channels (a regex
# alternation, e.g. "1|2") from standard input; every other line is kept.
only_channels() {
	awk -v keep="^($1)\$" '$2 ~ /^(note|on|off)$/ && $3 !~ keep { next } { print }'
}

setup_file() {
	export SOUND_DIR=$BATS_FILE_TMPDIR MUSIC_S AUR_RENDER AUR_METER
	export -f render_job
	cd "$SOUND_DIR"
	local p
	for p in $PRESETS; do
		"$AUR_COMPOSE" --seed 42 --preset "$p" --duration "$MUSIC_S" > "$p.notes"
		only_channels 0 < "$p.notes" > "$p-piano.notes"
		only_channels '1|2' < "$p.notes" > "$p-pad.notes"
		printf '%s\n' "$p $p" "$p-dry $p --no-reverb --no-compressor" "$p-wet $p --no-compressor" \
			"$p-piano $p-piano" "$p-pad $p-pad"
	done > jobs
	"$AUR_COMPOSE" --seed 42 --preset focus --intensity 0 --duration "$MUSIC_S" > focus-i0.notes
	"$AUR_COMPOSE" --seed 42 --preset focus --intensity 1 --duration "$MUSIC_S" > focus-i1.notes
	printf '%s\n' "focus-i0 focus-i0" "focus-i1 focus-i1" \
		"focus-i1-many focus-i1 --polyphony 1024" "bright-many bright --polyphony 1024" >> jobs
	xargs -P "$(nproc)" -L 1 bash -c 'render_job "$@"' _ < jobs
}

# fig NAME KEY - a figure of render NAME (NAME.json; NAME.music.json when
# NAME ends in .music: the piece without its tail).  Fails, saying why,
# when the render failed.
fig() {
	local json=$SOUND_DIR/$1.json base=${1%.music}
	if [ -e "$SOUND_DIR/$base.err" ] || [ ! -s "$json" ]; then
		echo "$base: no figures: $(cat "$SOUND_DIR/$base.err" 2>/dev/null)" >&2
		return 1
	fi
	jq -e ".$2" "$json"
}

# check_all KEY LO HI UNIT NAME... - each NAME's KEY is within LO..HI; prints
# every figure against its bound ($BOUND, else LO..HI), then fails if any
# was out (or missing).
check_all() {
	local key=$1 lo=$2 hi=$3 unit=$4 name value bad=0 out
	local bound=${BOUND:-$2..$3}
	shift 4
	for name in "$@"; do
		out=
		value=$(fig "$name" "$key") && within "$value" "$lo" "$hi" || { out="   OUT"; bad=1; }
		printf '%-22s %-14s %10s %-7s bound %s%s\n' "$name" "$key" "${value:-?}" "$unit" "$bound" "$out"
	done
	echo "SoundFont: $(default_soundfont)"
	[ "$bad" -eq 0 ]
}

# spread KEY NAME... - the largest KEY of the NAMEs minus the smallest.
spread() {
	local key=$1 name
	shift
	for name in "$@"; do fig "$name" "$key" || return 1; done |
		awk 'NR == 1 || $1 > max { max = $1 } NR == 1 || $1 < min { min = $1 }
			END { printf "%.2f\n", max - min }'
}

@test "sound: every render was made with the default SoundFont" {
	echo "SoundFont: $(default_soundfont)"
	default_soundfont > /dev/null
	cd "$SOUND_DIR"
	for err in *.err; do [ ! -e "$err" ] || { cat "$err"; false; }; done
	for name in $FULL focus-i1-many bright-many; do [ -s "$name.json" ]; done
}

@test "sound: DC under -50 dBFS in every preset and at both intensities" {
	BOUND='< -50' check_all dc_dbfs -200 -50.0001 dBFS $FULL
}

@test "sound: every preset between -26 and -16 LUFS integrated" {
	check_all lufs -26 -16 LUFS $PRESETS
}

@test "sound: presets within 4 LU of each other" {
	BOUND=- check_all lufs -200 0 LUFS $PRESETS
	s=$(spread lufs $PRESETS)
	echo "spread of the presets: $s LU, bound 4 LU"
	within "$s" 0 4
}

@test "sound: Focus from intensity 0 to 1 spans at most 8 LU" {
	BOUND=- check_all lufs -200 0 LUFS focus-i0 focus-i1
	s=$(spread lufs focus-i0 focus-i1)
	echo "intensity 0 to 1: $s LU, bound 8 LU"
	within "$s" 0 8
}

@test "sound: sample peaks under -1 dBFS, nothing over -3 dBFS (the soft knee never reached)" {
	bad=0
	BOUND='< -1' check_all peak_dbfs -200 -1.0001 dBFS $FULL || bad=1
	BOUND=0 check_all over_3db 0 0 samples $FULL || bad=1
	[ "$bad" -eq 0 ]
}

@test "sound: no clicks in any render" {
	BOUND=0 check_all clicks 0 0 clicks $FULL
}

@test "sound: no voice is stolen at intensity 1 or in Bright (each render equals a 1024-voice one)" {
	cd "$SOUND_DIR"
	bad=0
	# Focus at intensity 1 sounds the most notes; Bright's polysynth takes the most voices a note.
	for name in focus-i1 bright; do
		fig "$name" lufs > /dev/null && fig "$name-many" lufs > /dev/null || { bad=1; continue; }
		if ! diff=$(cmp "$name.wav" "$name-many.wav"); then
			# WAV: a 44-byte header, then 4 bytes a frame.
			byte=$(echo "$diff" | awk '{ sub(",", "", $5); print $5 }')
			echo "$name: differs from --polyphony 1024 at" \
				"$(awk -v b="$byte" 'BEGIN { printf "%.3f", (b - 45) / 4 / 44100 }') s" \
				"(byte $byte): a voice was stolen; bound: identical. SoundFont: $(default_soundfont)"
			bad=1
		fi
	done
	[ "$bad" -eq 0 ]
}

@test "sound: the piano alone is -4..+6 LU against the pad alone, in every preset" {
	bad=0
	for p in $PRESETS; do
		piano=$(fig "$p-piano.music" lufs) && pad=$(fig "$p-pad.music" lufs) || { bad=1; continue; }
		d=$(awk -v a="$piano" -v b="$pad" 'BEGIN { printf "%.2f", a - b }')
		verdict=$(within "$d" -4 6 && echo "" || echo "   OUT")
		printf '%-12s piano %7s LUFS, pad %7s LUFS: %6s LU   bound -4..+6%s\n' \
			"$p" "$piano" "$pad" "$d" "$verdict"
		[ -z "$verdict" ] || bad=1
	done
	echo "SoundFont: $(default_soundfont)"
	[ "$bad" -eq 0 ]
}

@test "sound: the reverb carries 20-30 % of the energy, in every preset" {
	# Both renders without the compressor: it would bring the dry one up
	# more than the whole, and the difference would count that too.
	bad=0
	for p in $PRESETS; do
		share=$("$AUR_METER" --minus "$SOUND_DIR/$p-dry.wav" "$SOUND_DIR/$p-wet.wav" | jq -e .share) ||
			{ bad=1; continue; }
		verdict=$(within "$share" 0.20 0.30 && echo "" || echo "   OUT")
		printf '%-12s wet share %6s   bound 0.20..0.30%s\n' "$p" "$share" "$verdict"
		[ -z "$verdict" ] || bad=1
	done
	echo "SoundFont: $(default_soundfont)"
	[ "$bad" -eq 0 ]
}

@test "sound: the pad is never under -45 dBFS for 400 ms while the music plays" {
	pads=
	for p in $PRESETS; do pads+=" $p-pad.music"; done
	BOUND='< 0.4' check_all gap_max_s 0 0.3999 s $pads
}

@test "sound: the render of tests/data/pinned.notes is pinned by its hash" {
	# When the sound changes on purpose (the mix, a default, the SoundFont),
	# update the hash: build, then run
	#   env -u AURALIS_SOUNDFONT build/aur-render tests/data/pinned.notes | sha256sum
	# and say in the commit why the sound changed.  It pins the raw PCM
	# rendered with FluidR3_GM (fluid-soundfont-gm 3.1) by libfluidsynth 2.3; the
	# same in the normal, the sanitizer and an -O0 build.
	pinned_font=FluidR3_GM.sf2
	pinned_sha256=85882e4a7dfef2e0250e6b9be6024f304758b5e13f73bf10807852758f64972a
	font=$(default_soundfont)
	echo "SoundFont: $font"
	[ "$(basename "$font")" = "$pinned_font" ] ||
		{ echo "the hash is pinned for $pinned_font, not $(basename "$font")"; false; }
	sum=$("$AUR_RENDER" "$AURALIS_ROOT/tests/data/pinned.notes" | sha256sum | cut -d' ' -f1)
	echo "sha256 $sum, pinned $pinned_sha256"
	[ "$sum" = "$pinned_sha256" ]
}
