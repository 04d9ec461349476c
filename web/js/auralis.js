// auralis.js - the listener's session: connection, player, buffer tiers,
// settings, acks and latency, tied together. Both pages (index.html and
// debug.html) drive one of these; it knows nothing of the DOM.
//
// Events (CustomEvent, details in `detail`):
//   state    {state, detail, slow, action}  one of STATES, words to go with
//                                it, whether they say the link is too slow, and
//                                what the page's action button offers: 'retry'
//                                (Retry now), 'resume' (audio the system paused)
//                                or null
//   settings {settings}          what the controls should show
//   playing  {key, mode, bpm, intensity, preset}   what is heard now
//   sent     {id, label}         a control or preset went out
//   held     {label, when}       a change not sent now: it starts the next
//                                stream ('play': when Play is pressed,
//                                'back': when the stream is back)
//   ack      {id, label, t}      the server applied it; audible at music time t
//   latency  {id, label, ms}     it was heard, ms after it was sent
//   problem  {message, id}       an error, in words
//   chunk    {seq, arrival, intervalMs, deviationMs, jitterMs}
//   status   {...stats()}        about every 50 ms while playing
//   tier     {name, targetMs}
//   quality  {id, kbps, t}       the server codes at kbps from music time t on
//   started  {ms, phases}        Play → the first audible frame (ms), and when
//                                each step of the start came, ms after Play
import { Connection } from './connection.js';
import { JitterMeter, TierPolicy } from './buffering.js';
import { OpusStream, opusSupported } from './opus.js';
import { Player, decodeBase64 } from './player.js';
import { QualityPolicy, RateMeter, TOO_SLOW_TEXT, chooseCodec } from './quality.js';
import * as settingsStore from './settings.js';
import { PRESETS, MODE_LABELS, KEY_SHORT, applyPreset, presetLabel, streamQuery } from './settings.js';

export const STATES = ['stopped', 'connecting', 'playing', 'buffering', 'reconnecting', 'paused', 'error'];

const PROTOCOL_VERSION = 1;
const CLOSED = Symbol('closed');    // a close, held in order with early messages
const STATS_INTERVAL_MS = 2000;
const QUALITY_TICK_MS = 250;         // how often the bitrate policy looks at the buffer
const DECODER_FAILURES = 2;          // Opus decoder failures in one Play before PCM instead

/** What a listener reads when the server ends the stream for good (a bye without reconnect). */
export const SHUTDOWN_TEXT = 'The server is shutting down';

/** Words for a context the system suspended that would not run again by itself. */
export const PAUSED_TEXT = 'Audio paused by the system — click to resume';

/** How long a suspended context is given to run again by itself before the page says so, in ms. */
export const RESUME_WAIT_MS = 1000;

/**
 * The words beside the state word while no stream is connected: why, and
 * when the next try is (seconds counted down by the caller). `server` is
 * what the latest probe found: null (nothing yet), 'away' or 'full'.
 */
export function waitText({ server = null, retryInMs = null, note = '' }) {
	const why = server === 'full' ? 'the server is full' : server === 'away' ? 'cannot reach the server' : '';
	const when = retryInMs === null ? '' : `trying again in ${Math.max(1, Math.ceil(retryInMs / 1000))} s`;
	return [why, when].filter(Boolean).join(' · ') || note;
}

/** Words for what a control message asked, for the activity line. */
function describe(kind, values) {
	if (kind === 'preset') return `Preset ${presetLabel(values.name)}`;
	const parts = [];
	if (values.key !== undefined) parts.push(`key ${KEY_SHORT[values.key] ?? values.key}`);
	if (values.mode !== undefined) parts.push(`mode ${(MODE_LABELS[values.mode] ?? values.mode).replace(/ \(.*\)$/, '')}`);
	if (values.bpm !== undefined) parts.push(`${values.bpm} BPM`);
	if (values.intensity !== undefined) parts.push(`intensity ${Math.round(values.intensity * 100)} %`);
	const text = parts.join(', ');
	return text.charAt(0).toUpperCase() + text.slice(1);
}

