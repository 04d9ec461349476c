// tests/browser/sleep.test.mjs - the sleep timer: its logic in Node
// (sleep.js), and the listening page against a real server, with minutes a
// second long (?sleep-minute=1000, the page's own path at another scale):
// the time left counts down, the music fades over the last "minute" along a
// curve with no step, then the stream stops and closes; a timer chosen while
// stopped waits for Play, Stop turns it off, and Off during the fade brings
// the music back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FADE_MINUTES, SleepTimer, fadeCurve, formatRemaining, parseMinutes } from '../../web/js/sleep.js';
import { openPage, play, startServerAndBrowser, stopServerAndBrowser, until } from './harness.mjs';

test('sleep.js: minutes typed, the time left in words, the phases of a timer', () => {
	for (const [text, want] of [['30', 30], [' 7 ', 7], ['720', 720], ['0', null], ['721', null], ['1.5', null],
		['', null], ['ten', null], [null, null]])
		assert.equal(parseMinutes(text), want, `parseMinutes(${JSON.stringify(text)})`);
	for (const [ms, want] of [[0, '0:00'], [1, '0:01'], [59_001, '1:00'], [899_000, '14:59'], [3_723_000, '1:02:03']])
		assert.equal(formatRemaining(ms), want);

	const timer = new SleepTimer({ minuteMs: 1000 });
	assert.equal(timer.phase(0), 'off');
	timer.set(3);                          // chosen while stopped
	assert.equal(timer.phase(0), 'armed');
	assert.equal(timer.text(0), 'starts with Play');
	assert.equal(timer.begin(10_000), true);
	assert.equal(timer.begin(11_000), false, 'a counting timer does not start again');
	assert.equal(timer.fadeMs, FADE_MINUTES * 1000);
	assert.equal(timer.phase(11_000), 'counting');
	assert.equal(timer.text(11_000), 'stops in 0:02');
	assert.equal(timer.untilFadeMs(11_000), 1000);
	assert.equal(timer.phase(12_500), 'fading');
	assert.equal(timer.text(12_500), 'fading out · 0:01');
	assert.equal(timer.phase(13_000), 'done');
	timer.cancel();
	assert.equal(timer.phase(13_000), 'off');
	// Shorter than a minute of fade: the fade is all of it.
	const short = new SleepTimer({ minuteMs: 60_000 });
	short.set(1, 0);
	assert.equal(short.fadeMs, 60_000);
	assert.equal(short.phase(1), 'fading');
});

test('sleep.js: the fade starts at the gain there is and falls smoothly to silence', () => {
	for (const from of [1, 0.6]) {
		const curve = fadeCurve(from);
		assert.equal(curve[0], Math.fround(from), 'no step at the start');
		assert.equal(curve[curve.length - 1], 0);
		for (let i = 1; i < curve.length; i++) {
			assert.ok(curve[i] <= curve[i - 1], `falls at ${i}`);
			assert.ok(curve[i - 1] - curve[i] <= 2 * from / (curve.length - 1), `no jump at ${i}`);
		}
	}
});

let server, browser;
before(async () => {
	({ server, browser } = await startServerAndBrowser());
});
after(() => stopServerAndBrowser({ server, browser }));

async function openPlaying(t) {
	const context = await browser.newContext();
	t.after(() => context.close());
	return openPage(context, `${server.url}?sleep-minute=1000`);
}

