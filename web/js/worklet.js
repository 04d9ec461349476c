// worklet.js - the AudioWorkletProcessor: a thin shell around the playback
// engine (engine.js), which holds the ring buffer on the audio thread.
//
// The main thread decodes (base64 and int16, or Opus) to float before
// frames get here, and transfers the arrays: the audio thread only copies, resamples
// and fades, so nothing heavy can make it miss a deadline.
//
// Port messages in:  {type:'pcm', left, right, ageMs}, {type:'target', ms},
//   {type:'configure', sourceRate, chunkMs}, {type:'start'}, {type:'stop'},
//   {type:'flush'}, {type:'seam', frame}, {type:'end'}, {type:'mark', id, frame}
// Port messages out: {type:'status', ...} every ~50 ms, and at once for
//   {type:'heard', id, frame, time}, {type:'sound', time} (the first frame
//   above -80 dBFS after a start), {type:'underrun'}, {type:'playing'},
//   {type:'waiting'}, {type:'stopped'} (time: AudioContext seconds).
import { PlaybackEngine } from './engine.js';

const STATUS_INTERVAL_S = 0.05;

class AuralisPlayer extends AudioWorkletProcessor {
	constructor(options) {
		super();
		const o = options.processorOptions || {};
		// sampleRate is the AudioContext's rate, a global of the worklet scope.
		// The stream's own rate comes with its hello ('configure').
		this.engine = new PlaybackEngine({ outRate: sampleRate, sourceRate: o.sourceRate || sampleRate,
			chunkMs: o.chunkMs || 100 });
		this.nextStatus = 0;
		this.gen = 0;
		this.port.onmessage = (e) => this.receive(e.data);
	}

	receive(m) {
		const engine = this.engine;
		// start, flush and seam open a new generation: what the engine says from
		// now on is about the new stream, and the main thread can tell it
		// from reports of the old one still on their way.
		if (m.gen !== undefined) this.gen = m.gen;
		switch (m.type) {
		case 'pcm': engine.push(m.left, m.right, m.ageMs); break;
		case 'target': engine.setTarget(m.ms); break;
		case 'configure': engine.configure(m.sourceRate, m.chunkMs); break;
		case 'start': engine.start(); break;
		case 'stop': engine.stop(); break;
		case 'flush': engine.flush(); break;
		case 'seam': engine.seam(m.frame); break;
		case 'end': engine.end(); break;
		case 'mark': engine.mark(m.id, m.frame); break;
		}
		this.flushEvents(currentTime);
	}

	flushEvents(blockTime) {
		const events = this.engine.events;
		if (!events.length) return;
		for (const ev of events) {
			if (ev.type === 'heard' || ev.type === 'sound') {
				// The exact moment, to the sample, at which the frame left the
				// processor; the main thread adds the output latency.
				ev.time = blockTime + ev.offset / sampleRate;
			}
			ev.gen = this.gen;
			this.port.postMessage(ev);
		}
		events.length = 0;
		this.nextStatus = 0;    // a change of state is reported with fresh figures
	}

	status() {
		const e = this.engine;
		this.port.postMessage({
			type: 'status', gen: this.gen, mode: e.mode, time: currentTime, written: e.written, pos: e.pos,
			bufferedMs: e.bufferedMs, underruns: e.underruns, framesPlayed: Math.round(e.framesPlayed),
			ratio: e.ratio, levelMs: e.levelMs, overflowFrames: e.overflowFrames,
			quietFrames: e.quietFrames, jumps: e.jumps,
		});
	}

	process(inputs, outputs) {
		const out = outputs[0];
		const left = out[0];
		const right = out[1] || out[0];
		this.engine.render(left, right, left.length);
		this.flushEvents(currentTime);
		if (currentTime >= this.nextStatus) {
			this.status();
			this.nextStatus = currentTime + STATUS_INTERVAL_S;
		}
		return true;    // alive for the page's life: the engine outputs silence when idle
	}
}

registerProcessor('auralis-player', AuralisPlayer);
