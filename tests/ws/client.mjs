#!/usr/bin/env node
// tests/ws/client.mjs - a WebSocket listener for the tests and benchmarks.
//
// Connects one or more clients to an Auralis stream, listens for a while,
// optionally sends control messages at given times, and prints one JSON
// summary a client (an array with --clients) on stdout:
//
//   node tests/ws/client.mjs --url ws://127.0.0.1:8080/stream --seconds 5 \
//        [--clients N] [--pcm FILE] [--send MS:JSON]... [--raw-log FILE] [--stop-reading MS]
//        [--send-big MS:BYTES] [--reset MS] [--messages FILE] [--reconnect]
//        [--after-audio SECONDS]
//
// --after-audio S: each client leaves S seconds after its first audio
// message (and still after --seconds in all at the latest), so that a test
// of many listeners lasts as long as their start takes, not a fixed span.
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
// A bye ({"type":"bye","reconnect":true}, a draining node's) is kept as
// "bye" and counted in "byes".  With --reconnect the client then connects
// again to the same URL at once, as the page does (the balancer sends it to
// another node); a bye on a connection that brought no audio yet, or a
// failed try, waits 100, 200, 400 ... 2000 ms first.  "bye_gaps_ms" holds,
// per bye, the time from the last audio before it to the first audio after
// it, "bye_gap_ms" the longest; "connections" and "sessions" (the hellos'
// session ids) count the streams; "bye_unanswered" says audio never came
// back before the end.  seq, t and lateness are checked per connection.
//
// A chunk is "on time" when it arrives within 150 ms of its schedule: the
// arrival of the first audio plus its music time beyond the 0.3 s prefill.
// "max_gap_ms" is the longest wait between two audio messages of a
// connection; "long_gaps" lists each wait of more than 200 ms as [ms since
// the client connected, ms waited], so that a test can ask for an even
// stream after some moment (once every listener of a burst has started).
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
		reconnect: { type: 'boolean', default: false },
		'after-audio': { type: 'string' },
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
const afterAudio = opt['after-audio'] === undefined ? null : Number(opt['after-audio']);
const prefill = Number(opt.prefill);
const sends = opt.send.map((s) => {
	const i = s.indexOf(':');
	return { at: Number(s.slice(0, i)), text: s.slice(i + 1) };
});

