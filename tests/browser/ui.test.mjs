// tests/browser/ui.test.mjs - what the listening page and the diagnostics
// page show, say and offer, in headless Chromium against a real server
// (websocketd + aur-session): errors in words, settings kept across a
// reload and carried by a shared link, the keyboard, the Media Session, a
// server restarted under the page, the layout on a desktop and a phone
// (with screenshots), the diagnostics page's figures and plots.  Nothing
// here times a listener (page.test.mjs does), so this file may run beside
// others.  One server and one browser for the file; each test opens its
// pages in a context of its own, so that any one of them runs alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
	NETWORK_NOISE, Server, Stat, freePort, play, screenshotPath, serverAndBrowserForFile, stats, until,
} from './harness.mjs';

// One server and one browser for the file; open(t) gives each test its page.
const shared = serverAndBrowserForFile();
const { open } = shared;

test('an error is shown in words', async (t) => {
	const { page } = await open(t);
	await play(page);
	const bpm = await page.inputValue('#bpm');
	// The UI cannot produce a bad value; send one as a page script could.
	await page.evaluate(() => window.auralis.session.send('control', { bpm: 500 }));
	await until(page, () => !document.getElementById('problem').hidden, null, { timeout: 5000, what: 'the error' });
	assert.match(await page.textContent('#problem'), /refused: .*500.*40\.\.120/);
	// The controls show what really plays.
	assert.equal(await page.inputValue('#bpm'), bpm);
	assert.equal((await stats(page)).state, 'playing');
});

/** Sets a slider's value as a listener's move of it does (input, then change). */
const slide = (page, selector, value) => page.$eval(selector, (el, v) => {
	el.value = v;
	el.dispatchEvent(new Event('input'));
	el.dispatchEvent(new Event('change'));
}, value);

test('a reload restores the settings', async (t) => {
	const { page } = await open(t);
	await play(page);
	await page.getByRole('button', { name: /^Sleep/ }).click();
	await slide(page, '#bpm', '47');
	await page.selectOption('#key', 'E');
	await page.selectOption('#mode', 'phrygian');
	await slide(page, '#intensity', '0.62');
	await slide(page, '#volume', '0.55');
	await until(page, () => document.getElementById('now-main').textContent === 'E Phrygian · 47 BPM', null,
		{ timeout: 10000, what: 'the key, mode and tempo to be heard' });
	await page.reload({ waitUntil: 'load' });
	await until(page, () => window.auralis !== undefined, null, { what: 'window.auralis' });
	assert.equal(await page.inputValue('#key'), 'E');
	assert.equal(await page.inputValue('#mode'), 'phrygian');
	assert.equal(await page.inputValue('#bpm'), '47');
	assert.equal(await page.inputValue('#intensity'), '0.62');
	assert.equal(await page.inputValue('#volume'), '0.55');
	// Sleep's sounds, but not Sleep's key and mode: no preset is pressed.
	assert.equal(await page.$$eval('[data-preset][aria-pressed="true"]', (b) => b.length), 0);
	assert.equal((await stats(page)).state, 'stopped');
	// Play starts the session with them: they are in the stream's URL.
	await play(page);
	const url = new URL(await page.evaluate(() => window.auralis.session.streamUrl()));
	assert.deepEqual(Object.fromEntries(url.searchParams),
		{ preset: 'sleep', key: 'E', mode: 'phrygian', bpm: '47', intensity: '0.62', codec: 'opus', kbps: '96' });
	assert.equal(await page.textContent('#now-main'), 'E Phrygian · 47 BPM');
	assert.match(await page.textContent('#now-sub'), /Intensity 62 % · Sleep/);
});

