// tests/browser/logic.test.mjs - the web client's logic without a browser:
// the playback engine that runs in the AudioWorklet (resampling, fades,
// catch-up, marks), the jitter EMA and buffer tiers, the backoff, and the
// settings. These are the modules the pages load, imported as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlaybackEngine } from '../../web/js/engine.js';
import { JitterMeter, TierPolicy, TIERS } from '../../web/js/buffering.js';
import { BACK_SPREAD_MS, Connection, backDelay, backoffDelay, probeVerdict } from '../../web/js/connection.js';
import { waitText } from '../../web/js/auralis.js';
import * as settings from '../../web/js/settings.js';
import { toPlanar, decodeBase64 } from '../../web/js/player.js';
import { listPresets } from './harness.mjs';

// The presets as the page has them: from the composer (presets.json).
settings.setPresets(listPresets());

const SRC = 44100;
const BLOCK = 128;

/** A sine in 100 ms chunks at 44.1 kHz, continuing across chunks. */
function sineSource(freq, amp = 0.5) {
	let n = 0;
	return () => {
		const left = new Float32Array(4410), right = new Float32Array(4410);
		for (let i = 0; i < 4410; i++, n++) {
			left[i] = amp * Math.sin(2 * Math.PI * freq * n / SRC);
			right[i] = -left[i];
		}
		return [left, right];
	};
}

/**
 * Runs the engine in real time: a chunk every 100 ms of output time (or as
 * `arrive` says), rendering blocks of 128 frames. Returns the output. With
 * `keep`, a chunk comes instead whenever fewer than `keep` ms are buffered,
 * which holds the reserve at the target and the rate at exactly 1.
 */
function run(engine, seconds, { source, arrive = () => true, onBlock, keep } = {}) {
	const outRate = engine.outRate;
	const total = Math.round(seconds * outRate / BLOCK) * BLOCK;
	const L = new Float32Array(total), R = new Float32Array(total);
	let nextChunk = 0;
	for (let at = 0; at < total; at += BLOCK) {
		const t = at / outRate;
		while (keep && source && (engine.bufferedMs < keep || engine.mode !== 'playing' && engine.bufferedMs < 400))
			engine.push(...source());
		while (!keep && source && t >= nextChunk) {
			if (arrive(nextChunk)) engine.push(...source());
			nextChunk += 0.1;
		}
		engine.render(L.subarray(at, at + BLOCK), R.subarray(at, at + BLOCK), BLOCK);
		onBlock?.(t);
	}
	return { L, R };
}

/** The largest jump between neighbouring samples in out[from..]. */
function maxStep(out, from = 1) {
	let m = 0;
	for (let i = Math.max(1, from); i < out.length; i++) m = Math.max(m, Math.abs(out[i] - out[i - 1]));
	return m;
}

/** Frequency from upward zero crossings, by linear interpolation. */
function frequency(out, rate, from) {
	const crossings = [];
	for (let i = from + 1; i < out.length; i++) {
		if (out[i - 1] < 0 && out[i] >= 0) crossings.push(i - 1 + out[i - 1] / (out[i - 1] - out[i]));
	}
	return (crossings.length - 1) / ((crossings[crossings.length - 1] - crossings[0]) / rate);
}

