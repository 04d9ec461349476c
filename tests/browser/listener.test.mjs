// tests/browser/listener.test.mjs - the listening page's words and state
// against a real server (websocketd + aur-session): audio the system
// suspends is resumed, or said to be paused with a way to resume it; two
// tabs keep each other's settings; nothing stale is left on the page (the
// latency after Stop, "Now playing" in silence, a preset pressed after a
// change by hand); a change made while stopped is answered; the error line
// is in view at 1366×768.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NETWORK_NOISE, openPage, play, startServerAndBrowser, stopServerAndBrowser, until } from './harness.mjs';

let server, browser;

before(async () => {
	({ server, browser } = await startServerAndBrowser());
});

after(() => stopServerAndBrowser({ server, browser }));

/** Frames flow: more played a while after than now. */
async function framesFlow(page, what) {
	const from = await page.evaluate(() => window.auralis.stats().framesPlayed);
	await until(page, (f) => window.auralis.stats().framesPlayed > f + 4800, from, { timeout: 5000, what });
}

test('audio the system suspends plays again, or the page says it is paused and a click resumes it', async (t) => {
	const context = await browser.newContext();
	t.after(() => context.close());
	const { page, problems } = await openPage(context, server.url);
	await play(page);

	// Suspended (a call, the system): the page asks it to run again.
	await page.evaluate(() => window.auralis.session.player.ctx.suspend());
	await until(page, () => window.auralis.session.player.ctx.state === 'running', null,
		{ timeout: 5000, what: 'the context running again' });
	await framesFlow(page, 'frames after the context resumed');
	assert.equal(await page.textContent('#state-word'), 'playing');

	// One that will not run again (a browser that waits for a gesture): said in words.
	await page.evaluate(() => {
		const ctx = window.auralis.session.player.ctx;
		ctx.resume = () => new Promise(() => {});
		return ctx.suspend();
	});
	await until(page, () => window.auralis.stats().state === 'paused', null, { timeout: 5000, what: 'paused' });
	assert.equal(await page.textContent('#state-detail'), 'Audio paused by the system — click to resume');
	assert.equal(await page.textContent('#action'), 'Resume audio');
	assert.notEqual(await page.textContent('#now-heading'), 'Now playing');
	// A click resumes it.
	await page.evaluate(() => { delete window.auralis.session.player.ctx.resume; });
	await page.click('#action');
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 5000, what: 'playing after the click' });
	await framesFlow(page, 'frames after the click');
	assert.equal(await page.isVisible('#action'), false);
	assert.equal(await page.textContent('#now-heading'), 'Now playing');
	assert.deepEqual(problems, []);
});

test('two tabs: each change is kept, and the other tab follows it', async (t) => {
	const context = await browser.newContext();
	t.after(() => context.close());
	const a = await openPage(context, server.url);
	const b = await openPage(context, server.url);
	await a.page.selectOption('#key', 'E');
	// B follows A at once.
	await until(b.page, () => document.getElementById('key').value === 'E', null,
		{ timeout: 5000, what: 'the other tab showing the key' });
	// A change in B, made at the same moment as one in A, overwrites nothing.
	await Promise.all([
		a.page.$eval('#volume', (el) => { el.value = '0.3'; el.dispatchEvent(new Event('input')); }),
		b.page.$eval('#bpm', (el) => { el.value = '60'; el.dispatchEvent(new Event('change')); }),
	]);
	const stored = () => JSON.parse(localStorage.getItem('auralis.settings.v1'));
	await until(a.page, () => {
		const s = JSON.parse(localStorage.getItem('auralis.settings.v1'));
		return s.bpm === 60 && s.volume === 0.3;
	}, null, { timeout: 5000, what: 'both changes stored' });
	assert.deepEqual(await a.page.evaluate(stored), { preset: 'focus', key: 'E', mode: 'dorian', bpm: 60, intensity: 0.45, volume: 0.3 });
	for (const { page } of [a, b]) {
		await until(page, () => document.getElementById('bpm').value === '60' && document.getElementById('volume').value === '0.3'
			&& document.getElementById('key').value === 'E', null, { timeout: 5000, what: 'both tabs showing both changes' });
	}
	// A playing tab's stream follows a change made in the other.
	await play(b.page);
	await a.page.getByRole('button', { name: /^Sleep/ }).click();
	await until(b.page, () => document.getElementById('now-main').textContent === 'A Aeolian · 44 BPM', null,
		{ timeout: 5000, what: 'the preset heard in the other tab' });
	assert.deepEqual([...a.problems, ...b.problems], []);
});

