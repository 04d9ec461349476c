// tests/browser/install.test.mjs - the listening page as an application:
// its manifest parses (Chromium's own reading of it, with no error and
// nothing missing to install it) and is linked, its icons are what it says;
// the service worker registers and, with the server stopped, serves the
// page's shell, which then says it is offline; what must be fresh (the
// stream, config.json, the HEAD probe) is never kept nor answered from the
// cache; and the note goes once the server is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NETWORK_NOISE, startServerAndBrowser, stopServerAndBrowser, until, watchConsole } from './harness.mjs';

/*
 * The active service worker's script URL, or null when none is active within
 * 10 s (one whose install failed, a shell file missing, never becomes ready).
 */
function workerReady(page) {
	return page.evaluate(() => Promise.race([
		navigator.serviceWorker.ready.then((r) => r.active.scriptURL),
		new Promise((resolve) => setTimeout(() => resolve(null), 10000)),
	]));
}

let server, browser;
before(async () => {
	({ server, browser } = await startServerAndBrowser());
});
after(() => stopServerAndBrowser({ server, browser }));

/** A PNG's width and height, from its IHDR chunk. */
function pngSize(bytes) {
	assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'a PNG signature');
	const view = new DataView(bytes.buffer, bytes.byteOffset);
	return `${view.getUint32(16)}x${view.getUint32(20)}`;
}

test('the manifest parses, is linked, and its icons are what it says', async (t) => {
	const response = await fetch(`${server.url}manifest.json`);
	assert.equal(response.status, 200);
	const manifest = JSON.parse(await response.text());
	assert.equal(manifest.short_name, 'Auralis');
	assert.match(manifest.name, /^Auralis/);
	assert.equal(manifest.display, 'standalone');
	assert.equal(manifest.start_url, './');
	const sizes = [];
	for (const icon of manifest.icons) {
		const r = await fetch(new URL(icon.src, server.url));
		assert.equal(r.status, 200, icon.src);
		const bytes = new Uint8Array(await r.arrayBuffer());
		if (icon.type === 'image/png') {
			assert.equal(pngSize(bytes), icon.sizes, `${icon.src} is ${icon.sizes}`);
			sizes.push(icon.sizes);
		} else {
			assert.equal(icon.type, 'image/svg+xml');
			assert.match(new TextDecoder().decode(bytes), /<svg[^>]*viewBox="0 0 512 512"/);
		}
	}
	assert.deepEqual(sizes.sort(), ['192x192', '512x512']);

	const context = await browser.newContext();
	t.after(() => context.close());
	const page = await context.newPage();
	const problems = watchConsole(page);
	await page.goto(server.url, { waitUntil: 'load' });
	assert.equal(await page.evaluate(() => document.querySelector('link[rel="manifest"]').href), `${server.url}manifest.json`);
	// Chromium's own reading: no error, and nothing keeps it from being installed.
	const cdp = await context.newCDPSession(page);
	const read = await cdp.send('Page.getAppManifest');
	assert.equal(read.url, `${server.url}manifest.json`);
	assert.deepEqual(read.errors, []);
	assert.ok(await workerReady(page), 'the service worker is active within 10 s');
	// A test's browser context is an incognito one, which Chromium never
	// installs from: that one reason aside, nothing may keep the page from
	// being installed (a manifest field, an icon, the service worker).
	const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
	assert.deepEqual(installabilityErrors.filter((e) => e.errorId !== 'in-incognito'), []);
	assert.deepEqual(problems, []);
});

test('with the server stopped the service worker serves the shell, which says it is offline; nothing fresh is kept', async (t) => {
	const context = await browser.newContext();
	t.after(async () => {
		await context.close();
		if (!server.proc) await server.start();    // for the tests after, even when this one failed
	});
	const page = await context.newPage();
	const problems = watchConsole(page);
	await page.goto(server.url, { waitUntil: 'load' });
	assert.equal(await workerReady(page), `${server.url}sw.js`, 'the service worker is active within 10 s');
	// Once the worker controls the page, a stream played and stopped.
	await page.reload({ waitUntil: 'load' });
	assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true);
	assert.equal(await page.isHidden('#offline'), true, 'online: no offline note');
	await page.click('#play');
	await until(page, () => window.auralis.stats().framesPlayed > 0, null, { timeout: 5000, what: 'playing' });
	await page.click('#play');
	const kept = await page.evaluate(async () => {
		const urls = [];
		for (const name of await caches.keys())
			for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
		return urls;
	});
	for (const path of ['/', '/index.html', '/js/index.js', '/js/worklet.js', '/css/auralis.css', '/manifest.json'])
		assert.ok(kept.includes(path), `${path} is kept (${kept.join(' ')})`);
	for (const path of kept)
		assert.doesNotMatch(path, /stream|\/api\/|metrics|config\.json|presets\.json/, `${path} must not be kept`);

	await server.stop();
	// The server away: the page comes from the worker, whole, and says so.
	await page.goto(`${server.url}?preset=sleep`, { waitUntil: 'load' });
	await until(page, () => window.auralis !== undefined, null, { what: 'the page from the cache' });
	assert.equal(await page.title(), 'Auralis — endless ambient music');
	await until(page, () => !document.getElementById('offline').hidden, null, { what: 'the offline note' });
	assert.match(await page.textContent('#offline'), /^Offline/);
	// presets.json is never kept: the page says it has none, and keeps the link's.
	assert.equal(await page.isVisible('.presets-note'), true);
	assert.equal(await page.evaluate(() => window.auralis.session.settings.preset), 'sleep');
	// What must be fresh is not answered from the cache: it fails.
	const fresh = await page.evaluate(async () => {
		const tries = {};
		for (const [name, url, init] of [['config', 'config.json', {}], ['presets', 'presets.json', {}],
			['api', 'api/status', {}], ['probe', location.href, { method: 'HEAD' }]]) {
			try {
				tries[name] = (await fetch(url, init)).status;
			} catch {
				tries[name] = 'failed';
			}
		}
		return tries;
	});
	assert.deepEqual(fresh, { config: 'failed', presets: 'failed', api: 'failed', probe: 'failed' });
	// Play: the page cannot reach the server, and says so.
	await page.click('#play');
	await until(page, () => /cannot reach the server/.test(document.getElementById('state-detail').textContent), null,
		{ timeout: 10000, what: '"cannot reach the server"' });

	// The server back: the music comes and the note goes.
	await server.start();
	await until(page, () => window.auralis.stats().framesPlayed > 0, null, { timeout: 15000, what: 'playing again' });
	assert.equal(await page.isHidden('#offline'), true, 'the offline note is gone');
	assert.deepEqual(problems.filter((p) => !NETWORK_NOISE.test(p)), []);
});
