#!/usr/bin/env bats
# aur-render: the command line, the output formats, determinism, streaming,
# bad input, and the ways a pipeline ends.

load helper

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# temporaries NAME - the temporaries of -o NAME here, .NAME.XXXXXX, one a line.
temporaries() {
	find . -maxdepth 1 -name ".$1.??????" | sort
}

# render_held NAME - starts aur-render -o NAME reading a pipe that gives it
# 3 s of music and stays open (fd 8), and waits until the 3 s are written:
# the renderer then waits for more.  Sets pid.
render_held() {
	rm -f in
	mkfifo in
	"$AUR_RENDER" -o "$1" < in &
	pid=$!
	exec 8> in
	printf '# auralis-notes 1\n0.000 note 0 60 80 2\n3.000 tick\n' >&8
	for _ in $(seq 100); do
		temp=$(temporaries "$1")
		[ -n "$temp" ] && [ "$(stat -c %s "$temp")" -ge $((3 * 44100 * 4)) ] && return
		sleep 0.1
	done
	echo "no temporary of $1 holds 3 s"
}

@test "--help prints usage on stdout and exits 0" {
	run "$AUR_RENDER" --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: aur-render [options] [FILE...]" ]]
	[[ "$output" == *"exit status:"* ]]
}

@test "--version prints the version" {
	run "$AUR_RENDER" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^aur-render\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "bad options are usage errors that name the accepted range" {
	while IFS='|' read -r args message; do
		run bash -c "'$AUR_RENDER' $args < /dev/null > /dev/null"
		echo "$args -> $status: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"$message"* ]]
	done <<-'TABLE'
	--rate 7999|aur-render: --rate: expected 8000..192000, not '7999'
	--rate fast|aur-render: --rate: expected 8000..192000, not 'fast'
	--polyphony 0|aur-render: --polyphony: expected 1..1024, not '0'
	--gain 11|aur-render: --gain: expected 0..10, not '11'
	--tail -1|aur-render: --tail: expected 0..600, not '-1'
	--pad 128|aur-render: --pad: expected 0..127, not '128'
	-o out.mp3|aur-render: --output: expected a .wav, .flac, .ogg or .opus file name, not 'out.mp3'
	-o out.opus --rate 44100|aur-render: --rate: an .opus file takes 8000, 12000, 16000, 24000 or 48000, not 44100
	-o out.opus --bitrate 8|aur-render: --bitrate: expected 16..512, not '8'
	-o out.wav --bitrate 64|aur-render: --bitrate: only for an .opus output
	--bitrate 64|aur-render: --bitrate: only for an .opus output
	--soundfont 16:x.sf2|aur-render: --soundfont: expected channels 0..15 before ':', as in 0,2:piano.sf2, not '16:x.sf2'
	--soundfont 0,,1:x.sf2|aur-render: --soundfont: expected channels 0..15 before ':', as in 0,2:piano.sf2, not '0,,1:x.sf2'
	--soundfont 0:|aur-render: --soundfont: no file after '0:'
	--playing-nice 20|aur-render: --playing-nice: expected 0..19, not '20'
	--serve x.sock --playing-nice 3|aur-render: --serve: each stream's request says its --playing-nice
	--frobnicate|usage: aur-render
	TABLE
}

@test "an off ends a note early, and the note's own release cuts no later note" {
	printf '# auralis-notes 1\n0 note 0 60 80 3\n1 off 0 60\n2 note 0 60 80 2\n5 end\n' > early.notes
	printf '# auralis-notes 1\n0 on 0 60 80\n1 off 0 60\n2 note 0 60 80 2\n5 end\n' > held.notes
	"$AUR_RENDER" early.notes > early.raw
	"$AUR_RENDER" held.notes > held.raw
	cmp early.raw held.raw
	# An off that nothing holds changes nothing.
	printf '# auralis-notes 1\n0 on 0 60 80\n1 off 0 60\n1.5 off 0 60\n2 note 0 60 80 2\n5 end\n' > extra.notes
	"$AUR_RENDER" extra.notes > extra.raw
	cmp extra.raw held.raw
}

@test "a channel given no program plays General MIDI's default: piano, drums on 9" {
	while read -r channel key; do
		printf '# auralis-notes 1\n0 note %s %s 90 1\n2 end\n' "$channel" "$key" > one.notes
		"$AUR_RENDER" -o one.wav one.notes
		peak=$(peak_db one.wav)
		echo "channel $channel: peak $peak dBFS"
		awk -v p="$peak" 'BEGIN { exit !(p > -40) }'
	done <<-'TABLE'
	5 60
	15 72
	9 38
	TABLE
}

@test "a channel sounds through its own strip of the mix, whichever channels played before it" {
	# Channels 3 and 13 have the same strip (level, no high-pass, send) and
	# the same default program, so the same notes sound the same on either;
	# on channel 0 (the piano's send, 0.55 against 0.5) and channel 1 (the
	# pad's level and high-pass), they do not.
	for channel in 3 13 0 1; do
		printf '# auralis-notes 1\n0 note %s 60 90 1\n0.5 note %s 67 80 1\n3 end\n' "$channel" "$channel" > "ch$channel.notes"
		"$AUR_RENDER" "ch$channel.notes" > "ch$channel.raw"
	done
	cmp ch3.raw ch13.raw
	run cmp -s ch3.raw ch0.raw
	[ "$status" -eq 1 ]
	run cmp -s ch3.raw ch1.raw
	[ "$status" -eq 1 ]
	# After channel 0 has played, 13 and 3 still sound alike.
	for channel in 3 13; do
		printf '# auralis-notes 1\n0 note 0 48 60 0.5\n1 note %s 60 90 1\n1.5 note %s 67 80 1\n4 end\n' "$channel" "$channel" > "late$channel.notes"
	done
	"$AUR_RENDER" late13.notes | cmp - <("$AUR_RENDER" late3.notes)
}

@test "every rate in --rate's range renders, the lowest too" {
	for rate in 8000 11025 192000; do
		"$AUR_RENDER" --rate "$rate" -o r.wav "$AURALIS_ROOT/examples/demo.notes"
		[ "$(soxi -r r.wav)" = "$rate" ]
		awk -v p="$(peak_db r.wav)" 'BEGIN { exit !(p > -40) }'
	done
}

@test "a channel takes its programs from a SoundFont of its own" {
	fluid=/usr/share/sounds/sf2/FluidR3_GM.sf2 small=/usr/share/sounds/sf2/TimGM6mb.sf2
	[ -r "$fluid" ] && [ -r "$small" ]
	printf '# auralis-notes 1\n0 note 0 60 80 1\n0 note 1 48 70 1\n2 end\n' > two.notes
	"$AUR_RENDER" --soundfont "$small" two.notes > small.raw
	"$AUR_RENDER" --soundfont "$fluid" two.notes > fluid.raw
	"$AUR_RENDER" --soundfont "$small" --soundfont "0:$fluid" two.notes > mixed.raw
	# A bound channel sounds without a program event of its own.
	printf '# auralis-notes 1\n0 note 2 60 80 1\n2 end\n' > ch2.notes
	"$AUR_RENDER" --soundfont "$small" --soundfont "2:$fluid" ch2.notes > ch2.raw
	sox -t raw -r 44100 -e signed -b 16 -c 2 ch2.raw -n stats 2>&1 | awk '/^Pk lev dB/ { exit !($4 > -40) }'
	# Piano alone: the bound font plays channel 0, the default the rest.
	grep -v ' 1 48 ' two.notes > piano.notes
	"$AUR_RENDER" --soundfont "$fluid" piano.notes > fluid-piano.raw
	"$AUR_RENDER" --soundfont "$small" --soundfont "0:$fluid" piano.notes > mixed-piano.raw
	cmp fluid-piano.raw mixed-piano.raw
	grep -v ' 0 60 ' two.notes > pad.notes
	"$AUR_RENDER" --soundfont "$small" pad.notes > small-pad.raw
	"$AUR_RENDER" --soundfont "$small" --soundfont "0:$fluid" pad.notes > mixed-pad.raw
	cmp small-pad.raw mixed-pad.raw
	if cmp -s mixed.raw small.raw || cmp -s mixed.raw fluid.raw; then false; fi
	# A bound font that cannot be read is named, exit 5.
	run "$AUR_RENDER" --soundfont "0,2:/nonexistent.sf2" two.notes
	[ "$status" -eq 5 ]
	[[ "$output" == "aur-render: /nonexistent.sf2: No such file or directory" ]]
}

@test "renders the demo to a 44.1 kHz 16-bit stereo WAV with a bounded tail" {
	run "$AUR_RENDER" -o demo.wav "$AURALIS_ROOT/examples/demo.notes"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(soxi -r demo.wav)" = 44100 ]
	[ "$(soxi -c demo.wav)" = 2 ]
	[ "$(soxi -b demo.wav)" = 16 ]
	# Below 4 GiB, plain RIFF WAVE (RF64 only past it: tests/unit/test_audiofile.c).
	[ "$(head -c 4 demo.wav)" = RIFF ]
	# 16 s of music, then the release and reverb tail: seconds, not minutes.
	awk -v d="$(seconds demo.wav)" 'BEGIN { exit !(d > 17 && d < 24) }'
}

@test "-o FILE.opus writes Ogg Opus at 48 kHz and 128 kbit/s that sounds as the WAV does" {
	meter=$AURALIS_BUILD/tests/sound/aur-meter
	[ -x "$meter" ] || skip "no aur-meter (libebur128-dev)"
	"$AUR_RENDER" -o demo.opus "$AURALIS_ROOT/examples/demo.notes"
	"$AUR_RENDER" --rate 48000 -o demo.wav "$AURALIS_ROOT/examples/demo.notes"
	"$AUR_RENDER" --bitrate 64 -o low.opus "$AURALIS_ROOT/examples/demo.notes"
	head -c 64 demo.opus | grep -aq OpusHead
	"$meter" demo.opus > opus.json
	"$meter" demo.wav > wav.json
	cat opus.json wav.json
	# The same length and loudness as the WAV.
	jq -n --slurpfile o opus.json --slurpfile w wav.json -e '
		($o[0].seconds - $w[0].seconds | fabs) < 0.05 and ($o[0].lufs - $w[0].lufs | fabs) < 0.5'
	kbps=$(awk -v b="$(stat -c %s demo.opus)" -v d="$(jq .seconds wav.json)" 'BEGIN { printf "%.0f", b * 8 / d / 1000 }')
	low=$(awk -v b="$(stat -c %s low.opus)" -v d="$(jq .seconds wav.json)" 'BEGIN { printf "%.0f", b * 8 / d / 1000 }')
	echo "default $kbps kbit/s, --bitrate 64: $low kbit/s"
	[ "$kbps" -ge 100 ] && [ "$kbps" -le 160 ]
	[ "$low" -ge 45 ] && [ "$low" -le 85 ]
}

@test "writes FLAC and OGG too, chosen by the extension" {
	for ext in flac ogg; do
		run "$AUR_RENDER" -o "demo.$ext" "$AURALIS_ROOT/examples/demo.notes"
		[ "$status" -eq 0 ]
		[ "$(soxi -r "demo.$ext")" = 44100 ]
		[ "$(soxi -c "demo.$ext")" = 2 ]
	done
	[ "$(soxi -t demo.flac)" = flac ]
	[ "$(soxi -t demo.ogg)" = vorbis ]
}

@test "the same notes give the same bytes on every run" {
	"$AUR_RENDER" "$AURALIS_ROOT/examples/demo.notes" > a.raw
	"$AUR_RENDER" "$AURALIS_ROOT/examples/demo.notes" > b.raw
	cmp a.raw b.raw
	[ "$(frames_of a.raw)" -gt $((16 * 44100)) ]
}

@test "raw standard output equals the samples of the WAV" {
	"$AUR_RENDER" "$AURALIS_ROOT/examples/demo.notes" > out.raw
	"$AUR_RENDER" -o out.wav "$AURALIS_ROOT/examples/demo.notes"
	sox out.wav -t raw -e signed -b 16 -L wav.raw
	cmp out.raw wav.raw
}

@test "input from a slow writer, line by line, gives the same PCM" {
	"$AUR_RENDER" < "$AURALIS_ROOT/examples/demo.notes" > fast.raw
	while IFS= read -r line; do
		printf '%s\n' "$line"
		sleep 0.01
	done < "$AURALIS_ROOT/examples/demo.notes" | "$AUR_RENDER" > slow.raw
	cmp fast.raw slow.raw
}

@test "input split mid-line and mid-number gives the same PCM" {
	"$AUR_RENDER" < "$AURALIS_ROOT/examples/demo.notes" > whole.raw
	# 7-byte pieces with pauses: reads end in the middle of lines.
	{ while IFS= read -r -n 7 -d '' piece; do printf '%s' "$piece"; sleep 0.002; done \
		< "$AURALIS_ROOT/examples/demo.notes"; } | "$AUR_RENDER" > pieces.raw
	cmp whole.raw pieces.raw
}

@test "a pipe is rendered exactly up to the latest event, at once" {
	mkfifo in
	"$AUR_RENDER" < in > out.raw &
	pid=$!
	exec 8> in
	printf '# auralis-notes 1\n0.000 note 0 60 80 0.5\n1.000 tick\n' >&8
	for i in $(seq 50); do [ "$(frames_of out.raw)" -ge 44100 ] && break; sleep 0.1; done
	sleep 0.3
	[ "$(frames_of out.raw)" -eq 44100 ]
	printf '2.500 tick\n' >&8
	for i in $(seq 50); do [ "$(frames_of out.raw)" -ge 110250 ] && break; sleep 0.1; done
	sleep 0.3
	[ "$(frames_of out.raw)" -eq 110250 ]
	exec 8>&-
	wait "$pid"
}

@test "an event lands at frame round(t * rate), on the synthesizer's 64-frame grid" {
	# first_sound T - the frame of the first non-zero sample of a note at T.
	first_sound() {
		printf '# auralis-notes 1\n%s note 0 60 100 0.5\n%s end\n' "$1" "$1" > one.notes
		"$AUR_RENDER" --no-reverb one.notes |
			od -An -v -td2 -w4 | awk '$1 != 0 || $2 != 0 { print NR - 1; exit }'
	}
	# The piano sample's own attack: where a note at frame 0 is first heard.
	attack=$(first_sound 0)
	for t in 0.5 0.25 0.7331 1.0000227 0.0145125; do
		frame=$(awk -v t="$t" 'BEGIN { printf "%d", t * 44100 + 0.5 }')
		first=$(( $(first_sound "$t") - attack ))
		echo "t=$t frame=$frame heard at $first"
		[ "$first" -ge "$frame" ]
		[ "$first" -lt $((frame + 64)) ]
		# On the grid, exactly there.
		[ $((frame % 64)) -ne 0 ] || [ "$first" -eq "$frame" ]
	done
}

@test "bad input: every bad line is reported with its number, exit 3" {
	run "$AUR_RENDER" -o bad.wav "$DATA/bad.notes"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "${lines[0]}" == "aur-render: $DATA/bad.notes:3: velocity 300 is out of 0..127" ]]
	[[ "${lines[1]}" == "aur-render: $DATA/bad.notes:5: time 0.500 is before the previous event's 1.000" ]]
	[[ "${lines[2]}" == "aur-render: $DATA/bad.notes:6: channel 17 is out of 0..15" ]]
	[[ "${lines[3]}" == "aur-render: $DATA/bad.notes:7: duration 0 is out of (0, 1e+07] seconds" ]]
	[[ "${lines[4]}" == "aur-render: $DATA/bad.notes:8: unknown event 'wobble'"* ]]
	[[ "${lines[5]}" == "aur-render: 5 bad lines" ]]
	[[ "${lines[6]}" == "aur-render: bad.wav: not written" ]]
	[ "${#lines[@]}" -eq 7 ]
	[ ! -e bad.wav ]
}