export class Auralis extends EventTarget {
	/**
	 * codec: 'auto' (Opus where the browser decodes it, else PCM), 'opus'
	 * (try it whatever the browser says) or 'pcm'; kbps: the Opus bitrate to
	 * start at, by default the server's (see pageStreamOptions in quality.js).
	 */
	constructor({ storage = globalThis.localStorage, streamPath = 'stream', contextRate = null,
		codec = 'auto', kbps = null } = {}) {
		super();
		this.storage = storage;
		this.settings = settingsStore.load(storage);
		// Another tab's changes, as they are stored.
		globalThis.addEventListener?.('storage', (e) => this.onStorage(e));
		this.streamPath = streamPath;
		this.muted = false;          // the M key: the output silent, the volume kept
		this.player = new Player({ contextRate });
		this.player.volume = this.settings.volume;
		this.player.addEventListener('worklet', (e) => this.onWorklet(e.detail));
		this.player.addEventListener('context', (e) => this.onContext(e.detail.state));
		// While a retry waits, a cheap request of the page says whether the
		// server is back (connection.js).
		this.connection = new Connection(() => this.streamUrl(), { probe: () => this.probeServer() });
		for (const type of ['open', 'message', 'close', 'retry', 'bad', 'server'])
			this.connection.addEventListener(type, (e) => this['on' + type[0].toUpperCase() + type.slice(1)](e.detail));
		// What the link delivers, every byte, as it comes.
		this.meter = new RateMeter();
		for (const type of ['message', 'bad'])
			this.connection.addEventListener(type, (e) => this.meter.add(e.detail.arrival ?? performance.now(), e.detail.bytes));
		this.forcedCodec = codec;
		this.startKbps = kbps;
		// Asked once: the answer does not change while the page lives.
		this.opusSupport = null;     // null until known, then true or false
		this.opusProbe = codec === 'pcm' ? Promise.resolve(false)
			: opusSupported().then((ok) => { this.opusSupport = ok; });
		this.opusFailed = false;     // the decoder failed on this Play: PCM from now on
		this.decoder = null;         // the current Opus stream's OpusStream
		this.decoderErrors = 0;      // since Play
		this.codec = null;           // the current stream's, from its hello
		this.bitrate = null;         // kbit/s of the latest Opus audio message
		this.quality = null;         // the QualityPolicy, from the first hello to Stop
		this.shownTooSlow = false;
		this.restartNote = '';       // why the page connects again, while it does
		this.lastQualityTick = 0;
		this.jitter = new JitterMeter();
		this.tiers = new TierPolicy();
		this.active = false;         // Play pressed and not stopped
		this.fatal = null;           // words of an error that retrying cannot mend
		this.refused = null;         // the server's words when it closed on us without audio
		this.handover = false;       // sent on by a bye: the old stream plays out, the next follows it
		this.ended = null;           // words for a stream the server ended (a bye without reconnect)
		this.connected = false;      // the socket is open and the hello was right
		this.everConnected = false;  // since Play: a later connection is a reconnection
		this.playedThisStream = false;
		this.playerMode = 'idle';
		this.retryAt = null;
		this.retryTimer = null;      // counts the seconds to retryAt down
		this.server = null;          // what the probe found while waiting: null, 'away' or 'full'
		this.audioFailed = false;    // the audio could not start; the next connection tries again
		this.audioStarting = false;
		this.contextPaused = false;  // the system suspended the audio and it did not run again
		this.resumeTimer = null;
		this.nextId = 1;
		this.playToken = 0;
		this.playerReady = false;
		this.early = null;           // messages held while the audio starts
		this.pending = new Map();    // id → {kind, values, label, sentAt, stream, t}
		this.stream = 0;             // counts connections that said hello
		this.chunksReceived = 0;
		this.streamChunks = 0;
		this.lastArrival = null;
		this.underruns = 0;          // since Play
		this.streamUnderruns = 0;    // on this connection, for the server's counters
		this.streamsSincePlay = 0;
		this.lastLatencyMs = null;
		this.nowPlaying = null;
		this.startPhases = null;     // ms after Play: open, hello, audio, ready, playing, sound
		this.startMs = null;         // Play → the first audible frame, once heard
		this.statsTimer = null;
		this.state = 'stopped';
		this.stateDetail = '';
		this.action = null;
	}

	streamUrl() {
		// What this connection's session will start with (see onHello).
		this.urlSettings = { ...this.settings };
		const codec = chooseCodec({ forced: this.forcedCodec, opusSupported: this.opusSupport === true,
			opusFailed: this.opusFailed });
		// A reconnection starts at the rung the ladder had reached.
		const kbps = codec === 'opus' ? (this.quality?.kbps ?? this.startKbps) : null;
		const url = new URL(`${this.streamPath}?${streamQuery(this.settings, { codec, kbps })}`, location.href);
		url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
		return url.href;
	}

	emit(type, detail) {
		this.dispatchEvent(new CustomEvent(type, { detail }));
	}

	// ---- what the page calls ------------------------------------------------

	/**
	 * Prepares the audio (the context, suspended, and the worklet) before
	 * Play, so that Play has only to resume it while the stream connects.
	 * Call it once the page has loaded; it resolves to whether it worked.
	 */
	prepare() {
		return this.player.prepare();
	}

