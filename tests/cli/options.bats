#!/usr/bin/env bats
# Every tool refuses a command line the same way: "prog: OPTION: why" on
# standard error, its usage after it, exit status 2; the option as given
# (without "=value"), a short one as "-x" even inside a cluster.

load helper

@test "every tool names the option it refuses, and why, in one form" {
	while IFS='|' read -r tool args message; do
		run bash -c "\"\$0\" $args < /dev/null > /dev/null" "$AURALIS_BUILD/$tool"
		[ "$status" -eq 2 ] || { echo "$tool $args: status $status"; false; }
		[ "${lines[0]}" = "$message" ] || { echo "$tool $args: ${lines[0]}"; false; }
		[[ "${lines[1]}" == "usage: $tool"* ]] || { echo "$tool $args: no usage after it"; false; }
	done <<-'TABLE'
	aur-compose|--frobnicate|aur-compose: --frobnicate: unknown option
	aur-compose|--duration|aur-compose: --duration: needs a value
	aur-compose|-Z|aur-compose: -Z: unknown option
	aur-render|--bogus=3|aur-render: --bogus: unknown option
	aur-render|-r|aur-render: -r: needs a value
	aur-render|-qZ|aur-render: -Z: unknown option
	aur-render|--rate|aur-render: --rate: needs a value
	aur-chunk|--bogus|aur-chunk: --bogus: unknown option
	aur-chunk|--kbps|aur-chunk: --kbps: needs a value
	aur-chunk|-Z|aur-chunk: -Z: unknown option
	aur-stat|--bogus|aur-stat: --bogus: unknown option
	aur-stat|--port|aur-stat: --port: needs a value
	aur-stat|-Z|aur-stat: -Z: unknown option
	aur-handoff|--bogus|aur-handoff: --bogus: unknown option
	aur-handoff|--socket|aur-handoff: --socket: needs a value
	aur-handoff|-Z|aur-handoff: -Z: unknown option
	aur-session|--bogus|aur-session: --bogus: unknown option
	aur-session|-x|aur-session: -x: unknown option
	TABLE
}
