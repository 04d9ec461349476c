// tests/browser/quality.test.mjs - the Opus side of the web client without a
// browser: the codec a page asks for, the bitrate ladder and its policy (on a
// simulated clock, and against a simulated link), the meter of kbit/s
// received, and the decoding of a stream's packets with its pre-skip, through
// a stand-in for WebCodecs' AudioDecoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
	LADDER_KBPS, POLICY, QualityPolicy, RateMeter, chooseCodec, ladderFrom, pageStreamOptions, validKbps,
} from '../../web/js/quality.js';
import { OpusStream, opusSupported } from '../../web/js/opus.js';
import { streamQuery, DEFAULTS, setPresets } from '../../web/js/settings.js';
import { decodeBase64 } from '../../web/js/player.js';
import { listPresets } from './harness.mjs';

setPresets(listPresets());    // the presets as the page has them (presets.json)

test('the page URL chooses the codec and the first bitrate; the browser decides the rest', () => {
	assert.deepEqual(pageStreamOptions(''), { codec: 'auto', kbps: null });
	assert.deepEqual(pageStreamOptions('?codec=pcm'), { codec: 'pcm', kbps: null });
	assert.deepEqual(pageStreamOptions('?codec=OPUS&kbps=64'), { codec: 'opus', kbps: 64 });
	assert.deepEqual(pageStreamOptions('?codec=mp3&kbps=1000'), { codec: 'auto', kbps: null });
	for (const bad of ['5', '511', '64abc', '-1', '6.5', '']) assert.equal(validKbps(bad), null, bad);
	assert.equal(validKbps('6'), 6);
	assert.equal(validKbps(510), 510);
	const table = [
		// forced, supported, failed → codec
		['auto', true, false, 'opus'],
		['auto', false, false, 'pcm'],
		['auto', true, true, 'pcm'],
		['opus', false, false, 'opus'],
		['opus', false, true, 'pcm'],
		['pcm', true, false, 'pcm'],
	];
	for (const [forced, opusSupported, opusFailed, want] of table)
		assert.equal(chooseCodec({ forced, opusSupported, opusFailed }), want, `${forced} ${opusSupported} ${opusFailed}`);
	// The stream's query: kbps only with Opus (the server refuses it for PCM).
	assert.equal(streamQuery(DEFAULTS, { codec: 'opus', kbps: 64 }),
		'preset=focus&key=D&mode=dorian&bpm=72&intensity=0.45&codec=opus&kbps=64');
	assert.equal(streamQuery(DEFAULTS, { codec: 'pcm', kbps: 64 }),
		'preset=focus&key=D&mode=dorian&bpm=72&intensity=0.45&codec=pcm');
	assert.equal(streamQuery(DEFAULTS, { codec: 'opus', kbps: null }),
		'preset=focus&key=D&mode=dorian&bpm=72&intensity=0.45&codec=opus');
});

test('the ladder: 96, 64, 32 kbit/s, below the start the listener chose', () => {
	assert.deepEqual(LADDER_KBPS, [96, 64, 32]);
	assert.deepEqual(ladderFrom(96), [96, 64, 32]);
	assert.deepEqual(ladderFrom(128), [128, 96, 64, 32]);
	assert.deepEqual(ladderFrom(48), [48, 32]);
	assert.deepEqual(ladderFrom(16), [16]);
	assert.deepEqual(new QualityPolicy().rungs, [96, 64, 32]);
	assert.deepEqual(new QualityPolicy({ top: 64 }).rungs, [64, 32]);
});

/**
 * A policy whose stream started at `kbps` and has played for a while, past
 * its start's grace.
 */
function started(kbps, options) {
	const p = new QualityPolicy(options);
	p.streamStarted(kbps);
	p.firstSoundAt = -POLICY.START_GRACE_MS;
	return p;
}

/**
 * Playback as the policy sees it, every 250 ms, from `from` to `to` ms, up to
 * the first thing it does (which the test then answers).
 */