	/**
	 * The settings of a shared link (the page's query string, settings.js
	 * parseShared): what is valid becomes the listener's settings, stored
	 * and shown, so Play starts with them. Returns {values, ignored}.
	 */
	openShared(search) {
		const shared = settingsStore.parseShared(search);
		if (Object.keys(shared.values).length) {
			const before = this.settings;
			this.settings = settingsStore.applyShared(this.settings, shared.values);
			this.save(settingsStore.changedFields(before, this.settings));
			this.emit('settings', { settings: this.settings });
		}
		return shared;
	}

	/** A link to the page that starts with the settings as they are now. */
	shareUrl(base = location.href) {
		const url = new URL(base);
		url.search = settingsStore.shareQuery(this.settings);
		url.hash = '';
		return url.href;
	}

	/** Play. Call it from the click (or key press) itself: it starts the AudioContext. */
	async play() {
		if (this.active) return;
		this.active = true;
		this.fatal = this.refused = this.ended = null;
		this.handover = false;
		this.everConnected = false;
		this.connected = false;
		this.playedThisStream = false;
		this.streamsSincePlay = 0;
		this.underruns = 0;
		this.setRetryAt(null);
		this.server = null;
		this.audioFailed = false;
		this.contextPaused = false;
		this.opusFailed = false;
		this.decoderErrors = 0;
		this.quality = null;
		this.shownTooSlow = false;
		this.restartNote = '';
		this.bitrate = null;
		this.meter.reset();
		this.playAt = performance.now();
		this.startPhases = {};
		this.startMs = null;
		this.updateState();
		// Connect first, then start the audio: creating an AudioContext can
		// hold the main thread for a while (opening the audio device), and the
		// handshake and the first audio come in meanwhile. Messages that
		// arrive before the worklet is ready wait in order (onMessage).
		const token = ++this.playToken;
		this.playerReady = false;
		this.early = [];
		if (this.opusSupport === null && this.forcedCodec !== 'pcm') {
			// The codec is not known yet (a click right at load): ask on.
			this.opusProbe.then(() => {
				if (token === this.playToken && this.active) this.connection.open();
			});
		} else {
			this.connection.open();
		}
		await this.startAudio(token);
	}

	/**
	 * Starts the audio (the context and the worklet) for the Play `token`,
	 * then hands on the messages held meanwhile. The worklet's script comes
	 * from the server: when it cannot be loaded (the server is away), the
	 * connection waits and retries as after any failure, and the audio is
	 * started again when a connection opens (onOpen).
	 */
	async startAudio(token) {
		this.audioStarting = true;
		try {
			await this.player.start();
		} catch (e) {
			if (token !== this.playToken) return;
			this.audioStarting = false;
			if (!e.retryable) {
				this.fatal = 'this browser cannot play the stream';
				this.emit('problem', { id: null, message: `This browser cannot play the stream: ${e.message || e}` });
				this.connection.close();
				this.updateState();
				return;
			}
			this.audioFailed = true;
			this.early = [];
			// A connection that opened meanwhile has nothing to play into.
			if (this.connection.isOpen) this.connection.retryLater('the audio could not start');
			this.updateState();
			return;
		}
		if (token !== this.playToken) return;
		this.audioStarting = false;
		this.audioFailed = false;
		// Stopped (and perhaps started again) meanwhile: that call carries on.
		if (!this.active) return;
		this.phase('ready');
		this.player.setTarget(this.tiers.tier.targetMs);
		// Messages that came while the audio was starting, in order.
		this.playerReady = true;
		const early = this.early;
		this.early = null;
		for (const m of early) {
			if (m === CLOSED) this.onClose();
			else this.onMessage(m);
		}
		clearInterval(this.statsTimer);
		this.statsTimer = setInterval(() => this.sendStats(), STATS_INTERVAL_MS);
	}

	stop() {
		if (!this.active) return;
		this.active = false;
		this.connection.close();
		this.connected = false;
		this.handover = false;
		clearInterval(this.statsTimer);
		this.statsTimer = null;
		this.pending.clear();
		this.closeDecoder();
		this.early = null;
		this.playerReady = false;
		this.playToken++;
		this.setRetryAt(null);
		this.server = null;
		this.audioFailed = this.audioStarting = false;
		this.contextPaused = false;
		clearTimeout(this.resumeTimer);
		this.nowPlaying = null;
		this.emit('playing', null);
		this.player.stop();
		this.updateState();
	}

	/** Changes some of key, mode, bpm, intensity; sends them when connected. */
	change(values) {
		const next = settingsStore.sanitize({ ...this.settings, ...values });
		const sent = {};
		for (const k of ['key', 'mode', 'bpm', 'intensity'])
			if (k in values && next[k] !== this.settings[k]) sent[k] = next[k];
		this.settings = next;
		this.save(Object.keys(sent));
		this.emit('settings', { settings: this.settings });
		if (Object.keys(sent).length) this.sendOrHold('control', sent);
	}

