#!/usr/bin/env bats
# The shared memory against other users and against a shrink: a segment
# that another user made first, or that is open to others, is refused by
# every tool and by aur-stat, which go on without counters, and nothing of
# it reaches a stream; each user has a default name of their own; a segment
# truncated under a running tool costs the tool its counters, not its
# output.  The tests that act as another user make one (useradd) and need
# root; teardown removes it, whatever happened.

bats_require_minimum_version 1.5.0

load helper
load chunk_helper
load stat_helper

setup() {
	cd "$BATS_TEST_TMPDIR"
	export AURALIS_SHM=/auralis-bats-shm-$$-$BATS_TEST_NUMBER
	NAME=${AURALIS_SHM#/}
	unset AURALIS_SESSION
	OTHER=
	OTHER_PIDS=()
	MADE_DEFAULT=
}

teardown() {
	local pid
	stat_stop || true
	for pid in "${OTHER_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -f "/dev/shm/$NAME"
	[ -z "$MADE_DEFAULT" ] || rm -f "/dev/shm/auralis-$(id -u)"
	if [ -n "$OTHER" ]; then
		rm -f "/dev/shm/auralis-$(id -u "$OTHER")"
		userdel --force "$OTHER" 2>/dev/null || true
	fi
}

# other_user - makes a user of the test's own (root only; skips otherwise),
# OTHER and OTHER_UID; teardown removes it.
other_user() {
	[ "$(id -u)" -eq 0 ] || skip "needs root, to make a second user and act as it"
	OTHER=aurshm-$$-$BATS_TEST_NUMBER
	useradd --no-create-home --shell /usr/sbin/nologin "$OTHER"
	OTHER_UID=$(id -u "$OTHER")
}

# as_other COMMAND [ARG...] - runs COMMAND as the other user, with our AURALIS_SHM.
as_other() {
	runuser -u "$OTHER" -- env AURALIS_SHM="$AURALIS_SHM" "$@"
}

# refusal SEGMENT UID MODE - how every tool refuses a segment of UID with MODE.
refusal() {
	local owner="user $(id -nu "$2") (uid $2)"
	if [ "$2" -eq "$(id -u)" ]; then
		echo "shared memory $1 belongs to $owner with mode $3; only a segment of our own (uid $(id -u)) with mode 0600 is used: remove it with: rm /dev/shm/${1#/}"
	else
		echo "shared memory $1 belongs to $owner with mode $3; only a segment of our own (uid $(id -u)) with mode 0600 is used: remove it as root or its owner with: rm /dev/shm/${1#/}, or name another with AURALIS_SHM"
	fi
}

# tools_refuse MESSAGE - aur-chunk, aur-render and aur-compose each say
# MESSAGE once, then "; going on without counters", and do their whole
# work; aur-stat reports MESSAGE as the reason it is degraded.
tools_refuse() {
	local message=$1
	pcm 8820 > in.raw
	run --separate-stderr "$AUR_CHUNK" < in.raw
	[ "$status" -eq 0 ]
	[ "$stderr" = "aur-chunk: $message; going on without counters" ]
	[ "$(printf '%s\n' "$output" | jq -s '[.[] | select(.type == "audio")] | length')" -eq 2 ]
	notes_every_second 2 > two.notes
	run --separate-stderr "$AUR_RENDER" -q --tail 0 -o two.wav two.notes
	[ "$status" -eq 0 ]
	[ "$stderr" = "aur-render: $message; going on without counters" ]
	[ "$(soxi -s two.wav)" -eq 88200 ]
	run --separate-stderr "$AUR_COMPOSE" --seed 3 --duration 2
	[ "$status" -eq 0 ]
	[ "$stderr" = "aur-compose: $message; going on without counters" ]
	[ "${lines[-1]}" = "2.000 end" ]
	stat_start
	get /api/status > status.json
	stat_stop
	jq -e --arg m "$message" '.health == "degraded" and .reasons == [$m]
		and .shm.ok == false and .shm.error == $m and .sessions_active == 0' status.json
}

@test "a segment that another user made first is refused by every tool, which goes on whole" {
	other_user
	# How the other user leaves it | its mode then.
	while read -r how mode; do
		rm -f "/dev/shm/$NAME"
		# A real Auralis segment, with a live-looking composer of theirs in it.
		as_other "$SHM_COUNT" --role compose --session victim counter chunks 1
		[ "$how" = as-made ] || as_other chmod "$how" "/dev/shm/$NAME"
		[ "$(stat -c '%U %a' "/dev/shm/$NAME")" = "$OTHER ${mode#0}" ]
		sum=$(sha256sum < "/dev/shm/$NAME")
		tools_refuse "$(refusal "$AURALIS_SHM" "$OTHER_UID" "$mode")"
		# Not a byte of it was written: no slot was claimed, nothing counted.
		[ "$(sha256sum < "/dev/shm/$NAME")" = "$sum" ]
	done <<-'TABLE'
	as-made 0600
	666 0666
	640 0640
	TABLE
}

@test "another user's segment feeds no ack or error into a listener's stream" {
	other_user
	pcm 22050 > in.raw
	# The other user makes the segment first and posts a forged error and
	# ack for session s1, holding its composer slot meanwhile.
	as_other "$SHM_POST" --wait 5 s1 error 7 'reload at http://evil.example' ack 8 0 \
		-- sleep 3 > /dev/null 2> other.err 3>&- &
	OTHER_PIDS+=($!)
	for _ in $(seq 50); do [ -e "/dev/shm/$NAME" ] && break; sleep 0.1; done
	sleep 0.3
	[ "$(stat -c %U "/dev/shm/$NAME")" = "$OTHER" ]
	run --separate-stderr "$AUR_CHUNK" --session s1 < in.raw
	printf '%s\n' "$output" > out.jsonl
	jq -c 'select(.type != "audio")' out.jsonl
	[ "$(jq -r .type out.jsonl | sort | uniq -c | tr -s ' ' | tr '\n' ,)" = " 5 audio, 1 hello," ]
	[ "$(grep -c evil out.jsonl)" -eq 0 ]
	[ "$status" -eq 0 ]
	[ "$stderr" = "aur-chunk: $(refusal "$AURALIS_SHM" "$OTHER_UID" 0600); going on without counters" ]
}

@test "a segment of our own that others may open is refused, whatever the bits" {
	while read -r mode; do
		rm -f "/dev/shm/$NAME"
		"$SHM_COUNT" counter chunks 1
		chmod "$mode" "/dev/shm/$NAME"
		pcm 4410 > in.raw
		run --separate-stderr "$AUR_CHUNK" < in.raw
		echo "$mode: $stderr"
		[ "$status" -eq 0 ]
		[ "$stderr" = "aur-chunk: $(refusal "$AURALIS_SHM" "$(id -u)" "$mode"); going on without counters" ]
		[ "$(printf '%s\n' "$output" | jq -s '[.[] | select(.type == "audio")] | length')" -eq 1 ]
	done <<-'TABLE'
	0644
	0640
	0604
	0620
	0602
	0660
	0666
	0601
	TABLE
	# 0600 is ours alone, and counts again.
	chmod 600 "/dev/shm/$NAME"
	run --separate-stderr "$AUR_CHUNK" < in.raw
	[ "$status" -eq 0 ] && [ -z "$stderr" ]
	[ "$(total chunks)" -eq 2 ]
}

@test "a symbolic link in the segment's place is never followed" {
	echo 'not a segment' > target
	ln -s "$BATS_TEST_TMPDIR/target" "/dev/shm/$NAME"
	pcm 4410 > in.raw
	run --separate-stderr "$AUR_CHUNK" < in.raw
	[ "$status" -eq 0 ]
	[ "$stderr" = "aur-chunk: shared memory $AURALIS_SHM belongs to user $(id -nu) (uid $(id -u)) with mode 0777 and is not a file; only a segment of our own (uid $(id -u)) with mode 0600 is used: remove it with: rm /dev/shm/$NAME; going on without counters" ]
	[ "$(cat target)" = 'not a segment' ]
}

@test "each user has a segment of their own by default, mode 0600, and aur-stat looks there" {
	other_user
	unset AURALIS_SHM
	# Ours, by aur-stat's account.  aur-stat makes it when there is none:
	# then the teardown removes it, and leaves one that was there before.
	[ -e "/dev/shm/auralis-$(id -u)" ] || MADE_DEFAULT=1
	stat_start
	get /api/status | jq -e --arg n "/auralis-$(id -u)" '.shm.name == $n'
	stat_stop
	# The other user's tools make theirs, and meet there.
	pcm 4410 > in.raw
	runuser -u "$OTHER" -- env -u AURALIS_SHM "$AUR_CHUNK" < in.raw > out.jsonl
	[ "$(stat -c '%U %a %s' "/dev/shm/auralis-$OTHER_UID")" = "$OTHER 600 4263936" ]
	runuser -u "$OTHER" -- env -u AURALIS_SHM "$SHM_POST" --totals > totals
	grep -x 'chunks 1' totals
	grep -x 'sessions_total 1' totals
	rm "/dev/shm/auralis-$OTHER_UID"
}

# shrink_under TOOL SIZE - runs TOOL (chunk, render-wav or render-raw) on
# input fed in two halves; between them, once TOOL holds its slot, the
# segment is truncated to SIZE bytes.  Output in out.*, stderr in err.txt.
shrink_under() {
	local tool=$1 size=$2 role pid
	mkfifo in
	case $tool in
	chunk)
		role=chunk
		pcm 44100 > in.raw
		"$AUR_CHUNK" < in > out.jsonl 2> err.txt &
		pid=$!
		exec 8> in
		head -c 88200 in.raw >&8 ;;
	render-wav|render-raw)
		role=render
		notes_every_second 4 > four.notes
		if [ "$tool" = render-wav ]; then
			"$AUR_RENDER" -q --tail 0 -o out.wav < in 2> err.txt &
		else
			"$AUR_RENDER" -q --tail 0 < in > out.raw 2> err.txt &
		fi
		pid=$!
		exec 8> in
		head -n 3 four.notes >&8 ;;
	esac
	for _ in $(seq 100); do
		[ "$(total "live_$role")" = 1 ] && break
		sleep 0.05
	done
	[ "$(total "live_$role")" = 1 ]
	truncate -s "$size" "/dev/shm/$NAME"
	sleep 0.2
	case $tool in
	chunk) tail -c +88201 in.raw >&8 ;;
	render-*) tail -n +4 four.notes >&8 ;;
	esac
	exec 8>&-
	wait "$pid"
}