function observe(p, from, to, state) {
	for (let t = from; t < to; t += 250) {
		p.observe(t, state);
		const a = p.decide(t);
		if (a) return [{ t, ...a }];
	}
	return [];
}
const GOOD = { flowing: true, playing: true, levelMs: 300, targetMs: 300 };

test('policy: an underrun steps down at once, then one step per 5 s at most, each counted at its ack', () => {
	const p = started(96);
	p.underrun(1000);
	assert.deepEqual(p.decide(1000), { ask: 64 }, 'a start is no step: no hold before the first');
	assert.equal(p.kbps, 96, 'not before the ack');
	p.underrun(1500);
	assert.equal(p.decide(1500), null, 'one request at a time');
	p.acked(64, 2000);
	assert.equal(p.kbps, 64);
	assert.equal(p.steps, 1);
	p.underrun(3000);
	assert.equal(p.decide(3000), null, 'held');
	assert.equal(p.decide(6999), null, 'held');
	assert.deepEqual(p.decide(7000), { ask: 32 }, '5 s after the last step');
	p.acked(32, 7400);
	assert.ok(p.atLowest);
	p.underrun(9000);
	assert.equal(p.decide(20000), null, 'nothing below the lowest rung');
});

test('policy: the first underrun in the 10 s after a stream\'s first sound is the tiers\' to mend, the second steps down', () => {
	const p = new QualityPolicy();
	p.streamStarted(96);
	p.underrun(500);
	assert.equal(p.decide(500), null, 'before its first sound');
	observe(p, 1000, 1250, GOOD);
	p.underrun(3000);
	assert.deepEqual(p.decide(3000), { ask: 64 }, 'the second');
	p.acked(64, 3200);
	// A new stream has a grace of its own.
	p.streamStarted(64);
	observe(p, 10000, 10250, GOOD);
	p.underrun(15000);
	assert.equal(p.decide(15000), null);
	// After the grace, one is enough.
	p.underrun(20500);
	assert.deepEqual(p.decide(20500), { ask: 32 });
	const q = new QualityPolicy();
	q.streamStarted(96);
	observe(q, 0, 250, GOOD);
	q.underrun(10000);
	assert.deepEqual(q.decide(10000), { ask: 64 });
});

test('policy: underruns before the ack are about the old bitrate', () => {
	const p = started(96);
	p.underrun(0);
	assert.deepEqual(p.decide(0), { ask: 64 });
	p.underrun(800);    // the backlog at 96 still playing out
	p.acked(64, 1000);
	assert.equal(p.decide(7000), null, 'no second step for an underrun that came before the first took effect');
});

test('policy: a buffer well below its target for 4 s drains as surely as an underrun', () => {
	const p = started(96);
	// Draining: from 140 ms down, 5 ms a second.
	const low = { flowing: true, playing: true, levelMs: 120, targetMs: 300 };
	let actions = [];
	for (let t = 0; t < 6000 && !actions.length; t += 250) {
		p.observe(t, { ...low, levelMs: 140 - t / 200 });
		const a = p.decide(t);
		if (a) actions = [{ t, ...a }];
	}
	assert.deepEqual(actions, [{ t: 4000, ask: 64 }]);
	// Low but refilling, or holding still (after a step down, say): no
	// lower bitrate would help.
	const steady = started(96);
	assert.deepEqual(observe(steady, 0, 20000, low), []);
	// Not while disconnected: silence then says nothing of the link.
	const q = started(96);
	assert.deepEqual(observe(q, 0, 10000, { ...low, flowing: false }), []);
	// Nor a level that only dips below half the target now and then.
	const r = started(96);
	for (let t = 0; t < 20000; t += 250) {
		r.observe(t, { ...low, levelMs: t % 3000 < 2500 ? 120 - t / 1000 : 200 });
		assert.equal(r.decide(t), null);
	}
});