	choosePreset(name) {
		if (!(name in PRESETS)) return;
		this.settings = applyPreset(this.settings, name);
		this.save(['preset', 'key', 'mode', 'bpm', 'intensity']);
		this.emit('settings', { settings: this.settings });
		this.sendOrHold('preset', { name });
	}

	/** Mutes or unmutes (the M key): the volume stays as it is, to come back to. */
	toggleMute() {
		this.muted = !this.muted;
		this.player.setVolume(this.muted ? 0 : this.settings.volume);
		this.emit('mute', { muted: this.muted });
		return this.muted;
	}

	setVolume(volume) {
		this.settings = settingsStore.sanitize({ ...this.settings, volume });
		// Moving the volume is wanting to hear it.
		if (this.muted) {
			this.muted = false;
			this.emit('mute', { muted: false });
		}
		this.player.setVolume(this.settings.volume);
		this.save(['volume']);
	}

	/**
	 * Sends a change the listener made; one that cannot go now starts the
	 * next stream (it is in its URL), and the page says when that will be.
	 */
	sendOrHold(kind, values) {
		if (this.send(kind, values) !== null) return;
		this.emit('held', { label: describe(kind, values), when: this.active ? 'back' : 'play' });
	}

	/**
	 * Another tab of the page changed the stored settings (the storage
	 * event): this one follows, controls and stream alike, as if the
	 * listener had changed them here.
	 */
	onStorage(e) {
		if (e.key !== settingsStore.STORAGE_KEY && e.key !== null) return;
		if (e.storageArea && e.storageArea !== this.storage) return;
		const next = settingsStore.load(this.storage);
		const fields = settingsStore.changedFields(this.settings, next);
		if (!fields.length) return;
		const before = this.settings;
		this.settings = next;
		if (fields.includes('volume') && !this.muted) this.player.setVolume(next.volume);
		this.emit('settings', { settings: this.settings });
		if (!this.connected) return;    // the next connection starts with them
		let base = before;
		if (next.preset !== before.preset) {
			this.send('preset', { name: next.preset });
			base = applyPreset(before, next.preset);
		}
		const diff = {};
		for (const k of ['key', 'mode', 'bpm', 'intensity'])
			if (next[k] !== base[k]) diff[k] = next[k];
		if (Object.keys(diff).length) this.send('control', diff);
	}

	/** The figures the tests and the debug page read. */
	stats() {
		const status = this.player.last;
		return {
			state: this.state,
			bufferMs: Math.round(this.player.bufferedMs),
			targetMs: this.tiers.tier.targetMs,
			underruns: this.underruns,
			chunksReceived: this.chunksReceived,
			framesPlayed: status ? status.framesPlayed : 0,
			sampleRate: this.player.sourceRate,
			jitterMs: Math.round(this.jitter.emaMs * 10) / 10,
			lastLatencyMs: this.lastLatencyMs === null ? null : Math.round(this.lastLatencyMs),
			codec: this.codec,
			kbps: Math.round(this.meter.kbps(performance.now()) * 10) / 10,
			bitrate: this.bitrate,
			tooSlow: this.active && this.quality !== null && this.quality.tooSlow,
		};
	}

	/** More than stats(), for the debug page. */
	details() {
		const status = this.player.last;
		return {
			...this.stats(),
			tier: this.tiers.tier.name,
			contextRate: this.player.contextRate,
			sourceRate: this.player.sourceRate,
			playbackRate: status ? status.ratio : 1,
			levelMs: status ? status.levelMs : null,
			overflowFrames: status ? status.overflowFrames : 0,
			quietFrames: status ? status.quietFrames : 0,
			jumps: status ? status.jumps : 0,
			retryAt: this.retryAt,
			stream: this.stream,
			opusSupported: this.opusSupport,
			ladder: this.quality ? this.quality.rungs : null,
			qualitySteps: this.quality ? this.quality.steps : 0,
			qualityPending: this.quality?.pending ? this.quality.rungs[this.quality.pending.index] : null,
			decoderErrors: this.decoderErrors,
			startMs: this.startMs,
			startPhases: this.startPhases,
		};
	}

	/** Stores these fields of the settings, and only these: another tab may have changed the rest. */
	save(fields) {
		settingsStore.saveFields(this.settings, fields, this.storage);
	}

	// ---- messages out ---------------------------------------------------------

	send(kind, values) {
		if (!this.connected) return null;    // the next connection starts with the settings
		const id = this.nextId++;
		const label = describe(kind, values);
		const message = kind === 'preset' ? { type: 'preset', id, name: values.name } : { type: 'control', id, ...values };
		if (!this.connection.send(message)) return null;
		this.pending.set(id, { kind, values, label, sentAt: performance.now(), stream: this.stream, t: null });
		this.emit('sent', { id, label });
		return id;
	}

