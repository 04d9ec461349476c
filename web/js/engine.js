// engine.js - the playback engine that runs on the audio thread: a ring
// buffer of the stream's frames, a resampler from the stream's rate to the
// AudioContext's, fades around every gap, and a gentle catch-up.
//
// It is plain code with no audio API in it, so that the AudioWorkletProcessor
// (worklet.js) stays a thin shell and the browser tests can drive the engine
// in Node, sample by sample.
//
// Frames are counted in absolute stream frames: `written` is the number of
// frames ever pushed, `pos` the read position (fractional) in the same count.
// The main thread counts what it pushes too, so both sides name a frame by the
// same number; that is how an ack's music time becomes a mark that the engine
// reports when the frame is actually played.

const FADE_IN_MS = 40;        // start and resume after a gap
const FADE_OUT_MS = 25;       // before the buffer runs dry
const STOP_FADE_MS = 60;      // Stop: a little longer, it is deliberate
const FLUSH_FADE_MS = 30;     // a new stream replaces what is left of the old one
const SEAM_FADE_MS = 30;      // the old stream's end, where a new one follows it (seam)
const LEVEL_TAU_S = 1.0;      // the buffer level is smoothed over about a second
const CATCHUP_DEAD_MS = 20;   // within this of the target is fine
const CATCHUP_MS_PER_PERCENT = 100; // beyond the dead band: 1 % faster per 100 ms over
const CATCHUP_MAX = 0.003;    // at most 0.3 % fast (5 cents: no one hears it)
const SLOWDOWN_MAX = 0.003;   // at most 0.3 % slow, to grow a thin reserve
const RATE_SLEW = 0.00001;    // rate change per render quantum: 0.3 % takes ~0.8 s
const JUMP_MS = 100;          // this far over the target (smoothed), jump with a crossfade
const JUMP_FADE_MS = 80;
const QUIET_LEVEL = 0.001;    // -60 dBFS: frames this quiet may be dropped to catch up
const START_SLACK_MS = 20;    // a stream's first start: the target less this will do (an Opus burst is 293.5 ms)
const SOUND_LEVEL = 1e-4;     // -80 dBFS: above it a frame counts as sound (the start's measure)

/** Catmull-Rom cubic through four samples: smooth, and exact at the samples. */
function cubic(y0, y1, y2, y3, f) {
	return y1 + 0.5 * f * (y2 - y0 + f * (2 * y0 - 5 * y1 + 4 * y2 - y3 + f * (3 * (y1 - y2) + y3 - y0)));
}

export class PlaybackEngine {
	/**
	 * outRate: the AudioContext's rate; sourceRate: the stream's (its hello
	 * says: 44100 for PCM, 48000 for Opus; until then, no resampling);
	 * capacitySeconds: the ring's size, well above the largest target so a
	 * main thread that stalls and then delivers a backlog loses nothing.
	 */
	constructor({ outRate, sourceRate = outRate, capacitySeconds = 12, chunkMs = 100 }) {
		this.outRate = outRate;
		this.events = [];
		this.configure(sourceRate, chunkMs);
		this.capacity = Math.ceil(capacitySeconds * 48000); // enough at any stream rate up to 48 kHz
		this.left = new Float32Array(this.capacity);
		this.right = new Float32Array(this.capacity);
		this.underruns = 0;
		this.framesPlayed = 0;
		this.overflowFrames = 0;
		this.quietFrames = 0;    // frames dropped in near-silence to catch up
		this.jumps = 0;          // crossfaded jumps to catch up
		this.targetMs = 300;
		this.sounded = true;
		this.mode = 'idle';      // idle (stopped), waiting (buffering), playing
		this.written = 0;
		this.pos = 0;
		this.resetPlayback();
	}

	/** The stream's rate and chunk length (from its hello). */
	configure(sourceRate, chunkMs = this.chunkMs) {
		this.sourceRate = sourceRate;
		this.chunkMs = chunkMs;
		this.baseStep = sourceRate / this.outRate;
	}