test('policy: 30 s healthy steps up; a step up undone within 30 s doubles the wait, one that holds resets it', () => {
	const p = started(96);
	p.underrun(0);
	p.decide(0);
	p.acked(64, 500);
	// Healthy from 500 ms: the next rung up is asked for 30 s later.
	assert.deepEqual(observe(p, 500, 40000, GOOD), [{ t: 30500, ask: 96 }]);
	p.acked(96, 31000);
	// It fails: an underrun 10 s later, and the step down is acked.
	p.underrun(41000);
	assert.deepEqual(p.decide(41000), { ask: 64 });
	p.acked(64, 41500);
	assert.equal(p.upDelayMs[0], 60000);
	assert.deepEqual(observe(p, 41500, 110000, GOOD), [{ t: 101500, ask: 96 }], 'the next try 60 s later');
	p.acked(96, 102000);
	p.underrun(110000);
	p.decide(110000);
	p.acked(64, 110500);
	assert.equal(p.upDelayMs[0], 120000, 'and 120 s after a second failure');
	// A try that holds through its trial resets the wait.
	assert.deepEqual(observe(p, 110500, 240000, GOOD), [{ t: 230500, ask: 96 }]);
	p.acked(96, 231000);
	observe(p, 231000, 262000, GOOD);
	assert.equal(p.upDelayMs[0], POLICY.HEALTHY_MS);
	// A step down long after the step up is the link changing, not a failed try.
	p.underrun(300000);
	p.decide(300000);
	p.acked(64, 300500);
	assert.equal(p.upDelayMs[0], POLICY.HEALTHY_MS);
	// The wait is bounded.
	const q = new QualityPolicy();
	q.upDelayMs[0] = POLICY.UP_DELAY_MAX_MS;
	q.index = 1;
	q.probation = null;
	q.moveTo(0, 0);
	q.moveTo(1, 1000);
	assert.equal(q.upDelayMs[0], POLICY.UP_DELAY_MAX_MS);
});

test('policy: healthy means playing with a full buffer; a step starts the spell over', () => {
	const p = started(64);
	assert.equal(p.kbps, 64);
	assert.deepEqual(observe(p, 0, 29000, GOOD), []);
	p.underrun(29000);
	assert.deepEqual(p.decide(29000), { ask: 32 });
	p.acked(32, 29500);
	assert.deepEqual(observe(p, 29500, 60000, GOOD), [{ t: 59500, ask: 64 }], 'up again after 30 s from the step');
	const q = started(64);
	assert.deepEqual(observe(q, 0, 20000, { ...GOOD, levelMs: 150 }), [], 'half a buffer is not healthy');
	assert.deepEqual(observe(q, 20000, 40000, { ...GOOD, playing: false }), [], 'nor buffering');
	assert.deepEqual(observe(q, 40000, 71000, GOOD), [{ t: 70000, ask: 96 }]);
});

test('policy: a request with no ack in 8 s starts over at the lower rung', () => {
	const p = started(96);
	p.underrun(0);
	assert.deepEqual(p.decide(0), { ask: 64 });
	assert.equal(p.decide(POLICY.ACK_TIMEOUT_MS - 1), null);
	assert.deepEqual(p.decide(POLICY.ACK_TIMEOUT_MS), { restart: 64 });
	assert.equal(p.kbps, 64, 'the next connection starts at 64');
	p.streamStarted(64);
	p.firstSoundAt = -POLICY.START_GRACE_MS;
	p.underrun(9000);
	assert.equal(p.decide(9000), null, 'the restart was a step: held');
	assert.deepEqual(p.decide(13000), { ask: 32 });
	// A step up stuck the same way: the server codes at 64 now, the page
	// starts over at 32, and the try counts as failed.
	const q = started(32, { top: 64 });
	assert.deepEqual(observe(q, 0, 30250, GOOD), [{ t: 30000, ask: 64 }]);
	assert.deepEqual(q.decide(38000), { restart: 32 });
	// A connection lost with a step down pending starts at the lower rung.
	const r = started(96);
	r.underrun(0);
	r.decide(0);
	r.lost(500);
	assert.equal(r.kbps, 64);
	const s = started(64);
	s.index = 1;
	s.healthySince = 0;
	assert.deepEqual(s.decide(30000), { ask: 96 });
	s.lost(30500);
	assert.equal(s.kbps, 64, 'a step up pending is simply forgotten');
});