	/** Asks the server for another Opus bitrate; the policy counts it when the ack comes. */
	sendQuality(kbps) {
		if (!this.connected) return null;
		const id = this.nextId++;
		if (!this.connection.send({ type: 'quality', id, kbps })) return null;
		this.pending.set(id, { kind: 'quality', values: { kbps }, label: `Bitrate ${kbps} kbit/s`,
			sentAt: performance.now(), stream: this.stream, t: null });
		return id;
	}

	sendStats() {
		if (!this.connected) return;
		const s = this.stats();
		const message = {
			type: 'stats',
			buffer_ms: s.bufferMs,
			// The protocol counts per connection: a count since it opened.
			underruns: this.streamUnderruns,
			jitter_ms: s.jitterMs,
		};
		if (s.lastLatencyMs !== null) message.latency_ms = s.lastLatencyMs;
		this.connection.send(message);
	}

	// ---- the connection -------------------------------------------------------

	/** A step of the start reached at `at` (performance.now()), once per Play. */
	phase(name, at = performance.now()) {
		if (this.startPhases && this.startPhases[name] === undefined)
			this.startPhases[name] = Math.round(at - this.playAt);
	}

	onOpen() {
		this.phase('open');
		this.setRetryAt(null);
		this.server = null;
		// The server is back: the audio that could not start tries again.
		if (this.active && this.audioFailed && !this.audioStarting) {
			this.audioFailed = false;
			this.early = [];
			this.startAudio(this.playToken);
		}
		if (this.active) this.updateState();
	}

	onMessage(detail) {
		if (!this.active) return;
		const type = detail.message.type;
		if (type === 'hello' || type === 'audio') this.phase(type, detail.arrival);
		if (!this.playerReady) {
			// The worklet is loading or the context starting: keep what
			// comes, in order, for play() to hand on.
			this.early?.push(detail);
			return;
		}
		const m = detail.message;
		switch (m.type) {
		case 'hello': return this.onHello(m);
		case 'audio': return this.onAudio(m, detail.arrival);
		case 'ack': return this.onAck(m);
		case 'error': return this.onError(m);
		case 'bye': return this.onBye(m);
		default: return;    // a later minor version may add types: ignore them
		}
	}

	onHello(m) {
		if (m.version !== PROTOCOL_VERSION) {
			this.fatal = 'unknown protocol version';
			this.emit('problem', { id: null, message: `The server speaks protocol version ${m.version}; this page knows version ${PROTOCOL_VERSION}. Reload the page.` });
			this.connection.close();
			this.player.stop();
			this.updateState();
			return;
		}
		// The old stream's decoder goes before the new stream's frames are
		// counted: nothing it still holds may come out after.
		this.closeDecoder();
		this.stream++;
		this.streamsSincePlay++;
		this.connected = true;
		this.everConnected = true;
		this.refused = null;
		this.playedThisStream = false;
		this.streamChunks = 0;
		this.lastArrival = null;
		this.jitter.reset();
		this.chunkMs = m.chunk_ms || 100;
		this.codec = m.codec === 'opus' ? 'opus' : 'pcm';    // a server before Opus says nothing: PCM
		this.bitrate = this.codec === 'opus' && Number.isFinite(m.kbps) ? m.kbps : null;
		const rate = m.sample_rate || (this.codec === 'opus' ? 48000 : 44100);
		// After a bye the old stream is whole: it plays out, and this one follows.
		this.player.newStream(rate, this.chunkMs, { follow: this.handover });
		this.streamUnderruns = 0;
		this.startLadder();
		// The session started with the settings in the URL: that is what plays.
		this.confirmed = { ...(this.urlSettings ?? this.settings) };
		this.pendingStart = true;
		// Anything sent on the old connection will never be acknowledged.
		for (const [id, p] of this.pending) if (p.stream !== this.stream) this.pending.delete(id);
		this.catchUpSettings();
		this.updateState();
		if (this.codec === 'opus') {
			try {
				this.decoder = this.makeDecoder(m, rate);
			} catch (e) {
				this.onDecoderError(e);
			}
		}
	}

	/** The ladder for this stream: kept across reconnections, new when the codec changes. */
	startLadder() {
		if (this.codec === 'opus') {
			if (!this.quality || this.quality.kbps === null)
				this.quality = new QualityPolicy({ top: this.startKbps ?? this.bitrate ?? undefined });
		} else if (!this.quality || this.quality.kbps !== null) {
			this.quality = new QualityPolicy({ top: null });
		}
		this.quality.streamStarted(this.bitrate);
	}