test('stopping and restarting the server: the page reconnects and plays again by itself', async (t) => {
	// A server of its own, which this test stops.
	const own = new Server(await freePort());
	t.after(async () => {
		await own.stop();
		own.cleanup();
	});
	await own.start();
	const { page, problems } = await open(t, { url: own.url });
	await page.selectOption('#key', 'E');
	await page.selectOption('#mode', 'phrygian');
	await play(page);
	await page.evaluate(() => {
		window.states = [];
		window.auralis.session.addEventListener('state', (e) => window.states.push(e.detail.state));
	});
	const before = await stats(page);
	await own.stop();
	await until(page, () => window.auralis.stats().state === 'reconnecting', null, { timeout: 3000, what: 'reconnecting' });
	assert.equal(await page.textContent('#state-word'), 'reconnecting');
	// Down long enough to miss an attempt: the first retry has failed.
	await until(page, () => window.auralis.session.connection.attempt >= 2, null, { timeout: 10000, what: 'a retry missed' });
	await own.start();
	const restarted = Date.now();
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 15000, what: 'playing again' });
	t.diagnostic(`playing again ${Date.now() - restarted} ms after the server came back`);
	const framesAt = (await stats(page)).framesPlayed;
	await until(page, (f) => window.auralis.stats().framesPlayed - f > 0.8 * window.auralis.stats().sampleRate, framesAt,
		{ timeout: 3000, what: 'frames flowing again' });
	const s = await stats(page);
	assert.ok(s.chunksReceived > before.chunksReceived);
	const states = await page.evaluate(() => window.states);
	assert.ok(states.includes('reconnecting') && states.at(-1) === 'playing', states.join(' → '));
	// The new session began with the listener's settings.
	assert.equal(await page.textContent('#now-main'), 'E Phrygian · 72 BPM');
	assert.equal(await page.getByRole('button', { name: 'Stop' }).count(), 1);
	assert.deepEqual(problems.filter((p) => !NETWORK_NOISE.test(p)), []);
});

test('a shared link starts with its settings, says what it ignored, and Copy link makes one', async (t) => {
	const { page: tab, problems } = await open(t, { url: `${shared.server.url}?preset=sleep&key=D&mode=dorian&bpm=50&intensity=0.2` });
	assert.equal(await tab.inputValue('#key'), 'D');
	assert.equal(await tab.inputValue('#mode'), 'dorian');
	assert.equal(await tab.inputValue('#bpm'), '50');
	assert.equal(await tab.inputValue('#intensity'), '0.2');
	assert.match(await tab.textContent('#change'), /Settings from the link/);
	// Play: the stream starts with them (the preset's sounds, the link's values).
	await tab.click('#play');
	const heard = await until(tab, () => window.auralis.session.nowPlaying, null,
		{ timeout: 10000, what: 'now playing' });
	assert.deepEqual(heard, { key: 'D', mode: 'dorian', bpm: 50, intensity: 0.2, preset: 'sleep' });
	await tab.click('#play');
	// Copy link gives the settings as they are now.
	await tab.selectOption('#key', 'F#');
	await tab.click('#share');
	const link = new URL(await until(tab, () => document.getElementById('share-link').value, null, { what: 'the link' }));
	assert.equal(link.search, '?preset=sleep&key=F%23&mode=dorian&bpm=50&intensity=0.2');
	assert.match(await tab.textContent('#share-note'), /Link copied|Copy the link/);
	// Bad values are ignored, with a word each; the good one applies.
	await tab.goto(`${shared.server.url}?key=H&mode=lydian&bpm=500&intensity=2`, { waitUntil: 'load' });
	await until(tab, () => window.auralis !== undefined, null, { what: 'window.auralis' });
	assert.equal(await tab.inputValue('#mode'), 'lydian');
	assert.equal(await tab.inputValue('#key'), 'F#', 'the stored key stays');
	assert.equal(await tab.inputValue('#bpm'), '50');
	const words = await tab.textContent('#change');
	for (const bad of ['key “H”', 'bpm “500”', 'intensity “2”']) assert.ok(words.includes(bad), `${bad} in: ${words}`);
	assert.deepEqual(problems.filter((p) => !NETWORK_NOISE.test(p)), []);
});

test('Play and Stop work from the keyboard', async (t) => {
	const { page } = await open(t);
	await page.focus('#play');
	await page.keyboard.press('Space');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing' });
	await page.keyboard.press('Enter');
	await until(page, () => window.auralis.stats().state === 'stopped', null, { what: 'stopped' });
	assert.equal(await page.getByRole('button', { name: 'Play' }).count(), 1);
	// A visible focus ring on the focused button.
	const ring = await page.$eval('#play', (el) => getComputedStyle(el).boxShadow);
	assert.notEqual(ring, 'none');
});