const LONG_GAP_MS = 200;
function percentile(sorted, p) {
	if (!sorted.length) return null;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function listen(index) {
	return new Promise((resolve) => {
		const s = {
			hello: null, first_message: null, audio: 0, first_audio_ms: null, bytes_ok: 0,
			bad_sizes: 0, seq_gaps: 0, last_seq: -1, t_errors: 0, order_errors: 0,
			acks: [], errors: [], max_gap_ms: 0, long_gaps: [], on_time: 0, late: 0, lateness_ms: [],
			closed_by_server: false, close_code: null, parse_errors: 0, last: false,
			wire_bytes: 0, wire_kbps: null, kbps_seen: [],
			bye: null, byes: 0, connections: 0, sessions: [], bye_gaps_ms: [], bye_gap_ms: null,
		};
		const sentAt = new Map();
		const started = performance.now();
		// Per connection: its first and latest audio (the schedule a chunk is
		// judged against starts again with each session).
		let firstAudioAt = null, lastAudioAt = null;
		// Across connections: the last audio before a bye, and how many tries
		// in a row have got a bye (or failed) before any audio.
		let lastHeardAt = null, byeAudioAt = null, afterBye = false, tries = 0;
		const pcm = opt.pcm ? createWriteStream(opt.clients === '1' ? opt.pcm : `${opt.pcm}.${index}`) : null;
		const rawLog = opt['raw-log'] ? createWriteStream(opt['raw-log']) : null;
		const messages = opt.messages ? createWriteStream(opt.clients === '1' ? opt.messages : `${opt.messages}.${index}`) : null;
		// As a browser on the server's own page would: the server checks it.
		const origin = opt.origin ?? `http://${new URL(opt.url).host}`;
		const timers = [];
		let ws = null;                  // the current connection; others are retired
		let finished = false, done = false, deadline = null, retry = null, leave = null;

		const scheduleSends = () => {
			for (const { at, text } of sends) {
				timers.push(setTimeout(() => {
					try {
						const id = JSON.parse(text).id;
						if (id !== undefined) sentAt.set(id, performance.now());
					} catch { /* a deliberately bad message */ }
					try { ws?.send(text); } catch { /* between connections */ }
				}, at));
			}
		};

		// After a bye that asks for it: at once, unless this connection got
		// a bye (or failed) before any audio, then 100, 200, 400 ... 2000 ms.
		const reconnect = (heardAudio) => {
			if (done || finished) return;
			if (heardAudio) tries = 0;
			const delay = tries === 0 ? 0 : Math.min(2000, 100 * 2 ** (tries - 1));
			tries++;
			retry = setTimeout(() => { retry = null; connect(); }, delay);
		};

		const connect = () => {
			const first = s.connections === 0;
			s.connections++;
			const sock = new WebSocket(opt.url, origin === 'none' ? {} : { origin });
			ws = sock;
			let heardAudio = false;
			firstAudioAt = null;
			lastAudioAt = null;
			s.last_seq = -1;
			const retire = () => {
				if (ws === sock) ws = null;
				sock.removeAllListeners('message');
				sock.on('error', () => {});
				try { sock.close(1000); } catch { sock.terminate(); }
			};

			sock.on('open', () => {
				if (!first) return;
				if (opt['send-from'] === 'open') scheduleSends();
				if (opt['stop-reading'])
					timers.push(setTimeout(() => ws?._socket?.pause(), Number(opt['stop-reading'])));
				if (opt['send-big']) {
					const [at, bytes] = opt['send-big'].split(':').map(Number);
					timers.push(setTimeout(() => ws?.send('x{'.repeat(bytes / 2)), at));
				}
				if (opt.reset)
					timers.push(setTimeout(() => { s.reset = true; ws?._socket?.resetAndDestroy(); },
						Number(opt.reset)));
			});
			sock.on('message', (data) => {
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
					s.sessions.push(m.session);
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
					if (afterBye) {
						// Playing again: the silence a listener heard.
						s.bye_gaps_ms.push(now - byeAudioAt);
						afterBye = false;
					}
					heardAudio = true;
					if (firstAudioAt === null) {
						firstAudioAt = now;
						if (s.first_audio_ms === null) {
							s.first_audio_ms = now - started;
							if (opt['send-from'] === 'audio') scheduleSends();
							if (afterAudio !== null) {
								clearTimeout(deadline);
								deadline = setTimeout(leave,
									Math.min(afterAudio * 1000, seconds * 1000 - s.first_audio_ms));
							}
						}
					} else {
						s.max_gap_ms = Math.max(s.max_gap_ms, now - lastAudioAt);
						if (now - lastAudioAt > LONG_GAP_MS)
							s.long_gaps.push([Math.round(now - started), Math.round(now - lastAudioAt)]);
					}
					lastAudioAt = lastHeardAt = now;
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
				} else if (m.type === 'bye') {
					s.bye = m;
					s.byes++;
					if (opt.reconnect && m.reconnect === true && !done) {
						if (!afterBye) {
							afterBye = true;
							byeAudioAt = lastHeardAt ?? now;
						}
						retire();
						reconnect(heardAudio);
					}
				}
			});
			sock.on('close', (code) => {
				if (ws !== sock) return;                // retired after its bye
				s.close_code = code;
				// The balancer may still send a reconnection to the drained node,
				// or have nowhere to send it for a moment: try again.
				if (afterBye && !done) { ws = null; reconnect(false); return; }
				if (!done) s.closed_by_server = true;
				finish();
			});
			sock.on('unexpected-response', (req, res) => {
				s.http_status = res.statusCode;
				res.resume();
				req.destroy();
				if (ws !== sock) return;
				if (afterBye && !done) { ws = null; reconnect(false); return; }
				finish();
			});
			sock.on('error', (e) => {
				s.error = String(e.message || e);
			});
		};

		const finish = () => {
			if (finished) return;
			finished = true;
			for (const t of timers) clearTimeout(t);
			clearTimeout(deadline);         // a closed connection ends the run at once
			clearTimeout(retry);
			const sorted = [...s.lateness_ms].sort((a, b) => a - b);
			s.lateness = { p50: percentile(sorted, 50), p95: percentile(sorted, 95),
				p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : null };
			delete s.lateness_ms;
			if (s.bye_gaps_ms.length) s.bye_gap_ms = Math.max(...s.bye_gaps_ms);
			// A bye the listener never came back from.
			if (afterBye) s.bye_unanswered = true;
			if (s.audio && s.hello?.chunk_ms)
				s.wire_kbps = (s.wire_bytes * 8) / (s.audio * s.hello.chunk_ms);
			if (pcm) pcm.end();
			if (messages) messages.end();
			if (rawLog) rawLog.end();
			resolve(s);
		};
		leave = () => {
			done = true;
			if (finished) return;
			if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING))
				ws.terminate();
			else finish();
		};
		deadline = setTimeout(leave, seconds * 1000);
		connect();
	});
}

const n = Number(opt.clients);
const results = await Promise.all(Array.from({ length: n }, (_, i) => listen(i)));
process.stdout.write(JSON.stringify(n === 1 ? results[0] : results) + '\n');