for (const outRate of [44100, 48000, 96000]) {
	test(`engine resamples 44.1 kHz to ${outRate} Hz without clicks or drift`, () => {
		const engine = new PlaybackEngine({ outRate, sourceRate: SRC });
		engine.setTarget(300);
		engine.start();
		const { L, R } = run(engine, 6, { source: sineSource(440), keep: 250 });
		const start = outRate * 1;   // well after the fade-in
		const f = frequency(L, outRate, start);
		assert.ok(Math.abs(f - 440) < 440 * 0.001, `440 Hz came out as ${f.toFixed(3)} Hz`);
		// A 440 Hz sine of amplitude 0.5 moves at most 2π·440·0.5/rate a sample:
		// anything bigger is a discontinuity (a click) at a chunk seam.
		const bound = 2 * Math.PI * 440 * 0.5 / outRate * 1.05;
		assert.ok(maxStep(L, start) < bound, `step ${maxStep(L, start)} > ${bound}`);
		let peak = 0;
		for (let i = start; i < L.length; i++) peak = Math.max(peak, Math.abs(L[i]));
		assert.ok(peak > 0.49 && peak < 0.51, `peak ${peak}`);
		for (let i = start; i < L.length; i += 997) assert.ok(Math.abs(L[i] + R[i]) < 1e-6, 'channels kept apart');
		assert.equal(engine.underruns, 0);
		assert.equal(engine.mode, 'playing');
	});
}

test('engine carries the fractional position: frames consumed match the clock', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	let startedAt = null;
	const out = new Float32Array(BLOCK);
	// Feed at the output's pace, keeping the reserve at the target, so the
	// rate stays exactly 1 and any drift would be the resampler's.
	const chunk = sineSource(220);
	for (let i = 0; i < 3; i++) engine.push(...chunk());
	for (let block = 0; block < 48000 * 20 / BLOCK; block++) {
		if (engine.mode === 'playing' && engine.bufferedMs < 250) engine.push(...chunk());
		engine.render(out, out.slice(), BLOCK);
		if (startedAt === null && engine.mode === 'playing') startedAt = { block, pos: engine.pos };
		if (startedAt) assert.equal(engine.ratio, 1);
	}
	const blocks = 48000 * 20 / BLOCK - startedAt.block - 1;
	const expected = blocks * BLOCK * SRC / 48000;
	const consumed = engine.pos - startedAt.pos;
	assert.ok(Math.abs(consumed - expected) < 0.01, `consumed ${consumed}, expected ${expected}`);
});

test('engine starts target − one chunk after the first audio, and only on the target less 20 ms', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const source = sineSource(330);
	// The server's start-up burst: 0.3 s at once, then a chunk every 100 ms.
	for (let i = 0; i < 3; i++) engine.push(...source());
	let playingAt = null;
	run(engine, 1, {
		source, arrive: (t) => t >= 0.2,
		onBlock: (t) => { if (playingAt === null && engine.mode === 'playing') playingAt = t; },
	});
	// 200 ms: with the server's 150 ms look-ahead, a reserve that settles at the target.
	assert.ok(playingAt >= 0.19 && playingAt <= 0.22, `started at ${playingAt} s`);
	// Less than the target is not enough, however long it waits.
	const thin = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	thin.setTarget(300);
	thin.start();
	const more = sineSource(330);
	for (let i = 0; i < 2; i++) thin.push(...more());
	run(thin, 0.5, { source: more, arrive: () => false });
	assert.equal(thin.mode, 'waiting');
	// An underrun (nothing comes for a second), then a backlog of 0.3 s at
	// once: that is no reserve, and the restart waits target − one chunk.
	run(engine, 1, { source, arrive: () => false });
	assert.equal(engine.mode, 'waiting');
	assert.equal(engine.underruns, 1);
	for (let i = 0; i < 3; i++) engine.push(...source());
	playingAt = null;
	run(engine, 1, {
		source, arrive: (t) => t >= 0.1,
		onBlock: (t) => { if (playingAt === null && engine.mode === 'playing') playingAt = t; },
	});
	assert.ok(playingAt >= 0.19 && playingAt <= 0.22, `restarted at ${playingAt}`);
});

