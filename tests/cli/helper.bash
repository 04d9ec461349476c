# tests/cli/helper.bash - shared set-up for the CLI tests.
# The binaries are overridable: AUR_RENDER=/path/to/aur-render bats tests/cli

export LC_ALL=C
AURALIS_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
AURALIS_BUILD=${AURALIS_BUILD:-$AURALIS_ROOT/build}
AUR_RENDER=${AUR_RENDER:-$AURALIS_BUILD/aur-render}
AUR_COMPOSE=${AUR_COMPOSE:-$AURALIS_BUILD/aur-compose}
AUR_CHUNK=${AUR_CHUNK:-$AURALIS_BUILD/aur-chunk}
DATA=$AURALIS_ROOT/tests/data
# Counters go to a segment of the tests' own, never the server's /auralis.
export AURALIS_SHM=${AURALIS_SHM:-/auralis-test}
# The small GM SoundFont keeps the tests fast; FluidR3_GM stays the default.
export AURALIS_SOUNDFONT=${AURALIS_TEST_SOUNDFONT:-/usr/share/sounds/sf2/TimGM6mb.sf2}

# seconds FILE - the duration of an audio file, in seconds.
seconds() {
	soxi -D "$1"
}

# frames_of RAWFILE - frames in a raw s16le stereo file.
frames_of() {
	echo $(( $(stat -c %s "$1") / 4 ))
}

# peak_db FILE - the peak level in dBFS (sox's "Pk lev dB").
peak_db() {
	sox "$1" -n stats 2>&1 | awk '/^Pk lev dB/ {print $4}'
}

# notes_every_second N - a note file with one piano note a second for N seconds.
notes_every_second() {
	echo '# auralis-notes 1'
	awk -v n="$1" 'BEGIN {
		for (t = 0; t < n; t++) printf "%d.000 note 0 %d 70 0.800\n", t, 60 + (t * 7) % 12
		printf "%d.000 end\n", n
	}'
}

# nice_of PID - the nice value of process PID.
nice_of() {
	ps -o ni= -p "$1" | tr -d ' '
}

# lowered NICE BY - NICE lowered by BY steps, as the kernel keeps it (at most 19).
lowered() {
	local n=$(($1 + $2))
	echo $((n > 19 ? 19 : n))
}

# wait_nice PID WANT - until process PID's nice value is WANT; fails after
# 10 s, or when PID has ended, saying what it was.
wait_nice() {
	for _ in $(seq 200); do
		[ "$(nice_of "$1")" != "$2" ] || return 0
		kill -0 "$1" 2>/dev/null || { echo "pid $1 ended before its nice value was $2"; return 1; }
		sleep 0.05
	done
	echo "pid $1: nice $(nice_of "$1"), not $2"
	return 1
}
