// tests/browser/harness.mjs - what the browser tests share: a websocketd
// serving web/ and the stream as scripts/run starts it, and Debian's
// Chromium driven by playwright-core.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD = process.env.AURALIS_BUILD || join(ROOT, 'build');
export const CHROMIUM = process.env.AURALIS_CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/** The presets as the composer has them: `aur-compose --list-presets`, parsed. */
export function listPresets() {
	return JSON.parse(execFileSync(join(BUILD, 'aur-compose'), ['--list-presets'], { encoding: 'utf8' }));
}

/**
 * A directory to serve as the pages, as scripts/run makes one: a link to
 * each entry of web/, and presets.json from `aur-compose --list-presets`.
 * Remove it with rmSync(dir, {recursive: true}).
 */
export function webDir() {
	const dir = mkdtempSync(join(tmpdir(), 'auralis-web-'));
	for (const name of readdirSync(join(ROOT, 'web'))) symlinkSync(join(ROOT, 'web', name), join(dir, name));
	writeFileSync(join(dir, 'presets.json'), execFileSync(join(BUILD, 'aur-compose'), ['--list-presets']));
	return dir;
}

/** Is anything left in process group `pgid`? */
function groupAlive(pgid) {
	try {
		process.kill(-pgid, 0);
		return true;
	} catch (e) {
		return e.code === 'EPERM';
	}
}

/**
 * websocketd on 127.0.0.1:port with scripts/aur-session at /stream. It runs
 * in a process group of its own, which its sessions inherit: stopping the
 * server waits until the whole group is gone, so no session outlives a test.
 */
export class Server {
	/** args: more websocketd options (say --maxforks=1, for a server that is full). */
	constructor(port, { args = [] } = {}) {
		this.port = port;
		this.args = args;
		this.shm = `/auralis-browser-${process.pid}`;
		this.proc = null;
		this.log = '';
		this.web = null;     // the pages it serves (webDir), made at the first start
	}

	get url() {
		return `http://127.0.0.1:${this.port}/`;
	}

	async start() {
		for (const tool of ['aur-compose', 'aur-render', 'aur-chunk']) {
			if (!existsSync(join(BUILD, tool)))
				throw new Error(`${BUILD}/${tool} is missing: build first (ninja -C build)`);
		}
		this.web ??= webDir();
		const env = {
			...process.env,
			AURALIS_BIN: BUILD,
			AURALIS_SHM: this.shm,
			AURALIS_SOUNDFONT: process.env.AURALIS_SOUNDFONT || '/usr/share/sounds/sf2/TimGM6mb.sf2',
		};
		this.proc = spawn('websocketd', [
			'--address=127.0.0.1', `--port=${this.port}`,
			`--staticdir=${this.web}`, `--dir=${join(ROOT, 'scripts', 'ws')}`,
			'--loglevel=error',
			'--passenv=PATH,AURALIS_SHM,AURALIS_SOUNDFONT,AURALIS_BIN,ASAN_OPTIONS,UBSAN_OPTIONS',
			...this.args,
		], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
		const keep = (d) => { this.log = (this.log + d).slice(-4000); };
		this.proc.stdout.on('data', keep);
		this.proc.stderr.on('data', keep);
		this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
		for (let i = 0; i < 100; i++) {
			try {
				const r = await fetch(this.url);
				if (r.ok) return;
			} catch { /* not listening yet */ }
			if (this.proc.exitCode !== null) break;
			await sleep(50);
		}
		throw new Error(`websocketd did not start on port ${this.port}: ${this.log}`);
	}

	/** Stops websocketd and waits until every session it ran has ended. */
	async stop() {
		const proc = this.proc;
		if (!proc) return;
		this.proc = null;
		const pgid = proc.pid;
		try {
			process.kill(pgid, 'SIGTERM');
		} catch { /* already gone */ }
		await Promise.race([this.exited, sleep(5000)]);
		// Its sessions end on their own once their connections are closed.
		for (let i = 0; i < 100 && groupAlive(pgid); i++) await sleep(50);
		if (groupAlive(pgid)) {
			try {
				process.kill(-pgid, 'SIGKILL');
			} catch { /* gone meanwhile */ }
			throw new Error('session processes were still running 5 s after websocketd stopped');
		}
	}

	cleanup() {
		rmSync(`/dev/shm${this.shm}`, { force: true });
		if (this.web) rmSync(this.web, { recursive: true, force: true });
		this.web = null;
	}
}

/**
 * aur-stat on a free port over the server's counters, when it is built
 * (start() gives false when it is not: the tests then expect the page to say
 * that it is unreachable).
 */
export class Stat {
	constructor(shm) {
		this.shm = shm;
		this.proc = null;
		this.port = null;
	}

	get url() {
		return `http://127.0.0.1:${this.port}`;
	}

	async start() {
		const bin = join(BUILD, 'aur-stat');
		if (!existsSync(bin)) return false;
		this.port = await freePort();
		this.proc = spawn(bin, ['--address', '127.0.0.1', '--port', String(this.port)],
			{ env: { ...process.env, AURALIS_SHM: this.shm }, stdio: 'ignore' });
		this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
		for (let i = 0; i < 100; i++) {
			try {
				if ((await fetch(`${this.url}/api/metrics`)).ok) return true;
			} catch { /* not listening yet */ }
			if (this.proc.exitCode !== null) break;
			await sleep(50);
		}
		await this.stop();
		return false;
	}