test('policy: too slow after two starvations in 30 s at the lowest rung, and well again after 15 s', () => {
	const p = started(32);
	assert.ok(p.atLowest);
	p.underrun(0);
	assert.equal(p.tooSlow, false, 'one underrun is bad luck');
	p.underrun(31000);
	assert.equal(p.tooSlow, false, 'two 31 s apart are too');
	p.underrun(40000);
	assert.equal(p.tooSlow, true);
	// Buffering is not playing well.
	observe(p, 40000, 60000, { flowing: true, playing: false, levelMs: 100, targetMs: 500 });
	assert.equal(p.tooSlow, true);
	observe(p, 60000, 74000, GOOD);
	assert.equal(p.tooSlow, true);
	observe(p, 74000, 76000, GOOD);
	assert.equal(p.tooSlow, false, '15 s of good playback');
	// Underruns at a higher rung step down, they do not say "too slow".
	const q = started(96);
	q.underrun(0);
	q.underrun(1000);
	assert.equal(q.tooSlow, false);
	// A buffer that keeps falling counts as starving too.
	const r = started(32);
	for (let t = 0; t <= 8000; t += 250) r.observe(t, { flowing: true, playing: true, levelMs: 140 - t / 100, targetMs: 300 });
	assert.equal(r.tooSlow, true);
});

test('policy of a PCM stream: one rung, never asks, still says when the link is too slow', () => {
	const p = started(null, { top: null });
	assert.equal(p.kbps, null);
	p.underrun(0);
	assert.equal(p.decide(0), null);
	p.underrun(5000);
	assert.equal(p.tooSlow, true);
	// A server that refuses quality messages is not asked again.
	const q = started(96);
	q.underrun(0);
	assert.deepEqual(q.decide(0), { ask: 64 });
	q.refused();
	q.underrun(10000);
	assert.equal(q.decide(20000), null);
});

/**
 * A link that carries `linkKbps` of messages, the server's stream through it
 * (a chunk every 100 ms, costing what the server's do in base64 and JSON:
 * about 146 kbit/s at 96, 102 at 64, 55 at 32), a queue in front of the link
 * where what it cannot carry waits, and a player with the page's start rule
 * and catch-up, for `seconds`. The server changes the bitrate 100 ms after a
 * request; the ack rides on the first chunk at the new rate, behind the
 * queue. Returns what the policy asked and where the stream spent its time.
 */
function simulate(linkKbps, seconds, { targetMs = 500 } = {}) {
	const wire = (kbps) => kbps * 4 / 3 * 1.05 + 12;
	const p = new QualityPolicy();
	p.streamStarted(96);
	let serverKbps = 96, change = null, ackFor = null;
	let queue = [], budget = 0, level = 0, playing = false;
	const asks = [], restarts = [], at = new Map(), underruns = [];
	for (let t = 0; t < seconds * 1000; t += 50) {
		if (change && t >= change.at) {
			serverKbps = ackFor = change.kbps;
			change = null;
		}
		if (t % 100 === 0) {
			queue.push({ bits: wire(serverKbps) * 100, ack: ackFor });
			ackFor = null;
		}
		budget += linkKbps * 50;
		while (queue.length && budget >= queue[0].bits) {
			const chunk = queue.shift();
			budget -= chunk.bits;
			level += 100;
			if (chunk.ack !== null) p.acked(chunk.ack, t);
		}
		if (!queue.length) budget = Math.min(budget, linkKbps * 100);
		if (playing) {
			level -= 50 * (level < targetMs - 20 ? 0.995 : level > targetMs + 20 ? 1.01 : 1);
			if (level <= 0) {
				level = 0;
				playing = false;
				underruns.push(t);
				p.underrun(t);
			}
		} else if (level >= targetMs) {
			playing = true;
		}
		if (t % 250 === 0) {
			p.observe(t, { flowing: true, playing, levelMs: level, targetMs });
			const a = p.decide(t);
			if (a?.ask) {
				asks.push({ t, kbps: a.ask, up: a.ask > p.kbps });
				change = { at: t + 100, kbps: a.ask };
			}
			if (a?.restart) {
				// A new session: no queue, no buffer, at the policy's rung.
				restarts.push({ t, kbps: a.restart });
				queue = [];
				budget = level = 0;
				playing = false;
				serverKbps = a.restart;
				change = ackFor = null;
				p.streamStarted(a.restart);
			}
		}
		at.set(p.kbps, (at.get(p.kbps) ?? 0) + 50);
	}
	return { asks, restarts, at, underruns, policy: p };
}

