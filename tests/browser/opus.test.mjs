// tests/browser/opus.test.mjs - the Opus stream in headless Chromium against a
// real server: the page asks for Opus where the browser decodes it and for
// PCM when told; the decoded stream lies frame for frame where the PCM stream
// of the same music does (the pre-skip is dropped, once); the bitrate changes
// when asked and is counted at its ack; a failing decoder is replaced, and
// then given up for PCM, with the music going on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, startServerAndBrowser, stats, stopServerAndBrowser, until } from './harness.mjs';

let server, browser;

before(async () => {
	({ server, browser } = await startServerAndBrowser());
});

after(() => stopServerAndBrowser({ server, browser }));

/**
 * A page at `query`, with the messages it sends and receives recorded
 * (window.sent, window.received: type, and for audio its seq, t and kbps).
 */
async function openRecorded(query = '', { seed = null } = {}) {
	const context = await browser.newContext();
	const { page, problems } = await openPage(context, `${server.url}${query}`);
	await page.evaluate((seed) => {
		const s = window.auralis.session;
		window.sent = [];
		window.received = [];
		const send = s.connection.send.bind(s.connection);
		s.connection.send = (m) => {
			window.sent.push(m);
			return send(m);
		};
		s.connection.addEventListener('message', (e) => {
			const m = e.detail.message;
			window.received.push(m.type === 'audio'
				? { type: 'audio', seq: m.seq, t: m.t, kbps: m.kbps, packets: m.packets?.length, data: typeof m.data }
				: m);
		});
		// The same seed makes the same music (the composer's --seed).
		if (seed !== null) {
			const url = s.streamUrl.bind(s);
			s.streamUrl = () => `${url()}&seed=${seed}`;
		}
	}, seed);
	return { context, page, problems };
}

test('the page negotiates Opus, plays it, and receives about 141 kbit/s', async (t) => {
	const { context, page, problems } = await openRecorded();
	await page.click('#play');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing' });
	// Long enough for the start-up burst (its first 0.3 s at once) to leave
	// the 5 s window: played lags what has come by the buffer, under a second.
	await until(page, () => window.auralis.stats().framesPlayed > 6 * 48000, null, { timeout: 15000, what: '6 s played' });
	const s = await stats(page);
	const { url, hello, details } = await page.evaluate(() => ({
		url: window.auralis.session.connection.ws.url,
		hello: window.received.find((m) => m.type === 'hello'),
		details: window.auralis.details(),
	}));
	t.diagnostic(`${s.codec} at ${s.bitrate} kbit/s: ${s.kbps} kbit/s received; buffer ${s.bufferMs} ms; decoder ${details.opusSupported}`);
	assert.equal(details.opusSupported, true, 'AudioDecoder.isConfigSupported says yes');
	assert.equal(new URL(url).searchParams.get('codec'), 'opus');
	assert.equal(hello.codec, 'opus');
	assert.equal(hello.sample_rate, 48000);
	assert.equal(s.codec, 'opus');
	assert.equal(s.sampleRate, 48000);
	assert.equal(s.bitrate, 96);
	assert.ok(s.kbps > 100 && s.kbps <= 160, `${s.kbps} kbit/s received`);
	assert.equal(s.underruns, 0);
	assert.equal(s.tooSlow, false);
	const audio = await page.evaluate(() => window.received.filter((m) => m.type === 'audio').slice(0, 20));
	assert.ok(audio.every((m) => m.packets === 5 && m.data === 'undefined' && m.kbps === 96));
	// The listening page's line says it too.
	assert.match(await page.textContent('#health'), /Opus 96 kbit\/s · \d+ kbit\/s received/);
	// No quality message on a healthy link, and the stats messages keep to
	// the protocol's fields (the server rejects others).
	const sent = await page.evaluate(() => window.sent);
	assert.deepEqual(sent.filter((m) => m.type === 'quality'), []);
	for (const m of sent.filter((x) => x.type === 'stats'))
		assert.deepEqual(Object.keys(m).filter((k) => !['type', 'buffer_ms', 'underruns', 'jitter_ms', 'latency_ms'].includes(k)), []);
	assert.deepEqual(problems, []);
	await context.close();
});