@test "standard input is named '-' in messages" {
	run bash -c "printf '# auralis-notes 1\n0 note 0 60 64 1\n1 note 0 60 200 1\n' | '$AUR_RENDER' > /dev/null"
	[ "$status" -eq 3 ]
	[[ "${lines[0]}" == "aur-render: -:3: velocity 200 is out of 0..127" ]]
}

@test "a missing input file is exit 4" {
	run "$AUR_RENDER" -o x.wav no-such.notes
	[ "$status" -eq 4 ]
	[[ "$output" == "aur-render: no-such.notes: No such file or directory" ]]
	[ ! -e x.wav ]
}

@test "no SoundFont: a clear error naming every place searched, exit 5" {
	run env -u AURALIS_SOUNDFONT AURALIS_SOUNDFONT_SEARCH=/nowhere/soundfonts/*.sf2:/nowhere/FluidR3_GM.sf2 \
		"$AUR_RENDER" -o x.wav "$AURALIS_ROOT/examples/demo.notes"
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "${lines[0]}" == "aur-render: no SoundFont found; searched, in order" ]]
	[[ "$output" == *"/nowhere/soundfonts/*.sf2"* ]]
	[[ "$output" == *"/nowhere/FluidR3_GM.sf2"* ]]
	[[ "$output" == *"apt-get install fluid-soundfont-gm"* ]]
	run "$AUR_RENDER" --soundfont /nowhere/x.sf2 -o x.wav "$AURALIS_ROOT/examples/demo.notes"
	[ "$status" -eq 5 ]
	[[ "$output" == "aur-render: /nowhere/x.sf2: No such file or directory" ]]
	echo "not a soundfont" > fake.sf2
	run "$AUR_RENDER" --soundfont fake.sf2 -o x.wav "$AURALIS_ROOT/examples/demo.notes"
	[ "$status" -eq 5 ]
	[[ "$output" == *"fake.sf2: not a usable SoundFont"* ]]
}

@test "| head -c 1000 ends quietly with status 0" {
	run bash -c "'$AUR_RENDER' '$AURALIS_ROOT/examples/demo.notes' 2>err | head -c 1000 | wc -c; echo \${PIPESTATUS[0]}"
	[ "${lines[0]}" -eq 1000 ]
	[ "${lines[1]}" -eq 0 ]
	[ ! -s err ]
}

@test "a 10-minute render has the right duration" {
	notes_every_second 600 > long.notes
	run "$AUR_RENDER" -o long.wav long.notes
	[ "$status" -eq 0 ]
	awk -v d="$(seconds long.wav)" 'BEGIN { exit !(d >= 600.5 && d < 606) }'
}

@test "--tail bounds the tail; --tail 0 stops at the end" {
	"$AUR_RENDER" --tail 0 "$AURALIS_ROOT/examples/demo.notes" > t0.raw
	[ "$(frames_of t0.raw)" -eq $((16 * 44100)) ]
	"$AUR_RENDER" --tail 1.5 "$AURALIS_ROOT/examples/demo.notes" > t1.raw
	[ "$(frames_of t1.raw)" -eq $((16 * 44100 + 66150)) ]
}

@test "the tail ends once the signal stays below -70 dBFS for half a second" {
	"$AUR_RENDER" "$AURALIS_ROOT/examples/demo.notes" > out.raw
	sox -t raw -r 44100 -e signed -b 16 -c 2 out.raw last.wav trim -0.5
	# The last half second is below -70 dBFS...
	awk -v p="$(peak_db last.wav)" 'BEGIN { exit !(p < -70) }'
	sox -t raw -r 44100 -e signed -b 16 -c 2 out.raw before.wav trim -0.6 0.1
	# ...and just before it, the tail was still audible above that.
	awk -v p="$(peak_db before.wav)" 'BEGIN { exit !(p >= -71) }'
}

@test "inputs play one after another" {
	"$AUR_RENDER" --tail 0 "$AURALIS_ROOT/examples/demo.notes" "$AURALIS_ROOT/examples/demo.notes" > two.raw
	[ "$(frames_of two.raw)" -eq $((32 * 44100)) ]
}

@test "the demo sounds with the default SoundFont: peaks near -6 dBFS, never clips" {
	[ -r /usr/share/sounds/sf2/FluidR3_GM.sf2 ]
	AURALIS_SOUNDFONT=/usr/share/sounds/sf2/FluidR3_GM.sf2 "$AUR_RENDER" -o demo.wav "$AURALIS_ROOT/examples/demo.notes"
	peak=$(peak_db demo.wav)
	echo "peak $peak dBFS"
	awk -v p="$peak" 'BEGIN { exit !(p > -12 && p < -3) }'
	rms=$(sox demo.wav -n stats 2>&1 | awk '/^RMS lev dB/ {print $4}')
	awk -v r="$rms" 'BEGIN { exit !(r > -40) }'
}

@test "SIGTERM or SIGINT mid-render: the block is finished and the valid WAV takes the name" {
	while read -r sig want; do
		echo "the old file" > cut.wav
		render_held cut.wav
		# Until the end, the name holds the old file.
		[ "$(cat cut.wav)" = "the old file" ]
		kill -"$sig" "$pid"
		status=0
		wait "$pid" || status=$?
		exec 8>&-
		echo "SIG$sig: status $status"
		[ "$status" -eq "$want" ]
		# The header was finished: sox reads the whole 3 s.
		awk -v d="$(seconds cut.wav)" 'BEGIN { exit !(d >= 2.99 && d <= 3.01) }'
		sox cut.wav -n stats
		[ -z "$(temporaries cut.wav)" ]
	done <<-'TABLE'
	TERM 143
	INT 130
	TABLE
}

@test "SIGKILL mid-render leaves the old file as it was, and the temporary beside it" {
	notes_every_second 2 > two.notes
	"$AUR_RENDER" -o out.wav two.notes
	cp out.wav before.wav
	render_held out.wav
	kill -KILL "$pid"
	wait "$pid" || true
	exec 8>&-
	cmp out.wav before.wav
	temp=$(temporaries out.wav)
	[[ "$temp" =~ ^\./\.out\.wav\.[A-Za-z0-9]{6}$ ]]
}

@test "a render that fails writes no file: the old one stays, no temporary is left" {
	notes_every_second 2 > two.notes
	cp "$AURALIS_ROOT/examples/demo.notes" "$DATA/bad.notes" .
	printf '# auralis-notes 1\n0 note 0 60 300 1\n1 wobble\n' > only-bad.notes
	mkdir a-directory
	"$AUR_RENDER" -o out.wav two.notes
	cp out.wav before.wav
	# setup | arguments | status | a line of the messages
	while IFS='|' read -r setup args want message; do
		run bash -c "$setup; '$AUR_RENDER' -o out.wav $args"
		echo "$setup; $args -> $status: $output"
		[ "$status" -eq "$want" ]
		[[ "$output" == *"$message"* ]]
		[ "${lines[-1]}" = "aur-render: out.wav: not written" ]
		cmp out.wav before.wav
		[ -z "$(temporaries out.wav)" ]
	done <<-'TABLE'
	:|only-bad.notes|3|aur-render: 2 bad lines
	:|bad.notes|3|aur-render: 5 bad lines
	:|two.notes a-directory|1|aur-render: a-directory: Is a directory
	ulimit -f 64|demo.notes|1|aur-render: out.wav: File too large
	TABLE
}

@test "a write that fails, even the encoder's last at the end, writes no file, in every format" {
	notes_every_second 2 > two.notes
	for ext in wav flac ogg opus; do
		"$AUR_RENDER" -o "whole.$ext" two.notes
		size=$(stat -c %s "whole.$ext")
		# A file-size limit (ulimit -f counts KiB) this many bytes short of the file.
		for short in 1 4096 $((size / 2)); do
			echo "the old file" > "out.$ext"
			run bash -c "ulimit -f $(( (size - short) / 1024 )); '$AUR_RENDER' -o out.$ext two.notes"
			echo "$ext, $short bytes short of $size: $status: $output"
			[ "$status" -eq 1 ]
			[ "${lines[0]}" = "aur-render: out.$ext: File too large" ]
			[ "$(cat "out.$ext")" = "the old file" ]
			[ -z "$(temporaries "out.$ext")" ]
		done
	done
}

@test "a new file's mode follows the umask; a file replaced keeps its own" {
	notes_every_second 1 > one.notes
	while read -r mask mode; do
		rm -f m.wav
		(umask "$mask" && "$AUR_RENDER" -o m.wav one.notes)
		echo "umask $mask: $(stat -c %a m.wav)"
		[ "$(stat -c %a m.wav)" = "$mode" ]
	done <<-'TABLE'
	022 644
	002 664
	077 600
	TABLE
	chmod 640 m.wav
	(umask 022 && "$AUR_RENDER" -o m.wav one.notes)
	[ "$(stat -c %a m.wav)" = 640 ]
}

@test "-o through a symbolic link replaces the file it points to and keeps the link" {
	notes_every_second 1 > one.notes
	mkdir real
	echo "the old file" > real/music.wav
	ln -s real/music.wav link.wav
	"$AUR_RENDER" -o link.wav one.notes
	[ -L link.wav ]
	[ "$(readlink link.wav)" = real/music.wav ]
	[ "$(head -c 4 real/music.wav)" = RIFF ]
	[ -z "$(cd real && temporaries music.wav)" ]
}

@test "aur-compose --duration 600 | aur-render -o ambient.wav: ten minutes of music" {
	"$AUR_COMPOSE" --seed 3 --duration 600 | "$AUR_RENDER" -o ambient.wav
	d=$(seconds ambient.wav)
	echo "ambient.wav: $d s"
	# The music, then the release and reverb tail: seconds, not minutes.
	awk -v d="$d" 'BEGIN { exit !(d > 600 && d < 615) }'
	peak=$(peak_db ambient.wav)
	awk -v p="$peak" 'BEGIN { exit !(p > -30 && p < -0.5) }'
}

@test "--playing-nice N: once a second of music is rendered, and not before, its priority drops by N" {
	base=$(nice_of $$)
	mkfifo in.fifo
	while read -r args until lowered_by; do
		# Notes up to a tick at `until`, then an input held open: aur-render
		# has rendered up to it and waits in read.
		{ printf '# auralis-notes 1\n0.000 note 0 60 70 0.500\n%s tick\n' "$until"; exec sleep 30; } > in.fifo &
		writer=$!
		"$AUR_RENDER" -q $args < in.fifo > out.raw &
		pid=$!
		want=$(echo "$until * 44100" | bc | cut -d. -f1)
		for _ in $(seq 200); do [ "$(frames_of out.raw)" -ge "$want" ] && break; sleep 0.05; done
		echo "$args, until $until: $(frames_of out.raw) frames, nice $(nice_of "$pid")"
		[ "$(frames_of out.raw)" -ge "$want" ]
		wait_nice "$pid" "$(lowered "$base" "$lowered_by")"
		kill "$pid" "$writer"
		wait "$pid" || true
	done <<-'TABLE'
	--playing-nice=5 1.100 5
	--playing-nice=5 0.900 0
	--playing-nice=0 2.000 0
	TABLE
}