	resetPlayback() {
		this.gain = 0;
		this.gainTarget = 0;
		this.gainDelta = 0;
		this.fade = null;        // a fade to silence in progress: {reason, limit, flushTo}
		this.ratio = 1;
		this.levelMs = null;
		this.jump = null;        // a catch-up crossfade: {pos, left, total}
		this.waitFrames = -1;    // output frames since data came while waiting; -1: none yet
		this.ending = false;
		this.marks = [];
		this.following = null;   // a new stream follows the old one's end: {at, to} (seam())
		this.afterSeam = false;  // waiting for a stream that had begun to come by its seam
		this.restart = false;    // waiting after an underrun, not for a stream's first sound
	}

	/** Frames in the ring not yet played. */
	get available() {
		return this.written - this.pos;
	}

	get bufferedMs() {
		return Math.max(0, this.available) / this.sourceRate * 1000;
	}

	setTarget(ms) {
		this.targetMs = ms;
	}

	/** Play: wait for the reserve, then fade in. */
	start() {
		if (this.fade && this.fade.reason === 'stop') {
			// Play again while the Stop fade still sounds: let it finish first.
			this.fade.restart = true;
			return;
		}
		if (this.mode !== 'idle') return;
		this.resetPlayback();
		this.underruns = 0;       // the counts are per Play
		this.framesPlayed = 0;
		this.sounded = false;     // a 'sound' event once per Play: its first frame above SOUND_LEVEL
		this.mode = 'waiting';
		this.waitFrames = this.available > 8 ? 0 : -1;
		this.events.push({ type: 'waiting' });
	}

	/** Stop: fade out, then drop what is left. */
	stop() {
		if (this.mode === 'idle') return;
		if (this.mode === 'playing' && this.gain > 0) {
			this.beginFade('stop', STOP_FADE_MS, this.written);
		} else {
			this.finishStop();
		}
	}

	finishStop() {
		this.pos = this.written;
		this.resetPlayback();
		this.mode = 'idle';
		this.events.push({ type: 'stopped' });
	}

	/**
	 * A new stream begins (a reconnection): what is left of the old one fades
	 * out quickly and is dropped, so the new one starts at its beginning with
	 * its own fade-in and its frames keep the numbers the main thread gave them.
	 */
	flush() {
		const flushTo = this.written;
		this.marks = [];
		this.ending = false;
		this.following = null;
		if (this.fade && (this.fade.reason === 'flush' || this.fade.restart)) {
			this.fade.flushTo = flushTo;    // already fading out: drop more at its end
		} else if (this.mode === 'playing' && this.gain > 0
			&& (!this.fade || this.fade.reason === 'drain' || this.fade.reason === 'seam')) {
			this.beginFade('flush', FLUSH_FADE_MS, flushTo);
			this.fade.flushTo = flushTo;
		} else if (this.mode !== 'idle' && !(this.fade && this.fade.reason === 'stop')) {
			this.pos = Math.max(this.pos, flushTo);
			this.enterWaiting(false);
		}
	}

	/**
	 * A new stream begins at `frame` and follows the old one, which is whole
	 * (the server sent the listener to another one: protocol.md, bye).
	 * Unlike flush, what is left of the old stream plays out: it fades to
	 * silence at its last frame, and the new one fades in right after, with
	 * no wait when its reserve is there by then. A stream that follows one
	 * not yet reached replaces it. Anything but playing: as flush.
	 */
	seam(frame) {
		if (this.mode !== 'playing' || (this.fade && this.fade.reason !== 'drain' && this.fade.reason !== 'seam')) {
			this.flush();
			return;
		}
		this.ending = false;
		if (this.following) this.following.to = frame;
		else this.following = { at: frame, to: frame };
	}

	/** The stream has ended: play out what is left without waiting for a reserve. */
	end() {
		this.ending = true;
	}