test('?codec=pcm still plays PCM, at 44.1 kHz and about 1880 kbit/s', async (t) => {
	const { context, page, problems } = await openRecorded('?codec=pcm');
	await page.click('#play');
	await until(page, () => window.auralis.stats().framesPlayed > 4 * 44100, null, { timeout: 10000, what: '4 s played' });
	const s = await stats(page);
	const url = await page.evaluate(() => window.auralis.session.connection.ws.url);
	t.diagnostic(`${s.codec}: ${s.kbps} kbit/s received`);
	assert.equal(new URL(url).searchParams.get('codec'), 'pcm');
	assert.equal(new URL(url).searchParams.get('kbps'), null, 'no bitrate for PCM');
	assert.equal(s.codec, 'pcm');
	assert.equal(s.sampleRate, 44100);
	assert.equal(s.bitrate, null);
	assert.ok(s.kbps > 1500 && s.kbps < 2400, `${s.kbps} kbit/s received`);
	assert.equal(s.underruns, 0);
	assert.match(await page.textContent('#health'), /PCM 44\.1 kHz · \d+ kbit\/s received/);
	// A quality message on a PCM stream is refused; the page then stops
	// asking, and plays on without a word to the listener.
	await page.evaluate(() => window.auralis.session.sendQuality(64));
	await until(page, () => window.received.some((m) => m.type === 'error'), null, { timeout: 5000, what: 'the refusal' });
	assert.equal(await page.evaluate(() => window.auralis.session.quality.enabled), false);
	assert.ok(await page.isHidden('#problem'));
	assert.equal((await stats(page)).state, 'playing');
	assert.deepEqual(problems, []);
	await context.close();
});

test('?kbps=64 starts the Opus stream at 64 kbit/s, with 32 below it', async () => {
	const { context, page, problems } = await openRecorded('?kbps=64');
	await page.click('#play');
	await until(page, () => window.auralis.stats().bitrate === 64, null, { timeout: 5000, what: 'audio at 64 kbit/s' });
	const { url, hello, ladder } = await page.evaluate(() => ({
		url: window.auralis.session.connection.ws.url,
		hello: window.received.find((m) => m.type === 'hello'),
		ladder: window.auralis.details().ladder,
	}));
	assert.equal(new URL(url).searchParams.get('kbps'), '64');
	assert.equal(hello.kbps, 64);
	assert.deepEqual(ladder, [64, 32]);
	assert.deepEqual(problems, []);
	await context.close();
});

test('Chromium\'s decoder keeps the pre-skip: the page drops it, and a click lands on its frame', async (t) => {
	// A known stream: silence with a click at frame 60 000, coded by the
	// browser's own Opus encoder, whose OpusHead names its pre-skip. Decoded
	// raw, the click comes pre-skip frames late; through the page's
	// OpusStream, on its frame.
	const { context, page } = await openRecorded();
	const r = await page.evaluate(async () => {
		const { OpusStream } = await import('./js/opus.js');
		const { decodeBase64 } = await import('./js/player.js');
		const packets = [];
		let head = null;
		const encoder = new AudioEncoder({
			output: (chunk, meta) => {
				const bytes = new Uint8Array(chunk.byteLength);
				chunk.copyTo(bytes);
				packets.push(btoa(String.fromCharCode(...bytes)));
				if (meta?.decoderConfig?.description) head = new Uint8Array(meta.decoderConfig.description);
			},
			error: (e) => { throw e; },
		});
		encoder.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 2, bitrate: 96000 });
		const n = 96000;
		const signal = new Float32Array(2 * n);
		signal[60000] = signal[n + 60000] = 0.9;
		encoder.encode(new AudioData({ format: 'f32-planar', sampleRate: 48000, numberOfFrames: n, numberOfChannels: 2, timestamp: 0, data: signal }));
		await encoder.flush();
		// OpusHead (RFC 7845): "OpusHead", version, channels, pre-skip (LE).
		const preSkip = head[10] | head[11] << 8;
		const decode = (skip) => new Promise((resolve, reject) => {
			const frames = [];
			const s = new OpusStream({
				preSkip: skip, decodeBase64,
				output: (left) => frames.push(...left),
				end: () => resolve(frames),
				error: reject,
			});
			for (let i = 0; i < packets.length; i += 5) {
				const last = i + 5 >= packets.length;
				s.push({ t: i / 50, packets: packets.slice(i, i + 5), last, frames: last ? n - i * 960 : undefined }, 0);
			}
		});
		const peak = (x) => x.reduce((best, v, i) => (Math.abs(v) > Math.abs(x[best]) ? i : best), 40000);
		const raw = await decode(0);
		const kept = await decode(preSkip);
		return { preSkip, rawPeak: peak(raw), keptPeak: peak(kept), kept: kept.length };
	});
	t.diagnostic(`OpusHead pre-skip ${r.preSkip}; the click decoded raw at frame ${r.rawPeak}, through the page at ${r.keptPeak}`);
	assert.equal(r.preSkip, 312);
	assert.equal(r.rawPeak, 60000 + 312, 'Chromium drops no pre-skip when given no description');
	assert.equal(r.keptPeak, 60000);
	assert.equal(r.kept, 96000, 'the stream, its end included, and no more');
	await context.close();
});

