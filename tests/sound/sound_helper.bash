# tests/sound/sound_helper.bash - shared by the meter's tests and the sound
# check: the CLI tests' set-up (the binaries, overridable), and the meter.

load ../cli/helper
AUR_METER=${AUR_METER:-$AURALIS_BUILD/tests/sound/aur-meter}

# figure FILE KEY - one figure of aur-meter's JSON for FILE.
figure() {
	"$AUR_METER" "$1" | jq -e ".$2"
}

# within VALUE LO HI - true when LO <= VALUE <= HI (numbers, as awk reads them).
within() {
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'
}

# default_soundfont - the SoundFont aur-render takes when neither
# --soundfont nor $AURALIS_SOUNDFONT names one, as scripts/run runs it: the
# first of $AURALIS_SOUNDFONT_SEARCH (files and globs, colon-separated), or
# else of soundfonts/*.sf2, FluidR3_GM, default-GM (aur-render --help).
default_soundfont() {
	local search=${AURALIS_SOUNDFONT_SEARCH:-$AURALIS_ROOT/soundfonts/*.sf2:/usr/share/sounds/sf2/FluidR3_GM.sf2:/usr/share/sounds/sf2/default-GM.sf2}
	local pattern file
	local IFS=:
	for pattern in $search; do
		IFS=$' \t\n'
		for file in $pattern; do
			[ -r "$file" ] && { echo "$file"; return 0; }
		done
	done
	echo "none found"
	return 1
}

# Without libebur128-dev the build has no meter: say so once, plainly.
[ -x "$AUR_METER" ] || {
	echo "$AUR_METER is missing: install libebur128-dev (scripts/setup.sh) and rebuild" >&2
	false
}
