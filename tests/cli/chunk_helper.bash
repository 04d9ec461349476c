# tests/cli/chunk_helper.bash - set-up for tests/cli/chunk.bats, on top of helper.bash.
# shm-post stands in for aur-compose's side of the session ring:
# SHM_POST=/path/to/shm-post overrides it.

SHM_POST=${SHM_POST:-$AURALIS_BUILD/tests/shm-post}

# pcm FRAMES - FRAMES random stereo s16le frames on stdout.
pcm() {
	head -c $(( $1 * 4 )) /dev/urandom
}

# audio_data FILE - the decoded PCM of every audio message in FILE, in order.
audio_data() {
	jq -r 'select(.type == "audio") | .data' "$1" | while read -r line; do
		printf '%s' "$line" | base64 -d
	done
}

# total NAME - one of the shared-memory totals (see shm-post --totals).
total() {
	"$SHM_POST" --totals | awk -v n="$1" '$1 == n { print $2 }'
}

# replies FILE - the audio and its replies as one compact line per message:
# "audio 0", "ack 2 0.1", "error 5 message".
replies() {
	jq -r 'if .type == "audio" then "audio \(.seq)"
		elif .type == "ack" then "ack \(.id) \(.t)"
		elif .type == "error" then "error \(.id) \(.message)"
		else .type end' "$1"
}
