// debug.js - the diagnostics page: a listening session of its own, plotted
// live (buffer against target, jitter, chunk arrivals, control latency), and
// the server's /api/metrics from aur-stat.
//
// aur-stat listens on a port of its own (scripts/run: --stat-port, 8081). Its
// address comes from ?stat=http://host:port; else this page's host on the
// port that config.json names (scripts/run serves one beside the pages:
// {"stat_port": N}); else this page's host on port 8081.
import { Auralis } from './auralis.js';
import { TimePlot } from './plot.js';
import { pageStreamOptions } from './quality.js';
import { fetchPresets, setPresets } from './settings.js';
import { bindAction, bindPlayButton, bindPresets, bindStatus, codecText } from './ui.js';

const $ = (id) => document.getElementById(id);
const css = getComputedStyle(document.documentElement);
const color = (name) => css.getPropertyValue(name).trim();
const ACCENT = color('--accent'), ACCENT_2 = color('--accent-2'), WARN = color('--warn');

// The presets as the server's composer has them (presets.json).
setPresets(await fetchPresets());
// ?codec= and ?kbps= as on the listening page.
const app = new Auralis(pageStreamOptions(location.search));
bindPlayButton(app, $('play'));
bindStatus(app, $('status'));
bindAction(app, $('action'));
bindPresets(app, document.querySelector('.presets'), { hints: false });

const plots = {
	buffer: new TimePlot($('plot-buffer'), {
		minMax: 600,
		series: [{ color: ACCENT, style: 'line' }, { color: WARN, style: 'step', dash: [5, 4], width: 1.4 }],
	}),
	jitter: new TimePlot($('plot-jitter'), {
		minMax: 20,
		series: [{ color: ACCENT_2, style: 'line', width: 2 }, { color: ACCENT, style: 'dots', radius: 1.6 }],
	}),
	arrivals: new TimePlot($('plot-arrivals'), {
		minMax: 200, refs: [{ y: 100, color: WARN }],
		series: [{ color: ACCENT, style: 'dots', radius: 1.8 }],
	}),
	link: new TimePlot($('plot-link'), {
		minMax: 160, unit: 'kbit/s',
		series: [{ color: ACCENT, style: 'line' }, { color: WARN, style: 'step', dash: [5, 4], width: 1.4 }],
	}),
	latency: new TimePlot($('plot-latency'), {
		windowS: 300, minMax: 800, refs: [{ y: 500, color: WARN }],
		series: [{ color: ACCENT_2, style: 'dots', radius: 3.2 }],
	}),
};
const now = () => performance.now() / 1000;

// The worklet reports every ~50 ms; a point each 100 ms is plenty.
let lastBufferPoint = 0;
app.addEventListener('status', (e) => {
	const t = now();
	if (t - lastBufferPoint < 0.1) return;
	lastBufferPoint = t;
	plots.buffer.add(0, t, e.detail.bufferMs);
	plots.buffer.add(1, t, e.detail.targetMs);
	plots.link.add(0, t, e.detail.kbps);
	if (e.detail.bitrate !== null) plots.link.add(1, t, e.detail.bitrate);
});
app.addEventListener('chunk', (e) => {
	const t = e.detail.arrival / 1000;
	if (e.detail.deviationMs !== null) {
		plots.jitter.add(0, t, e.detail.jitterMs);
		plots.jitter.add(1, t, e.detail.deviationMs);
	}
	if (e.detail.intervalMs !== null) plots.arrivals.add(0, t, e.detail.intervalMs);
});
app.addEventListener('latency', (e) => plots.latency.add(0, now(), e.detail.ms));

function showFigures() {
	const d = app.details();
	const on = app.active;
	$('f-buffer').textContent = on ? `${d.bufferMs} / ${d.targetMs} ms` : '—';
	$('f-tier').textContent = on ? d.tier : '—';
	$('f-jitter').textContent = on ? `${d.jitterMs.toFixed(1)} ms` : '—';
	$('f-underruns').textContent = String(d.underruns);
	$('f-chunks').textContent = String(d.chunksReceived);
	$('f-played').textContent = d.sourceRate ? `${(d.framesPlayed / d.sourceRate).toFixed(1)} s` : '—';
	$('f-latency').textContent = d.lastLatencyMs === null ? '—' : `${d.lastLatencyMs} ms`;
	$('f-codec').textContent = on && d.codec ? codecText(d).replace(/ · .*/, '') : '—';
	$('f-kbps').textContent = on ? `${Math.round(d.kbps)} kbit/s` : '—';
	$('f-ladder').textContent = on && d.ladder && d.ladder[0] !== null
		? d.ladder.map((k) => (k === d.bitrate ? `[${k}]` : String(k))).join(' → ')
			+ (d.qualityPending !== null ? ` (asking ${d.qualityPending})` : '') : '—';
	$('f-decoder').textContent = d.codec === 'opus' || d.decoderErrors
		? `WebCodecs · ${d.decoderErrors} error${d.decoderErrors === 1 ? '' : 's'}`
		: d.opusSupported === false ? 'no Opus here' : '—';
	$('f-rate').textContent = d.contextRate
		? `${(d.contextRate / 1000).toFixed(1)} kHz · ×${d.playbackRate.toFixed(4)}` : '—';
}