test('the timer counts down, fades the music over its last minute, then stops and closes the stream', async (t) => {
	const { page, problems } = await openPlaying(t);
	await play(page);
	// What leaves the fade, and its gain, every 50 ms until the music stops.
	const samples = page.evaluate(() => new Promise((resolve) => {
		const p = window.auralis.session.player;
		const analyser = new AnalyserNode(p.ctx, { fftSize: 2048 });
		p.fadeNode.connect(analyser);
		const buf = new Float32Array(analyser.fftSize);
		const out = [];
		const start = performance.now();
		const timer = setInterval(() => {
			analyser.getFloatTimeDomainData(buf);
			let sum = 0;
			for (const x of buf) sum += x * x;
			out.push({ ms: performance.now() - start, phase: window.auralis.sleep.phase(performance.now()),
				gain: p.fadeNode.gain.value, rms: Math.sqrt(sum / buf.length),
				state: window.auralis.stats().state, left: document.getElementById('sleep-left').textContent });
			if (window.auralis.stats().state === 'stopped' || out.length > 400) {
				clearInterval(timer);
				resolve({ out, open: window.auralis.session.connection.isOpen });
			}
		}, 50);
	}));
	await page.selectOption('#sleep', 'custom');
	assert.equal(await page.isVisible('#sleep-minutes'), true);
	assert.equal(await page.evaluate(() => document.activeElement.id), 'sleep-minutes', 'the custom time has the focus');
	await page.fill('#sleep-minutes', '3');
	await page.press('#sleep-minutes', 'Enter');
	const setAt = await page.evaluate(() => performance.now());
	const { out, open } = await samples;
	const stoppedAt = await page.evaluate(() => performance.now());

	const counting = out.filter((s) => s.phase === 'counting' && s.state === 'playing');
	const fading = out.filter((s) => s.phase === 'fading');
	assert.ok(counting.length > 10 && fading.length > 8, `counted ${counting.length}, faded ${fading.length} samples`);
	assert.ok(counting.some((s) => s.left === 'stops in 0:02'), 'the time left counts down');
	assert.ok(fading.some((s) => /^fading out · 0:0[01]$/.test(s.left)), 'the fade is said');
	assert.ok(counting.every((s) => s.gain === 1), 'full gain until the fade');
	const loud = Math.max(...counting.map((s) => s.rms));
	assert.ok(loud > 0.001, `the music is heard before the fade (rms ${loud})`);
	// The fade: from about full, never up, down to nearly nothing.
	assert.ok(fading[0].gain > 0.6, `the fade starts near full gain (${fading[0].gain})`);
	for (let i = 1; i < fading.length; i++)
		assert.ok(fading[i].gain <= fading[i - 1].gain + 1e-6, `the gain never rises (${fading[i - 1].gain} → ${fading[i].gain})`);
	const last = fading[fading.length - 1];
	assert.ok(last.gain < 0.05, `near silence at the end (${last.gain})`);
	assert.ok(last.rms < loud * 0.1, `what is heard at the end (${last.rms}) is a tenth of before (${loud}) at most`);
	// Then it stops, about 3 s after it was set, and the stream is closed.
	const took = stoppedAt - setAt;
	assert.ok(took > 2500 && took < 4500, `stopped ${Math.round(took)} ms after the timer was set`);
	assert.equal(open, false, 'the stream is closed');
	assert.equal(await page.textContent('#state-word'), 'stopped');
	assert.equal(await page.textContent('#change'), 'Stopped by the sleep timer');
	assert.equal(await page.inputValue('#sleep'), 'off');
	assert.equal(await page.textContent('#sleep-left'), '');
	// The next Play is heard at full gain.
	await play(page);
	assert.equal(await page.evaluate(() => window.auralis.session.player.fadeNode.gain.value), 1);
	assert.deepEqual(problems, []);
});

test('a timer chosen while stopped starts with Play; Stop turns it off; Off during the fade brings the music back', async (t) => {
	const { page, problems } = await openPlaying(t);
	await page.selectOption('#sleep', '15');
	assert.equal(await page.textContent('#sleep-left'), 'starts with Play');
	await play(page);
	await until(page, () => /^stops in 0:1[45]$/.test(document.getElementById('sleep-left').textContent), null,
		{ what: 'the timer counting from Play' });
	await page.click('#play');    // Stop
	await until(page, () => window.auralis.stats().state === 'stopped', null, { what: 'stopped' });
	assert.equal(await page.textContent('#sleep-left'), '');
	assert.equal(await page.inputValue('#sleep'), 'off');

	// Two "minutes" while playing: the fade starts after one; Off takes it back.
	await play(page);
	await page.selectOption('#sleep', 'custom');
	await page.fill('#sleep-minutes', '2');
	await page.click('#sleep-custom button');
	await until(page, () => window.auralis.session.player.fadeNode.gain.value < 0.8, null,
		{ timeout: 5000, what: 'the fade under way' });
	await page.selectOption('#sleep', 'off');
	await until(page, () => window.auralis.session.player.fadeNode.gain.value > 0.99, null,
		{ timeout: 5000, what: 'the gain back to full' });
	assert.equal(await page.textContent('#sleep-left'), '');
	// Past the time it would have stopped, it still plays.
	const frames = await page.evaluate(() => window.auralis.stats().framesPlayed);
	await until(page, (f) => window.auralis.stats().framesPlayed > f + 2.5 * 44100, frames,
		{ timeout: 8000, what: 'frames past the cancelled stop' });
	assert.equal(await page.textContent('#state-word'), 'playing');
	assert.deepEqual(problems, []);
});