@test "a segment shrunk under a running tool: it goes on, says so once, and its output is whole" {
	while read -r tool size; do
		rm -f in out.* err.txt "/dev/shm/$NAME"
		"$SHM_COUNT"                            # the segment, before the tool
		shrink_under "$tool" "$size"
		echo "$tool, shrunk to $size: $(cat err.txt)"
		[ "$(cat err.txt)" = "aur-${tool%-*}: shared memory $AURALIS_SHM: counters detached: the segment shrank; going on without them" ]
		case $tool in
		chunk)
			[ "$(jq -r 'select(.type == "audio") | .seq' out.jsonl | tr '\n' ' ')" = "0 1 2 3 4 5 6 7 8 9 " ]
			audio_data out.jsonl | cmp - in.raw ;;
		render-wav)
			# The header says what the file holds: all four seconds.
			[ "$(soxi -s out.wav)" -eq 176400 ]
			[ "$(sox out.wav -t raw - | wc -c)" -eq 705600 ] ;;
		render-raw)
			[ "$(frames_of out.raw)" -eq 176400 ]
			AURALIS_SHM=off "$AUR_RENDER" -q --tail 0 four.notes | cmp - out.raw ;;
		esac
	done <<-'TABLE'
	chunk 0
	chunk 4096
	render-wav 0
	render-wav 4096
	render-raw 4096
	TABLE
}
