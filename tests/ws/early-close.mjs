#!/usr/bin/env node
// tests/ws/early-close.mjs - listeners that leave at once, as websocketd
// ends their sessions: runs scripts/aur-session N times, CONCURRENCY at a
// time, and ends each 0..MAX_MS ms after it started the way websocketd's
// process endpoint does when the browser goes: its standard input is
// closed; 100 ms later SIGINT; 250 ms later SIGTERM; 500 ms later SIGKILL;
// and once it is gone, its standard output is closed (Go's exec.Cmd.Wait).
//
//   node tests/ws/early-close.mjs --script scripts/aur-session --runs 1000 \
//        [--concurrency 8] [--max-ms 300]
//
// The environment (AURALIS_BIN, AURALIS_SHM, AURALIS_SOUNDFONT) passes to
// the sessions.  Prints one JSON summary: how many runs ended at each step
// ("stdin", "SIGINT", "SIGTERM", "SIGKILL", "never").
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
	options: {
		script: { type: 'string' },
		runs: { type: 'string', default: '1000' },
		concurrency: { type: 'string', default: '8' },
		'max-ms': { type: 'string', default: '300' },
	},
});
if (!opt.script) {
	console.error('early-close.mjs: --script is required');
	process.exit(2);
}
const runs = Number(opt.runs), concurrency = Number(opt.concurrency), maxMs = Number(opt['max-ms']);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ended = { stdin: 0, SIGINT: 0, SIGTERM: 0, SIGKILL: 0, never: 0 };

async function one(i) {
	const child = spawn(opt.script, [], {
		env: { ...process.env, QUERY_STRING: i % 2 ? 'preset=sleep&codec=opus' : '' },
		stdio: ['pipe', 'pipe', 'ignore'],
	});
	const exited = new Promise((resolve) => child.once('exit', resolve));
	let gone = false;
	exited.then(() => { gone = true; });
	child.stdout.resume();          // websocketd reads what the session writes
	child.stdin.on('error', () => {});
	await sleep(Math.random() * maxMs);
	child.stdin.end();
	const steps = [[null, 'stdin', 100], ['SIGINT', 'SIGINT', 250], ['SIGTERM', 'SIGTERM', 500],
		['SIGKILL', 'SIGKILL', 1000]];
	let step = 'never';
	for (const [signal, name, wait] of steps) {
		if (signal && !gone) child.kill(signal);
		await Promise.race([exited, sleep(wait)]);
		if (gone) {
			step = name;
			break;
		}
	}
	ended[step]++;
	child.stdout.destroy();
}

let next = 0;
async function worker() {
	while (next < runs) await one(next++);
}
await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(JSON.stringify({ runs, ended }) + '\n');
