// tests/browser/visual.test.mjs - the waves that follow the music
// (visual.js): their numbers in Node, and on the listening page against a
// real server: drawn FPS times a second while the music plays,
// following its level; nothing drawn and no timer running when stopped,
// when the page is hidden, or when less motion is asked for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FPS, harmonyHue, shouldRun, smoothLevel } from '../../web/js/visual.js';
import { openPage, play, startServerAndBrowser, stopServerAndBrowser, until } from './harness.mjs';

test('visual.js: the level rises quickly and falls slowly; the hue follows the harmony; when it runs', () => {
	// In time, whatever the frame rate: FPS frames are a second.
	let up = 0;
	for (let i = 0; i < FPS / 2; i++) up = smoothLevel(up, 0.1);
	assert.ok(up > 0.5 && up <= 1, `half a second of music: ${up}`);
	let down = up;
	for (let i = 0; i < FPS; i++) down = smoothLevel(down, 0);
	assert.ok(down > 0.2 && down < up, `a second of silence after: ${down}`);
	assert.equal(smoothLevel(1, 50), 1, 'never past 1');
	const hues = new Set();
	for (const key of ['C', 'G', 'D', 'A', 'F#', 'Bb'])
		for (const mode of ['ionian', 'aeolian']) {
			const h = harmonyHue(key, mode);
			assert.ok(h >= 140 && h <= 270, `${key} ${mode}: ${h}`);
			hues.add(h);
		}
	assert.equal(hues.size, 12, 'each key and mode its own hue');
	assert.ok(Math.abs(harmonyHue('C', 'ionian') - harmonyHue('G', 'ionian')) < 10, 'a fifth apart, near');
	for (const [state, want] of [
		[{ playing: true, hidden: false, reducedMotion: false }, true],
		[{ playing: false, hidden: false, reducedMotion: false }, false],
		[{ playing: true, hidden: true, reducedMotion: false }, false],
		[{ playing: true, hidden: false, reducedMotion: true }, false],
	]) assert.equal(shouldRun(state), want, JSON.stringify(state));
});

let server, browser;
before(async () => {
	({ server, browser } = await startServerAndBrowser());
});
after(() => stopServerAndBrowser({ server, browser }));

async function open(t, options = {}) {
	const context = await browser.newContext(options);
	t.after(() => context.close());
	return openPage(context, server.url);
}

/** Waits until `seconds` more of the stream have played: the music is the clock. */
async function listen(page, seconds) {
	const from = await page.evaluate(() => window.auralis.stats());
	await until(page, ([f, n]) => window.auralis.stats().framesPlayed > f + n, [from.framesPlayed, seconds * from.sampleRate],
		{ timeout: seconds * 1000 + 5000, what: `${seconds} s of music` });
}

const visual = (page) => page.evaluate(() => {
	const v = window.auralis.visual;
	return { running: v.running, frames: v.frames, drawn: v.drawn, hidden: v.canvas.hidden, at: performance.now() };
});

const still = ({ running, frames, hidden }) => ({ running, frames, hidden });

test('while the music plays the waves are drawn FPS times a second, following its level, below the words; Stop stills them', async (t) => {
	const { page, problems } = await open(t);
	assert.deepEqual(still(await visual(page)), { running: false, frames: 0, hidden: true });
	await play(page);
	await until(page, () => window.auralis.visual.drawn > 0.05, null, { what: 'the waves following the music' });
	const a = await visual(page);
	await listen(page, 2);
	const b = await visual(page);
	const fps = (b.frames - a.frames) / ((b.at - a.at) / 1000);
	assert.ok(fps > FPS / 3 && fps <= FPS * 1.2, `${fps.toFixed(1)} frames a second`);
	assert.equal(b.running, true);
	assert.equal(b.hidden, false);
	// A low band along the card's foot, below every line of its words.
	const { band, words } = await page.evaluate(() => ({
		band: document.getElementById('visual').getBoundingClientRect().toJSON(),
		words: [...document.querySelectorAll('.now > :not(canvas)')].map((el) => el.getBoundingClientRect().bottom),
	}));
	assert.ok(band.height > 0 && band.height < 60, `a band ${band.height} px high`);
	assert.ok(Math.max(...words) <= band.top, `the words end at ${Math.max(...words)} px, the waves begin at ${band.top}`);
	// Silence (the level read as 0): the waves settle.
	await page.evaluate(() => { window.auralis.session.player.level = () => 0; });
	await until(page, () => window.auralis.visual.drawn < 0.02, null, { what: 'the waves settling in silence' });
	await page.click('#play');    // Stop
	await until(page, () => window.auralis.stats().state === 'stopped', null, { what: 'stopped' });
	const c = await visual(page);
	assert.equal(c.running, false);
	assert.equal(c.hidden, true);
	assert.deepEqual(problems, []);
});

test('a hidden page draws nothing, and draws again when seen', async (t) => {
	const { page, problems } = await open(t);
	await play(page);
	await until(page, () => window.auralis.visual.frames > 3, null, { what: 'frames drawn' });
	// Hidden, as a tab in the background is: the property and its event.
	const setHidden = (hidden) => page.evaluate((h) => {
		Object.defineProperty(document, 'hidden', { value: h, configurable: true });
		Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
		document.dispatchEvent(new Event('visibilitychange'));
	}, hidden);
	await setHidden(true);
	const a = await visual(page);
	assert.equal(a.running, false);
	await listen(page, 1);
	const b = await visual(page);
	assert.equal(b.frames, a.frames, 'no frame drawn while hidden');
	assert.equal(await page.evaluate(() => window.auralis.stats().state), 'playing', 'the music plays on');
	await setHidden(false);
	await until(page, (f) => window.auralis.visual.frames > f + 3, b.frames, { what: 'frames again once seen' });
	assert.deepEqual(problems, []);
});

test('with prefers-reduced-motion nothing moves, and the waves come when it is lifted', async (t) => {
	const { page, problems } = await open(t, { reducedMotion: 'reduce' });
	await play(page);
	await listen(page, 1);
	assert.deepEqual(still(await visual(page)), { running: false, frames: 0, hidden: true });
	await page.emulateMedia({ reducedMotion: 'no-preference' });
	await until(page, () => window.auralis.visual.frames > 2, null, { what: 'frames once motion is allowed' });
	await page.emulateMedia({ reducedMotion: 'reduce' });
	await until(page, () => !window.auralis.visual.running, null, { what: 'stilled again' });
	assert.equal(await page.evaluate(() => window.auralis.visual.canvas.hidden), true);
	assert.deepEqual(problems, []);
});
