// player.js - the main thread's side of playback: the AudioContext, the
// worklet that plays (worklet.js), volume, and turning audio messages into
// float frames for it.
//
// Base64 decoding and the int16 → float conversion of a PCM stream happen
// here, on the main thread (an Opus stream's frames come from opus.js), and
// the arrays are transferred: the audio thread never parses text.

import { fadeCurve } from './sleep.js';

const WORKLET_URL = new URL('./worklet.js', import.meta.url);

/** Bytes of a base64 string; the native decoder where there is one. */
export function decodeBase64(text) {
	if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
	const bin = atob(text);
	const bytes = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
	return bytes;
}

/**
 * Planar float frames from s16le interleaved bytes: {left, right}. A mono
 * stream plays on both sides; channels beyond two are left out.
 */
export function toPlanar(bytes, channels, frames) {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const n = Math.min(frames ?? Infinity, Math.floor(bytes.byteLength / (2 * channels)));
	const left = new Float32Array(n);
	const right = new Float32Array(n);
	const stride = 2 * channels;
	const second = channels > 1 ? 2 : 0;
	for (let i = 0, o = 0; i < n; i++, o += stride) {
		left[i] = view.getInt16(o, true) / 32768;
		right[i] = view.getInt16(o + second, true) / 32768;
	}
	return { left, right };
}

/** Loudness feels logarithmic: a squared slider gives an even-feeling sweep. */
export function volumeGain(volume) {
	return volume * volume;
}

/**
 * Events: 'worklet' with detail = a message of the processor (status,
 * heard, underrun, playing, waiting, stopped), tagged with `gen`;
 * 'context' with detail {state} when the AudioContext's state changes
 * (the system may suspend it, or 'interrupt' it, for a call).
 */
export class Player extends EventTarget {
	/** contextRate: ask the AudioContext for this rate (for testing the resampler); by default the device's. */
	constructor({ contextRate = null } = {}) {
		super();
		this.requestedRate = contextRate;
		this.ctx = null;
		this.node = null;
		this.gainNode = null;
		this.fadeNode = null;     // the sleep timer's fade, after the volume
		this.analyser = null;     // the worklet's output, for level()
		this.levelBuffer = null;
		this.ready = null;
		this.preparing = null;    // prepare()'s promise: settles when the audio is ready (or could not be)
		this.wanted = false;      // between start() and stop(): a prepared context may run
		this.posted = 0;          // stream frames handed to the worklet, ever
		this.epochBase = 0;       // `posted` when the current stream's chunk 0 came
		this.sourceRate = null;   // the stream's frames per second, from its hello
		this.gen = 0;             // bumped by start, stop and flush; events of older ones are stale
		this.playGen = 0;         // the gen of the latest start
		this.last = null;         // the latest status from the worklet
		this.lastAt = 0;
		this.volume = 0.8;
	}

	/**
	 * Creates the AudioContext and loads the worklet; call it in the click
	 * that starts playback, the gesture that lets the context run. Any
	 * context rate is fine: the worklet resamples.
	 */
	init() {
		if (this.ready) return this.ready;
		if (typeof AudioWorkletNode === 'undefined') {
			// Worklets exist only on secure pages (https, or localhost).
			return (this.ready = Promise.reject(new Error(globalThis.isSecureContext === false
				? 'audio worklets need a secure page: open it over https or from localhost'
				: 'this browser has no AudioWorklet')));
		}
		if (!this.ctx) {
			const options = { latencyHint: 'balanced' };
			if (this.requestedRate) options.sampleRate = this.requestedRate;
			this.ctx = new AudioContext(options);
			const ctx = this.ctx;
			ctx.addEventListener('statechange', () => {
				if (ctx === this.ctx) this.dispatchEvent(new CustomEvent('context', { detail: { state: ctx.state } }));
			});
		}
		this.ready = (async () => {
			try {
				await this.ctx.audioWorklet.addModule(WORKLET_URL);
			} catch (e) {
				// The worklet's script comes from the server, which may be
				// away: nothing of this try is kept, so the next start loads
				// it again. A new context, because a context's worklet keeps
				// a module that failed to load as failed (its module map),
				// whatever the server says later. (A page the listener has
				// clicked may start a context outside a click.)
				this.ready = null;
				const ctx = this.ctx;
				this.ctx = null;
				ctx.close().catch(() => {});
				const error = new Error(`the audio player could not be loaded (${e.message || e})`);
				error.retryable = true;
				throw error;
			}
			this.node = new AudioWorkletNode(this.ctx, 'auralis-player', {
				numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [2],
				processorOptions: this.sourceRate ? { sourceRate: this.sourceRate } : {},
			});
			this.gainNode = new GainNode(this.ctx, { gain: volumeGain(this.volume) });
			this.fadeNode = new GainNode(this.ctx, { gain: 1 });
			this.node.connect(this.gainNode).connect(this.fadeNode).connect(this.ctx.destination);
			// What the music's level is (the page's visual), before the volume.
			this.analyser = new AnalyserNode(this.ctx, { fftSize: 512 });
			this.node.connect(this.analyser);
			this.node.port.onmessage = (e) => this.receive(e.data);
		})();
		return this.ready;
	}