test('engine fades to silence on an underrun and back in when audio returns', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const source = sineSource(440);
	// Audio stops arriving from 2 s to 3 s.
	const { L } = run(engine, 5, { source, arrive: (t) => t < 2 || t >= 3 });
	assert.equal(engine.underruns, 1);
	assert.equal(engine.mode, 'playing');
	// Never a click: no step beyond what the sine itself makes.
	const bound = 2 * Math.PI * 440 * 0.5 / 48000 * 1.05;
	assert.ok(maxStep(L, 48000) < bound, `step ${maxStep(L, 48000)}`);
	// And there was a silent stretch.
	let silent = 0;
	for (let i = 48000 * 2; i < 48000 * 3.5; i++) if (L[i] === 0) silent++;
	assert.ok(silent > 48000 * 0.3, `only ${silent} silent frames`);
});

// Catching up without a pitch anyone hears: the rate stays within 0.3 % of
// 1 (5 cents), and what it cannot take back soon goes by a crossfaded jump,
// or by dropping frames where the music is near-silent.
const RATE_MAX = 1.003 + 1e-9;
// Where the smoothed level settles: the catch-up's dead band (20 ms) around
// the target, plus half a chunk, the sawtooth of 100 ms chunks coming onto a
// steady drain (a level read just after a chunk came is a chunk over one
// read just before).
const SETTLED_MS = 20 + 50;

/** Output time (s) of the first block from `from` on after which the level stays within SETTLED_MS of the target. */
function settledAfter(trace, from, targetMs) {
	let at = null;
	for (const { t, level } of trace) {
		if (t < from || level === null) continue;
		if (Math.abs(level - targetMs) <= SETTLED_MS) at ??= t;
		else at = null;
	}
	return at;
}

test('engine: a start-up burst that overshoots is trimmed, the rate never over 1.003', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const source = sineSource(440);
	// The server's burst of 0.3 s, and 0.3 s more while the audio clock was
	// not running yet (the device starting): 600 ms against 300.
	for (let i = 0; i < 6; i++) engine.push(...source());
	const trace = [];
	let maxRatio = 0, minRatio = 2;
	const { L } = run(engine, 20, { source, onBlock: (t) => {
		trace.push({ t, level: engine.levelMs });
		maxRatio = Math.max(maxRatio, engine.ratio);
		minRatio = Math.min(minRatio, engine.ratio);
	} });
	assert.ok(maxRatio <= RATE_MAX && minRatio >= 2 - RATE_MAX, `rate ${minRatio}…${maxRatio}`);
	// Trimmed at the start (nobody had heard it) to half a chunk over the
	// target: as the next chunk comes soon or late, a reserve of the target
	// to a chunk over it. From 100 ms over, 0.3 % fast takes back 3 ms a
	// second: within SETTLED_MS in 10 s, and a little for the smoothing and
	// the glide.
	const settled = settledAfter(trace, 0, 300);
	assert.ok(settled !== null && settled <= 13, `settled at ${settled} s`);
	assert.ok(trace.every(({ level }) => level === null || level <= 300 + 100 + 1), 'never more than a chunk over');
	assert.equal(engine.underruns, 0);
	assert.equal(engine.jumps, 0);
	const bound = 2 * Math.PI * 440 * RATE_MAX * 0.5 / 48000 * 1.05;
	assert.ok(maxStep(L, 48000 * 0.05) < bound, 'no click');
});