	/** An OpusStream whose frames go to the player while it is the current one. */
	makeDecoder(m, rate) {
		const decoder = new OpusStream({
			sampleRate: rate, channels: m.channels || 2, frameMs: m.frame_ms || 20,
			preSkip: Number.isFinite(m.pre_skip) ? m.pre_skip : 0, decodeBase64,
			output: (left, right, arrival) => {
				if (this.decoder === decoder) this.player.pushFrames(left, right, arrival);
			},
			end: () => {
				if (this.decoder === decoder) this.player.end();
			},
			error: (e) => {
				if (this.decoder === decoder) this.onDecoderError(e);
			},
		});
		return decoder;
	}

	closeDecoder() {
		this.decoder?.close();
		this.decoder = null;
	}

	/**
	 * The decoder failed: drop it and the connection, and connect again. A
	 * browser that fails twice (or has no decoder at all) gets PCM for the
	 * rest of this Play rather than a page stuck in silence.
	 */
	onDecoderError(e) {
		this.decoderErrors++;
		this.closeDecoder();
		if (!this.opusFailed && (this.decoderErrors >= DECODER_FAILURES || typeof AudioDecoder === 'undefined')) {
			this.opusFailed = true;
			this.emit('problem', { id: null, message: `This browser could not decode the Opus stream (${e.message}); it plays uncompressed audio instead.` });
		}
		this.connection.reconnect('the audio could not be decoded');
	}

	/**
	 * Changes made while this connection was being set up (after its URL was
	 * made, before its hello) went nowhere: send them now.
	 */
	catchUpSettings() {
		let base = this.confirmed;
		if (this.settings.preset !== base.preset) {
			this.send('preset', { name: this.settings.preset });
			base = applyPreset(base, this.settings.preset);
		}
		const diff = {};
		for (const k of ['key', 'mode', 'bpm', 'intensity'])
			if (this.settings[k] !== base[k]) diff[k] = this.settings[k];
		if (Object.keys(diff).length) this.send('control', diff);
	}

	onAudio(m, arrival) {
		if (!this.connected) return;
		const opus = this.codec === 'opus';
		if (opus ? !Array.isArray(m.packets) : typeof m.data !== 'string') return;
		const chunkMs = m.duration_ms || this.chunkMs;
		const intervalMs = this.lastArrival === null ? null : arrival - this.lastArrival;
		this.lastArrival = arrival;
		const deviationMs = this.jitter.arrive(arrival, m.t, chunkMs);
		if (opus) {
			if (Number.isFinite(m.kbps)) this.bitrate = m.kbps;
			this.decoder?.push(m, arrival);
		} else {
			this.player.push(m, arrival);
		}
		this.chunksReceived++;
		this.streamChunks++;
		if (this.streamChunks === 1) this.connection.healthy();
		const tier = this.tiers.tier;
		this.tiers.update(this.jitter.emaMs, arrival);
		if (this.tiers.tier !== tier) this.onTier();
		this.emit('chunk', { seq: m.seq, arrival, intervalMs, deviationMs, jitterMs: this.jitter.emaMs });
	}

	onTier() {
		const { name, targetMs } = this.tiers.tier;
		this.player.setTarget(targetMs);
		this.emit('tier', { name, targetMs });
	}

	onAck(m) {
		const p = this.pending.get(m.id);
		if (!p || typeof m.t !== 'number') return;
		if (p.kind === 'quality') {
			// Heard from music time t on; nothing to mark, no latency to
			// measure: the listener asked for nothing.
			this.pending.delete(m.id);
			this.quality?.acked(p.values.kbps, performance.now());
			this.emit('quality', { id: m.id, kbps: p.values.kbps, t: m.t });
			return;
		}
		p.t = m.t;
		this.confirm(p);
		this.player.mark(m.id, m.t);
		this.emit('ack', { id: m.id, label: p.label, t: m.t });
	}

	/** What the server has applied: the truth to fall back on after an error. */
	confirm(p) {
		this.confirmed = p.kind === 'preset' ? applyPreset(this.confirmed, p.values.name) : { ...this.confirmed, ...p.values };
		p.after = { ...this.confirmed };
	}

	onError(m) {
		const p = m.id === null || m.id === undefined ? null : this.pending.get(m.id);
		if (p?.kind === 'quality') {
			// This stream cannot change its bitrate: it plays on as it is.
			this.pending.delete(m.id);
			this.quality?.refused();
			return;
		}
		if (p) {
			this.pending.delete(m.id);
			this.emit('problem', { id: m.id, message: `${p.label} was refused: ${m.message}` });
			// Back to what is really playing, so the controls tell the truth.
			if (this.confirmed) {
				const before = this.settings;
				this.settings = { ...this.confirmed, volume: this.settings.volume };
				this.save(settingsStore.changedFields(before, this.settings));
				this.emit('settings', { settings: this.settings });
			}
			return;
		}
		if (this.streamChunks === 0) this.refused = m.message;
		this.emit('problem', { id: null, message: `The server says: ${m.message}` });
		this.updateState();
	}

