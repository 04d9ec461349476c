// opus.js - an Opus stream's audio messages turned into float frames: one
// WebCodecs AudioDecoder per stream, fed every packet in order, its output
// trimmed of the encoder's delay (the hello's pre_skip) so that frame
// round(t × 48000) of what comes out is the music at time t, as in a PCM
// stream.
//
// Chromium's decoder, given no description (no OpusHead), drops nothing: the
// first pre_skip frames it gives are the encoder's delay. This module drops
// them itself.
//
// Nothing here touches a browser API at load, and the decoder's classes can
// be handed in: the tests drive it in Node with a stand-in decoder.

/** The configuration the protocol's Opus streams need (protocol.md: hello). */
export const OPUS_CONFIG = Object.freeze({ codec: 'opus', sampleRate: 48000, numberOfChannels: 2 });

/** A decoder this many packets behind (5 s of audio) is stuck. */
const MAX_QUEUE = 250;

/**
 * Can this browser decode the stream? Resolves to true or false, never
 * rejects: WebCodecs exists only on secure pages (https, localhost), and a
 * browser may have it without Opus.
 */
export async function opusSupported(Decoder = globalThis.AudioDecoder) {
	if (typeof Decoder !== 'function' || typeof Decoder.isConfigSupported !== 'function') return false;
	try {
		const r = await Decoder.isConfigSupported({ ...OPUS_CONFIG });
		return r?.supported === true;
	} catch {
		return false;
	}
}

/**
 * One stream's decoder.
 *
 *   new OpusStream({sampleRate, channels, frameMs, preSkip, decodeBase64,
 *                   output(left, right, arrival), end(), error(err)})
 *
 * output gets the kept frames of each decoded packet, in order, as two new
 * Float32Arrays (the caller may transfer them), and the arrival time of the
 * message the packet came in. end() follows the last frame of a stream that
 * ended; error() is called once, after which the stream is closed and says
 * nothing more. The constructor throws when there is no AudioDecoder.
 */
export class OpusStream {
	constructor({ sampleRate = 48000, channels = 2, frameMs = 20, preSkip = 0, decodeBase64,
		output, end = () => {}, error = () => {},
		Decoder = globalThis.AudioDecoder, Chunk = globalThis.EncodedAudioChunk }) {
		if (typeof Decoder !== 'function' || typeof Chunk !== 'function') throw new Error('this browser has no AudioDecoder');
		this.sampleRate = sampleRate;
		this.frameFrames = Math.round(sampleRate * frameMs / 1000);
		this.skipLeft = Math.max(0, Math.round(preSkip));
		this.decodeBase64 = decodeBase64;
		this.onOutput = output;
		this.onEnd = end;
		this.onError = error;
		this.Chunk = Chunk;
		this.closed = false;
		this.packetsIn = 0;          // packets handed to the decoder
		this.framesIn = 0;           // their frames, by frame_ms: the next timestamp
		this.framesOut = 0;          // frames handed on (after the pre-skip)
		this.limit = Infinity;       // frames the stream holds, once it has ended
		this.arrivals = [];          // [timestamp µs, arrival] of packets not yet decoded
		this.decoder = new Decoder({ output: (d) => this.decoded(d), error: (e) => this.fail(e) });
		this.decoder.configure({ codec: 'opus', sampleRate, numberOfChannels: channels });
	}

	/** One audio message (its `packets`), arrived at `arrival`. */
	push(message, arrival) {
		if (this.closed) return;
		try {
			if (!Array.isArray(message.packets)) throw new Error('an audio message without packets');
			for (const text of message.packets) {
				const timestamp = Math.round(this.framesIn * 1e6 / this.sampleRate);
				this.arrivals.push([timestamp, arrival]);
				this.decoder.decode(new this.Chunk({ type: 'key', timestamp, data: this.decodeBase64(text) }));
				this.packetsIn++;
				this.framesIn += this.frameFrames;
			}
			if (this.decoder.decodeQueueSize > MAX_QUEUE) throw new Error('the decoder has fallen 5 s behind');
			if (message.last) this.finish(message);
		} catch (e) {
			this.fail(e);
		}
	}

	/**
	 * The stream's last message: only `frames` of it are music. The frames
	 * the decoder still holds come out on flush, and then the end.
	 */
	finish(message) {
		if (Number.isFinite(message.frames) && Number.isFinite(message.t))
			this.limit = Math.round(message.t * this.sampleRate) + message.frames;
		this.decoder.flush().then(() => {
			if (!this.closed) this.onEnd();
		}, (e) => this.fail(e));
	}

	/**
	 * The stream stops here without a last message (the server sent the
	 * listener on): what the decoder still holds comes out, and no end.
	 */
	drain() {
		if (this.closed) return;
		this.decoder.flush().catch((e) => this.fail(e));
	}

	decoded(data) {
		if (this.closed) {
			data.close();
			return;
		}
		try {
			if (data.sampleRate !== this.sampleRate)
				throw new Error(`the decoder gave ${data.sampleRate} Hz, not ${this.sampleRate}`);
			let arrival = null;
			while (this.arrivals.length && this.arrivals[0][0] <= data.timestamp) arrival = this.arrivals.shift()[1];
			const n = data.numberOfFrames;
			const skip = Math.min(n, this.skipLeft);
			this.skipLeft -= skip;
			const keep = Math.max(0, Math.min(n - skip, this.limit - this.framesOut));
			if (keep > 0) {
				const left = new Float32Array(keep);
				const right = new Float32Array(keep);
				const options = { frameOffset: skip, frameCount: keep, format: 'f32-planar' };
				data.copyTo(left, { ...options, planeIndex: 0 });
				// A mono stream plays on both sides.
				data.copyTo(right, { ...options, planeIndex: data.numberOfChannels > 1 ? 1 : 0 });
				this.framesOut += keep;
				this.onOutput(left, right, arrival);
			}
		} catch (e) {
			this.fail(e);
		} finally {
			data.close();
		}
	}

	fail(e) {
		if (this.closed) return;
		this.close();
		this.onError(e instanceof Error ? e : new Error(String(e?.message ?? e)));
	}

	/** Drops the decoder and whatever it still holds; nothing comes out after. */
	close() {
		if (this.closed) return;
		this.closed = true;
		this.arrivals = [];
		try {
			if (this.decoder.state !== 'closed') this.decoder.close();
		} catch { /* closed already */ }
	}
}