test('engine: over the target while playing, at most 0.3 % fast and a crossfaded jump when far over', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const source = sineSource(440);
	run(engine, 2, { source });
	// A backlog of half a second arrives (the audio thread stalled, say).
	for (let i = 0; i < 5; i++) engine.push(...source());
	const trace = [];
	let maxRatio = 0;
	run(engine, 10, { source, onBlock: (t) => {
		trace.push({ t, level: engine.levelMs });
		maxRatio = Math.max(maxRatio, engine.ratio);
	} });
	assert.ok(maxRatio <= RATE_MAX, `rate ${maxRatio}`);
	assert.ok(engine.jumps >= 1, 'a crossfaded jump');
	// The smoothed level passes 100 ms over (the jump's threshold) within
	// about 0.3 s (τ = 1 s, 500 ms over); the jump lands half a chunk over
	// the target; settled within 1.5 s at most.
	const settled = settledAfter(trace, 0, 300);
	assert.ok(settled !== null && settled <= 1.5, `settled at ${settled} s`);
	assert.equal(engine.underruns, 0);
	// 60 ms over, under the jump's threshold: the rate alone, 0.3 % at most.
	const jumps = engine.jumps;
	engine.push(...source().map((c) => c.subarray(0, Math.round(SRC * 0.06))));
	maxRatio = 0;
	run(engine, 30, { source, onBlock: () => { maxRatio = Math.max(maxRatio, engine.ratio); } });
	assert.ok(maxRatio > 1.001 && maxRatio <= RATE_MAX, `rate ${maxRatio}`);
	assert.equal(engine.jumps, jumps, 'no jump for 60 ms');
	assert.ok(Math.abs(engine.levelMs - 300) <= SETTLED_MS, `level ${engine.levelMs} after 30 s`);
	// 3 s more at once: a jump, not minutes of catching up.
	for (let i = 0; i < 30; i++) engine.push(...source());
	run(engine, 2, { source });
	assert.ok(engine.bufferedMs < 450, `buffer ${engine.bufferedMs} ms after a jump`);
	assert.equal(engine.underruns, 0);
});

test('engine: over the target, frames where the music is near-silent are dropped', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	// A note of 0.6 s, then 0.4 s of silence, and again.
	const sine = sineSource(440);
	let chunk = 0;
	const source = () => {
		const c = sine();
		if (chunk++ % 10 >= 6) { c[0].fill(0); c[1].fill(0); }
		return c;
	};
	run(engine, 3, { source });
	// 120 ms more at once: about 80 ms over the target, under the jump's threshold.
	engine.push(...source().map((c) => c.subarray(0, Math.round(SRC * 0.12))));
	let maxRatio = 0;
	const { L } = run(engine, 4, { source, onBlock: () => { maxRatio = Math.max(maxRatio, engine.ratio); } });
	assert.ok(maxRatio <= RATE_MAX, `rate ${maxRatio}`);
	assert.equal(engine.jumps, 0);
	assert.ok(engine.quietFrames > SRC * 0.03, `${engine.quietFrames} quiet frames dropped`);
	// Back within the dead band in 4 s, where 0.3 % fast would have taken
	// back 12 ms of the 60 over it.
	assert.ok(Math.abs(engine.levelMs - 300) <= 20 + 3, `level ${engine.levelMs}`);
	// No click: nothing but silence was dropped. (The interpolator bends a
	// little at a note's abrupt end: 20 % of margin, where a dropped stretch
	// of sound would be a step of up to 1.)
	const bound = 2 * Math.PI * 440 * RATE_MAX * 0.5 / 48000 * 1.2;
	assert.ok(maxStep(L) < bound, `step ${maxStep(L)}`);
	assert.equal(engine.underruns, 0);
});

test('engine reports a marked frame when it is played, at the right sample', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const source = sineSource(440);
	run(engine, 1, { source });
	const frame = Math.floor(engine.pos) + SRC * 0.25;      // a quarter second ahead
	engine.mark(7, frame);
	engine.events.length = 0;
	let heard = null;
	let block = 0;
	run(engine, 0.5, {
		source, onBlock: () => {
			const e = engine.events.find((x) => x.type === 'heard');
			if (e && !heard) heard = { ...e, block };
			engine.events.length = 0;
			block++;
		},
	});
	assert.ok(heard, 'mark reported');
	assert.equal(heard.id, 7);
	const when = (heard.block * BLOCK + heard.offset) / 48000;
	assert.ok(Math.abs(when - 0.25) < 0.01, `heard after ${when} s, not 0.25 s`);
});