	/**
	 * Creates the AudioContext and loads the worklet ahead of Play, where
	 * the browser allows it: a context made before any gesture is born
	 * suspended, which is all a worklet needs to load; start() resumes it
	 * in the click. One born running (autoplay allowed) is suspended until
	 * then, so an idle page costs nothing. Never throws: what fails here is
	 * tried again by start().
	 */
	prepare() {
		if (this.preparing) return this.preparing;
		let ready;
		try {
			ready = this.init();
		} catch {
			return Promise.resolve(false);
		}
		this.preparing = ready.then(async () => {
			const ctx = this.ctx;
			if (!this.wanted && ctx?.state === 'running') await ctx.suspend().catch(() => {});
			return true;
		}, () => {
			this.preparing = null;
			return false;
		});
		return this.preparing;
	}

	/** The AudioContext's state: 'running', 'suspended', 'interrupted', 'closed'; null before init. */
	get contextState() {
		return this.ctx?.state ?? null;
	}

	/** Asks the context to run again (best from a click); resolves to whether it runs. */
	async resume() {
		if (!this.ctx) return false;
		try {
			await this.ctx.resume();
		} catch { /* the browser refused: still suspended */ }
		return this.ctx.state === 'running';
	}

	get contextRate() {
		return this.ctx?.sampleRate ?? null;
	}

	post(message, transfer) {
		this.node?.port.postMessage(message, transfer);
	}

	receive(m) {
		// Figures from before the latest Play are about another listening.
		if (m.type === 'status' && m.gen >= this.playGen) {
			this.last = m;
			this.lastAt = performance.now();
		}
		this.dispatchEvent(new CustomEvent('worklet', { detail: m }));
	}

	/** Starts (or resumes) playback; must follow init() in a user gesture. */
	async start() {
		this.wanted = true;
		const ready = this.init();
		// resume() at once, still inside the gesture where it is allowed (a
		// context that was suspended by Stop, or born suspended).
		// (A context that will not run now is the 'context' event's to tell.)
		const resumed = this.ctx ? this.ctx.resume().catch(() => {}) : null;
		await ready;
		await resumed;
		this.unfade({ now: true });    // a sleep timer's fade ended the last Play
		this.playGen = ++this.gen;
		this.last = null;
		this.post({ type: 'start', gen: this.gen });
	}

	/** Fades out, then suspends the context so an idle page costs nothing. */
	async stop() {
		this.wanted = false;
		if (!this.node) return;
		const gen = ++this.gen;
		this.post({ type: 'stop', gen });
		await new Promise((resolve) => setTimeout(resolve, 120));   // the 60 ms fade, and margin
		// Unless Play came in the meantime.
		if (this.gen === gen && this.ctx.state === 'running') await this.ctx.suspend();
	}

	/**
	 * A new stream (a new connection's hello): what is left of the old one
	 * goes. With `follow` (the old stream is whole and the server sent the
	 * listener on: protocol.md, bye) it plays out instead, and the new one
	 * follows it, where the rates allow.
	 */
	newStream(sampleRate, chunkMs, { follow = false } = {}) {
		this.gen++;
		if (follow && sampleRate === this.sourceRate) this.post({ type: 'seam', gen: this.gen, frame: this.posted });
		else this.post({ type: 'flush', gen: this.gen });
		this.sourceRate = sampleRate;
		this.post({ type: 'configure', sourceRate: sampleRate, chunkMs });
		this.epochBase = this.posted;
	}

