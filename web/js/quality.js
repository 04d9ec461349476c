// quality.js - what the stream costs the link: the codec a page asks for,
// the Opus bitrate ladder it climbs down when the buffer drains and back up
// after a long healthy spell, the "too slow" verdict, and the meter of what
// the link really delivers.
//
// Pure logic, no DOM and no audio: the browser tests import it in Node too.
// Times are milliseconds on any monotonic clock (performance.now() in pages).

/** The rungs, kbit/s, from the server's default down. */
export const LADDER_KBPS = [96, 64, 32];

/** The bitrates the server takes (protocol.md: quality). */
export const KBPS_MIN = 6;
export const KBPS_MAX = 510;

/**
 * The policy's figures. An underrun steps down at once, but for the first in
 * the START_GRACE_MS after a stream's first sound: the buffer's target is
 * still finding the link's jitter then, and one underrun is the tiers' to
 * mend (buffering.js); a second is the bitrate's. A buffer that stays below
 * LOW_FRACTION of its target for LOW_MS, and falls meanwhile, drains as
 * surely as an underrun. A step needs HOLD_MS since the last one took effect.
 * HEALTHY_MS with no underrun and the level at least FULL_FRACTION of the
 * target earns a step up; one undone within PROBATION_MS doubles the wait
 * before the next try at that rung, up to UP_DELAY_MAX_MS. A request the
 * server has not acknowledged after ACK_TIMEOUT_MS is stuck behind a backlog:
 * the page connects again at the lower bitrate (decide). At the lowest rung,
 * SLOW_COUNT starvations within SLOW_WINDOW_MS mean the link is too slow;
 * CLEAR_MS of good playback takes that back.
 */
export const POLICY = Object.freeze({
	START_GRACE_MS: 10000,
	HOLD_MS: 5000,
	LOW_FRACTION: 0.5,
	LOW_MS: 4000,
	HEALTHY_MS: 30000,
	FULL_FRACTION: 0.7,
	PROBATION_MS: 30000,
	UP_DELAY_MAX_MS: 480000,
	ACK_TIMEOUT_MS: 8000,
	SLOW_COUNT: 2,
	SLOW_WINDOW_MS: 30000,
	CLEAR_MS: 15000,
});

/** The words a listener reads when even the lowest rung does not get through. */
export const TOO_SLOW_TEXT = 'Your connection is too slow for live audio';

/** A bitrate the server takes, or null. */
export function validKbps(value) {
	const n = typeof value === 'string' && /^\d{1,3}$/.test(value.trim()) ? Number(value) : value;
	return Number.isInteger(n) && n >= KBPS_MIN && n <= KBPS_MAX ? n : null;
}

/**
 * What the page's own URL asks of the stream: `?codec=pcm` forces PCM,
 * `?codec=opus` forces a try at Opus, anything else lets the browser decide
 * ('auto'); `?kbps=N` starts Opus at N kbit/s.
 */
export function pageStreamOptions(search) {
	const q = new URLSearchParams(search);
	const c = (q.get('codec') || '').toLowerCase();
	return { codec: c === 'pcm' || c === 'opus' ? c : 'auto', kbps: validKbps(q.get('kbps')) };
}

/**
 * The codec to ask for: PCM when the page forces it or Opus failed on this
 * Play; Opus when forced or when the browser can decode it.
 */
export function chooseCodec({ forced = 'auto', opusSupported = false, opusFailed = false } = {}) {
	if (forced === 'pcm' || opusFailed) return 'pcm';
	if (forced === 'opus') return 'opus';
	return opusSupported ? 'opus' : 'pcm';
}

/**
 * The rungs for a stream that starts at `top` kbit/s: the listener's (or the
 * server's) choice is the ceiling, the ladder's lower rungs lie below it.
 */
export function ladderFrom(top) {
	return [top, ...LADDER_KBPS.filter((k) => k < top)];
}

/**
 * Bytes the link delivers, as kbit/s over a sliding window (5 s). Early on,
 * before a whole window has passed, over the time since the first message
 * (at least a second).
 */
export class RateMeter {
	constructor(windowMs = 5000) {
		this.windowMs = windowMs;
		this.reset();
	}

	reset() {
		this.samples = [];
		this.bytes = 0;
		this.firstAt = null;
	}