test('engine stops with a fade, and a new stream replaces the old one cleanly', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const source = sineSource(440);
	run(engine, 1, { source });
	engine.flush();
	const { L } = run(engine, 1.5, { source });
	const bound = 2 * Math.PI * 440 * 0.5 / 48000 * 1.05;
	assert.ok(maxStep(L) < bound, 'no click at the change of stream');
	assert.equal(engine.underruns, 0, 'a flush is no underrun');
	engine.stop();
	const tail = run(engine, 0.2, {});
	assert.ok(maxStep(tail.L) < bound, 'no click at Stop');
	assert.equal(engine.mode, 'idle');
	assert.ok(tail.L.subarray(48000 * 0.1).every((x) => x === 0), 'silent after Stop');
});

test('engine: Play during the Stop fade keeps the new stream from its first frame', () => {
	const engine = new PlaybackEngine({ outRate: 48000, sourceRate: SRC });
	engine.setTarget(300);
	engine.start();
	const old = sineSource(440);
	run(engine, 1, { source: old });
	engine.stop();
	engine.start();                   // during the 60 ms fade
	engine.flush();                   // the new connection's hello
	const base = engine.written;      // the new stream's frame 0, as the main thread counts it
	const fresh = sineSource(330);
	for (let i = 0; i < 3; i++) engine.push(...fresh());
	engine.mark(1, base + SRC * 0.05);   // music time 0.05 s of the new stream
	const heard = [];
	run(engine, 1, { source: fresh, onBlock: (t) => {
		for (const e of engine.events) if (e.type === 'heard') heard.push(t);
		engine.events.length = 0;
	} });
	assert.equal(engine.mode, 'playing');
	assert.equal(heard.length, 1, 'the mark in the new stream was played');
	assert.equal(engine.underruns, 0);
	// It played from the new stream's start: about 0.05 s after the start, which
	// comes about target − chunk (0.2 s) after the first audio.
	assert.ok(heard[0] > 0.2 && heard[0] < 0.35, `heard at ${heard[0]}`);
});

test('jitter EMA (α = 0.1) leaves the first second of a stream out', () => {
	const j = new JitterMeter();
	// The burst: three chunks at once, then the rest of the first second,
	// handled in a bunch while the page started its audio.
	for (const [at, t] of [[0, 0], [1, 0.1], [2, 0.2], [400, 0.3], [401, 0.4], [402, 0.5], [430, 0.6],
		[530, 0.7], [630, 0.8], [730, 0.9]]) assert.equal(j.arrive(at, t, 100), null);
	assert.equal(j.emaMs, 0);
	assert.equal(j.arrive(830, 1.0, 100), 0);
	assert.equal(j.arrive(950, 1.1, 100), 20);
	assert.equal(j.emaMs, 2);    // from 0: 0 + 0.1 × (0 − 0), then 0 + 0.1 × (20 − 0)
	assert.ok(Math.abs(j.arrive(1040, 1.2, 100) - 10) < 1e-9);
	assert.ok(Math.abs(j.emaMs - 2.8) < 1e-9);
	j.reset();
	assert.equal(j.arrive(5000, 0, 100), null, 'a new stream settles again');
	assert.equal(j.emaMs, 0);
	const k = new JitterMeter();
	k.arrive(0, 0.9, 100);
	k.arrive(160, 1.0, 100);
	assert.ok(Math.abs(k.emaMs - 6) < 1e-9, 'one odd first arrival moves the EMA by a tenth');
});

test('buffer tiers follow the jitter EMA, with hysteresis and an underrun floor', () => {
	assert.deepEqual(TIERS.map((t) => [t.name, t.targetMs]),
		[['emergency', 300], ['low', 500], ['healthy', 700], ['full', 1000]]);
	const p = new TierPolicy({ floorDecayMs: 60000 });
	assert.equal(p.update(3, 0).name, 'emergency');
	assert.equal(p.update(20, 0).name, 'low');
	assert.equal(p.update(45, 0).name, 'healthy');
	assert.equal(p.update(200, 0).name, 'full');
	assert.equal(p.update(50, 0).name, 'full', 'hysteresis: 50 ms is not calm enough to step down');
	assert.equal(p.update(30, 0).name, 'healthy');
	assert.equal(p.update(1, 0).name, 'emergency');
	p.underrun(1000);
	assert.equal(p.update(1, 2000).name, 'low', 'an underrun raises the floor');
	assert.equal(p.update(1, 61000).name, 'emergency', 'a quiet minute lowers it again');
});