	/** A frame to report when it is played (an ack's music time). */
	mark(id, frame) {
		if (frame <= this.pos && this.mode !== 'idle') {
			this.events.push({ type: 'heard', id, frame, offset: 0, late: true });
			return;
		}
		let i = this.marks.length;
		while (i > 0 && this.marks[i - 1].frame > frame) i--;
		this.marks.splice(i, 0, { id, frame });
	}

	/**
	 * Appends planar frames. ageMs: how long ago they arrived (they may have
	 * waited for the worklet to load), which counts as time spent waiting.
	 * Returns the number of frames dropped for room.
	 */
	push(left, right, ageMs = 0) {
		const n = left.length;
		if (this.mode === 'idle') {
			// Not played, but counted: frame numbers must stay the main thread's.
			this.written += n;
			this.pos = this.written;
			return 0;
		}
		let dropped = 0;
		// Keep one frame behind the read position for the interpolator (and
		// the old position of a catch-up crossfade, which still reads there).
		const oldest = Math.floor(this.jump ? Math.min(this.pos, this.jump.pos) : this.pos) - 1;
		const room = this.capacity - (this.written - oldest);
		if (n > room) {
			dropped = n - room;
			this.pos += dropped;
			this.overflowFrames += dropped;
		}
		let w = this.written % this.capacity;
		for (let i = 0; i < n; i++) {
			this.left[w] = left[i];
			this.right[w] = right[i];
			if (++w === this.capacity) w = 0;
		}
		this.written += n;
		if (this.mode === 'waiting' && this.waitFrames < 0) this.waitFrames = Math.round(ageMs / 1000 * this.outRate);
		return dropped;
	}

	/** Interpolated frame at absolute position p into out[0], out[1]. */
	read(p, out) {
		const i = Math.floor(p);
		const f = p - i;
		const c = this.capacity;
		const a = ((i - 1) % c + c) % c;
		const b = a + 1 === c ? 0 : a + 1;
		const d = b + 1 === c ? 0 : b + 1;
		const e = d + 1 === c ? 0 : d + 1;
		const L = this.left, R = this.right;
		out[0] = cubic(L[a], L[b], L[d], L[e], f);
		out[1] = cubic(R[a], R[b], R[d], R[e], f);
	}

	enterWaiting(underrun) {
		this.mode = 'waiting';
		this.gain = 0;
		this.gainTarget = 0;
		this.gainDelta = 0;
		this.fade = null;
		this.jump = null;
		this.ratio = 1;
		this.levelMs = null;
		this.afterSeam = false;
		this.restart = underrun;
		// The wait for a reserve counts from the first audio that is there.
		this.waitFrames = this.available > 8 ? 0 : -1;
		if (underrun) {
			this.underruns++;
			this.events.push({ type: 'underrun' });
		}
		this.events.push({ type: 'waiting' });
	}

	/**
	 * Fades to silence over at most `ms`, and never past `limit` (the last
	 * frame it may read): a fade that runs out of audio would be a click.
	 */
	beginFade(reason, ms, limit) {
		const step = this.baseStep * this.ratio;
		const usable = Math.max(0, limit - this.pos - 3);
		const frames = Math.max(1, Math.min(Math.round(ms / 1000 * this.outRate), Math.floor(usable / step)));
		this.fade = { reason, limit, flushTo: limit };
		this.gainTarget = 0;
		this.gainDelta = -this.gain / frames;
	}

	fadeIn(ms) {
		this.gainTarget = 1;
		this.gainDelta = (1 - this.gain) / Math.max(1, Math.round(ms / 1000 * this.outRate));
	}

