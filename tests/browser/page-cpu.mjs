// tests/browser/page-cpu.mjs - measures what the listening page costs the
// browser while it plays: the CPU time of every Chromium process (the
// page's renderer, the browser, the audio service, the GPU process) over a
// window, from DevTools' SystemInfo.getProcessInfo, and the page's main
// thread (Performance.getMetrics' TaskDuration). Twice: as a listener sees
// it, and with prefers-reduced-motion (the waves off), so the waves' own
// cost is the difference. Not a test: a measurement (scripts/bench --only page).
//
//   node tests/browser/page-cpu.mjs http://127.0.0.1:8080/ [seconds]
//
// Prints one JSON object: {seconds, playing: {...}, still: {...},
// waves_pct}, each {total_pct, by_type: {renderer, browser, utility, gpu},
// main_thread_pct, underruns, frames_drawn}, in % of one core.
import { launchBrowser } from './harness.mjs';

const url = process.argv[2] || 'http://127.0.0.1:8080/';
const seconds = Number(process.argv[3] || 20);

/** CPU seconds of every Chromium process, by type. */
async function cpuByType(cdp) {
	const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
	const by = {};
	for (const p of processInfo) by[p.type] = (by[p.type] ?? 0) + p.cpuTime;
	return by;
}

async function taskSeconds(cdp) {
	const { metrics } = await cdp.send('Performance.getMetrics');
	return metrics.find((m) => m.name === 'TaskDuration')?.value ?? 0;
}

async function measure(browser, reducedMotion) {
	const context = await browser.newContext({ reducedMotion });
	try {
		const page = await context.newPage();
		await page.goto(url, { waitUntil: 'load' });
		await page.waitForFunction(() => window.auralis !== undefined, null, { timeout: 10000 });
		await page.click('#play');
		await page.waitForFunction(() => window.auralis.stats().state === 'playing'
			&& window.auralis.stats().framesPlayed > 0, null, { timeout: 15000, polling: 50 });
		// Past the start (the catch-up, the first stats): the steady state.
		await page.waitForTimeout(3000);
		const browserCdp = await browser.newBrowserCDPSession();
		const pageCdp = await context.newCDPSession(page);
		await pageCdp.send('Performance.enable');
		const before = { cpu: await cpuByType(browserCdp), task: await taskSeconds(pageCdp), t: performance.now(),
			frames: await page.evaluate(() => window.auralis.visual?.frames ?? 0) };
		await page.waitForTimeout(seconds * 1000);    // a measurement: this long
		const after = { cpu: await cpuByType(browserCdp), task: await taskSeconds(pageCdp), t: performance.now(),
			frames: await page.evaluate(() => window.auralis.visual?.frames ?? 0) };
		const wall = (after.t - before.t) / 1000;
		const pct = (s) => Math.round(1000 * s / wall) / 10;
		const byType = {};
		let total = 0;
		for (const [type, s] of Object.entries(after.cpu)) {
			const used = s - (before.cpu[type] ?? 0);
			byType[type] = pct(used);
			total += used;
		}
		const stats = await page.evaluate(() => window.auralis.stats());
		await page.evaluate(() => window.auralis.stop());
		return { total_pct: pct(total), by_type: byType, main_thread_pct: pct(after.task - before.task),
			underruns: stats.underruns, codec: stats.codec, frames_drawn: after.frames - before.frames };
	} finally {
		await context.close();
	}
}

const browser = await launchBrowser();
try {
	const playing = await measure(browser, 'no-preference');
	const still = await measure(browser, 'reduce');
	console.log(JSON.stringify({ seconds, playing, still,
		waves_pct: Math.round(10 * (playing.total_pct - still.total_pct)) / 10 }));
} finally {
	await browser.close();
}