test('backoff is 1, 2, 4 … 60 s with ±20 % jitter', () => {
	const mid = () => 0.5;
	assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 12].map((a) => backoffDelay(a, mid)),
		[1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
	assert.equal(backoffDelay(0, () => 0), 800);
	assert.equal(backoffDelay(0, () => 1), 1200);
	assert.equal(backoffDelay(9, () => 0.999999), 72000);
	for (let i = 0; i < 200; i++) {
		const d = backoffDelay(2);
		assert.ok(d >= 3200 && d <= 4800, `${d}`);
	}
});

test('settings: validated, stored, and turned into the stream query', () => {
	const store = new Map();
	const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
	assert.deepEqual(settings.load(storage), settings.DEFAULTS);
	settings.save({ preset: 'sleep', key: 'F#', mode: 'lydian', bpm: 60, intensity: 0.333, volume: 0.5 }, storage);
	const s = settings.load(storage);
	assert.deepEqual(s, { preset: 'sleep', key: 'F#', mode: 'lydian', bpm: 60, intensity: 0.33, volume: 0.5 });
	assert.equal(settings.streamQuery(s), 'preset=sleep&key=F%23&mode=lydian&bpm=60&intensity=0.33');
	// Whatever was stored, only valid values come back.
	store.set('auralis.settings.v1', '{"key":"H","mode":"locrian","bpm":500,"intensity":-1,"preset":"x","volume":"loud"}');
	assert.deepEqual(settings.load(storage), { ...settings.DEFAULTS, bpm: 120, intensity: 0 });
	store.set('auralis.settings.v1', 'not json');
	assert.deepEqual(settings.load(storage), settings.DEFAULTS);
	assert.equal(settings.normalizeKey('db'), 'C#');
	assert.equal(settings.normalizeKey('G#'), 'Ab');
	assert.deepEqual(settings.applyPreset(settings.DEFAULTS, 'bright'),
		{ preset: 'bright', key: 'G', mode: 'ionian', bpm: 96, intensity: 0.7, volume: 0.8 });
});

test('while a retry waits: what a probe means, and the words', () => {
	// No answer: ask again soon. Seen away, then answering: connect now.
	assert.equal(probeVerdict({ answered: false, sawDown: false, opened: false }), 'down');
	assert.equal(probeVerdict({ answered: true, sawDown: true, opened: true }), 'now');
	assert.equal(probeVerdict({ answered: true, sawDown: true, opened: false }), 'now');
	// Answering from the start: it did not take the stream (full), or the
	// stream was lost another way; the backoff stands either way.
	assert.equal(probeVerdict({ answered: true, sawDown: false, opened: false }), 'full');
	assert.equal(probeVerdict({ answered: true, sawDown: false, opened: true }), 'wait');
	assert.equal(waitText({ server: 'full', retryInMs: 7200 }), 'the server is full · trying again in 8 s');
	assert.equal(waitText({ server: 'away', retryInMs: 18001 }), 'cannot reach the server · trying again in 19 s');
	assert.equal(waitText({ retryInMs: 20 }), 'trying again in 1 s');
	assert.equal(waitText({ note: 'resuming at 32 kbit/s' }), 'resuming at 32 kbit/s');
	assert.equal(waitText({}), '');
});

