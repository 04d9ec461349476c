// connection.js - the WebSocket to the stream, and getting it back when it
// goes: exponential backoff 1, 2, 4 … 60 s with ±20 % jitter, so that a
// server coming back after a restart is not met by every listener at once.
// A server that says bye and asks to be connected to again (a node that
// drains, protocol.md: bye) is not a failure: the page connects again at
// once, and waits only if the new connection is sent away too.
//
// While it waits after a failure, it asks the server cheaply whether it is
// there (the caller's probe: an HTTP request of the page) about once a
// second: a server that was seen away and answers again is connected to
// within half a second (a moment drawn at random, so that the listeners of
// a restarted server, whose probes found it back in the same second, do not
// all arrive in the same instant), not at the end of a backoff that may
// have grown to a minute. A
// server that answers HTTP but would not take the WebSocket (websocketd at
// --maxforks answers the upgrade with 429, which a WebSocket cannot tell) is
// said to be full, and the backoff stands.

/** The delay before retry number `attempt` (0 for the first), in ms. */
export function backoffDelay(attempt, random = Math.random) {
	const base = Math.min(60, 2 ** Math.min(attempt, 6)) * 1000;
	return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * A bye this soon after its connection opened is "sent away again at once"
 * (a draining node sends new sessions on as they start). Short: a slow start
 * misjudged costs only a retry without a delay.
 */
export const BYE_SOON_MS = 1000;

/** How often the server is probed while a retry waits, in ms (±20 %). */
export const PROBE_MS = 1000;

/** Once a probe finds the server back, the connection waits 0 to this many ms, at random. */
export const BACK_SPREAD_MS = 500;

/** The wait before connecting to a server a probe found back, in ms. */
export function backDelay(random = Math.random) {
	return Math.round(BACK_SPREAD_MS * random());
}

/**
 * What a probe's answer means while a retry waits, given what the failed
 * attempt did and whether an earlier probe of this wait found the server
 * away: 'now' (it is back: connect at once), 'full' (it answers but did not
 * take the stream: wait out the backoff, and say so), 'wait' (it answers,
 * and the stream was lost after it opened: the backoff stands), 'down'
 * (no answer: ask again soon).
 */
export function probeVerdict({ answered, sawDown, opened }) {
	if (!answered) return 'down';
	if (sawDown) return 'now';
	return opened ? 'wait' : 'full';
}

/**
 * The delay before connecting again after the `byes`-th bye in a row (1 for
 * the first), in ms: none for the first, then 100, 200, 400 … up to 2 s, for
 * a balancer that has not yet seen the node go down.
 */
export function byeDelay(byes) {
	return byes <= 1 ? 0 : Math.min(2000, 100 * 2 ** Math.min(byes - 2, 5));
}

/**
 * Events (all CustomEvents, details in `detail`):
 *   open     {attempt}             the socket is open
 *   message  {message, arrival, bytes}  one parsed JSON message; arrival is
 *                                 performance.now(), bytes its size on the wire
 *   close    {code, reason, clean} the socket closed (not by close())
 *   retry    {delayMs, attempt, at} a new attempt is scheduled at `at` (performance.now())
 *   bad      {text}                a message that was not JSON
 *   server   {answers, full}       what a probe found while a retry waits:
 *                                 the server answers HTTP or not, and whether
 *                                 it answers but refused the stream (full)
 *
 * A bye message is emitted like any other, and then acted on here: with
 * reconnect true the socket is closed and a new one opened at once (or after
 * byeDelay), with no close-and-retry of a failure; otherwise the connection
 * closes for good, as by close().
 */
export class Connection extends EventTarget {
	/**
	 * url: a function giving the URL at each attempt (settings change in
	 * between); probe: an async function that says whether the server
	 * answers (true) or not (false); none: no probing.
	 */
	constructor(url, { random = Math.random, probe = null, probeMs = PROBE_MS } = {}) {
		super();
		this.url = url;
		this.random = random;
		this.probe = probe;
		this.probeMs = probeMs;
		this.probeTimer = null;
		this.probeGen = 0;           // bumped when a wait ends: older probes' answers are stale
		this.waitOpened = false;     // the attempt this wait follows had opened
		this.sawDown = false;        // a probe of this wait found the server away
		this.ws = null;
		this.attempt = 0;
		this.timer = null;
		this.wanted = false;
		this.openedAt = null;        // performance.now() when the current socket opened
		this.byes = 0;               // byes in a row, each soon after its connection opened
		this.onOnline = () => {
			// The network is back: waiting out the rest of a long backoff would
			// only keep the listener in silence.
			if (this.wanted && this.timer !== null) this.retryNow();
		};
	}

	get isOpen() {
		return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
	}

	/** Connects now, and again whenever the connection is lost, until close(). */
	open() {
		this.wanted = true;
		this.attempt = 0;
		this.byes = 0;
		globalThis.addEventListener?.('online', this.onOnline);
		this.connect();
	}

	/** The connection has proved itself (audio flows): the next loss starts again at 1 s. */
	healthy() {
		this.attempt = 0;
	}

	close() {
		this.wanted = false;
		globalThis.removeEventListener?.('online', this.onOnline);
		clearTimeout(this.timer);
		this.timer = null;
		this.stopProbing();
		this.openedAt = null;
		const ws = this.ws;
		this.ws = null;
		if (ws) {
			ws.onmessage = ws.onclose = ws.onerror = null;
			// Closing a socket that is still connecting makes the browser log a
			// failure; let it open, then close it.
			if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000, 'stopped');
			else {
				ws.onopen = null;
				ws.close(1000, 'stopped');
			}
		}
	}

	send(message) {
		if (!this.isOpen) return false;
		this.ws.send(JSON.stringify(message));
		return true;
	}

	/**
	 * Gives up this connection and opens a new one at once, with the URL as
	 * it is now (the stream cannot go on as it is: its decoder failed, or
	 * its bitrate must change sooner than its backlog drains).
	 */
	reconnect(reason = 'starting over') {
		if (!this.wanted) return;
		this.drop(reason);
		this.connect();
	}

	/**
	 * Gives up this connection and tries again after the backoff, as after
	 * a failure (the page could not start its audio: the server that served
	 * it is away, most likely).
	 */
	retryLater(reason = 'trying again later') {
		if (!this.wanted) return;
		const opened = this.openedAt !== null;
		this.drop(reason);
		this.schedule(opened);
	}

	/**
	 * The server said bye (protocol.md). reconnect true: another node takes
	 * over, so connect again to the same URL at once; when this connection
	 * was itself sent away soon after it opened, after byeDelay. Otherwise
	 * the stream is over: no retry.
	 */
	bye(message) {
		if (!this.wanted || !this.ws) return;
		if (message.reconnect !== true) {
			this.close();
			return;
		}
		const soon = this.openedAt !== null && performance.now() - this.openedAt < BYE_SOON_MS;
		this.byes = soon ? this.byes + 1 : 1;
		this.drop('the server said bye');
		const delayMs = byeDelay(this.byes);
		if (delayMs === 0) this.connect();
		else this.timer = setTimeout(() => this.connect(), delayMs);
	}

	/** Lets the current socket go (closing it) and says so; no retry is scheduled. */
	drop(reason) {
		const ws = this.ws;
		this.ws = null;
		this.openedAt = null;
		clearTimeout(this.timer);
		this.timer = null;
		this.stopProbing();
		if (!ws) return;
		ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
		if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000, reason);
		else ws.close(1000, reason);
		this.emit('close', { code: 1000, reason, clean: true });
	}

	/** Connects now rather than at the end of the wait (a "Retry now"). */
	retryNow() {
		if (!this.wanted || this.timer === null) return false;
		clearTimeout(this.timer);
		this.timer = null;
		this.connect();
		return true;
	}

	/** Moves the waiting retry to `delayMs` from now (a server found back). */
	retryIn(delayMs) {
		if (!this.wanted || this.timer === null) return false;
		clearTimeout(this.timer);
		this.timer = setTimeout(() => this.connect(), delayMs);
		this.emit('retry', { delayMs, attempt: this.attempt, at: performance.now() + delayMs });
		return true;
	}

	/** Is a retry waiting? */
	get waiting() {
		return this.wanted && this.timer !== null;
	}

	connect() {
		this.timer = null;
		this.stopProbing();
		let ws;
		try {
			ws = new WebSocket(this.url());
		} catch (e) {
			// A malformed URL: nothing will make it better, but keep the same
			// rhythm as any other failure rather than spinning.
			this.lost({ code: 0, reason: String(e.message || e), wasClean: false });
			return;
		}
		this.ws = ws;
		ws.onopen = () => {
			this.openedAt = performance.now();
			this.emit('open', { attempt: this.attempt });
		};
		ws.onmessage = (e) => {
			const arrival = performance.now();
			// The protocol's messages are JSON, ASCII but for the words of an
			// error: characters are bytes, near enough.
			const bytes = typeof e.data === 'string' ? e.data.length : e.data.byteLength ?? e.data.size ?? 0;
			let message;
			try {
				message = JSON.parse(e.data);
			} catch {
				this.emit('bad', { text: String(e.data).slice(0, 80), bytes });
				return;
			}
			if (!message || typeof message !== 'object') return;
			this.emit('message', { message, arrival, bytes });
			// After the page has heard it (and knows why the close comes).
			if (message.type === 'bye' && this.ws === ws) this.bye(message);
		};
		// A failed connection fires error and then close; close says it all.
		ws.onerror = () => {};
		ws.onclose = (e) => {
			if (this.ws !== ws) return;
			this.ws = null;
			this.lost(e);
		};
	}

	lost(e) {
		const opened = this.openedAt !== null;
		this.openedAt = null;
		this.byes = 0;
		this.emit('close', { code: e.code, reason: e.reason, clean: e.wasClean, opened });
		if (!this.wanted) return;
		this.schedule(opened);
	}

	/** The next attempt after the backoff; meanwhile, probes (see probeVerdict). */
	schedule(opened) {
		const delayMs = backoffDelay(this.attempt, this.random);
		this.attempt++;
		this.timer = setTimeout(() => this.connect(), delayMs);
		this.emit('retry', { delayMs, attempt: this.attempt, at: performance.now() + delayMs });
		if (!this.probe) return;
		this.waitOpened = opened;
		this.sawDown = false;
		this.probeSoon(0);
	}

	probeSoon(delayMs) {
		clearTimeout(this.probeTimer);
		const gen = this.probeGen;
		this.probeTimer = setTimeout(async () => {
			this.probeTimer = null;
			let answered = false;
			try {
				answered = (await this.probe()) === true;
			} catch { /* no answer */ }
			if (gen !== this.probeGen || !this.waiting) return;
			const verdict = probeVerdict({ answered, sawDown: this.sawDown, opened: this.waitOpened });
			if (verdict === 'down') {
				this.sawDown = true;
				this.emit('server', { answers: false, full: false });
				this.probeSoon(Math.round(this.probeMs * (0.8 + 0.4 * this.random())));
			} else {
				this.emit('server', { answers: true, full: verdict === 'full' });
				if (verdict === 'now') this.retryIn(backDelay(this.random));
			}
		}, delayMs);
	}

	stopProbing() {
		this.probeGen++;
		clearTimeout(this.probeTimer);
		this.probeTimer = null;
	}

	emit(type, detail) {
		this.dispatchEvent(new CustomEvent(type, { detail }));
	}
}