/** The tries up to a rung: each waits about twice as long as the one before. */
function assertBackingOff(asks, kbps) {
	const tries = asks.filter((a) => a.kbps === kbps && a.up).map((a) => a.t);
	for (let i = 2; i < tries.length; i++) {
		const gap = tries[i] - tries[i - 1], before = tries[i - 1] - tries[i - 2];
		assert.ok(gap > 1.4 * before, `tries at ${kbps} at ${tries.join(', ')} ms`);
	}
	return tries.length;
}

test('policy against a simulated link: it settles where the link carries the stream, without oscillating', () => {
	// 300 and 160 kbit/s carry 96: nothing to do.
	for (const link of [300, 160]) {
		const r = simulate(link, 600);
		assert.deepEqual(r.asks, []);
		assert.deepEqual(r.underruns, []);
	}
	// 120 kbit/s carries 64, not 96: down at the second underrun (the first
	// is the start's), and tries
	// at 96 ever more rarely (after 30, 60, 120, 240 s).
	let r = simulate(120, 600);
	assert.ok(r.asks[0].kbps === 64 && r.asks[0].t < 10000, JSON.stringify(r.asks[0]));
	const tries = assertBackingOff(r.asks, 96);
	assert.ok(tries >= 3 && tries <= 4, `${tries} tries at 96 in 10 minutes`);
	assert.ok(r.at.get(64) > 0.85 * 600000, `${r.at.get(64)} ms at 64`);
	assert.ok(r.underruns.length <= 2 * tries + 1, `${r.underruns.length} underruns`);
	assert.equal(r.policy.tooSlow, false);
	// 90 and 70 kbit/s: 32 only, reached in two steps at least 5 s apart
	// (or a new session when the ack is stuck behind the queue).
	for (const link of [90, 70]) {
		r = simulate(link, 600);
		assert.deepEqual(r.asks.slice(0, 2).map((a) => a.kbps), [64, 32]);
		assert.ok(r.asks[1].t - r.asks[0].t >= POLICY.HOLD_MS);
		assert.ok(r.at.get(32) > 0.8 * 600000, `${link}: ${r.at.get(32)} ms at 32`);
		assertBackingOff(r.asks, 64);
		assert.ok(r.restarts.length <= 2, `${link}: ${r.restarts.length} new sessions`);
		assert.equal(r.policy.tooSlow, false);
	}
	// 45 kbit/s carries nothing: at 32 it says so.
	r = simulate(45, 120);
	assert.equal(r.policy.kbps, 32);
	assert.equal(r.policy.tooSlow, true);
});

test('the meter: kbit/s received over the last 5 s', () => {
	const m = new RateMeter();
	assert.equal(m.kbps(0), 0);
	// Ten 1750-byte messages a second: 140 kbit/s.
	for (let t = 0; t <= 10000; t += 100) m.add(t, 1750);
	assert.ok(Math.abs(m.kbps(10000) - 140) < 3, `${m.kbps(10000)}`);
	// Then a quarter of that.
	for (let t = 10100; t <= 20000; t += 400) m.add(t, 1750);
	assert.ok(Math.abs(m.kbps(20000) - 35) < 3, `${m.kbps(20000)}`);
	// Silence: it falls to nothing once the window has passed.
	assert.equal(m.kbps(25001), 0);
	// Early on, over the time since the first message, at least a second.
	const e = new RateMeter();
	e.add(0, 12500);
	assert.equal(e.kbps(0), 100);
	e.add(2000, 12500);
	assert.equal(e.kbps(2000), 100);
});

// ---- decoding ----------------------------------------------------------------