test('a server a probe finds back is connected to after a moment drawn at random, not at once', async () => {
	assert.equal(backDelay(() => 0), 0);
	assert.equal(backDelay(() => 0.5), BACK_SPREAD_MS / 2);
	assert.ok(backDelay(() => 0.999999) <= BACK_SPREAD_MS);
	// A connection whose sockets fail at once, a probe that finds the server
	// away and then back, and a `random` that always draws 0.6.
	const RealWebSocket = globalThis.WebSocket;
	const opened = [];
	globalThis.WebSocket = class {
		static OPEN = 1;
		constructor() {
			opened.push(performance.now());
			setTimeout(() => this.onclose?.({ code: 1006, reason: '', wasClean: false }), 0);
		}
		close() {}
	};
	let probes = 0;
	const connection = new Connection(() => 'ws://127.0.0.1:9/stream',
		{ random: () => 0.6, probeMs: 20, probe: async () => ++probes >= 3 });
	try {
		const back = new Promise((resolve) => connection.addEventListener('server', (e) => {
			if (e.detail.answers) resolve(performance.now());
		}));
		connection.open();
		const at = await back;
		while (opened.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
		const waited = opened[1] - at;
		assert.ok(waited >= 0.6 * BACK_SPREAD_MS - 5 && waited < 0.6 * BACK_SPREAD_MS + 150,
			`connected ${waited.toFixed(0)} ms after the probe found the server back`);
	} finally {
		connection.close();
		globalThis.WebSocket = RealWebSocket;
	}
});

test('settings: each field stored alone, over what another tab stored', () => {
	const store = new Map();
	const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
	const mine = { ...settings.DEFAULTS };
	// Another tab changes the key; this one, which has not heard, the tempo.
	settings.saveFields({ ...settings.DEFAULTS, key: 'E' }, ['key'], storage);
	settings.saveFields({ ...mine, bpm: 60 }, ['bpm'], storage);
	assert.deepEqual(settings.load(storage), { ...settings.DEFAULTS, key: 'E', bpm: 60 });
	assert.deepEqual(settings.changedFields(mine, settings.load(storage)), ['key', 'bpm']);
	assert.equal(settings.presetMatches(settings.DEFAULTS), true);
	assert.equal(settings.presetMatches({ ...settings.DEFAULTS, key: 'E' }), false);
	assert.equal(settings.presetMatches(settings.applyPreset({ ...settings.DEFAULTS, key: 'E' }, 'sleep')), true);
});

test('audio messages decode to planar floats', () => {
	const pcm = new Int16Array([0, 32767, -32768, 16384, 1, -1]);
	const text = Buffer.from(pcm.buffer).toString('base64');
	const bytes = decodeBase64(text);
	const { left, right } = toPlanar(bytes, 2);
	assert.deepEqual([...left], [0, -1, 1 / 32768]);
	assert.deepEqual([...right], [32767 / 32768, 0.5, -1 / 32768]);
	assert.equal(toPlanar(bytes, 2, 2).left.length, 2, 'a last chunk keeps only its frames');
});

test('settings: the presets from the composer\'s list; without it, none, and a stored choice is kept', () => {
	const list = listPresets();
	assert.deepEqual(Object.keys(settings.PRESETS), list.map((p) => p.name));
	for (const p of list)
		assert.deepEqual(settings.PRESETS[p.name], { label: p.label, key: p.key, mode: p.mode, bpm: p.bpm, intensity: p.intensity });
	const def = list.find((p) => p.default);
	assert.deepEqual(settings.DEFAULTS, { preset: def.name, key: def.key, mode: def.mode, bpm: def.bpm,
		intensity: def.intensity, volume: 0.8 });
	try {
		// Entries that are not valid are left out.
		assert.equal(settings.setPresets([{ name: 'x', key: 'H', mode: 'dorian', bpm: 60, intensity: 0.5 },
			{ name: 'y', key: 'E', mode: 'lydian', bpm: 60, intensity: 0.5 }]), 1);
		assert.deepEqual(Object.keys(settings.PRESETS), ['y']);
		assert.equal(settings.DEFAULTS.preset, 'y', 'the first valid one, when none is marked default');
		// No list (presets.json could not be had): no presets, and a stored name is kept.
		assert.equal(settings.setPresets(null), 0);
		assert.equal(settings.knownPreset('sleep'), true);
		assert.equal(settings.knownPreset('Sleep!'), false);
		assert.equal(settings.presetLabel('sleep'), 'Sleep');
		assert.deepEqual(settings.applyPreset({ ...settings.DEFAULTS }, 'sleep').preset, 'sleep');
	} finally {
		settings.setPresets(list);
	}
});

test('settings: a shared link is validated, value by value, and made from the settings', () => {
	const ok = settings.parseShared('?preset=sleep&key=D&mode=dorian&bpm=50&intensity=0.2&codec=pcm');
	assert.deepEqual(ok, { values: { preset: 'sleep', key: 'D', mode: 'dorian', bpm: 50, intensity: 0.2 }, ignored: [] });
	const bad = settings.parseShared('?preset=loud&key=H&mode=locrian&bpm=500&intensity=-1');
	assert.deepEqual(bad.values, {});
	assert.equal(bad.ignored.length, 5);
	for (const word of ['preset “loud”', 'key “H”', 'mode “locrian”', 'bpm “500”', 'intensity “-1”'])
		assert.ok(bad.ignored.some((w) => w.startsWith(word)), word);
	// Numbers as numbers, nothing else: no clamping, no guessing.
	assert.deepEqual(settings.parseShared('?bpm=72abc&intensity=0x1').values, {});
	assert.deepEqual(settings.parseShared('?key=db&mode=Lydian').values, { key: 'C#', mode: 'lydian' });
	// The preset first, then the explicit values win; the volume stays.
	const mine = { ...settings.DEFAULTS, volume: 0.3 };
	const s = settings.applyShared(mine, { preset: 'sleep', key: 'D', bpm: 50 });
	assert.deepEqual(s, { preset: 'sleep', key: 'D', mode: 'aeolian', bpm: 50, intensity: 0.1, volume: 0.3 });
	assert.equal(settings.shareQuery(s), 'preset=sleep&key=D&mode=aeolian&bpm=50&intensity=0.1');
	assert.deepEqual(settings.parseShared(settings.shareQuery({ ...s, key: 'F#' })).values,
		{ preset: 'sleep', key: 'F#', mode: 'aeolian', bpm: 50, intensity: 0.1 });
});

test('the page\'s keys: Space, M, ← and →, unless a control takes them itself', async () => {
	const { keyAction, stepIntensity } = await import('../../web/js/keys.js');
	const body = { tagName: 'BODY' };
	assert.equal(keyAction({ key: ' ', target: body }), 'toggle');
	assert.equal(keyAction({ key: ' ', target: body, repeat: true }), null);
	assert.equal(keyAction({ key: 'm', target: body }), 'mute');
	assert.equal(keyAction({ key: 'M', target: body }), 'mute');
	assert.equal(keyAction({ key: 'ArrowLeft', target: body }), 'lower');
	assert.equal(keyAction({ key: 'ArrowRight', target: body, repeat: true }), 'raise');
	assert.equal(keyAction({ key: 'x', target: body }), null);
	assert.equal(keyAction({ key: 'm', target: body, ctrlKey: true }), null);
	for (const tagName of ['INPUT', 'SELECT', 'BUTTON', 'TEXTAREA'])
		assert.equal(keyAction({ key: 'ArrowRight', target: { tagName } }), null, tagName);
	assert.equal(stepIntensity(0.45, 'raise'), 0.5);
	assert.equal(stepIntensity(0.45, 'lower'), 0.4);
	assert.equal(stepIntensity(0.98, 'raise'), 1);
	assert.equal(stepIntensity(0.02, 'lower'), 0);
});