	/**
	 * Is there reserve enough to (re)start? The server sends a stream's
	 * first 0.3 s at once and then writes 0.15 s ahead of its clock
	 * (protocol.md), so the burst is no lasting reserve: half of it is gone
	 * once the pacing takes over. What lasts is the time spent waiting since
	 * the first audio came, plus that look-ahead: playback that starts w ms
	 * after the first audio settles at a reserve of about w + 100 ms (w +
	 * 150 ms as a chunk comes, w + 50 ms before the next). So a start waits
	 * the target less one chunk from the first audio, for a reserve that
	 * settles at the target; a shorter wait would start sooner over a
	 * reserve that stays thinner until it has grown, at 0.3 % slow, for
	 * half a minute, and on a busy machine that is an underrun.
	 */
	canStart() {
		if (this.ending) return this.available > 3;
		const waited = this.waitFrames / this.outRate * 1000 >= this.targetMs - this.chunkMs;
		// A stream's first sound: the target less 20 ms will do (an Opus
		// stream's first 0.3 s are a pre-skip short of 300 ms). After an
		// underrun, the whole target.
		return waited && this.hasReserve(this.restart ? this.targetMs : this.targetMs - START_SLACK_MS);
	}

	/** Are `ms` of audio there, and at least enough for the fades? */
	hasReserve(ms) {
		const minimum = (FADE_IN_MS + FADE_OUT_MS) / 1000 * this.sourceRate + 8;
		return this.available >= Math.max(minimum, ms / 1000 * this.sourceRate);
	}

	/**
	 * Audio that piled up while nothing played (a slow start, a long stall)
	 * has not been heard, so nothing is lost by starting later in it: keep
	 * `keepMs` of it rather than catch up for half a minute. Only when more
	 * than `slackMs` over that is there.
	 */
	trimBacklog(keepMs, slackMs = 0) {
		const keep = keepMs / 1000 * this.sourceRate;
		if (this.ending || this.available <= keep + slackMs / 1000 * this.sourceRate) return;
		this.pos = this.written - keep;
		while (this.marks.length && this.marks[0].frame < this.pos) {
			const m = this.marks.shift();
			this.events.push({ type: 'heard', id: m.id, frame: m.frame, offset: 0, skipped: true });
		}
	}

	/** Per render quantum: the smoothed level and the catch-up rate. */
	steer(n) {
		const level = this.bufferedMs;
		const k = Math.min(1, n / this.outRate / LEVEL_TAU_S);
		this.levelMs = this.levelMs === null ? level : this.levelMs + k * (level - this.levelMs);
		// Not while fading or jumping, nor while the old stream plays out to
		// a seam: the level counts the new stream's audio too, and the old
		// one's end is no place to jump.
		if (this.fade || this.jump || this.following) return;
		const excess = this.levelMs - this.targetMs;
		if (excess > JUMP_MS && this.gain >= 1) {
			this.startJump();
			return;
		}
		let want = 1;
		if (excess > CATCHUP_DEAD_MS) {
			want = 1 + Math.min(CATCHUP_MAX, (excess - CATCHUP_DEAD_MS) / CATCHUP_MS_PER_PERCENT / 100);
		} else if (excess < -CATCHUP_DEAD_MS) {
			want = 1 - Math.min(SLOWDOWN_MAX, (-excess - CATCHUP_DEAD_MS) / CATCHUP_MS_PER_PERCENT / 100);
		}
		const slew = RATE_SLEW * n / 128;
		this.ratio += Math.max(-slew, Math.min(slew, want - this.ratio));
	}

	/**
	 * Over the target: frames where the music is near-silent (below
	 * QUIET_LEVEL on both sides) are dropped, as many as the reserve is
	 * over the target's dead band. Silence a few milliseconds shorter is
	 * not heard, and the step it leaves is below the same level, where a
	 * faster rate would have to be kept up for tens of seconds.
	 */
	skipQuiet() {
		if (this.fade || this.jump || this.following || this.gain < 1 || this.levelMs === null
			|| this.levelMs <= this.targetMs + CATCHUP_DEAD_MS) return;
		// The smoothed level says whether it is over; the level now, at
		// most, how far (the smoothing lags a backlog that just came).
		const excessMs = Math.max(this.levelMs, this.bufferedMs - this.chunkMs / 2) - this.targetMs;
		const over = Math.floor((excessMs - CATCHUP_DEAD_MS) / 1000 * this.sourceRate);
		if (over < 1) return;
		// The interpolator reads from the frame before the position to two
		// after it: all of those, here and where it lands, must be quiet.
		const first = Math.floor(this.pos) - 1;
		const end = Math.min(first + over + 4, this.written);
		const c = this.capacity, L = this.left, R = this.right;
		let quiet = 0;
		for (let f = first; f < end; f++) {
			const w = f % c;
			if (Math.abs(L[w]) >= QUIET_LEVEL || Math.abs(R[w]) >= QUIET_LEVEL) break;
			quiet++;
		}
		const skip = Math.min(over, quiet - 4);
		if (skip < 1) return;
		this.pos += skip;
		this.quietFrames += skip;
		this.levelMs = Math.max(this.targetMs, this.levelMs - skip / this.sourceRate * 1000);
	}

