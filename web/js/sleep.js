// sleep.js - the sleep timer: after the time a listener chose, the music
// fades out over its last minute and the stream stops.
//
// Pure logic on a clock the caller passes in (ms, performance.now() in the
// page), no DOM and no audio: index.js binds it to the page and to the
// player's fade, and the tests run it in Node as it is.
//
// The timer runs only while the music plays: chosen while stopped, it waits
// for Play; Stop turns it off. A "minute" is minuteMs long: 60 000, but a
// page opened with ?sleep-minute=N counts minutes of N ms, so a test hears
// the whole of it, fade and stop, in seconds, on the same path.

/** The times offered, in minutes; a listener may type another. */
export const SLEEP_CHOICES = [15, 30, 60, 90];

/** The longest a custom time may be, in minutes (12 hours). */
export const SLEEP_MAX_MINUTES = 720;

/** The music fades out over the timer's last minute (or all of it, when shorter). */
export const FADE_MINUTES = 1;

/** Points of the fade's gain curve: the audio interpolates between them. */
const CURVE_POINTS = 256;

/** A whole number of minutes, 1..SLEEP_MAX_MINUTES, from what a listener typed; null when it is none. */
export function parseMinutes(text) {
	const s = String(text ?? '').trim();
	if (!/^\d+$/.test(s)) return null;
	const n = Number(s);
	return n >= 1 && n <= SLEEP_MAX_MINUTES ? n : null;
}

/** "14:59", "1:02:03": ms still to go, rounded up to a whole second. */
export function formatRemaining(ms) {
	const total = Math.max(0, Math.ceil(ms / 1000));
	const h = Math.floor(total / 3600);
	const m = Math.floor((total % 3600) / 60);
	const s = String(total % 60).padStart(2, '0');
	return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * The fade's gain from `from` to silence, as `points` values for
 * AudioParam.setValueCurveAtTime: it starts at the gain there is (no step,
 * so no click) and falls along the square of a straight line, the volume
 * slider's own taper (player.js volumeGain), which sounds like an even fade.
 */
export function fadeCurve(from = 1, points = CURVE_POINTS) {
	const curve = new Float32Array(points);
	for (let i = 0; i < points; i++) {
		const x = 1 - i / (points - 1);
		curve[i] = from * x * x;
	}
	return curve;
}

/**
 * One sleep timer. phase(now) is 'off' (none chosen), 'armed' (chosen,
 * waiting for Play), 'counting', 'fading' (the last minute) or 'done'.
 */
export class SleepTimer {
	constructor({ minuteMs = 60000 } = {}) {
		this.minuteMs = minuteMs;
		this.minutes = null;     // the time chosen, while there is one
		this.endsAt = null;      // clock time of the stop, once counting
	}

	/** Chooses `minutes` (null: off). Counting starts now when `now` is given (playing), else at begin(). */
	set(minutes, now = null) {
		this.minutes = minutes;
		this.endsAt = minutes !== null && now !== null ? now + this.durationMs : null;
	}

	/** The music started: an armed timer starts counting. Returns whether it did. */
	begin(now) {
		if (this.minutes === null || this.endsAt !== null) return false;
		this.endsAt = now + this.durationMs;
		return true;
	}

	/** Turns the timer off. */
	cancel() {
		this.minutes = null;
		this.endsAt = null;
	}

	get durationMs() {
		return this.minutes === null ? 0 : this.minutes * this.minuteMs;
	}

	/** How long the fade lasts: a minute, or the whole time when that is shorter. */
	get fadeMs() {
		return Math.min(FADE_MINUTES * this.minuteMs, this.durationMs);
	}

	/** ms until the stop; null while not counting. */
	remainingMs(now) {
		return this.endsAt === null ? null : Math.max(0, this.endsAt - now);
	}

	/** ms until the fade starts (0 once it has); null while not counting. */
	untilFadeMs(now) {
		const left = this.remainingMs(now);
		return left === null ? null : Math.max(0, left - this.fadeMs);
	}

	phase(now) {
		if (this.minutes === null) return 'off';
		const left = this.remainingMs(now);
		if (left === null) return 'armed';
		if (left <= 0) return 'done';
		return left <= this.fadeMs ? 'fading' : 'counting';
	}

	/** The words beside the timer's choice. */
	text(now) {
		switch (this.phase(now)) {
		case 'armed': return 'starts with Play';
		case 'counting': return `stops in ${formatRemaining(this.remainingMs(now))}`;
		case 'fading': return `fading out · ${formatRemaining(this.remainingMs(now))}`;
		default: return '';
		}
	}
}