/** The first `seconds` of a stream's frames (left channel) as the page hands them to the worklet. */
async function captureStream(query, seed, seconds) {
	const { context, page, problems } = await openRecorded(query, { seed });
	await page.evaluate((seconds) => {
		const player = window.auralis.session.player;
		const push = player.pushFrames.bind(player);
		window.captured = [];
		window.capturedFrames = 0;
		player.pushFrames = (left, right, arrival) => {
			if (window.capturedFrames < seconds * 48000) {
				window.captured.push(Array.from(left));
				window.capturedFrames += left.length;
			}
			return push(left, right, arrival);
		};
	}, seconds);
	await page.click('#play');
	await until(page, (s) => window.auralis.stats().sampleRate && window.capturedFrames >= s * window.auralis.stats().sampleRate, seconds,
		{ timeout: 20000, what: `${seconds} s of frames` });
	const r = await page.evaluate(() => ({ frames: window.captured.flat(), rate: window.auralis.stats().sampleRate }));
	assert.deepEqual(problems, []);
	await context.close();
	return r;
}

test('the decoded Opus stream lies where the PCM stream of the same music does, to the frame', async (t) => {
	// Same seed, same music: the PCM stream at 44.1 kHz and the Opus stream
	// at 48 kHz. After the pre-skip is dropped, frame round(t × 48000) of the
	// Opus stream is music time t, as frame round(t × 44100) of the PCM one.
	// 3.5 s each: the 2 s compared from 1 s, the lags searched, and a margin.
	const [pcm, opus] = await Promise.all([captureStream('?codec=pcm', 7, 3.5), captureStream('?codec=opus', 7, 3.5)]);
	assert.equal(pcm.rate, 44100);
	assert.equal(opus.rate, 48000);
	// The PCM stream at 48 kHz (linear interpolation is plenty for this).
	const ref = new Float64Array(Math.floor(pcm.frames.length * 48000 / 44100));
	for (let i = 0; i < ref.length; i++) {
		const p = i * 44100 / 48000, k = Math.floor(p), f = p - k;
		ref[i] = pcm.frames[k] * (1 - f) + (pcm.frames[k + 1] ?? 0) * f;
	}
	// Normalized cross-correlation over 2 s from music time 1 s.
	const from = 48000, len = 2 * 48000;
	const x = opus.frames;
	const corr = (lag) => {
		let s = 0, a = 0, b = 0;
		for (let i = from; i < from + len; i++) {
			const u = x[i + lag] ?? 0, v = ref[i];
			s += u * v;
			a += u * u;
			b += v * v;
		}
		return s / Math.sqrt(a * b);
	};
	let best = 0;
	for (let lag = -400; lag <= 400; lag++) if (corr(lag) > corr(best)) best = lag;
	t.diagnostic(`best lag ${best} frames, correlation ${corr(best).toFixed(3)}; at ±312: ${corr(312).toFixed(3)}, ${corr(-312).toFixed(3)}`);
	assert.ok(Math.abs(best) <= 2, `the Opus stream is ${best} frames off the PCM one`);
	assert.ok(corr(best) > 0.8, `correlation ${corr(best)}: the same music`);
	assert.ok(corr(312) < 0.5 && corr(-312) < 0.5, 'a pre-skip off would not pass');
});

