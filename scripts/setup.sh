# scripts/setup.sh - shared by scripts/run, scripts/test and the other
# scripts: install what is missing from Debian's packages, build into build/,
# start the warm renderer and websocketd, print a script's help.  Sourced,
# not run.

AURALIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build and the server need.
AURALIS_PACKAGES_RUN="build-essential pkg-config meson ninja-build libfluidsynth-dev libsndfile1-dev
libjansson-dev libmicrohttpd-dev libopus-dev fluid-soundfont-gm websocketd curl procps haproxy"
# What the test suites need on top.
AURALIS_PACKAGES_TEST="bats jq sox libsox-fmt-all libebur128-dev timgm6mb-soundfont fluidsynth curl python3
clang libclang-rt-dev chromium iproute2"

# install_missing PACKAGE... - apt-get installs whichever are not installed.
# As root it installs them; otherwise it prints the command and exits 1.
# header_help - prints the running script's header comment (from its second
# line to the first line that is not a comment), its --help.
header_help() {
	awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
}

install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "auralis: missing Debian packages; install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "auralis: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; } ||
		{ echo "auralis: apt-get install failed" >&2; exit 1; }
}

# install_node - Node.js and npm for the browser tests, unless some
# installation of them (Debian's or another) is already on the PATH.
install_node() {
	command -v node >/dev/null && command -v npm >/dev/null && return 0
	install_missing nodejs npm
}

# build [MESON_OPTION...] - configures build/ (once) and builds it.
build() {
	local dir=${AURALIS_BUILD:-$AURALIS_ROOT/build}
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$AURALIS_ROOT" "$@" >&2 || exit 1
	elif [ $# -gt 0 ]; then
		meson configure "$dir" "$@" >&2 || exit 1
	fi
	ninja -C "$dir" >&2 || exit 1
}

# start_renderer [AUR_RENDER_OPTION...] - the warm renderer (aur-render
# --serve) in the background, on a socket in a new private directory; returns
# once it listens, or 1 when it could not start.  Exports
# AURALIS_RENDER_SOCKET, so that sessions render there; sets RENDERER_PID and
# RENDERER_DIR.  Stop it with stop_renderer.
start_renderer() {
	local bin=${AURALIS_BIN:-${AURALIS_BUILD:-$AURALIS_ROOT/build}}
	RENDERER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/auralis-render.XXXXXX") || return 1
	# malloc's memory in huge pages where the kernel allows them (madvise): the
	# SoundFont's 140 MB map in 2 MB pages, so each fork copies far fewer page
	# table entries (docs/warm-start.md).
	GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1 \
		"$bin/aur-render" --serve "$RENDERER_DIR/render.sock" "$@" &
	RENDERER_PID=$!
	# Loading the SoundFont takes a second or so; the socket appears when done.
	while [ ! -S "$RENDERER_DIR/render.sock" ]; do
		if ! kill -0 "$RENDERER_PID" 2>/dev/null; then
			wait "$RENDERER_PID" 2>/dev/null
			rm -rf "$RENDERER_DIR"
			echo "auralis: the warm renderer did not start" >&2
			return 1
		fi
		sleep 0.02
	done
	export AURALIS_RENDER_SOCKET=$RENDERER_DIR/render.sock RENDERER_PID RENDERER_DIR
}

# stop_renderer - stops what start_renderer started and removes its directory.
stop_renderer() {
	[ -n "${RENDERER_PID:-}" ] || return 0
	kill -TERM "$RENDERER_PID" 2>/dev/null
	wait "$RENDERER_PID" 2>/dev/null
	rm -rf "$RENDERER_DIR"
	unset AURALIS_RENDER_SOCKET RENDERER_PID RENDERER_DIR
}

# start_websocketd ADDRESS PORT [WEBSOCKETD_OPTION...] - the stream server in
# the background, as scripts/run runs it: web/ as static files, a session
# (scripts/aur-session) per WebSocket connection to /stream, upgrades only
# from pages of this server (plus the origins in $AURALIS_ORIGINS, a comma
# list of host:port); with the warm renderer if start_renderer ran.  Sets
# WEBSOCKETD_PID.
start_websocketd() {
	local address=$1 port=$2 origins
	shift 2
	origins=$address:$port
	[ "$address" != 127.0.0.1 ] || origins+=,localhost:$port
	# A websocketd that can bound a message (--maxframesize, after 0.4.1) holds
	# no client's message past what the composer takes, 64 KiB a line and its
	# newline.  Debian's 0.4.1 cannot: docs/reliability.md.
	local limit=()
	websocketd --help 2>&1 | grep -q -- '-maxframesize' && limit=(--maxframesize=65537)
	websocketd --address="$address" --port="$port" "${limit[@]}" \
		--staticdir="$AURALIS_ROOT/web" --dir="$AURALIS_ROOT/scripts/ws" \
		--origin="$origins${AURALIS_ORIGINS:+,$AURALIS_ORIGINS}" \
		--passenv=PATH,AURALIS_SHM,AURALIS_RENDER_SOCKET,AURALIS_SOUNDFONT,AURALIS_BIN,AURALIS_NOTES_DIR,AURALIS_STALL_TIMEOUT,ASAN_OPTIONS,UBSAN_OPTIONS,LSAN_OPTIONS \
		"$@" &
	WEBSOCKETD_PID=$!
}
