// tests/browser/bye.test.mjs - the server's bye (protocol.md): a node that
// drains sends its listeners on, and the page connects again at once, plays
// on and says nothing of it; sent away again at once, it waits a little,
// longer each time; a server that goes for good is said in words, and
// nothing reconnects. The page runs in headless Chromium against a fake
// server in this process (the page's files over HTTP and a PCM stream over
// WebSocket, on 127.0.0.1) that says bye when a test tells it to. The
// engine's seam, where the next stream follows the old one, and the delays
// run in Node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import { PlaybackEngine } from '../../web/js/engine.js';
import { BYE_SOON_MS, byeDelay } from '../../web/js/connection.js';
import { ROOT, launchBrowser, listPresets, until, watchConsole } from './harness.mjs';

const WEB = join(ROOT, 'web');
const TYPES = {
	'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
	'.json': 'application/json',
};
const SHUTDOWN = 'The server is shutting down';

// 100 ms of a quiet 100 Hz sine, s16le stereo at 44.1 kHz: ten whole
// periods, so one chunk follows another without a step.
const CHUNK_FRAMES = 4410;
const CHUNK_DATA = (() => {
	const b = Buffer.alloc(CHUNK_FRAMES * 4);
	for (let i = 0; i < CHUNK_FRAMES; i++) {
		const v = Math.round(3000 * Math.sin(2 * Math.PI * 100 * i / 44100));
		b.writeInt16LE(v, 4 * i);
		b.writeInt16LE(v, 4 * i + 2);
	}
	return b.toString('base64');
})();

/**
 * web/ over HTTP and /stream over WebSocket, as websocketd and aur-session
 * serve them, with the server's pacing: the first 0.3 s at once, then in
 * real time. Each connection is recorded (its URL, what it was sent, when it
 * opened and was sent a bye: performance.now() of this process), and
 * announced with a 'connection' event. byeAtOnce: how many of the next
 * connections are sent on at once, after their hello, as by a node that
 * drains before its balancer knows.
 */
class FakeServer extends EventEmitter {
	constructor() {
		super();
		this.connections = [];
		this.byeAtOnce = 0;
	}

	get url() {
		return `http://127.0.0.1:${this.port}/`;
	}

	async start() {
		this.http = createServer((req, res) => this.serve(req, res).catch(() => {
			res.writeHead(500);
			res.end();
		}));
		this.wss = new WebSocketServer({ server: this.http, path: '/stream' });
		this.wss.on('connection', (ws, req) => this.accept(ws, req));
		this.http.listen(0, '127.0.0.1');
		await once(this.http, 'listening');
		this.port = this.http.address().port;
	}