	/**
	 * Far over the target (the audio clock stalled while audio kept coming,
	 * say): jump ahead to the target with an equal-power crossfade rather
	 * than spend half a minute at a raised pitch, or minutes at an unheard
	 * one. Two moments a fraction of a second apart in slow ambient music
	 * are nearly always the same chord.
	 */
	startJump() {
		this.jumps++;
		const to = this.written - (this.targetMs + this.chunkMs / 2) / 1000 * this.sourceRate;
		const frames = Math.round(JUMP_FADE_MS / 1000 * this.outRate);
		this.jump = { pos: this.pos, left: frames, total: frames };
		// Marks in the skipped stretch become audible, in their new form, now.
		while (this.marks.length && this.marks[0].frame < to) {
			const m = this.marks.shift();
			this.events.push({ type: 'heard', id: m.id, frame: m.frame, offset: 0, skipped: true });
		}
		this.pos = to;
		this.levelMs = null;
	}

	/**
	 * Fills n output frames. Returns nothing; events (heard marks with their
	 * offset in this block, underruns, starts) are left in this.events.
	 */
	render(outL, outR, n) {
		if (this.mode === 'waiting') {
			if (this.waitFrames >= 0) this.waitFrames += n;
			if (this.afterSeam ? this.hasReserve(this.targetMs - this.chunkMs) : this.canStart()) {
				this.afterSeam = false;
				// Audio that piled up while the audio clock was not running
				// (a page too busy to start it, a device slow to open) would
				// hold the reserve over the target for good, to be caught up
				// at a rate nobody hears for a minute (steer): more than a
				// chunk over, start half a chunk over, which settles near the
				// target (canStart).
				this.trimBacklog(this.targetMs + this.chunkMs / 2, this.chunkMs / 2);
				this.mode = 'playing';
				this.gain = 0;
				this.fadeIn(FADE_IN_MS);
				this.levelMs = null;
				this.events.push({ type: 'playing' });
			}
		}
		if (this.mode !== 'playing') {
			outL.fill(0, 0, n);
			outR.fill(0, 0, n);
			return;
		}
		this.steer(n);
		this.skipQuiet();
		const fr = [0, 0];
		const jr = [0, 0];
		const drainAt = FADE_OUT_MS / 1000 * this.outRate;
		const seamAt = SEAM_FADE_MS / 1000 * this.outRate;
		for (let i = 0; i < n; i++) {
			const step = this.baseStep * this.ratio;
			// The old stream's end, where a new one follows: fade to silence
			// at its last frame (taking over a drain's fade, which would end
			// there too).
			if (this.following && (!this.fade || this.fade.reason === 'drain') && this.following.at - this.pos < seamAt * step + 4)
				this.beginFade('seam', SEAM_FADE_MS, this.following.at);
			// Before the audio runs out, fade: the last frames go out at zero
			// gain, so the gap that follows starts in silence.
			if (!this.fade) {
				if (this.available < drainAt * step + 4) this.beginFade('drain', FADE_OUT_MS, this.written);
			} else if (this.fade.reason === 'drain' && this.available >= 2 * drainAt * step + 8) {
				// Audio came in time after all: back up without a gap.
				this.fade = null;
				this.fadeIn(FADE_IN_MS);
			}
			if (this.pos + 2 >= this.written || (this.fade && this.pos + 2 >= this.fade.limit)) {
				// Nothing left to read (only a fade that was cut short gets here).
				outL.fill(0, i, n);
				outR.fill(0, i, n);
				this.endFade(i);
				return;
			}
			this.read(this.pos, fr);
			let l = fr[0], r = fr[1];
			if (this.jump) {
				this.read(this.jump.pos, jr);
				const x = this.jump.left / this.jump.total;        // 1 → 0
				const a = Math.sin((1 - x) * Math.PI / 2), b = Math.cos((1 - x) * Math.PI / 2);
				l = l * a + jr[0] * b;
				r = r * a + jr[1] * b;
				this.jump.pos += step;
				if (--this.jump.left <= 0) this.jump = null;
			}
			outL[i] = l * this.gain;
			outR[i] = r * this.gain;
			if (!this.sounded && (Math.abs(outL[i]) > SOUND_LEVEL || Math.abs(outR[i]) > SOUND_LEVEL)) {
				this.sounded = true;
				this.events.push({ type: 'sound', offset: i });
			}
			this.pos += step;
			this.framesPlayed += step;
			while (this.marks.length && this.marks[0].frame <= this.pos) {
				const m = this.marks.shift();
				this.events.push({ type: 'heard', id: m.id, frame: m.frame, offset: i });
			}
			if (this.gainDelta !== 0) {
				this.gain += this.gainDelta;
				if ((this.gainDelta > 0 && this.gain >= this.gainTarget) || (this.gainDelta < 0 && this.gain <= this.gainTarget)) {
					this.gain = this.gainTarget;
					this.gainDelta = 0;
				}
			}
			if (this.fade && this.gain <= 0) {
				outL.fill(0, i + 1, n);
				outR.fill(0, i + 1, n);
				this.endFade(i + 1);
				return;
			}
		}
	}