test('the page\'s keys: Space plays and stops, M mutes, the arrows change the intensity', async (t) => {
	const { page } = await open(t);
	await play(page);
	assert.match(await page.textContent('#keys-help'), /Space.*M.*intensity/);
	assert.ok(await page.isVisible('#keys-help'), 'the keys are said where there is a keyboard');
	// Nothing focused that takes keys itself.
	await page.evaluate(() => document.activeElement?.blur());
	const intensity = Number(await page.inputValue('#intensity'));
	await page.keyboard.press('ArrowRight');
	await until(page, (x) => Number(document.getElementById('intensity').value) === Math.round((x + 0.05) * 100) / 100,
		Math.min(0.95, intensity), { what: 'the intensity up' });
	await until(page, () => /Intensity \d+ % — (sent|acknowledged|heard)/.test(document.getElementById('change').textContent),
		null, { what: 'the change sent' });
	await page.keyboard.press('ArrowLeft');
	await until(page, (x) => Number(document.getElementById('intensity').value) === x, intensity, { what: 'the intensity back' });
	// Heard, so that no later word of it takes the line from the mute's.
	await until(page, (pct) => new RegExp(`^Intensity ${pct} % — heard`).test(document.getElementById('change').textContent),
		Math.round(intensity * 100), { timeout: 5000, what: 'the intensity back heard' });
	await page.keyboard.press('m');
	assert.equal(await page.evaluate(() => window.auralis.session.muted), true);
	assert.match(await page.textContent('#change'), /Muted/);
	await page.keyboard.press('m');
	assert.equal(await page.evaluate(() => window.auralis.session.muted), false);
	await page.keyboard.press('Space');
	await until(page, () => window.auralis.stats().state === 'stopped', null, { what: 'stopped by Space' });
	await page.keyboard.press('Space');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing by Space' });
	// A slider with the focus keeps its arrows: the tempo moves, not the intensity.
	const bpm = Number(await page.inputValue('#bpm'));
	await page.focus('#bpm');
	await page.keyboard.press('ArrowRight');
	assert.equal(Number(await page.inputValue('#bpm')), bpm + 1);
	assert.equal(Number(await page.inputValue('#intensity')), intensity);
});

test('Media Session: what plays, and play, pause and stop from the system', async (t) => {
	const { page } = await open(t);
	await play(page);
	await until(page, () => window.auralis.session.nowPlaying, null, { what: 'what plays' });
	const m = await page.evaluate(() => ({ title: navigator.mediaSession.metadata?.title,
		artist: navigator.mediaSession.metadata?.artist, state: navigator.mediaSession.playbackState,
		now: window.auralis.session.nowPlaying }));
	assert.equal(m.state, 'playing');
	assert.match(m.title, /^Auralis — (Focus|Meditation|Sleep|Bright)$/);
	assert.match(m.artist, /^[A-G][♯♭]? (Ionian|Dorian|Phrygian|Lydian|Mixolydian|Aeolian) · \d+ BPM$/);
	assert.ok(m.artist.endsWith(`${m.now.bpm} BPM`), `${m.artist} for ${JSON.stringify(m.now)}`);
	await page.evaluate(() => window.auralis.media.pause());
	await until(page, () => window.auralis.stats().state === 'stopped' && navigator.mediaSession.playbackState === 'paused',
		null, { what: 'paused from the system' });
	await page.evaluate(() => window.auralis.media.play());
	await until(page, () => window.auralis.stats().state === 'playing' && navigator.mediaSession.playbackState === 'playing',
		null, { timeout: 5000, what: 'playing from the system' });
});

test('screenshots of the listening page, playing', async (t) => {
	// The page as a listener leaves it: playing, a change heard, the waves up.
	const { page, problems } = await open(t);
	await play(page);
	await page.getByRole('button', { name: /^Meditation/ }).click();
	await until(page, () => /^\d+ ms$/.test(document.getElementById('latency').textContent), null,
		{ timeout: 5000, what: 'the latency' });
	await until(page, () => window.auralis.visual.frames > 0 && window.auralis.visual.drawn > 0.2, null,
		{ timeout: 5000, what: 'the waves up' });
	await page.mouse.move(0, 0);
	await page.screenshot({ path: screenshotPath('screenshot-index.png'), fullPage: true });
	// What a laptop shows without scrolling.
	await page.setViewportSize({ width: 1366, height: 768 });
	await page.screenshot({ path: screenshotPath('screenshot-index-desktop.png') });
	assert.deepEqual(problems, []);
});