/**
 * A stand-in for WebCodecs: each packet decodes, later (as a real decoder
 * does), to `frames` frames whose left sample is the frame's number in the
 * decoded stream and whose right is minus that; the first `delay` of them
 * are the encoder's delay. Like Chromium's without a description, it drops
 * nothing.
 */
function fakeCodecs({ frames = 960, fail = null } = {}) {
	const made = [];
	class Chunk {
		constructor({ type, timestamp, data }) {
			Object.assign(this, { type, timestamp, data });
		}
	}
	class Decoder {
		constructor({ output, error }) {
			this.output = output;
			this.error = error;
			this.state = 'unconfigured';
			this.decodeQueueSize = 0;
			this.chunks = [];
			this.produced = 0;
			this.closedOutputs = 0;
			made.push(this);
		}

		configure(config) {
			this.config = config;
			this.state = 'configured';
		}

		decode(chunk) {
			if (this.state !== 'configured') throw new Error('InvalidStateError');
			this.chunks.push(chunk);
			this.decodeQueueSize++;
			queueMicrotask(() => this.step());
		}

		step() {
			if (this.state !== 'configured' || !this.decodeQueueSize) return;
			this.decodeQueueSize--;
			const chunk = this.chunks[this.produced];
			if (fail !== null && this.produced === fail) {
				this.state = 'closed';
				this.error(new Error('EncodingError: the packet is corrupt'));
				return;
			}
			const first = this.produced * frames;
			this.produced++;
			const data = {
				numberOfFrames: frames, numberOfChannels: 2, sampleRate: 48000, timestamp: chunk.timestamp,
				copyTo(dest, { planeIndex, frameOffset = 0, frameCount = frames, format }) {
					assert.equal(format, 'f32-planar');
					assert.ok(dest.length >= frameCount);
					for (let i = 0; i < frameCount; i++) dest[i] = (planeIndex ? -1 : 1) * (first + frameOffset + i);
				},
				close: () => { this.closedOutputs++; },
			};
			this.output(data);
		}

		async flush() {
			while (this.decodeQueueSize) {
				await null;
				this.step();
			}
		}

		close() {
			this.state = 'closed';
		}
	}
	return { Decoder, Chunk, made };
}

const packets = (n) => Array.from({ length: n }, (_, i) => Buffer.from([0xfc, i]).toString('base64'));
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function stream(options = {}) {
	const codecs = fakeCodecs(options);
	const out = [];
	const events = [];
	const s = new OpusStream({
		sampleRate: 48000, channels: 2, frameMs: 20, preSkip: 312, decodeBase64,
		output: (left, right, arrival) => out.push({ left, right, arrival }),
		end: () => events.push('end'),
		error: (e) => events.push(`error: ${e.message}`),
		Decoder: codecs.Decoder, Chunk: codecs.Chunk, ...options.stream,
	});
	return { s, out, events, decoder: codecs.made[0] };
}

test('decoding: packets in order as key chunks with µs timestamps; the first pre_skip frames dropped', async () => {
	const { s, out, events, decoder } = stream();
	assert.deepEqual(decoder.config, { codec: 'opus', sampleRate: 48000, numberOfChannels: 2 });
	s.push({ seq: 0, t: 0, packets: packets(5) }, 1000);
	s.push({ seq: 1, t: 0.1, packets: packets(5) }, 1100);
	await settle();
	assert.deepEqual(decoder.chunks.map((c) => c.timestamp),
		[0, 20000, 40000, 60000, 80000, 100000, 120000, 140000, 160000, 180000]);
	assert.ok(decoder.chunks.every((c) => c.type === 'key'));
	assert.deepEqual([...decoder.chunks[3].data], [0xfc, 3], 'the packet bytes, base64 decoded');
	// 10 packets of 960 frames, less the 312 of the encoder's delay.
	assert.equal(out.reduce((n, o) => n + o.left.length, 0), 9600 - 312);
	assert.equal(out[0].left.length, 960 - 312);
	// Frame 0 of what is kept is frame 312 of what the decoder gave: music time 0.
	assert.equal(out[0].left[0], 312);
	assert.equal(out[0].right[0], -312);
	// Whole and in order: each output follows the last without a gap.
	const all = out.flatMap((o) => [...o.left]);
	all.forEach((v, i) => assert.equal(v, i + 312));
	assert.deepEqual(out.map((o) => o.arrival), [1000, 1000, 1000, 1000, 1000, 1100, 1100, 1100, 1100, 1100]);
	assert.equal(decoder.closedOutputs, 10, 'every AudioData closed');
	assert.deepEqual(events, []);
});