	async serve(req, res) {
		const path = decodeURIComponent(new URL(req.url, this.url).pathname);
		if (path === '/api/metrics') {
			// For the diagnostics page: a server with nothing to count.
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ uptime_s: 1, sessions_active: 0, sessions_total: 0, sessions: [] }));
			return;
		}
		if (path === '/presets.json') {
			// As scripts/run serves it beside the pages.
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify(listPresets()));
			return;
		}
		const file = normalize(join(WEB, path.endsWith('/') ? `${path}index.html` : path));
		const type = TYPES[extname(file)];
		if (!['GET', 'HEAD'].includes(req.method) || !file.startsWith(WEB + sep) || !type) {
			res.writeHead(404);
			res.end();
			return;
		}
		let body;
		try {
			body = await readFile(file);
		} catch {
			res.writeHead(404);
			res.end();
			return;
		}
		res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
		res.end(req.method === 'HEAD' ? undefined : body);
	}

	accept(ws, req) {
		const conn = { ws, url: new URL(req.url, this.url), openedAt: performance.now(), byeAt: null,
			received: [], seq: 0, startedAt: performance.now(), timer: null };
		this.connections.push(conn);
		ws.on('message', (data) => {
			try {
				conn.received.push(JSON.parse(data));
			} catch { /* the page sends JSON */ }
		});
		ws.on('close', () => clearInterval(conn.timer));
		ws.on('error', () => {});
		this.send(conn, { type: 'hello', version: 1, codec: 'pcm', sample_rate: 44100, channels: 2, chunk_ms: 100,
			session: `fake${this.connections.length}` });
		if (this.byeAtOnce > 0) {
			this.byeAtOnce--;
			this.bye(conn, { reason: 'draining', reconnect: true });
		} else {
			conn.timer = setInterval(() => this.pump(conn), 20);
			this.pump(conn);
		}
		this.emit('connection', conn);
	}

	send(conn, message) {
		if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(message));
	}

	/** Audio up to 0.3 s ahead of the connection's clock. */
	pump(conn) {
		const ms = performance.now() - conn.startedAt;
		while (conn.seq * 100 < ms + 300) {
			this.send(conn, { type: 'audio', seq: conn.seq, t: conn.seq / 10, timestamp: Date.now(), duration_ms: 100,
				sample_rate: 44100, channels: 2, data: CHUNK_DATA });
			conn.seq++;
		}
	}

	/** The bye (after a whole audio message, as aur-chunk sends it), then the close. */
	bye(conn, fields) {
		clearInterval(conn.timer);
		this.send(conn, { type: 'bye', ...fields });
		conn.byeAt = performance.now();
		conn.ws.close(1000);
	}

	/** Resolves when `conn` has been open for `ms` (a bye then is no "again at once"). */
	async aged(conn, ms = BYE_SOON_MS) {
		const wait = conn.openedAt + ms - performance.now();
		if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 1));
	}

	/** The next `n` connections, in order, or a failure after timeoutMs. */
	next(n = 1, timeoutMs = 5000) {
		const from = this.connections.length;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.off('connection', check);
				reject(new Error(`${this.connections.length - from} of ${n} connections came in ${timeoutMs} ms`));
			}, timeoutMs);
			const check = () => {
				if (this.connections.length - from < n) return;
				clearTimeout(timer);
				this.off('connection', check);
				resolve(this.connections.slice(from, from + n));
			};
			this.on('connection', check);
		});
	}

	get current() {
		return this.connections.at(-1);
	}

	async close() {
		for (const client of this.wss?.clients ?? []) client.terminate();
		this.wss?.close();
		if (this.http?.listening) {
			this.http.closeAllConnections();
			await new Promise((resolve) => this.http.close(resolve));
		}
	}
}