	async stop() {
		if (!this.proc) return;
		this.proc.kill('SIGTERM');
		await Promise.race([this.exited, sleep(3000)]);
		if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
		this.proc = null;
	}
}

/** Debian's Chromium, headless, with audio allowed to start. */
export function launchBrowser() {
	if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
	return chromium.launch({
		executablePath: CHROMIUM,
		args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox', '--disable-gpu',
			'--disable-background-networking', '--disable-component-update', '--disable-sync',
			'--no-first-run', '--disable-quic', '--use-fake-ui-for-media-stream'],
	});
}

/** Console errors, warnings and page errors of a page, as text. */
/**
 * A server on a free port and a browser, for a test file's `before`; stop
 * both with stopServerAndBrowser in its `after`.  A browser that cannot
 * start stops the server it would have used.
 */
export async function startServerAndBrowser() {
	const server = new Server(await freePort());
	await server.start();
	try {
		return { server, browser: await launchBrowser() };
	} catch (err) {
		await server.stop();
		server.cleanup();
		throw err;
	}
}

/** Stops what startServerAndBrowser started, whichever part of it did start. */
export async function stopServerAndBrowser({ server, browser }) {
	await browser?.close();
	await server?.stop();
	server?.cleanup();
}

/**
 * One server and one browser for a test file: started in its `before`,
 * stopped in its `after`.  Returns { server, browser, open }: the first two
 * are set once started; open(t, { url, ...options }) opens the listening
 * page (or url) in a context of its own, as openOwn does.
 */
export function serverAndBrowserForFile() {
	const shared = { server: null, browser: null };
	before(async () => Object.assign(shared, await startServerAndBrowser()));
	after(() => stopServerAndBrowser(shared));
	shared.open = (t, { url = shared.server.url, ...options } = {}) => openOwn(t, shared.browser, url, options);
	return shared;
}

/** The page's own figures (window.auralis.stats()). */
export const stats = (page) => page.evaluate(() => window.auralis.stats());

/**
 * What the browser logs while a server is away, and for failed fetches of
 * an absent aur-stat: failed WebSocket attempts and failed loads, expected
 * then and only then (a file that expects more, or less, says its own).
 */
export const NETWORK_NOISE = /WebSocket connection to .* failed|Failed to load resource|ERR_CONNECTION_REFUSED/;

export function watchConsole(page) {
	const problems = [];
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
	return problems;
}

export function screenshotPath(name) {
	mkdirSync(BUILD, { recursive: true });
	return join(BUILD, name);
}

/**
 * Emulates a link of `kbps` kbit/s each way with `latencyMs` of round trip
 * for the page (Chromium's DevTools throttling, which applies to WebSocket
 * frames too); kbps null lifts it. Returns the CDP session.
 */
export async function emulateLink(page, { kbps = null, latencyMs = 0 } = {}, cdp = null) {
	cdp ??= await page.context().newCDPSession(page);
	await cdp.send('Network.enable');
	const rate = kbps === null ? -1 : kbps * 1000 / 8;    // bytes per second; -1: no limit
	await cdp.send('Network.emulateNetworkConditions', {
		offline: false, latency: kbps === null ? 0 : latencyMs, downloadThroughput: rate, uploadThroughput: rate,
	});
	return cdp;
}

/** Polls fn (in the page) until it gives something truthy; returns it. */
export async function until(page, fn, arg, { timeout = 10000, what = 'a condition' } = {}) {
	const handle = await page.waitForFunction(fn, arg, { timeout, polling: 50 }).catch(async (e) => {
		const stats = await page.evaluate(() => window.auralis?.stats()).catch(() => null);
		throw new Error(`waiting for ${what}: ${e.message.split('\n')[0]}; stats ${JSON.stringify(stats)}`);
	});
	return handle.jsonValue();
}

/**
 * Opens url in a new page of context (at viewport, when given), watching its
 * console; resolves once the page's script has set up window.auralis.
 * Returns { page, problems } (problems: watchConsole's list).
 */
export async function openPage(context, url, { viewport } = {}) {
	const page = await context.newPage();
	if (viewport) await page.setViewportSize(viewport);
	const problems = watchConsole(page);
	await page.goto(url, { waitUntil: 'load' });
	await until(page, () => window.auralis !== undefined, null, { what: 'window.auralis' });
	return { page, problems };
}

/**
 * The page at url in a browser context of its own, closed after test t;
 * options go to the context (the viewport is 1100×1000 unless given).
 * Returns { page, problems } as openPage does.
 */
export async function openOwn(t, browser, url, options = {}) {
	const context = await browser.newContext({ viewport: { width: 1100, height: 1000 }, ...options });
	t.after(() => context.close());
	return openPage(context, url);
}

/** Presses Play and waits, 5 s at most, until the page plays and frames have been played. */
export async function play(page) {
	await page.click('#play');
	await until(page, () => window.auralis.stats().state === 'playing' && window.auralis.stats().framesPlayed > 0,
		null, { timeout: 5000, what: 'playing' });
}
