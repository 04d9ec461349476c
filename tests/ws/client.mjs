#!/usr/bin/env node
// tests/ws/client.mjs - a WebSocket listener for the tests and benchmarks.
//
// Connects one or more clients to an Auralis stream, listens for a while,
// optionally sends control messages at given times, and prints one JSON
// summary a client (an array with --clients) on stdout:
//
//   node tests/ws/client.mjs --url ws://127.0.0.1:8080/stream --seconds 5 \
//        [--clients N] [--pcm FILE] [--send MS:JSON]... [--raw-log FILE] [--stop-reading MS]
//        [--send-big MS:BYTES] [--reset MS] [--messages FILE]
//
// --send times count from the connection's opening, or with --send-from audio
// from the first audio message: for messages that must land in a given span
// of the music however long the session takes to start.
//
// An Opus stream (?codec=opus) is checked for its framing (chunk_ms /
// frame_ms packets of base64 a chunk); --messages keeps every message whole,
// one a line, for tests/sound/aur-opusdec to decode.  "wire_kbps" is what the
// audio stream costs: the bytes of every message after the hello, times 8,
// over the music time they carried; "kbps_seen" the bitrates the audio
// messages named, each once, in order.
//
// --origin sets the Origin header (default: the server's own http origin;
// "none" sends none).  --send-big sends one line of BYTES bytes of garbage; --reset tears the TCP
// connection down with a reset at MS; --stop-reading stops reading at MS.
// A refused upgrade (e.g. 429 past websocketd's --maxforks) is reported as
// "http_status".
//
// A chunk is "on time" when it arrives within 150 ms of its schedule: the
// arrival of the first audio plus its music time beyond the 0.3 s prefill.
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: opt } = parseArgs({
	options: {
		url: { type: 'string' },
		seconds: { type: 'string', default: '5' },
		clients: { type: 'string', default: '1' },
		pcm: { type: 'string' },
		send: { type: 'string', multiple: true, default: [] },
		'raw-log': { type: 'string' },
		'stop-reading': { type: 'string' },
		'send-big': { type: 'string' },
		reset: { type: 'string' },
		prefill: { type: 'string', default: '0.3' },
		origin: { type: 'string' },
		messages: { type: 'string' },
		'send-from': { type: 'string', default: 'open' },
	},
});
if (!opt.url) {
	console.error('client.mjs: --url is required');
	process.exit(2);
}
if (opt['send-from'] !== 'open' && opt['send-from'] !== 'audio') {
	console.error(`client.mjs: --send-from: expected open or audio, not '${opt['send-from']}'`);
	process.exit(2);
}
const seconds = Number(opt.seconds);
const prefill = Number(opt.prefill);
const sends = opt.send.map((s) => {
	const i = s.indexOf(':');
	return { at: Number(s.slice(0, i)), text: s.slice(i + 1) };
});