	add(nowMs, bytes) {
		if (this.firstAt === null) this.firstAt = nowMs;
		this.samples.push([nowMs, bytes]);
		this.bytes += bytes;
		this.prune(nowMs);
	}

	prune(nowMs) {
		const s = this.samples;
		let i = 0;
		while (i < s.length && s[i][0] <= nowMs - this.windowMs) this.bytes -= s[i++][1];
		if (i) s.splice(0, i);
	}

	/** kbit/s received lately; 0 before anything came. */
	kbps(nowMs) {
		if (this.firstAt === null) return 0;
		this.prune(nowMs);
		const span = Math.max(1000, Math.min(this.windowMs, nowMs - this.firstAt));
		return this.bytes * 8 / span;
	}
}

/**
 * The bitrate ladder and its policy. One lives from Play to Stop, across
 * reconnections: what it learnt of the link stays true for the next
 * connection, which starts at the rung it had reached.
 *
 * The page tells it what happens (streamStarted, underrun, observe, acked,
 * lost, refused); decide() says when to ask the server for another bitrate,
 * and marks the request pending until its ack, or when to start over. A
 * policy made with top = null (a PCM stream) has one rung and never asks; it
 * still tells when the link is too slow.
 */
export class QualityPolicy {
	constructor({ top = LADDER_KBPS[0], figures = POLICY } = {}) {
		this.p = figures;
		this.rungs = top === null ? [null] : ladderFrom(top);
		this.index = 0;
		this.enabled = top !== null;
		this.pending = null;          // {index, at}: asked, not yet acknowledged
		this.upDelayMs = this.rungs.map(() => figures.HEALTHY_MS);
		this.probation = null;        // {index, until}: a step up on trial
		this.starvations = [];        // times, at the lowest rung
		this.tooSlow = false;
		this.steps = 0;               // changes acknowledged
		this.lastStepAt = -Infinity;
		this.downWanted = false;       // a starvation asks for a step down
		this.lowSince = null;          // the buffer is low since then …
		this.lowLevel = 0;             // … when it was this low
		this.healthySince = null;      // playing with a full buffer since then
		this.goodSince = null;         // playing without starving since then
		this.firstSoundAt = null;      // the stream's first sound
		this.graceUsed = false;        // the one underrun its start may have
	}

	/** The bitrate the stream is at now (acknowledged), kbit/s; null for PCM. */
	get kbps() {
		return this.rungs[this.index];
	}

	get atLowest() {
		return this.index === this.rungs.length - 1;
	}

	/**
	 * A new connection said hello at `kbps`. Requests on the old one will
	 * never be answered; the buffer starts empty, which says nothing yet.
	 */
	streamStarted(kbps) {
		this.pending = null;
		const i = this.rungs.indexOf(kbps);
		if (i >= 0) this.index = i;
		this.downWanted = false;
		this.lowSince = null;
		this.healthySince = null;
		this.goodSince = null;
		this.firstSoundAt = null;
		this.graceUsed = false;
		// A start is no step and starts no hold: a link that cannot carry
		// the first bitrate should not have to wait to be spared it.
	}

	/** The reserve ran dry while audio was flowing. */
	underrun(nowMs) {
		const early = this.firstSoundAt === null || nowMs - this.firstSoundAt < this.p.START_GRACE_MS;
		if (early && !this.graceUsed && !this.atLowest) {
			this.graceUsed = true;
			this.healthySince = this.goodSince = null;
			return;
		}
		this.starved(nowMs);
	}

	starved(nowMs) {
		this.healthySince = null;
		this.goodSince = null;
		if (!this.pending && !this.atLowest) this.downWanted = true;
		if (this.atLowest && !this.pending) {
			this.starvations.push(nowMs);
			while (this.starvations.length && this.starvations[0] <= nowMs - this.p.SLOW_WINDOW_MS) this.starvations.shift();
			if (this.starvations.length >= this.p.SLOW_COUNT) this.tooSlow = true;
		}
	}