test('nothing stale: the latency after Stop, changes while stopped, "Now playing" in silence, a preset changed by hand', async (t) => {
	const context = await browser.newContext();
	t.after(() => context.close());
	const { page, problems } = await openPage(context, server.url);
	// A change while stopped is answered.
	await page.getByRole('button', { name: /^Focus/ }).click();
	assert.equal(await page.textContent('#change'), 'Preset Focus — kept; heard when you press Play');
	await page.selectOption('#key', 'G');
	assert.equal(await page.textContent('#change'), 'Key G — kept; heard when you press Play');
	// The preset is no longer what plays: its button lets go.
	assert.equal(await page.getAttribute('[data-preset="focus"]', 'aria-pressed'), 'false');
	await page.getByRole('button', { name: /^Focus/ }).click();
	assert.equal(await page.getAttribute('[data-preset="focus"]', 'aria-pressed'), 'true');

	await play(page);
	await page.getByRole('button', { name: /^Bright/ }).click();
	await until(page, () => /^\d+ ms$/.test(document.getElementById('latency').textContent), null,
		{ timeout: 5000, what: 'the latency' });
	assert.equal(await page.textContent('#now-heading'), 'Now playing');

	// The server goes: what was playing is not said to be playing.
	await server.stop();
	await until(page, () => window.auralis.stats().state === 'reconnecting', null, { timeout: 5000, what: 'reconnecting' });
	assert.notEqual(await page.textContent('#now-heading'), 'Now playing');
	assert.equal(await page.getAttribute('.now', 'data-live'), 'false');
	await page.selectOption('#mode', 'lydian');
	assert.equal(await page.textContent('#change'), 'Mode Lydian — kept; heard when the stream is back');
	await server.start();
	await until(page, () => window.auralis.stats().state === 'playing', null, { timeout: 15000, what: 'playing again' });
	assert.equal(await page.textContent('#now-heading'), 'Now playing');
	assert.equal(await page.textContent('#now-main'), 'G Lydian · 96 BPM');

	// Stop: no figures of a stream that is gone.
	await page.click('#play');
	await until(page, () => window.auralis.stats().state === 'stopped', null, { what: 'stopped' });
	assert.equal(await page.textContent('#latency'), '—');
	assert.doesNotMatch(await page.textContent('#change'), /heard \d+ ms/);
	assert.deepEqual(problems.filter((p) => !NETWORK_NOISE.test(p)), []);
});

test('at 1366×768 the error line is in view, by the status', async (t) => {
	const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
	t.after(() => context.close());
	const { page, problems } = await openPage(context, server.url);
	await play(page);
	await page.evaluate(() => window.auralis.session.send('control', { bpm: 500 }));
	await until(page, () => !document.getElementById('problem').hidden, null, { timeout: 5000, what: 'the error' });
	const box = await page.evaluate(() => {
		window.scrollTo(0, 0);
		const r = document.getElementById('problem').getBoundingClientRect();
		return { top: r.top, bottom: r.bottom, height: innerHeight };
	});
	assert.ok(box.bottom <= box.height, `the error line ends at ${Math.round(box.bottom)} px of ${box.height}`);
	assert.deepEqual(problems, []);
});
