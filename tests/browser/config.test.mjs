// tests/browser/config.test.mjs - scripts/run tells the diagnostics page
// where its aur-stat listens: with --stat-port on a port of its own, the
// page (opened without ?stat=) reads config.json and shows the server's
// figures, not "aur-stat unreachable".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, freePort, launchBrowser, sleep, until, watchConsole } from './harness.mjs';

/** scripts/run on free ports, until stop(); start() returns once the page answers. */
class Run {
	async start() {
		this.port = await freePort();
		do this.statPort = await freePort(); while (this.statPort === this.port);
		this.shm = `/auralis-browser-run-${process.pid}`;
		this.log = '';
		this.proc = spawn(join(ROOT, 'scripts', 'run'), ['--address', '127.0.0.1', '--port', String(this.port),
			'--stat-port', String(this.statPort), '--drain', '0', '--max-sessions', '4'], {
			env: { ...process.env, AURALIS_SHM: this.shm,
				AURALIS_SOUNDFONT: process.env.AURALIS_SOUNDFONT || '/usr/share/sounds/sf2/TimGM6mb.sf2' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const keep = (d) => { this.log = (this.log + d).slice(-4000); };
		this.proc.stdout.on('data', keep);
		this.proc.stderr.on('data', keep);
		this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
		// It may build first; the page answers once everything listens.
		for (let i = 0; i < 1200 && this.proc.exitCode === null; i++) {
			if (/auralis: listening on/.test(this.log)) return;
			await sleep(50);
		}
		throw new Error(`scripts/run did not start: ${this.log}`);
	}

	get url() {
		return `http://127.0.0.1:${this.port}/`;
	}

	/**
	 * SIGTERM drains and stops everything it started; it waits for that,
	 * then removes the shared-memory segment the node made at its start.
	 */
	async stop() {
		if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
		this.proc.kill('SIGTERM');
		if (await Promise.race([this.exited.then(() => true), sleep(15000).then(() => false)])) {
			rmSync(`/dev/shm${this.shm}`, { force: true });
			return;
		}
		this.proc.kill('SIGTERM');    // a second one stops at once
		await Promise.race([this.exited, sleep(5000)]);
		throw new Error(`scripts/run did not stop: ${this.log}`);
	}
}

test('scripts/run --stat-port N: the diagnostics page reads aur-stat on N', async (t) => {
	const run = new Run();
	t.after(() => run.stop());
	await run.start();
	const config = await (await fetch(`${run.url}config.json`, { cache: 'no-store' })).json();
	assert.deepEqual(config, { stat_port: run.statPort });
	const browser = await launchBrowser();
	t.after(() => browser.close());
	const page = await browser.newPage();
	const problems = watchConsole(page);
	await page.goto(`${run.url}debug.html`, { waitUntil: 'load' });
	await until(page, () => document.getElementById('stat-state').textContent !== 'waiting for aur-stat…', null,
		{ timeout: 10000, what: 'the aur-stat status' });
	assert.equal(await page.textContent('#stat-url'), `· http://127.0.0.1:${run.statPort}/api/metrics`);
	assert.match(await page.textContent('#stat-state'), /^updated/);
	assert.ok(await page.isVisible('#counters'));
	assert.deepEqual(problems, []);
	await run.stop();
	// Nothing it made is left in the source tree.
	assert.equal(existsSync(join(ROOT, 'web', 'config.json')), false);
});