	/**
	 * The server is going (protocol.md: bye). reconnect true: the connection
	 * goes on to another node by itself, at once (connection.js); meanwhile
	 * the buffer plays on, and the next stream follows it, so the listener
	 * hears little or no gap and reads no error. Otherwise the stream ends
	 * here, said in words, and only Play starts it again.
	 */
	onBye(m) {
		if (m.reconnect === true) {
			this.handover = true;
			// What the Opus decoder still holds is the stream's last audio.
			this.decoder?.drain();
			this.updateState();
			return;
		}
		this.ended = SHUTDOWN_TEXT;    // the state stop() shows, until the next Play
		this.stop();
	}

	onClose() {
		if (this.active && !this.playerReady && this.early) {
			this.early.push(CLOSED);    // after the messages that came before it
			return;
		}
		if (this.connected) this.quality?.lost(performance.now());
		this.connected = false;
		if (this.active) this.updateState();
	}

	onRetry(detail) {
		this.setRetryAt(detail.at);
		// While the audio starts, the close is still held (onClose): it tells.
		if (this.playerReady || this.audioFailed) this.updateState();
	}

	/** What a probe found while a retry waits (connection.js). */
	onServer(detail) {
		this.server = !detail.answers ? 'away' : detail.full ? 'full' : null;
		if (this.playerReady || this.audioFailed) this.updateState();
	}

	/** The next try is at `at` (performance.now()), or none; the words count down to it each second. */
	setRetryAt(at) {
		this.retryAt = at;
		clearInterval(this.retryTimer);
		this.retryTimer = at === null ? null : setInterval(() => this.updateState(), 250);
	}

	/** "Retry now": connects at once rather than at the end of the wait. */
	retryNow() {
		if (!this.active) return false;
		return this.connection.retryNow();
	}

	/**
	 * Is the server there? A HEAD of this page, never from a cache: cheap,
	 * and served by the same server as the stream.
	 */
	async probeServer() {
		const r = await fetch(location.href, { method: 'HEAD', cache: 'no-store', signal: AbortSignal.timeout(2000) });
		return r.ok;
	}

	onBad(detail) {
		this.emit('problem', { id: null, message: `The server sent something that is not JSON: ${detail.text}` });
	}

	// ---- the audio output -----------------------------------------------------

	/**
	 * The AudioContext's state changed. Suspended or interrupted while
	 * listening (the system took the output: a call, a locked phone): ask
	 * it to run again; if it does not within RESUME_WAIT_MS, say so, and a
	 * click resumes it (resumeAudio). Nothing is heard meanwhile, so
	 * "playing" would be a lie.
	 */
	onContext(state) {
		clearTimeout(this.resumeTimer);
		this.resumeTimer = null;
		if (!this.active || !this.playerReady) return;
		if (state === 'running' || state === 'closed') {
			this.contextPaused = false;
			this.updateState();
			return;
		}
		this.player.resume();
		this.resumeTimer = setTimeout(() => {
			this.resumeTimer = null;
			if (!this.active || this.player.contextState === 'running') return;
			this.contextPaused = true;
			this.updateState();
		}, RESUME_WAIT_MS);
	}

	/** From a click or key press: the audio the system paused runs again. */
	async resumeAudio() {
		if (!this.active) return false;
		const running = await this.player.resume();
		if (running) {
			this.contextPaused = false;
			this.updateState();
		}
		return running;
	}

	// ---- the worklet ----------------------------------------------------------

	onWorklet(m) {
		if (m.gen !== this.player.gen) return;    // about a stream or start that is gone
		switch (m.type) {
		case 'status':
			if (!this.active) break;
			if (performance.now() - this.lastQualityTick >= QUALITY_TICK_MS) this.tickQuality(performance.now());
			this.emit('status', this.details());
			break;
		case 'sound':
			// The first audible frame since Play: how long the start took.
			if (this.active && this.startMs === null) {
				this.phase('sound', this.player.audibleAt(m.time));
				this.startMs = this.startPhases.sound;
				this.emit('started', { ms: this.startMs, phases: { ...this.startPhases } });
			}
			break;
		case 'playing':
			if (this.active) this.phase('playing');
			this.playerMode = 'playing';
			if (this.connected) {
				this.playedThisStream = true;
				this.handover = false;
				this.restartNote = '';
				if (this.pendingStart) {
					this.pendingStart = false;
					this.showPlaying(this.confirmed);
				}
			}
			this.updateState();
			break;
		case 'waiting':
			this.playerMode = 'waiting';
			this.updateState();
			break;
		case 'underrun':
			this.underruns++;
			if (this.connected) this.streamUnderruns++;
			// Only a reserve that ran dry while audio was flowing says the
			// tier is too thin; silence while disconnected says nothing.
			if (this.connected && this.playedThisStream) {
				const before = this.tiers.tier;
				this.tiers.underrun(performance.now());
				if (this.tiers.tier !== before) this.onTier();
				// And perhaps the bitrate too high for the link.
				this.quality?.underrun(performance.now());
				this.applyQuality(performance.now());
			}
			break;
		case 'heard':
			this.onHeard(m);
			break;
		case 'stopped':
			this.playerMode = 'idle';
			break;
		}
	}