	/** One PCM audio message that arrived at `arrival` (performance.now()). Returns its frames. */
	push(message, arrival = performance.now()) {
		const channels = message.channels || 2;
		const frames = message.last ? message.frames : undefined;
		const { left, right } = toPlanar(decodeBase64(message.data), channels, frames);
		this.pushFrames(left, right, arrival);
		if (message.last) this.end();
		return left.length;
	}

	/**
	 * Planar frames of the current stream, next in order, from audio that
	 * arrived at `arrival`; the arrays are transferred (unusable after).
	 */
	pushFrames(left, right, arrival = performance.now()) {
		this.posted += left.length;
		const ageMs = Math.max(0, performance.now() - (arrival ?? performance.now()));
		this.post({ type: 'pcm', left, right, ageMs }, [left.buffer, right.buffer]);
	}

	/** The stream has ended: what is left plays out. */
	end() {
		this.post({ type: 'end' });
	}

	/** Asks to be told when music time t of the current stream is played. */
	mark(id, t) {
		this.post({ type: 'mark', id, frame: this.epochBase + Math.round(t * this.sourceRate) });
	}

	setTarget(ms) {
		this.post({ type: 'target', ms });
	}

	setVolume(volume) {
		this.volume = volume;
		if (!this.gainNode) return;
		// A short glide: a jump in gain is a click.
		this.gainNode.gain.setTargetAtTime(volumeGain(volume), this.ctx.currentTime, 0.03);
	}

	/**
	 * Fades the music out to silence over `seconds` from now (the sleep
	 * timer, sleep.js): a curve from the gain there is, so nothing clicks.
	 * The volume and mute stay the listener's, on their own node.
	 */
	fadeOut(seconds) {
		if (!this.fadeNode) return;
		const gain = this.fadeNode.gain;
		const t = this.ctx.currentTime;
		const from = gain.value;
		gain.cancelAndHoldAtTime(t);
		// The curve begins a render quantum on, after the held value.
		const start = t + 128 / this.ctx.sampleRate;
		gain.setValueCurveAtTime(fadeCurve(from), start, Math.max(0.05, seconds - (start - t)));
	}

	/** Undoes a fade: back to full in about a second, or at once with `now` (nothing plays). */
	unfade({ now = false } = {}) {
		if (!this.fadeNode) return;
		const gain = this.fadeNode.gain;
		const t = this.ctx.currentTime;
		if (now) {
			gain.cancelScheduledValues(0);
			gain.setValueAtTime(1, t);
			return;
		}
		gain.cancelAndHoldAtTime(t);
		gain.setTargetAtTime(1, t + 128 / this.ctx.sampleRate, 0.3);
	}

	/** The RMS of the latest 512 frames played (before the volume), 0..1; null before init. */
	level() {
		if (!this.analyser) return null;
		this.levelBuffer ??= new Float32Array(this.analyser.fftSize);
		this.analyser.getFloatTimeDomainData(this.levelBuffer);
		let sum = 0;
		for (const x of this.levelBuffer) sum += x * x;
		return Math.sqrt(sum / this.levelBuffer.length);
	}

	/** Frames waiting in the ring now: the last report plus what was sent since. */
	get bufferedMs() {
		if (!this.last || !this.sourceRate) return 0;
		const sent = (this.posted - this.last.written) / this.sourceRate * 1000;
		let played = 0;
		if (this.last.mode === 'playing') played = (performance.now() - this.lastAt) * (this.last.ratio || 1);
		return Math.max(0, this.last.bufferedMs + sent - played);
	}

	/**
	 * performance.now() of the moment a context time is heard: the output
	 * timestamp maps the context's clock to the page's, output latency included.
	 */
	audibleAt(contextTime) {
		const ctx = this.ctx;
		const now = performance.now();
		const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
		if (ts && ts.performanceTime > 0 && ts.contextTime > 0) {
			const at = ts.performanceTime + (contextTime - ts.contextTime) * 1000;
			if (Math.abs(at - now) < 2000) return at;
		}
		// No usable output clock (some headless outputs): how long ago the
		// processor rendered it, and the latency the context reports.
		const latency = (ctx.outputLatency || ctx.baseLatency || 0) * 1000;
		return now - (ctx.currentTime - contextTime) * 1000 + latency;
	}
}