test('decoding: a pre-skip longer than a packet, and the last chunk of a stream that ends', async () => {
	const { s, out, events } = stream({ stream: { preSkip: 2000 } });
	s.push({ seq: 0, t: 0, packets: packets(5) }, 0);
	await settle();
	assert.equal(out.length, 3, 'the first two packets are all delay');
	assert.equal(out[0].left[0], 2000);
	assert.equal(out[0].left.length, 3 * 960 - 2000);
	// The last chunk: 1000 of its frames are music; what the decoder still
	// has comes out, then the end.
	s.push({ seq: 1, t: 0.1, packets: packets(5), last: true, frames: 1000 }, 100);
	await settle();
	await settle();
	const total = out.reduce((n, o) => n + o.left.length, 0);
	assert.equal(total, Math.round(0.1 * 48000) + 1000, 'up to frame round(t × 48000) + frames of the music, no further');
	assert.equal(out.at(-1).left.at(-1), 2000 + total - 1);
	assert.deepEqual(events, ['end']);
});

test('decoding: a decoder error is reported once, and nothing comes out after', async () => {
	const { s, out, events } = stream({ fail: 3 });
	s.push({ seq: 0, t: 0, packets: packets(5) }, 0);
	await settle();
	assert.equal(out.length, 3);
	assert.deepEqual(events, ['error: EncodingError: the packet is corrupt']);
	assert.ok(s.closed);
	s.push({ seq: 1, t: 0.1, packets: packets(5) }, 100);
	await settle();
	assert.equal(out.length, 3);
	assert.equal(events.length, 1);
	// A message that is not an Opus chunk is an error too, and so is bad base64.
	const b = stream();
	b.s.push({ seq: 0, t: 0, data: 'AAAA' }, 0);
	assert.deepEqual(b.events, ['error: an audio message without packets']);
	const c = stream();
	c.s.push({ seq: 0, t: 0, packets: ['!!!'] }, 0);
	assert.equal(c.events.length, 1);
	// A decoder that falls 5 s behind is as good as stuck.
	const d = stream();
	d.decoder.step = () => {};
	for (let i = 0; i < 60; i++) d.s.push({ seq: i, t: i / 10, packets: packets(5) }, i * 100);
	assert.deepEqual(d.events, ['error: the decoder has fallen 5 s behind']);
	// Closed by the page (a new stream): its decoder's outputs are dropped.
	const e = stream();
	e.s.push({ seq: 0, t: 0, packets: packets(5) }, 0);
	e.s.close();
	await settle();
	assert.deepEqual(e.out, []);
	assert.deepEqual(e.events, []);
	// Without WebCodecs there is no stream to make.
	assert.throws(() => new OpusStream({ decodeBase64, output: () => {}, Decoder: undefined, Chunk: undefined }),
		/no AudioDecoder/);
});

test('decoding: the browser is asked whether it decodes Opus, and a failure to answer is a no', async () => {
	const yes = { isConfigSupported: async (c) => ({ supported: c.codec === 'opus' && c.sampleRate === 48000 && c.numberOfChannels === 2 }) };
	assert.equal(await opusSupported(Object.assign(function D() {}, yes)), true);
	assert.equal(await opusSupported(Object.assign(function D() {}, { isConfigSupported: async () => ({ supported: false }) })), false);
	assert.equal(await opusSupported(Object.assign(function D() {}, { isConfigSupported: async () => { throw new TypeError('no'); } })), false);
	assert.equal(await opusSupported(undefined), false);
});
