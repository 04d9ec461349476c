// visual.js - a slow picture that follows the music: three soft waves in a
// low band along the foot of "Now playing", below its words, whose height
// follows the music's level and whose colour follows the harmony heard (the
// key and mode, once a change is heard). The stream carries no chord changes
// (protocol.md): the level is all it hears of the music from moment to moment.
//
// Cheap on purpose: a small canvas drawn FPS times a second from a timer
// (no requestAnimationFrame, which would wake the page at the screen's
// rate), the level read from an AnalyserNode's 512 samples. It runs only
// while the music plays, the page is visible and the listener has not asked
// for less motion (prefers-reduced-motion); otherwise nothing is drawn and
// no timer runs.
//
// The numbers (smoothing, hue) are plain functions, tested in Node.

import { KEYS } from './settings.js';

/**
 * Frames a second: slow music needs no more. What a frame costs is mostly
 * the page's frame (the commit, the compositor), whatever the canvas's size,
 * so the rate is what keeps the waves cheap: about 4 % of a core at ten
 * frames a second in Chromium, about 2 at five (docs/performance.md).
 */
export const FPS = 5;

/**
 * How the drawn level follows the heard one: quick to rise, slow to fall,
 * per frame (at FPS; in time what 0.35 and 0.08 were at ten a second).
 */
const ATTACK = 0.58;
const RELEASE = 0.15;

/** How far the waves drift each frame, radians: half a radian a second. */
const DRIFT = 0.5 / FPS;

/** The level drawn next, from the one drawn now and the RMS heard (0..1). */
export function smoothLevel(drawn, heard) {
	// RMS of soft music is small: about 0.02..0.2. A square root spreads it.
	const target = Math.min(1, Math.sqrt(Math.max(0, heard) * 4));
	return drawn + (target - drawn) * (target > drawn ? ATTACK : RELEASE);
}

const MODE_WARMTH = { lydian: 30, ionian: 20, mixolydian: 10, dorian: 0, aeolian: -10, phrygian: -20 };

/**
 * The waves' hue for a key and mode: keys a fifth apart sit near each other
 * on the circle of fifths, in the page's range of teal to violet (160..250),
 * and brighter modes lean warmer.
 */
export function harmonyHue(key, mode) {
	const step = KEYS.indexOf(key);                     // pitch class; D when unknown
	const fifths = ((step < 0 ? 2 : step) * 7) % 12;    // position on the circle of fifths
	return 160 + fifths * 7 + (MODE_WARMTH[mode] ?? 0);
}

/** Should the waves move now? */
export function shouldRun({ playing, hidden, reducedMotion }) {
	return playing && !hidden && !reducedMotion;
}

export class Visual {
	/**
	 * canvas: where to draw; level(): the RMS heard now (0..1), or null when
	 * there is nothing to read; media: matchMedia, for prefers-reduced-motion.
	 */
	constructor(canvas, { level, doc = document, media = globalThis.matchMedia } = {}) {
		this.canvas = canvas;
		this.level = level;
		this.doc = doc;
		this.motion = media?.('(prefers-reduced-motion: reduce)') ?? null;
		this.playing = false;
		this.drawn = 0;          // the smoothed level, 0..1
		this.hue = harmonyHue('D', 'dorian');
		this.phase = 0;
		this.frames = 0;         // frames drawn, ever (for the tests)
		this.timer = null;
		this.update = () => this.check();
		doc.addEventListener('visibilitychange', this.update);
		this.motion?.addEventListener?.('change', this.update);
	}

	get running() {
		return this.timer !== null;
	}

	/** The music plays (or not): the waves start or stop. */
	setPlaying(playing) {
		this.playing = playing;
		this.check();
	}

	/** The harmony heard now. */
	setHarmony(key, mode) {
		this.hue = harmonyHue(key, mode);
	}

	check() {
		const run = shouldRun({ playing: this.playing, hidden: this.doc.hidden, reducedMotion: !!this.motion?.matches });
		if (run && !this.timer) {
			this.timer = setInterval(() => this.frame(), 1000 / FPS);
			this.canvas.hidden = false;
		} else if (!run && this.timer) {
			clearInterval(this.timer);
			this.timer = null;
		}
		// Stopped, or no motion wanted: nothing is shown (a still picture
		// of a level would say something untrue).
		if (!run) {
			this.drawn = 0;
			this.canvas.hidden = true;
		}
	}

	frame() {
		const heard = this.level?.() ?? 0;
		this.drawn = smoothLevel(this.drawn, heard);
		this.phase += DRIFT;
		this.draw();
		this.frames++;
	}

	draw() {
		const c = this.canvas;
		// The canvas at its CSS size, in device pixels up to 2.
		const scale = Math.min(2, globalThis.devicePixelRatio || 1);
		const w = Math.round(c.clientWidth * scale), h = Math.round(c.clientHeight * scale);
		if (!w || !h) return;
		if (c.width !== w || c.height !== h) {
			c.width = w;
			c.height = h;
		}
		const g = c.getContext('2d');
		g.clearRect(0, 0, w, h);
		g.lineWidth = 1.5 * scale;
		const mid = h * 0.5;
		for (let i = 0; i < 3; i++) {
			const amp = h * (0.06 + 0.32 * this.drawn) * (1 - i * 0.25);
			const k = (2 + i * 0.7) * Math.PI / w;
			const ph = this.phase * (1 + i * 0.35) + i * 1.7;
			g.strokeStyle = `hsla(${this.hue + i * 18}, 60%, 72%, ${0.22 + 0.3 * this.drawn - i * 0.05})`;
			g.beginPath();
			for (let x = 0; x <= w; x += 8 * scale) {
				const y = mid + amp * Math.sin(x * k + ph) * Math.sin(Math.PI * x / w);
				if (x === 0) g.moveTo(x, y);
				else g.lineTo(x, y);
			}
			g.stroke();
		}
	}
}
