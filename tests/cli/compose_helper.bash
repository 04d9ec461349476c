# tests/cli/compose_helper.bash - reading aur-compose's note streams in tests.
# Loaded after helper.bash, which sets AUR_COMPOSE and LC_ALL=C.

# scale_of KEY MODE - the pitch classes of a scale, as "0 2 4 5 7 9 11".
scale_of() {
	local key=$1 mode=$2 root steps s out=""

	case $key in
	C) root=0 ;; C#|Db) root=1 ;; D) root=2 ;; D#|Eb) root=3 ;; E) root=4 ;; F) root=5 ;;
	F#|Gb) root=6 ;; G) root=7 ;; G#|Ab) root=8 ;; A) root=9 ;; A#|Bb) root=10 ;; B) root=11 ;;
	*) echo "scale_of: unknown key $key" >&2; return 1 ;;
	esac
	case $mode in
	ionian) steps="0 2 4 5 7 9 11" ;;
	dorian) steps="0 2 3 5 7 9 10" ;;
	phrygian) steps="0 1 3 5 7 8 10" ;;
	lydian) steps="0 2 4 6 7 9 11" ;;
	mixolydian) steps="0 2 4 5 7 9 10" ;;
	aeolian) steps="0 2 3 5 7 8 10" ;;
	*) echo "scale_of: unknown mode $mode" >&2; return 1 ;;
	esac
	for s in $steps; do
		out="$out $(( (root + s) % 12 ))"
	done
	echo "${out# }"
}

# check_stream FILE [stopped] - checks a note stream as a renderer would
# rely on it: the header first, times never decreasing, no silence over
# 50 ms without a line, velocities 20..100, every `on` ended by an `off`,
# an `off` only for a key that an `on` or a `note` still holds (a note cut
# short by a key change), no `note` on a key whose earlier note was cut
# short before that note's own end (a renderer's late note-off would cut
# the new one), every note over by `end`, and `end` last.  A stream that was stopped (end
# of input, a signal) may end while piano notes already written still ring:
# `end` releases them.  Prints what is wrong; fails if anything is.
check_stream() {
	awk -v stopped="${2:-}" '
	function bad(what) { print FILENAME ":" NR ": " what; errors++ }
	NR == 1 { if ($0 != "# auralis-notes 1") bad("not the header: " $0); next }
	/^#/ { next }
	{
		if (ended) bad("event after end")
		if (seen && $1 < last) bad("time goes back")
		if (seen && $1 - last > 0.0515) bad("silence of " $1 - last " s without a line")   # times are printed to the ms
		last = $1; seen = 1
	}
	$2 == "note" {
		if ($5 < 20 || $5 > 100) bad("velocity " $5)
		if ($6 <= 0) bad("duration " $6)
		if ($1 + $6 > last_end) last_end = $1 + $6
		k = $3 " " $4
		if (cut[k] > $1 + 0.0005) bad("key " $4 " struck again before its cut note would end")
		if ($1 + $6 > rings[k]) rings[k] = $1 + $6
	}
	$2 == "on" {
		if ($5 < 20 || $5 > 100) bad("velocity " $5)
		if (on[$3 " " $4]++) bad("key " $4 " struck twice")
	}
	$2 == "off" {
		k = $3 " " $4
		if (on[k]) on[k] = 0
		else if (rings[k] > $1) { if (rings[k] > cut[k]) cut[k] = rings[k] }
		else bad("off without on")
	}
	$2 == "end" { ended = 1; end_t = $1 }
	END {
		if (!ended) bad("no end")
		for (k in on) if (on[k]) bad("key " k " never released")
		if (!stopped && last_end > end_t + 0.0015) bad("a note rings past the end: " last_end)
		exit errors > 0
	}' "$1"
}

# melody_in_scale FILE FROM "PCS" - the melody notes (channel 0) from music
# time FROM on, as "IN RESOLVED TOTAL": IN have their pitch class in PCS,
# RESOLVED are outside it but followed by a step (1 or 2 semitones) into
# it: chromatic passing tones.
melody_in_scale() {
	awk -v from="$2" -v pcs="$3" '
	BEGIN { n = split(pcs, p, " "); for (i = 1; i <= n; i++) scale[p[i]] = 1 }
	/^#/ || $2 != "note" || $3 != 0 || $1 < from { next }
	{
		key = $4; total++
		in_now = (key % 12) in scale
		step = key > prev ? key - prev : prev - key
		if (chromatic && in_now && (step == 1 || step == 2))
			resolved++
		in_scale += in_now; chromatic = !in_now; prev = key
	}
	END { print in_scale + 0, resolved + 0, total + 0 }' "$1"
}

# pad_in_scale FILE FROM "PCS" - pad notes struck from FROM on, "IN TOTAL".
pad_in_scale() {
	awk -v from="$2" -v pcs="$3" '
	BEGIN { n = split(pcs, p, " "); for (i = 1; i <= n; i++) scale[p[i]] = 1 }
	/^#/ || $2 != "on" || $1 < from { next }
	{ total++; if ($4 % 12 in scale) in_scale++ }
	END { print in_scale + 0, total + 0 }' "$1"
}

# latest FILE - the time of the last line of a note stream.
latest() {
	awk '!/^#/ { t = $1 } END { print t }' "$1"
}