test('on a phone: no wider than the screen, no keys to speak of, and a tagline that breaks evenly', async (t) => {
	const { page, problems } = await open(t,
		{ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
	await page.screenshot({ path: screenshotPath('screenshot-index-phone.png') });
	// The whole page in a viewport as tall as it is: a fullPage screenshot
	// would lift the touch emulation while it is taken.
	const height = await page.evaluate(() => document.documentElement.scrollHeight);
	await page.setViewportSize({ width: 390, height });
	await page.screenshot({ path: screenshotPath('screenshot-index-phone-full.png') });
	await page.setViewportSize({ width: 390, height: 844 });
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
	assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone`);
	// A touch screen without a pointer that hovers: the keys' line is not shown.
	assert.equal(await page.evaluate(() => matchMedia('(hover: none) and (pointer: coarse)').matches), true);
	assert.equal(await page.isVisible('#keys-help'), false, 'no keys on a phone');
	// The tagline's last line holds more than one word.
	const lines = await page.$eval('.tagline', (el) => {
		const text = el.firstChild, range = document.createRange(), byLine = new Map();
		for (const m of text.data.matchAll(/\S+/g)) {
			range.setStart(text, m.index);
			range.setEnd(text, m.index + m[0].length);
			const top = Math.round(range.getBoundingClientRect().top);
			byLine.set(top, [...(byLine.get(top) ?? []), m[0]]);
		}
		return [...byLine.values()].map((words) => words.join(' '));
	});
	t.diagnostic(`the tagline on a phone: ${lines.map((l) => `"${l}"`).join(' / ')}`);
	assert.ok(lines.at(-1).split(' ').length > 1, `the tagline ends on one word: ${lines.join(' / ')}`);
	assert.deepEqual(problems, []);
});

test('the diagnostics page: its figures, its plots in their units, and aur-stat\'s counters', async (t) => {
	// aur-stat where it is built.
	const stat = new Stat(shared.server.shm);
	t.after(() => stat.stop());
	const statUp = await stat.start();
	if (!statUp) stat.port = await freePort();    // nothing there: the page must say so
	const { page: debug, problems } = await open(t, { url: `${shared.server.url}debug.html?stat=${encodeURIComponent(stat.url)}`,
		viewport: { width: 1280, height: 1100 } });
	await play(debug);
	// Two changes, for a point or two on the latency plot.
	await debug.getByRole('button', { name: 'Bright' }).click();
	await until(debug, () => window.auralis.stats().lastLatencyMs !== null, null, { timeout: 5000, what: 'a latency' });
	await debug.getByRole('button', { name: 'Focus' }).click();
	await until(debug, () => window.auralis.session.nowPlaying?.preset === 'focus', null, { timeout: 5000, what: 'Focus heard' });
	// aur-stat's word: unreachable, or this page's session listed (the first
	// answer, a second after it starts, may list none yet).
	const listed = () => [...document.querySelectorAll('#sessions tbody tr')]
		.filter((row) => row.cells[0].textContent !== 'no session now').length;
	await until(debug, `document.getElementById('stat-state').dataset.ok === 'false' && document.getElementById('stat-state').textContent !== 'waiting for aur-stat…' || (${listed})() > 0`,
		null, { timeout: 10000, what: 'the aur-stat status' });
	// Drawn since (the figures and plots, about eight times a second).
	await until(debug, () => document.getElementById('f-codec').textContent === 'Opus 96 kbit/s', null, { what: 'the figures' });
	await debug.mouse.move(0, 0);
	await debug.screenshot({ path: screenshotPath('screenshot-debug.png'), fullPage: true });
	const statText = await debug.textContent('#stat-state');
	t.diagnostic(`aur-stat ${statUp ? 'running' : 'not built'}: "${statText}"`);
	if (statUp) {
		assert.match(statText, /^updated/);
		const sessions = await debug.evaluate(`(${listed})()`);
		assert.ok(sessions >= 1, `${sessions} sessions listed (this page's)`);
		assert.ok(await debug.isVisible('#counters'));
	} else {
		assert.equal(statText, 'aur-stat unreachable');
		assert.ok(await debug.isVisible('#stat-hint'));
	}
	// aur-stat's address as it is written, not in the heading's capitals.
	assert.equal(await debug.$eval('#stat-url', (el) => getComputedStyle(el).textTransform), 'none');
	const d = await debug.evaluate(() => window.auralis.stats());
	t.diagnostic(`diagnostics page: buffer ${d.bufferMs} ms, target ${d.targetMs} ms, underruns ${d.underruns}, latency ${d.lastLatencyMs} ms`);
	// The stream's coding and what the link carries.
	assert.equal(await debug.textContent('#f-codec'), 'Opus 96 kbit/s');
	assert.match(await debug.textContent('#f-kbps'), /^\d+ kbit\/s$/);
	assert.equal(await debug.textContent('#f-ladder'), '[96] → 64 → 32');
	assert.equal(await debug.textContent('#f-decoder'), 'WebCodecs · 0 errors');
	// Each plot's axis in the unit of what it plots.
	assert.deepEqual(await debug.evaluate(() => Object.fromEntries(Object.entries(window.auralis.plots).map(([k, p]) => [k, p.unit]))),
		{ buffer: 'ms', jitter: 'ms', arrivals: 'ms', link: 'kbit/s', latency: 'ms' });
	assert.deepEqual(problems.filter((p) => !NETWORK_NOISE.test(p)), []);
});