test('a quality message changes the bitrate from the acked chunk on; the page counts it at the ack and reconnects there', async (t) => {
	const { context, page, problems } = await openRecorded();
	await page.click('#play');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing' });
	const id = await page.evaluate(() => {
		window.qualityEvents = [];
		window.auralis.session.addEventListener('quality', (e) => window.qualityEvents.push(e.detail));
		return window.auralis.session.sendQuality(32);
	});
	const ack = await until(page, (id) => window.received.find((m) => m.type === 'ack' && m.id === id), id,
		{ timeout: 5000, what: 'the ack' });
	const audio = await page.evaluate(() => window.received.filter((m) => m.type === 'audio'));
	const at = audio.findIndex((m) => m.kbps === 32);
	t.diagnostic(`acked at t ${ack.t}; the first chunk at 32 kbit/s has seq ${audio[at].seq}, t ${audio[at].t}`);
	assert.equal(audio[at].t, ack.t, 'the ack names the first chunk at the new bitrate');
	assert.ok(audio.slice(0, at).every((m) => m.kbps === 96));
	// The ack follows its chunk.
	const order = await page.evaluate((id) => window.received.findIndex((m) => m.type === 'ack' && m.id === id), id);
	const chunkAt = await page.evaluate((t) => window.received.findIndex((m) => m.type === 'audio' && m.t === t), ack.t);
	assert.ok(order > chunkAt);
	const events = await page.evaluate(() => window.qualityEvents);
	assert.deepEqual(events, [{ id, kbps: 32, t: ack.t }]);
	const d = await page.evaluate(() => window.auralis.details());
	assert.equal(d.ladder[2], 32);
	assert.equal(d.qualitySteps, 1);
	assert.equal(d.qualityPending, null);
	await until(page, () => window.auralis.stats().kbps < 100, null, { timeout: 10000, what: 'fewer kbit/s received' });
	// No latency measured, no activity line: the listener asked for nothing.
	assert.equal((await stats(page)).lastLatencyMs, null);
	assert.doesNotMatch(await page.textContent('#change'), /Bitrate/);
	// A new connection starts where the ladder is.
	await page.evaluate(() => window.auralis.session.connection.reconnect('a test'));
	await until(page, () => window.received.filter((m) => m.type === 'hello').length === 2, null,
		{ timeout: 5000, what: 'the second hello' });
	const hellos = await page.evaluate(() => window.received.filter((m) => m.type === 'hello'));
	assert.equal(hellos[1].kbps, 32);
	assert.equal(new URL(await page.evaluate(() => window.auralis.session.connection.ws.url)).searchParams.get('kbps'), '32');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing again' });
	assert.deepEqual(problems, []);
	await context.close();
});

test('a failing decoder: the page connects again and plays; a second failure gives PCM, said in words', async (t) => {
	const { context, page, problems } = await openRecorded();
	await page.click('#play');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing' });
	const fail = () => page.evaluate(() => window.auralis.session.decoder.fail(new Error('EncodingError: decoding failed')));
	await fail();
	await until(page, () => window.auralis.details().stream === 2 && window.auralis.stats().state === 'playing', null,
		{ timeout: 10000, what: 'playing again' });
	let s = await stats(page);
	assert.equal(s.codec, 'opus', 'one failure: Opus again');
	assert.ok(await page.isHidden('#problem'));
	await fail();
	await until(page, () => window.auralis.stats().codec === 'pcm' && window.auralis.stats().state === 'playing', null,
		{ timeout: 10000, what: 'playing PCM' });
	s = await stats(page);
	const d = await page.evaluate(() => window.auralis.details());
	t.diagnostic(`after two decoder failures: ${s.codec}, ${d.decoderErrors} errors, stream ${d.stream}`);
	assert.equal(d.decoderErrors, 2);
	assert.match(await page.textContent('#problem'), /could not decode the Opus stream .*uncompressed audio instead/);
	// Play again is a fresh start: Opus is tried again.
	await page.click('#play');
	await until(page, () => window.auralis.stats().state === 'stopped', null, { what: 'stopped' });
	await page.click('#play');
	await until(page, () => window.auralis.stats().codec === 'opus' && window.auralis.stats().state === 'playing', null,
		{ timeout: 10000, what: 'Opus again' });
	assert.deepEqual(problems, []);
	await context.close();
});
