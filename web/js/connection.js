// connection.js - the WebSocket to the stream, and getting it back when it
// goes: exponential backoff 1, 2, 4 … 60 s with ±20 % jitter, so that a
// server coming back after a restart is not met by every listener at once.

/** The delay before retry number `attempt` (0 for the first), in ms. */
export function backoffDelay(attempt, random = Math.random) {
	const base = Math.min(60, 2 ** Math.min(attempt, 6)) * 1000;
	return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * Events (all CustomEvents, details in `detail`):
 *   open     {attempt}             the socket is open
 *   message  {message, arrival, bytes}  one parsed JSON message; arrival is
 *                                 performance.now(), bytes its size on the wire
 *   close    {code, reason, clean} the socket closed (not by close())
 *   retry    {delayMs, attempt, at} a new attempt is scheduled at `at` (performance.now())
 *   bad      {text}                a message that was not JSON
 */
export class Connection extends EventTarget {
	/** url: a function giving the URL at each attempt (settings change in between). */
	constructor(url, { random = Math.random } = {}) {
		super();
		this.url = url;
		this.random = random;
		this.ws = null;
		this.attempt = 0;
		this.timer = null;
		this.wanted = false;
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
		const ws = this.ws;
		this.ws = null;
		clearTimeout(this.timer);
		this.timer = null;
		if (ws) {
			ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
			if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000, reason);
			else ws.close(1000, reason);
			this.emit('close', { code: 1000, reason, clean: true });
		}
		this.connect();
	}

	retryNow() {
		clearTimeout(this.timer);
		this.timer = null;
		this.connect();
	}

	connect() {
		this.timer = null;
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
		ws.onopen = () => this.emit('open', { attempt: this.attempt });
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
			if (message && typeof message === 'object') this.emit('message', { message, arrival, bytes });
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
		this.emit('close', { code: e.code, reason: e.reason, clean: e.wasClean });
		if (!this.wanted) return;
		const delayMs = backoffDelay(this.attempt, this.random);
		this.attempt++;
		this.timer = setTimeout(() => this.connect(), delayMs);
		this.emit('retry', { delayMs, attempt: this.attempt, at: performance.now() + delayMs });
	}

	emit(type, detail) {
		this.dispatchEvent(new CustomEvent(type, { detail }));
	}
}