function percentile(sorted, p) {
	if (!sorted.length) return null;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function listen(index) {
	return new Promise((resolve) => {
		const s = {
			hello: null, first_message: null, audio: 0, first_audio_ms: null, bytes_ok: 0,
			bad_sizes: 0, seq_gaps: 0, last_seq: -1, t_errors: 0, order_errors: 0,
			acks: [], errors: [], max_gap_ms: 0, on_time: 0, late: 0, lateness_ms: [],
			closed_by_server: false, close_code: null, parse_errors: 0, last: false,
			wire_bytes: 0, wire_kbps: null, kbps_seen: [],
		};
		const sentAt = new Map();
		const started = performance.now();
		let firstAudioAt = null, lastAudioAt = null;
		const pcm = opt.pcm ? createWriteStream(opt.clients === '1' ? opt.pcm : `${opt.pcm}.${index}`) : null;
		const rawLog = opt['raw-log'] ? createWriteStream(opt['raw-log']) : null;
		const messages = opt.messages ? createWriteStream(opt.clients === '1' ? opt.messages : `${opt.messages}.${index}`) : null;
		// As a browser on the server's own page would: the server checks it.
		const origin = opt.origin ?? `http://${new URL(opt.url).host}`;
		const ws = new WebSocket(opt.url, origin === 'none' ? {} : { origin });
		const timers = [];

		const scheduleSends = () => {
			for (const { at, text } of sends) {
				timers.push(setTimeout(() => {
					try {
						const id = JSON.parse(text).id;
						if (id !== undefined) sentAt.set(id, performance.now());
					} catch { /* a deliberately bad message */ }
					ws.send(text);
				}, at));
			}
		};
		ws.on('open', () => {
			if (opt['send-from'] === 'open') scheduleSends();
			if (opt['stop-reading'])
				timers.push(setTimeout(() => ws._socket.pause(), Number(opt['stop-reading'])));
			if (opt['send-big']) {
				const [at, bytes] = opt['send-big'].split(':').map(Number);
				timers.push(setTimeout(() => ws.send('x{'.repeat(bytes / 2)), at));
			}
			if (opt.reset)
				timers.push(setTimeout(() => { s.reset = true; ws._socket.resetAndDestroy(); },
					Number(opt.reset)));
		});
		ws.on('message', (data) => {
			const now = performance.now();
			const text = data.toString();
			if (rawLog) rawLog.write(text.length > 200 ? text.slice(0, 200) + '…\n' : text + '\n');
			if (messages) messages.write(text + '\n');
			if (s.hello) s.wire_bytes += Buffer.byteLength(text);
			let m;
			try {
				m = JSON.parse(text);
			} catch {
				s.parse_errors++;
				return;
			}
			if (s.first_message === null) s.first_message = m.type;
			if (m.type === 'hello') {
				s.hello = m;
			} else if (m.type === 'audio') {
				let bytes = null;
				if (s.hello?.codec === 'opus') {
					const want = s.hello.chunk_ms / s.hello.frame_ms;
					const ok = Array.isArray(m.packets) && m.packets.length === want &&
						m.packets.every((p) => typeof p === 'string' && p.length > 0 &&
							Buffer.from(p, 'base64').toString('base64') === p);
					if (ok && m.data === undefined) s.bytes_ok++;
					else s.bad_sizes++;
					if (s.kbps_seen.at(-1) !== m.kbps) s.kbps_seen.push(m.kbps);
				} else {
					bytes = Buffer.from(m.data, 'base64');
					if (bytes.length === 17640) s.bytes_ok++;
					else s.bad_sizes++;
				}
				if (m.seq !== s.last_seq + 1) s.seq_gaps++;
				if (Math.abs(m.t - m.seq * 0.1) > 1e-6) s.t_errors++;
				s.last_seq = m.seq;
				if (m.last) s.last = true;
				if (firstAudioAt === null) {
					firstAudioAt = now;
					s.first_audio_ms = now - started;
					if (opt['send-from'] === 'audio') scheduleSends();
				} else {
					s.max_gap_ms = Math.max(s.max_gap_ms, now - lastAudioAt);
				}
				lastAudioAt = now;
				const due = firstAudioAt + Math.max(0, m.t - prefill) * 1000;
				const lateness = now - due;
				s.lateness_ms.push(lateness);
				if (lateness <= 150) s.on_time++;
				else s.late++;
				s.audio++;
				if (pcm && bytes) pcm.write(bytes);
			} else if (m.type === 'ack') {
				const at = sentAt.get(m.id);
				// An ack must follow the audio that carries its time.
				if (s.last_seq < 0 || m.t >= (s.last_seq + 1) * 0.1 + 1e-9) s.order_errors++;
				s.acks.push({ id: m.id, t: m.t, ack_ms: at === undefined ? null : now - at,
					seq: s.last_seq });
			} else if (m.type === 'error') {
				s.errors.push({ id: m.id, message: m.message });
			}
		});
		let finished = false, deadline = null;
		const finish = () => {
			if (finished) return;
			finished = true;
			for (const t of timers) clearTimeout(t);
			clearTimeout(deadline);         // a closed connection ends the run at once
			const sorted = [...s.lateness_ms].sort((a, b) => a - b);
			s.lateness = { p50: percentile(sorted, 50), p95: percentile(sorted, 95),
				p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : null };
			delete s.lateness_ms;
			if (s.audio && s.hello?.chunk_ms)
				s.wire_kbps = (s.wire_bytes * 8) / (s.audio * s.hello.chunk_ms);
			if (pcm) pcm.end();
			if (messages) messages.end();
			if (rawLog) rawLog.end();
			resolve(s);
		};
		ws.on('close', (code) => {
			s.close_code = code;
			if (!done) s.closed_by_server = true;
			finish();
		});
		ws.on('unexpected-response', (req, res) => {
			s.http_status = res.statusCode;
			res.resume();
			req.destroy();
			finish();
		});
		ws.on('error', (e) => {
			s.error = String(e.message || e);
		});
		let done = false;
		deadline = setTimeout(() => {
			done = true;
			if (finished) return;
			if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)
				ws.terminate();
			else finish();
		}, seconds * 1000);
	});
}

const n = Number(opt.clients);
const results = await Promise.all(Array.from({ length: n }, (_, i) => listen(i)));
process.stdout.write(JSON.stringify(n === 1 ? results[0] : results) + '\n');