	/**
	 * The state of playback now: `flowing` (connected, audio has come),
	 * `playing` (heard, not refilling), the buffer level and its target, ms.
	 */
	observe(nowMs, { flowing, playing, levelMs, targetMs }) {
		if (this.probation && nowMs >= this.probation.until) {
			// The step up held: the next try at that rung may come soon again.
			this.upDelayMs[this.probation.index] = this.p.HEALTHY_MS;
			this.probation = null;
		}
		if (!flowing) {
			this.lowSince = this.healthySince = this.goodSince = null;
			return;
		}
		if (playing) this.firstSoundAt ??= nowMs;
		if (levelMs < this.p.LOW_FRACTION * targetMs) {
			if (this.lowSince === null) {
				this.lowSince = nowMs;
				this.lowLevel = levelMs;
			} else if (nowMs - this.lowSince >= this.p.LOW_MS) {
				// Low and lower still: the link does not keep up. Low but
				// level or rising is a reserve that refills (after a step
				// down, say), which no lower bitrate would help.
				if (levelMs < this.lowLevel) this.starved(nowMs);
				this.lowSince = nowMs;    // the next spell as long counts again
				this.lowLevel = levelMs;
			}
		} else {
			this.lowSince = null;
		}
		if (playing && levelMs >= this.p.FULL_FRACTION * targetMs) this.healthySince ??= nowMs;
		else this.healthySince = null;
		if (playing && levelMs >= this.p.LOW_FRACTION * targetMs) {
			this.goodSince ??= nowMs;
			if (this.tooSlow && nowMs - this.goodSince >= this.p.CLEAR_MS) {
				this.tooSlow = false;
				this.starvations = [];
			}
		} else {
			this.goodSince = null;
		}
	}

	/**
	 * What to do now, or null:
	 *   {ask: kbps}      send a quality message; it is pending until acked;
	 *   {restart: kbps}  connect again, starting at kbps: a request the
	 *                    server has not acknowledged in ACK_TIMEOUT_MS sits
	 *                    behind a backlog of audio that the link cannot drain
	 *                    soon, and a new session at the lower bitrate starts
	 *                    without it.
	 */
	decide(nowMs) {
		if (!this.enabled) return null;
		if (this.pending) {
			if (nowMs - this.pending.at < this.p.ACK_TIMEOUT_MS) return null;
			// Down, or back to where it was: whatever the server now codes
			// at, the new session starts at the lower of the two. A step up
			// stuck like that is a try that failed.
			const { index } = this.pending;
			this.pending = null;
			if (index < this.index) this.tryFailed(index);
			this.moveTo(Math.max(this.index, index), nowMs);
			return { restart: this.kbps };
		}
		if (nowMs - this.lastStepAt < this.p.HOLD_MS) return null;
		if (this.downWanted) {
			this.downWanted = false;
			if (!this.atLowest) {
				// Starving on trial: the step up that brought it here failed,
				// whenever the ack of the step down comes.
				if (this.probation?.index === this.index && nowMs < this.probation.until) this.tryFailed(this.index);
				this.probation = null;
				return this.request(this.index + 1, nowMs);
			}
		}
		if (this.index > 0 && this.healthySince !== null
			&& nowMs - this.healthySince >= this.upDelayMs[this.index - 1]) {
			return this.request(this.index - 1, nowMs);
		}
		return null;
	}

	request(index, nowMs) {
		this.pending = { index, at: nowMs };
		return { ask: this.rungs[index] };
	}

	/** The server acknowledged a change to `kbps`: it is heard from now on. */
	acked(kbps, nowMs) {
		this.pending = null;
		const i = this.rungs.indexOf(kbps);
		if (i >= 0) this.moveTo(i, nowMs);
	}

	/**
	 * The connection was lost with a request pending: a step down was
	 * needed whatever happened to it, so the next connection starts there.
	 */
	lost(nowMs) {
		const pending = this.pending;
		this.pending = null;
		if (pending && pending.index > this.index) this.moveTo(pending.index, nowMs);
	}

	moveTo(index, nowMs) {
		const from = this.index;
		if (index === from) return;
		this.index = index;
		this.steps++;
		this.probation = index < from ? { index, until: nowMs + this.p.PROBATION_MS } : null;
		// What happened before the change is about the old bitrate.
		this.downWanted = false;
		this.lowSince = null;
		this.healthySince = null;
		this.lastStepAt = nowMs;
	}

	/** A step up to rung `index` did not hold: wait twice as long before the next try. */
	tryFailed(index) {
		this.upDelayMs[index] = Math.min(this.p.UP_DELAY_MAX_MS, this.upDelayMs[index] * 2);
	}

	/** The server refused a quality message: it cannot change the bitrate; stop asking. */
	refused() {
		this.pending = null;
		this.enabled = false;
	}
}
