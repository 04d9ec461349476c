// index.js - the listening page: one Auralis session bound to the DOM, and
// window.auralis for the tests and for the curious.
import { Auralis } from './auralis.js';
import { pageStreamOptions } from './quality.js';
import { bindControls, bindPlayButton, bindPresets, bindStatus, codecText, nowPlayingText } from './ui.js';

const $ = (id) => document.getElementById(id);
// ?rate=48000 asks for an AudioContext at that rate, to hear (and test) the
// resampler; normally the device decides. ?codec=pcm or ?codec=opus chooses
// the stream's coding, ?kbps=N the Opus bitrate to start at.
const rate = Number(new URLSearchParams(location.search).get('rate'));
const app = new Auralis({ contextRate: rate >= 8000 && rate <= 192000 ? rate : null,
	...pageStreamOptions(location.search) });

bindPlayButton(app, $('play'));
bindStatus(app, $('status'));
bindPresets(app, document.querySelector('.presets'));
bindControls(app, {
	key: $('key'), mode: $('mode'), bpm: $('bpm'), intensity: $('intensity'), volume: $('volume'),
	bpmOut: $('bpm-out'), intensityOut: $('intensity-out'), volumeOut: $('volume-out'),
});

// What is heard now: set when a stream starts playing and when a change
// becomes audible, not when it is asked for.
const now = document.querySelector('.now');
app.addEventListener('playing', (e) => {
	if (e.detail) {
		const text = nowPlayingText(e.detail);
		$('now-main').textContent = text.main;
		$('now-sub').textContent = text.sub;
		now.dataset.live = 'true';
	} else {
		$('now-main').textContent = 'Silence, for now';
		$('now-sub').textContent = 'Press Play to begin';
		now.dataset.live = 'false';
	}
});
app.addEventListener('state', (e) => {
	if (e.detail.state === 'connecting' && !app.nowPlaying) $('now-sub').textContent = 'Starting the stream…';
});

// Each change: sent, acknowledged, heard — with the time it took.
const change = $('change');
const problem = $('problem');
app.addEventListener('sent', (e) => {
	change.textContent = `${e.detail.label} — sent`;
	problem.hidden = true;
});
app.addEventListener('ack', (e) => {
	change.textContent = `${e.detail.label} — acknowledged, sounding at ${e.detail.t.toFixed(2)} s`;
});
app.addEventListener('latency', (e) => {
	const ms = Math.round(e.detail.ms);
	change.textContent = `${e.detail.label} — heard ${ms} ms after it was sent`;
	$('latency').textContent = `${ms} ms`;
});
app.addEventListener('problem', (e) => {
	problem.textContent = e.detail.message;
	problem.hidden = false;
});
app.addEventListener('state', (e) => {
	if (e.detail.state === 'playing' && problem.textContent.startsWith('The server says')) problem.hidden = true;
});

// A quiet line of health figures, refreshed twice a second while listening.
const health = $('health');
function showHealth() {
	const s = app.stats();
	const buffer = app.active ? `${s.bufferMs} / ${s.targetMs} ms` : '—';
	const jitter = app.active ? `${s.jitterMs.toFixed(1)} ms` : '—';
	const stream = app.active && s.codec ? ` · ${codecText(s)}` : '';
	health.textContent = `buffer ${buffer} · jitter ${jitter} · underruns ${s.underruns}${stream}`;
}
setInterval(showHealth, 500);
showHealth();

window.auralis = {
	stats: () => app.stats(),
	details: () => app.details(),
	play: () => app.play(),
	stop: () => app.stop(),
	session: app,
};
