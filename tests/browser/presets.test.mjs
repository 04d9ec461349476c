// tests/browser/presets.test.mjs - the pages' presets are the composer's:
// the buttons of index.html and debug.html are those of `aur-compose
// --list-presets` (served as presets.json, as scripts/run serves it), in
// its order, with its labels and values; pressing one sets what it lists.
// Without presets.json the page says so and still plays.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeHarmony } from '../../web/js/settings.js';
import { listPresets, startServerAndBrowser, stopServerAndBrowser, until, watchConsole } from './harness.mjs';

let server, browser;
before(async () => {
	({ server, browser } = await startServerAndBrowser());
});
after(() => stopServerAndBrowser({ server, browser }));

const buttons = (page) => page.$$eval('.preset', (bs) => bs.map((b) => ({
	name: b.dataset.preset,
	label: b.querySelector('.preset-name').textContent,
	hint: b.querySelector('.preset-hint')?.textContent ?? null,
})));

test('the buttons of both pages are the presets of aur-compose --list-presets, and set what it lists', async (t) => {
	const list = listPresets();
	assert.ok(list.length >= 4, 'the composer has its presets');
	assert.deepEqual(await (await fetch(`${server.url}presets.json`)).json(), list, 'presets.json is the list');
	const context = await browser.newContext();
	t.after(() => context.close());
	const page = await context.newPage();
	const problems = watchConsole(page);
	await page.goto(server.url, { waitUntil: 'load' });
	await until(page, () => window.auralis !== undefined, null, { what: 'window.auralis' });
	assert.deepEqual(await buttons(page), list.map((p) => ({ name: p.name, label: p.label,
		hint: `${describeHarmony(p.key, p.mode)} · ${p.bpm}` })));
	assert.equal(await page.isHidden('.presets-note'), true);
	// The default preset's values are the page's first settings.
	const def = list.find((p) => p.default);
	assert.equal(await page.getAttribute(`.preset[data-preset="${def.name}"]`, 'aria-pressed'), 'true');
	for (const p of [...list].reverse()) {
		await page.click(`.preset[data-preset="${p.name}"]`);
		assert.deepEqual(await page.evaluate(() => ({
			key: document.getElementById('key').value, mode: document.getElementById('mode').value,
			bpm: Number(document.getElementById('bpm').value), intensity: Number(document.getElementById('intensity').value),
		})), { key: p.key, mode: p.mode, bpm: p.bpm, intensity: p.intensity }, p.name);
		assert.equal(await page.getAttribute(`.preset[data-preset="${p.name}"]`, 'aria-pressed'), 'true');
	}

	await page.goto(`${server.url}debug.html`, { waitUntil: 'load' });
	await until(page, () => document.querySelectorAll('.preset').length > 0, null, { what: 'the debug page\'s presets' });
	assert.deepEqual(await buttons(page), list.map((p) => ({ name: p.name, label: p.label, hint: null })));
	assert.deepEqual(problems.filter((p) => !/aur-stat|Failed to load resource/.test(p)), []);
});

test('without presets.json the page says so, keeps the stored preset, and plays', async (t) => {
	const context = await browser.newContext();
	t.after(() => context.close());
	await context.route('**/presets.json', (route) => route.fulfill({ status: 404, body: 'not here' }));
	const page = await context.newPage();
	await page.addInitScript(() => {
		localStorage.setItem('auralis.settings.v1', JSON.stringify({ preset: 'sleep', key: 'A', mode: 'aeolian',
			bpm: 44, intensity: 0.1, volume: 0.8 }));
	});
	await page.goto(server.url, { waitUntil: 'load' });
	await until(page, () => window.auralis !== undefined, null, { what: 'window.auralis' });
	assert.equal(await page.locator('.preset').count(), 0);
	assert.equal(await page.isVisible('.presets-note'), true);
	assert.equal(await page.evaluate(() => window.auralis.session.settings.preset), 'sleep');
	await page.click('#play');
	await until(page, () => window.auralis.stats().framesPlayed > 0, null, { timeout: 5000, what: 'playing' });
	assert.match(await page.textContent('#now-sub'), /Sleep$/);
});
