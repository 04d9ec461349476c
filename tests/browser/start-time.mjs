// tests/browser/start-time.mjs - measures Play → the first audible frame on
// the listening page of a running server, over fresh pages (each its own
// AudioContext, as a listener's first visit). Not a test: a measurement.
//
//   node tests/browser/start-time.mjs http://127.0.0.1:8080/ [runs] [query] [watch-seconds]
//
// Prints each start (ms, and when each step came: the socket open, the
// hello, the first audio, the worklet ready, playing, the first sound) and
// the median. With watch-seconds, each start is listened to that long and
// the playback rate's range, the smoothed buffer level's highest and its
// last value are printed too (a start-up overshoot shows there). The page
// must be served by a server that is otherwise idle.
import { launchBrowser } from './harness.mjs';

const url = process.argv[2] || 'http://127.0.0.1:8080/';
const runs = Number(process.argv[3] || 12);
const query = process.argv[4] || '';
const watchS = Number(process.argv[5] || 0);

const browser = await launchBrowser();
const results = [];
try {
	for (let i = 0; i < runs; i++) {
		const context = await browser.newContext();
		const page = await context.newPage();
		await page.goto(url + query, { waitUntil: 'load' });
		// A listener reads the page before pressing Play: let it settle (the
		// Opus probe answered, the audio prepared where the page does that).
		await page.waitForFunction(() => window.auralis && window.auralis.details().opusSupported !== null
			&& (window.auralis.session.player.preparing ?? Promise.resolve()) && true, null, { timeout: 10000 });
		await page.evaluate(() => window.auralis.session.player.preparing);
		await page.evaluate(() => {
			window.rates = { max: 1, min: 1, maxLevel: 0 };
			window.auralis.session.addEventListener('status', (e) => {
				const { playbackRate, levelMs } = e.detail;
				window.rates.max = Math.max(window.rates.max, playbackRate);
				window.rates.min = Math.min(window.rates.min, playbackRate);
				if (typeof levelMs === 'number') window.rates.maxLevel = Math.max(window.rates.maxLevel, levelMs);
			});
		});
		await page.click('#play');
		// (A page from before the measure has no startMs: then until it plays.)
		await page.waitForFunction(() => window.auralis.details().startMs !== null
			&& (window.auralis.details().startMs !== undefined || window.auralis.stats().framesPlayed > 0),
		null, { timeout: 15000, polling: 20 });
		const d = await page.evaluate(() => window.auralis.details());
		results.push(d.startMs);
		console.log(`start ${i + 1}: ${d.startMs} ms  ${JSON.stringify(d.startPhases)}`);
		if (watchS > 0) {
			await page.waitForTimeout(watchS * 1000);    // a measurement: listen this long
			const w = await page.evaluate(() => ({ r: window.rates, d: window.auralis.details() }));
			console.log(`  ${watchS} s: rate ${w.r.min.toFixed(4)}…${w.r.max.toFixed(4)}, level at most ${Math.round(w.r.maxLevel)} ms,`
				+ ` now ${Math.round(w.d.levelMs)} ms (target ${w.d.targetMs}); underruns ${w.d.underruns},`
				+ ` ${w.d.jumps ?? '-'} jumps, ${w.d.quietFrames ?? '-'} quiet frames dropped`);
		}
		await page.evaluate(() => window.auralis.stop());
		await context.close();
	}
} finally {
	await browser.close();
}
const sorted = [...results].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
	: (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
console.log(`median ${median} ms over ${sorted.length} starts (min ${sorted[0]}, max ${sorted[sorted.length - 1]})`);