// Redraw about eight times a second: smooth enough to read, light on the CPU.
let lastDraw = 0;
function frame(ms) {
	if (ms - lastDraw > 120) {
		lastDraw = ms;
		const t = now();
		for (const p of Object.values(plots)) p.draw(t);
		showFigures();
	}
	requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// ---- the server's metrics ----------------------------------------------------

async function statBase() {
	const given = new URLSearchParams(location.search).get('stat');
	if (given) {
		try {
			const u = new URL(given, location.href);
			if (u.protocol === 'http:' || u.protocol === 'https:') return u.href.replace(/\/$/, '');
		} catch { /* fall through to the server's word */ }
	}
	let port = 8081;
	try {
		const r = await fetch('config.json', { cache: 'no-store', signal: AbortSignal.timeout(3000) });
		const config = r.ok ? await r.json() : null;
		if (Number.isInteger(config?.stat_port) && config.stat_port > 0 && config.stat_port < 65536) port = config.stat_port;
	} catch { /* a server without one: the default */ }
	return `${location.protocol}//${location.hostname}:${port}`;
}
let STAT = null;

const fmt = (v, digits = 1) => (v === null || v === undefined ? '—'
	: typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v));

function row(cells, header = false) {
	const tr = document.createElement('tr');
	cells.forEach((c, i) => {
		const cell = document.createElement(header && i === 0 ? 'th' : 'td');
		if (header && i === 0) cell.scope = 'row';
		cell.textContent = c;
		tr.append(cell);
	});
	return tr;
}

/** "opus 96 · 141 kbit/s": the session's coding and what it sends. */
function sessionAudio(s) {
	if (!s.codec) return '—';
	const coding = s.codec === 'opus' ? `opus ${fmt(s.kbps, 0)}` : s.codec;
	return s.sent_kbps === null || s.sent_kbps === undefined ? coding : `${coding} · ${fmt(s.sent_kbps, 0)} kbit/s`;
}

function showMetrics(m) {
	const counters = [['uptime', `${fmt(m.uptime_s, 0)} s`], ['sessions active', fmt(m.sessions_active)],
		['sessions total', fmt(m.sessions_total)]];
	for (const [k, v] of Object.entries(m.counters ?? {})) counters.push([k.replace(/_/g, ' '), fmt(v)]);
	$('counters').tBodies[0].replaceChildren(...counters.map((c) => row(c, true)));
	const hist = Object.entries(m.histograms ?? {}).map(([k, h]) =>
		row([k.replace(/_ms$/, '').replace(/_/g, ' '), fmt(h?.count), fmt(h?.mean), fmt(h?.p50), fmt(h?.p95), fmt(h?.p99)], true));
	$('histograms').tBodies[0].replaceChildren(...hist);
	const sessions = (m.sessions ?? []).map((s) => row([
		String(s.id ?? '').slice(0, 12), `${fmt(s.age_s, 0)} s`, fmt(s.preset), fmt(s.key), fmt(s.mode), fmt(s.bpm, 0),
		fmt(s.intensity, 2), sessionAudio(s), fmt(s.chunks), fmt(s.late_chunks),
		s.buffer_ms === null || s.buffer_ms === undefined ? '—' : `${fmt(s.buffer_ms, 0)} ms`,
	], true));
	if (!sessions.length) sessions.push(row(['no session now', '', '', '', '', '', '', '', '', '', ''], true));
	$('sessions').tBodies[0].replaceChildren(...sessions);
}

// Every 2 s while aur-stat answers; when it does not, ask less and less often
// (up to every 15 s) and say so, without filling the console with failures.
let statDelay = 2000;
async function pollMetrics() {
	const state = $('stat-state');
	try {
		const r = await fetch(`${STAT}/api/metrics`, { cache: 'no-store', signal: AbortSignal.timeout(3000) });
		if (!r.ok) throw new Error(`HTTP ${r.status}`);
		showMetrics(await r.json());
		state.textContent = `updated ${new Date().toLocaleTimeString()}`;
		state.dataset.ok = 'true';
		$('stat-hint').hidden = true;
		$('stat-tables').hidden = $('stat-sessions').hidden = false;
		statDelay = 2000;
	} catch (e) {
		state.textContent = e.message?.startsWith('HTTP') ? `aur-stat answered ${e.message}` : 'aur-stat unreachable';
		state.dataset.ok = 'false';
		// Figures that are no longer fresh are not shown as if they were.
		$('stat-hint').hidden = false;
		$('stat-tables').hidden = $('stat-sessions').hidden = true;
		statDelay = Math.min(15000, statDelay * 2);
	}
	setTimeout(pollMetrics, statDelay);
}
statBase().then((base) => {
	STAT = base;
	$('stat-url').textContent = `· ${STAT}/api/metrics`;
	pollMetrics();
});

window.auralis = { stats: () => app.stats(), details: () => app.details(), play: () => app.play(), stop: () => app.stop(), session: app, plots };