describe('the engine and the delays, in Node', () => {
	test('a bye: none for the first, then 100, 200, 400 … ms, at most 2 s', () => {
		assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map(byeDelay), [0, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
	});

	/** 100 ms chunks of a sine at 44.1 kHz, continuing across chunks. */
	function sine(freq) {
		let n = 0;
		return () => {
			const left = new Float32Array(CHUNK_FRAMES), right = new Float32Array(CHUNK_FRAMES);
			for (let i = 0; i < CHUNK_FRAMES; i++, n++) left[i] = right[i] = 0.5 * Math.sin(2 * Math.PI * freq * n / 44100);
			return [left, right];
		};
	}

	/**
	 * Renders `seconds` at 48 kHz in blocks of 128; before each block,
	 * arrive(t) pushes what has come by output time t. Returns the left
	 * channel and the engine's events, each with the time it came.
	 */
	function run(engine, seconds, arrive) {
		const total = Math.round(seconds * 48000 / 128) * 128;
		const L = new Float32Array(total), R = new Float32Array(total);
		const events = [];
		for (let at = 0; at < total; at += 128) {
			arrive(at / 48000);
			engine.render(L.subarray(at, at + 128), R.subarray(at, at + 128), 128);
			for (const e of engine.events) events.push({ ...e, t: at / 48000 });
			engine.events.length = 0;
		}
		return { L, events };
	}

	/** A stream's chunks as a server sends them: three at `from`, then one each 100 ms until `until`. */
	function stream(engine, source, from, until = Infinity) {
		let next = from, sent = 0;
		return (t) => {
			while (t >= next && next < until) {
				engine.push(...source());
				sent++;
				next = sent < 3 ? next : next + 0.1;
			}
		};
	}

	// The new connection's first audio 50 ms after the bye, and 200 ms: it
	// then has waited less than a start would, but enough of it is there,
	// and a gap now would be certain.
	for (const delay of [0.05, 0.2]) test(`a stream that follows at a seam, its audio ${delay * 1000} ms after the bye: the old one plays out, the new one fades in after it, with no underrun`, (t) => {
		const engine = new PlaybackEngine({ outRate: 48000, sourceRate: 44100 });
		engine.setTarget(300);
		engine.start();
		const old = stream(engine, sine(440), 0, 2);
		let follow = null, seam = null;
		const { L, events } = run(engine, 4, (t) => {
			old(t);
			if (t >= 2 && !seam) {
				// The bye: the old stream is whole; the new one's hello follows.
				seam = { frame: engine.written, left: engine.written - engine.pos, played: engine.framesPlayed, t };
				engine.seam(engine.written);
				follow = stream(engine, sine(660), t + delay);
			}
			follow?.(t);
		});
		const after = events.filter((e) => e.t >= seam.t);
		assert.deepEqual(after.filter((e) => e.type === 'underrun' || e.type === 'waiting'), [], 'no underrun, no wait');
		const playing = after.filter((e) => e.type === 'playing');
		assert.equal(playing.length, 1, 'the new stream starts once');
		// It starts when the old one has played out, all of it but the fade.
		const leftMs = seam.left / 44.1;
		assert.ok(seam.left > 0.2 * 44100, `${Math.round(leftMs)} ms of the old stream left at the bye`);
		const crossMs = (playing[0].t - seam.t) * 1000;
		assert.ok(crossMs > leftMs * 0.97 - 40 && crossMs < leftMs * 1.03 + 10, `it ended ${crossMs.toFixed(1)} ms after the bye, with ${leftMs.toFixed(1)} ms left`);
		assert.equal(engine.mode, 'playing');
		assert.ok(engine.pos > seam.frame, 'the new stream plays');
		// The gap: a few ms of silence between the fades, and no click.
		const from = Math.round(seam.t * 48000), to = Math.round((playing[0].t + 0.2) * 48000);
		let run0 = 0, longest = 0, step = 0;
		for (let i = from; i < to; i++) {
			run0 = Math.abs(L[i]) < 1e-6 ? run0 + 1 : 0;
			longest = Math.max(longest, run0);
			step = Math.max(step, Math.abs(L[i] - L[i - 1]));
		}
		t.diagnostic(`${leftMs.toFixed(1)} ms left at the bye, played out in ${crossMs.toFixed(1)} ms; ${longest} frames of silence, steps up to ${step.toFixed(4)}`);
		assert.ok(longest < 0.005 * 48000, `${longest} frames of silence at the seam`);
		// A 660 Hz sine of 0.5 moves at most 0.043 a sample at 48 kHz.
		assert.ok(step < 0.045, `a step of ${step.toFixed(3)} at the seam`);
	});

	test('a stream that comes after the old one ran out waits for its reserve, and that is no underrun', () => {
		const engine = new PlaybackEngine({ outRate: 48000, sourceRate: 44100 });
		engine.setTarget(300);
		engine.start();
		const old = stream(engine, sine(440), 0, 2);
		let follow = null, seamAt = null;
		const { events } = run(engine, 4, (t) => {
			old(t);
			if (t >= 2 && seamAt === null) {
				seamAt = t;
				engine.seam(engine.written);
			}
			// The new connection's hello is late: the old stream has run out.
			if (t >= 2.8 && !follow) follow = stream(engine, sine(660), t);
			follow?.(t);
		});
		const after = events.filter((e) => e.t >= seamAt);
		assert.deepEqual(after.filter((e) => e.type === 'underrun'), []);
		assert.deepEqual(after.map((e) => e.type), ['waiting', 'playing']);
		const [waiting, playing] = after;
		assert.ok(waiting.t < 2.8, 'the old stream played out first');
		// A start's wait: the target less a chunk, from the first audio.
		assert.ok(playing.t >= 2.8 + 0.2 - 0.003 && playing.t < 2.8 + 0.25, `playing at ${playing.t.toFixed(3)} s`);
		assert.equal(engine.underruns, 0);
	});

	test('a stream that had begun to come by the seam starts as soon as the target less a chunk of it is there', () => {
		const engine = new PlaybackEngine({ outRate: 48000, sourceRate: 44100 });
		engine.setTarget(300);
		engine.start();
		const old = stream(engine, sine(440), 0, 2);
		const source = sine(660);
		// Its first chunk just before the old stream's end (about 2.29 s: it
		// started trimmed to half a chunk over its target), two more after it,
		// then one each 100 ms.
		const arrivals = [2.2, 2.35, 2.35, ...Array.from({ length: 10 }, (_, i) => 2.45 + i / 10)];
		let seamAt = null;
		const { events } = run(engine, 3.5, (t) => {
			old(t);
			if (t >= 2 && seamAt === null) {
				seamAt = t;
				engine.seam(engine.written);
			}
			while (arrivals.length && t >= arrivals[0]) {
				arrivals.shift();
				engine.push(...source());
			}
		});
		const after = events.filter((e) => e.t >= seamAt);
		assert.deepEqual(after.map((e) => e.type), ['waiting', 'playing']);
		const [waiting, playing] = after;
		assert.ok(waiting.t > 2.2 && waiting.t < 2.35, `the old stream ended at ${waiting.t.toFixed(3)} s`);
		// Not a start's 200 ms of waiting from there: at once.
		assert.ok(playing.t >= 2.35 && playing.t < 2.36, `playing at ${playing.t.toFixed(3)} s`);
		assert.equal(engine.underruns, 0);
	});

	test('a stream replaced before it was reached is passed over', () => {
		const engine = new PlaybackEngine({ outRate: 48000, sourceRate: 44100 });
		engine.setTarget(300);
		engine.start();
		const old = stream(engine, sine(440), 0, 2);
		let second = null, third = null, thirdFrame = null;
		const { events } = run(engine, 3.5, (t) => {
			old(t);
			if (t >= 2 && !second) {
				engine.seam(engine.written);
				// Its hello and one chunk, then a bye.
				second = true;
				engine.push(...sine(550)());
			}
			if (t >= 2.1 && !third) {
				thirdFrame = engine.written;
				engine.seam(thirdFrame);
				third = stream(engine, sine(660), t);
			}
			third?.(t);
		});
		assert.deepEqual(events.filter((e) => e.t >= 2).map((e) => e.type), ['playing']);
		assert.ok(engine.pos > thirdFrame + 0.5 * 44100, 'the third stream plays');
		assert.equal(engine.underruns, 0);
	});
});

describe('the page, against a fake server', () => {
	let server, browser, page, problems;

	before(async () => {
		server = new FakeServer();
		await server.start();
		browser = await launchBrowser();
		page = await browser.newPage();
		problems = watchConsole(page);
		await page.goto(`${server.url}?codec=pcm`, { waitUntil: 'load' });
		await until(page, () => window.auralis !== undefined, null, { what: 'window.auralis' });
		await page.evaluate(() => {
			const s = window.auralis.session;
			window.states = [];
			s.addEventListener('state', (e) => window.states.push(`${e.detail.state}${e.detail.detail ? ` (${e.detail.detail})` : ''}`));
		});
		const first = server.next();
		await page.click('#play');
		await first;
		await until(page, () => window.auralis.stats().state === 'playing' && window.auralis.stats().framesPlayed > 0,
			null, { timeout: 5000, what: 'playing' });
	});

	after(async () => {
		await browser?.close();
		await server?.close();
	});

	const stats = () => page.evaluate(() => window.auralis.stats());
	/** States since the mark, and the figures then. */
	const mark = () => page.evaluate(() => {
		window.states = [];
		return window.auralis.stats();
	});
	const states = () => page.evaluate(() => window.states);

	/** The new stream is heard: its audio flows and has played `seconds` past `from`. */
	async function heardAgain(from, seconds, timeout = 10000) {
		await until(page, ([chunks, frames, n]) => {
			const s = window.auralis.stats();
			return !window.auralis.session.handover && s.state === 'playing'
				&& s.chunksReceived >= chunks + 10 && s.framesPlayed - frames >= n * 44100;
		}, [from.chunksReceived, from.framesPlayed, seconds], { timeout, what: 'the new stream playing' });
	}

	async function noError() {
		assert.equal(await page.isHidden('#problem'), true, `a problem shown: ${await page.textContent('#problem')}`);
		assert.doesNotMatch((await states()).join(', '), /error|trying again/);
		assert.deepEqual(problems, []);
	}

	test('a bye with reconnect: a new connection within 300 ms, with the settings, and the music plays on', async (t) => {
		// A change the listener made on this connection: the next one starts with it.
		const before = server.current;
		await server.aged(before);
		await page.selectOption('#key', 'E');
		await until(page, () => window.auralis.session.settings.key === 'E', null, { what: 'the key set' });
		const from = await mark();
		const next = server.next();
		server.bye(before, { reason: 'draining', reconnect: true });
		const [after] = await next;
		const ms = after.openedAt - before.byeAt;
		t.diagnostic(`connected again ${ms.toFixed(1)} ms after the bye`);
		assert.ok(ms < 300, `connected again ${ms.toFixed(1)} ms after the bye`);
		const settings = await page.evaluate(() => window.auralis.session.settings);
		const query = Object.fromEntries(after.url.searchParams);
		for (const k of ['key', 'mode', 'bpm', 'intensity']) assert.equal(query[k], String(settings[k]), k);
		assert.equal(query.key, 'E');
		assert.equal(query.codec, 'pcm');
		await heardAgain(from, 1.5);
		const s = await stats();
		t.diagnostic(`states since the bye: [${(await states()).join(', ')}]; buffer ${s.bufferMs} ms, target ${s.targetMs} ms`);
		// Playing all along: no state but playing was ever shown, and the
		// audio never ran dry.
		assert.deepEqual((await states()).filter((x) => x !== 'playing'), []);
		assert.equal(s.underruns, from.underruns, 'no underrun');
		assert.equal(await page.textContent('#state-word'), 'playing');
		assert.equal(await page.textContent('#state-detail'), '');
		await noError();
	});

	test('sent away again at once: the next connection waits 100 ms, the one after 200, then plays', async (t) => {
		const before = server.current;
		await server.aged(before);
		const from = await mark();
		server.byeAtOnce = 2;
		const next = server.next(3);
		server.bye(before, { reason: 'draining', reconnect: true });
		const [b, c, d] = await next;
		const gaps = [b.openedAt - before.byeAt, c.openedAt - b.byeAt, d.openedAt - c.byeAt];
		t.diagnostic(`connections ${gaps.map((g) => g.toFixed(1)).join(', ')} ms after each bye`);
		assert.ok(gaps[0] < 300, `the first at once: ${gaps[0].toFixed(1)} ms`);
		assert.ok(gaps[1] >= 99 && gaps[1] < 1000, `the second after 100 ms: ${gaps[1].toFixed(1)} ms`);
		assert.ok(gaps[2] >= 199 && gaps[2] < 1500, `the third after 200 ms: ${gaps[2].toFixed(1)} ms`);
		await heardAgain(from, 1.5);
		t.diagnostic(`states since the bye: [${(await states()).join(', ')}]`);
		// The old buffer may run out meanwhile: reconnecting, but no error.
		assert.deepEqual((await states()).filter((x) => !/^(playing|reconnecting( \(resuming\))?)$/.test(x)), []);
		assert.equal(server.current, d, 'no connection after the one that plays');
		await noError();
	});

	test('a bye with reconnect false, or none: the words, and no connection until Play', async () => {
		const before = server.current;
		const count = server.connections.length;
		server.bye(before, { reason: 'shutdown', reconnect: false });
		await until(page, (words) => document.getElementById('state-detail').textContent === words, SHUTDOWN,
			{ what: 'the words' });
		assert.equal(await page.textContent('#state-word'), 'stopped');
		assert.equal(await page.getByRole('button', { name: 'Play' }).count(), 1);
		// Nothing is scheduled: no socket, no timer, no wish to connect.
		const c = await page.evaluate(() => {
			const { connection: k } = window.auralis.session;
			return { ws: k.ws, timer: k.timer, wanted: k.wanted };
		});
		assert.deepEqual(c, { ws: null, timer: null, wanted: false });
		assert.equal(await page.isHidden('#problem'), true);
		// The listener starts it again, and the words go.
		const next = server.next();
		await page.click('#play');
		await next;
		await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing' });
		assert.equal(await page.textContent('#state-detail'), '');
		assert.equal(server.connections.length, count + 1, 'one connection, the one Play made');
		// A bye that says nothing of reconnecting ends the stream too.
		server.bye(server.current, { reason: 'draining' });
		await until(page, (words) => document.getElementById('state-detail').textContent === words, SHUTDOWN,
			{ what: 'the words again' });
		assert.equal(await page.evaluate(() => window.auralis.session.connection.wanted), false);
		assert.equal(server.connections.length, count + 1);
		assert.deepEqual(problems, []);
	});

	test('the diagnostics page plays on through a bye', async () => {
		const debug = await browser.newPage();
		const debugProblems = watchConsole(debug);
		try {
			await debug.goto(`${server.url}debug.html?codec=pcm&stat=${encodeURIComponent(server.url)}`, { waitUntil: 'load' });
			const first = server.next();
			await debug.click('#play');
			const [conn] = await first;
			await server.aged(conn);
			await until(debug, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing' });
			const from = await debug.evaluate(() => window.auralis.stats());
			const next = server.next();
			server.bye(conn, { reason: 'draining', reconnect: true });
			await next;
			await until(debug, (chunks) => window.auralis.stats().chunksReceived >= chunks + 10
				&& !window.auralis.session.handover, from.chunksReceived, { timeout: 10000, what: 'the new stream' });
			assert.equal((await debug.evaluate(() => window.auralis.stats())).state, 'playing');
			assert.equal(await debug.textContent('.state-word'), 'playing');
			assert.deepEqual(debugProblems, []);
		} finally {
			await debug.close();
		}
	});
});
