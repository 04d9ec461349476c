// buffering.js - how much audio to hold back: arrival jitter, measured as an
// exponential moving average, chooses one of four buffer tiers.
//
// Pure logic, no DOM and no audio: the browser tests import it in Node too.

/**
 * The tiers, from the thinnest reserve to the thickest. Each names the size of
 * the reserve it keeps: "emergency" is the least that still covers the
 * composer's look-ahead and one chunk in flight, "full" a whole second.
 * `up` is the jitter (ms) above which the next tier is needed; falling back
 * takes jitter below DOWN_FACTOR × the same bound, so a jitter that hovers at a
 * bound does not make the target flap.
 */
export const TIERS = [
	{ name: 'emergency', targetMs: 300, up: 12 },
	{ name: 'low', targetMs: 500, up: 30 },
	{ name: 'healthy', targetMs: 700, up: 60 },
	{ name: 'full', targetMs: 1000, up: Infinity },
];
const DOWN_FACTOR = 0.6;

/** The EMA's weight of a new sample, as the issue asks: α = 0.1. */
export const JITTER_ALPHA = 0.1;

/**
 * The first second of a stream says little about the network: the server
 * sends its first 0.3 s at once by design (protocol.md), and the page itself
 * is busy starting its audio (creating an AudioContext can hold the main
 * thread for a few hundred milliseconds, so chunks are handled in a bunch).
 * Counting that as jitter would raise the target on every connection, so
 * arrivals are measured from music time 1 s on.
 */
export const SETTLE_SECONDS = 1.0;

/**
 * Arrival jitter as the protocol defines it for `stats`: the deviation of the
 * time between two audio messages from the chunk's duration, here smoothed by
 * an EMA (α = 0.1), so a burst of lateness raises it within a second and calm
 * brings it back within a few.
 */
export class JitterMeter {
	constructor(alpha = JITTER_ALPHA) {
		this.alpha = alpha;
		this.reset();
	}

	/** A new stream: arrivals of the last one say nothing about this one. */
	reset() {
		this.emaMs = 0;
		this.samples = 0;
		this.lastArrival = null;
		this.lastDeviationMs = null;
	}

	/**
	 * One audio message: its arrival (ms, any monotonic clock), its music time
	 * and the chunk's duration. Returns the deviation it contributed, or null
	 * while the stream is still settling.
	 */
	arrive(arrivalMs, musicSeconds, chunkMs) {
		const previous = this.lastArrival;
		this.lastArrival = arrivalMs;
		if (musicSeconds < SETTLE_SECONDS - 1e-9 || previous === null) return null;
		const deviation = Math.abs(arrivalMs - previous - chunkMs);
		this.lastDeviationMs = deviation;
		// The EMA starts from calm (0), so one odd first arrival moves it by a
		// tenth, not all the way.
		this.emaMs += this.alpha * (deviation - this.emaMs);
		this.samples++;
		return deviation;
	}
}

/**
 * Picks the tier from the jitter EMA, with hysteresis, and a floor: an
 * underrun while connected proves the reserve too thin whatever the EMA says,
 * so it raises the floor one tier; each minute without one lowers it again.
 */
export class TierPolicy {
	constructor({ floorDecayMs = 60000 } = {}) {
		this.index = 0;
		this.floor = 0;
		this.floorDecayMs = floorDecayMs;
		this.floorSince = 0;
	}

	get tier() {
		return TIERS[this.index];
	}

	/** An underrun at time nowMs (ms) while the stream was flowing. */
	underrun(nowMs) {
		this.floor = Math.min(TIERS.length - 1, Math.max(this.floor, this.index) + 1);
		this.floorSince = nowMs;
		this.index = Math.max(this.index, this.floor);
	}

	/** Re-evaluates with the current jitter; returns the tier. */
	update(jitterMs, nowMs) {
		if (this.floor > 0 && nowMs - this.floorSince >= this.floorDecayMs) {
			this.floor--;
			this.floorSince = nowMs;
		}
		let i = this.index;
		while (i < TIERS.length - 1 && jitterMs > TIERS[i].up) i++;
		while (i > 0 && jitterMs < TIERS[i - 1].up * DOWN_FACTOR) i--;
		this.index = Math.max(i, this.floor);
		return this.tier;
	}
}