	onHeard(m) {
		const p = this.pending.get(m.id);
		if (!p) return;
		this.pending.delete(m.id);
		const ms = this.player.audibleAt(m.time) - p.sentAt;
		this.lastLatencyMs = Math.max(0, ms);
		this.emit('latency', { id: m.id, label: p.label, ms: this.lastLatencyMs });
		if (p.after) this.showPlaying(p.after);
	}

	/** The bitrate policy looks at the buffer now and then. */
	tickQuality(now) {
		this.lastQualityTick = now;
		if (!this.quality) return;
		const playing = this.playerMode === 'playing' && this.playedThisStream;
		const level = this.player.last?.levelMs;
		this.quality.observe(now, {
			flowing: this.connected && this.streamChunks > 0,
			playing,
			// While playing, the engine's smoothed level: a chunk's arrival
			// is no spike, the gap before the next no dip.
			levelMs: playing && typeof level === 'number' ? level : this.player.bufferedMs,
			targetMs: this.tiers.tier.targetMs,
		});
		this.applyQuality(now);
	}

	applyQuality(now) {
		const q = this.quality;
		if (!q) return;
		if (this.connected) {
			const action = q.decide(now);
			if (action?.ask) this.sendQuality(action.ask);
			// The new session starts at the policy's rung (streamUrl).
			if (action?.restart) {
				this.restartNote = `resuming at ${action.restart} kbit/s`;
				this.connection.reconnect('a lower bitrate');
			}
		}
		if (q.tooSlow !== this.shownTooSlow) {
			this.shownTooSlow = q.tooSlow;
			this.updateState();
		}
	}

	showPlaying(s) {
		this.nowPlaying = { key: s.key, mode: s.mode, bpm: s.bpm, intensity: s.intensity, preset: s.preset };
		this.emit('playing', this.nowPlaying);
	}

	// ---- the indicator --------------------------------------------------------

	computeState() {
		if (!this.active) return ['stopped', this.ended ?? ''];
		if (this.fatal) return ['error', this.fatal];
		if (this.contextPaused) return ['paused', PAUSED_TEXT];
		// Moving to another node after a bye, while the old stream still
		// sounds: nothing the listener needs to hear about.
		if (this.handover && this.playerMode === 'playing') return ['playing', this.quality?.tooSlow ? TOO_SLOW_TEXT : ''];
		// Counted down while the wait lasts (a probe or "Retry now" may end it early).
		const retryInMs = this.retryAt === null || !this.connection.waiting ? null : this.retryAt - performance.now();
		if (!this.connected) {
			// The server's words are shown as a problem; the indicator says when it tries again.
			if (this.refused) return ['error', waitText({ retryInMs })];
			return [this.everConnected ? 'reconnecting' : 'connecting',
				waitText({ server: this.server, retryInMs, note: this.restartNote })];
		}
		// A link too slow for even the lowest bitrate is said in words, not
		// left to a "buffering" that never ends.
		const slow = this.quality?.tooSlow ? TOO_SLOW_TEXT : '';
		if (this.playerMode === 'playing' && this.playedThisStream) return ['playing', slow];
		if (this.playedThisStream) return ['buffering', slow];
		if (this.streamsSincePlay > 1) return ['reconnecting', slow || this.restartNote || 'resuming'];
		return ['connecting', slow];
	}

	/** What the page's action button offers now: 'retry', 'resume' or null. */
	computeAction() {
		if (!this.active) return null;
		if (this.contextPaused) return 'resume';
		return this.retryAt !== null && this.connection.waiting ? 'retry' : null;
	}

	updateState() {
		const [state, detail] = this.computeState();
		const action = this.computeAction();
		if (state === this.state && detail === this.stateDetail && action === this.action) return;
		this.state = state;
		this.stateDetail = detail;
		this.action = action;
		this.emit('state', { state, detail, slow: detail === TOO_SLOW_TEXT, action });
	}
}