	/** A fade to silence is complete: stop, flush or wait for more audio. */
	endFade() {
		const fade = this.fade;
		this.gain = 0;
		if (!fade || fade.reason === 'drain') {
			this.enterWaiting(!this.ending);
		} else if (fade.reason === 'seam') {
			this.crossSeam();
		} else if (fade.reason === 'stop') {
			const marks = this.marks;
			this.finishStop();
			if (fade.restart) {
				// Play came during the fade: what arrived since is the new
				// stream's beginning, and stays, with its marks.
				this.pos = fade.flushTo;
				this.start();
				this.marks = marks.filter((m) => m.frame >= this.pos);
			}
		} else {
			this.pos = Math.max(this.pos, fade.flushTo);
			this.enterWaiting(false);
		}
	}

	/**
	 * The old stream has faded out at its end: on to the newest stream's
	 * first frame. It plays on at once when the target less a chunk of it is
	 * there (an Opus stream's first 0.3 s are a pre-skip short of 300 ms): a
	 * gap now would be certain, while a reserve thinner than a start's
	 * (canStart) only may run dry, and grows meanwhile (steer). If it has
	 * begun to come, it starts as soon as that much is there; if none of it
	 * has, the listener hears a gap anyway, and it waits like any start.
	 * Either way it is no underrun.
	 */
	crossSeam() {
		const { to } = this.following;
		const begun = this.written > to;
		this.following = null;
		this.fade = null;
		this.jump = null;
		this.ending = false;
		this.pos = Math.max(this.pos, to);
		// Marks of a stream passed over (replaced before it was reached).
		while (this.marks.length && this.marks[0].frame < this.pos) {
			const m = this.marks.shift();
			this.events.push({ type: 'heard', id: m.id, frame: m.frame, offset: 0, skipped: true });
		}
		this.ratio = 1;
		this.levelMs = null;
		if (this.hasReserve(this.targetMs - this.chunkMs)) {
			this.trimBacklog(this.targetMs + this.chunkMs / 2, this.chunkMs / 2);
			this.fadeIn(FADE_IN_MS);
			this.events.push({ type: 'playing' });
			return;
		}
		this.enterWaiting(false);
		this.afterSeam = begun;
	}
}
