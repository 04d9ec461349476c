// index.js - the listening page: one Auralis session bound to the DOM, and
// window.auralis for the tests and for the curious.
import { Auralis } from './auralis.js';
import { keyAction, stepIntensity } from './keys.js';
import { describeHarmony, fetchPresets, presetLabel, setPresets } from './settings.js';
import { pageStreamOptions } from './quality.js';
import { SLEEP_CHOICES, SleepTimer, parseMinutes } from './sleep.js';
import { Visual } from './visual.js';
import { bindAction, bindControls, bindPlayButton, bindPresets, bindStatus, codecText, nowPlayingText } from './ui.js';

const $ = (id) => document.getElementById(id);
// The presets as the server's composer has them (presets.json, written by
// scripts/run from `aur-compose --list-presets`), before anything uses them.
setPresets(await fetchPresets());
// ?rate=48000 asks for an AudioContext at that rate, to hear (and test) the
// resampler; normally the device decides. ?codec=pcm or ?codec=opus chooses
// the stream's coding, ?kbps=N the Opus bitrate to start at.
const rate = Number(new URLSearchParams(location.search).get('rate'));
const app = new Auralis({ contextRate: rate >= 8000 && rate <= 192000 ? rate : null,
	...pageStreamOptions(location.search) });

// A shared link (?preset=sleep&key=D&mode=dorian&bpm=50&intensity=0.2)
// starts with its settings; what is not valid is ignored, and said.
const shared = app.openShared(location.search);

bindPlayButton(app, $('play'));
bindStatus(app, $('status'));
bindAction(app, $('action'));
bindPresets(app, document.querySelector('.presets'));
bindControls(app, {
	key: $('key'), mode: $('mode'), bpm: $('bpm'), intensity: $('intensity'), volume: $('volume'),
	bpmOut: $('bpm-out'), intensityOut: $('intensity-out'), volumeOut: $('volume-out'),
});

// The audio is made ready before Play (the context suspended, the worklet
// loaded) once the page has loaded, so Play only resumes it while the stream
// connects.
if (document.readyState === 'complete') app.prepare();
else addEventListener('load', () => app.prepare(), { once: true });

// Audio the system paused: any click or key on the page may resume it (the
// browser lets a context run again only from a gesture).
for (const type of ['click', 'keydown']) {
	document.addEventListener(type, () => {
		if (app.state === 'paused') app.resumeAudio();
	});
}

// What is heard now: set when a stream starts playing and when a change
// becomes audible, not when it is asked for. While nothing is heard (the
// stream lost, the audio paused) it says so, and what comes back.
const now = document.querySelector('.now');
const SILENT_HEADINGS = { reconnecting: 'Back when the stream is', paused: 'Paused', error: 'Last played' };
function showNow() {
	const silent = SILENT_HEADINGS[app.state];
	$('now-heading').textContent = app.nowPlaying && silent ? silent : 'Now playing';
	if (app.nowPlaying) {
		const text = nowPlayingText(app.nowPlaying);
		$('now-main').textContent = text.main;
		$('now-sub').textContent = text.sub;
		now.dataset.live = String(!silent);
	} else {
		$('now-main').textContent = 'Silence, for now';
		$('now-sub').textContent = app.state === 'connecting' ? 'Starting the stream…' : 'Press Play to begin';
		now.dataset.live = 'false';
	}
}
app.addEventListener('playing', showNow);
app.addEventListener('state', showNow);

// Waves behind "Now playing" that follow the music's level and the harmony
// heard (visual.js); still when the page is hidden or less motion is asked.
const visual = new Visual($('visual'), { level: () => app.player.level() });
app.addEventListener('state', (e) => visual.setPlaying(e.detail.state === 'playing'));
app.addEventListener('playing', (e) => {
	if (e.detail) visual.setHarmony(e.detail.key, e.detail.mode);
});

// Each change: sent, acknowledged, heard — with the time it took; or held
// for the next stream, and said so.
const change = $('change');
const problem = $('problem');
const CHANGE_HINT = change.textContent;
app.addEventListener('held', (e) => {
	change.textContent = e.detail.when === 'play'
		? `${e.detail.label} — kept; heard when you press Play`
		: `${e.detail.label} — kept; heard when the stream is back`;
});
// Figures of a stream that has stopped are not left as if they were current.
app.addEventListener('state', (e) => {
	if (e.detail.state !== 'stopped') return;
	change.textContent = CHANGE_HINT;
	$('latency').textContent = '—';
});
{
	const parts = [];
	if (Object.keys(shared.values).length) parts.push('Settings from the link — press Play to hear them');
	if (shared.ignored.length) parts.push(`ignored from the link: ${shared.ignored.join(', ')}`);
	if (parts.length) change.textContent = parts.join('; ');
}

// Copy link: the page's address with the settings as they are now.
const shareButton = $('share');
const shareLink = $('share-link');
const shareNote = $('share-note');
shareButton.addEventListener('click', async () => {
	const url = app.shareUrl();
	shareLink.value = url;
	shareLink.hidden = false;
	try {
		await navigator.clipboard.writeText(url);
		shareNote.textContent = 'Link copied';
	} catch {
		// No clipboard (an insecure page, a refusal): the link is there to copy by hand.
		shareLink.select();
		shareNote.textContent = 'Copy the link above';
	}
});
app.addEventListener('settings', () => {
	if (!shareLink.hidden) shareLink.value = app.shareUrl();
});

// The page's keys (keys.js): Space play/stop, M mute, ← → intensity.
document.addEventListener('keydown', (e) => {
	const action = keyAction({ key: e.key, target: e.target, ctrlKey: e.ctrlKey, metaKey: e.metaKey,
		altKey: e.altKey, repeat: e.repeat });
	if (!action) return;
	e.preventDefault();    // Space would scroll, the arrows too
	if (action === 'toggle') {
		if (app.active) app.stop();
		else app.play();
	} else if (action === 'mute') {
		app.toggleMute();
	} else {
		app.change({ intensity: stepIntensity(app.settings.intensity, action) });
	}
});
app.addEventListener('mute', (e) => {
	change.textContent = e.detail.muted ? 'Muted — press M to hear it again' : 'Sound back on';
});

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

// The system's media controls (a notification, a lock screen, media keys):
// what plays, and Play, Pause and Stop. Pause stops: a live stream has no
// place to pause at.
const mediaActions = { play: () => app.play(), pause: () => app.stop(), stop: () => app.stop() };
if ('mediaSession' in navigator) {
	const session = navigator.mediaSession;
	const showMedia = () => {
		const s = app.nowPlaying ?? app.settings;
		session.metadata = new MediaMetadata({
			title: `Auralis — ${presetLabel(s.preset) || 'ambient'}`,
			artist: `${describeHarmony(s.key, s.mode)} · ${s.bpm} BPM`,
			album: 'Endless ambient music',
		});
		session.playbackState = app.active ? 'playing' : 'paused';
	};
	for (const type of ['playing', 'settings', 'state']) app.addEventListener(type, showMedia);
	for (const [action, handler] of Object.entries(mediaActions)) {
		try {
			session.setActionHandler(action, handler);
		} catch { /* an action this browser does not know */ }
	}
	showMedia();
}

// The sleep timer (sleep.js): the music fades over the last minute, then
// stops and the stream closes. ?sleep-minute=N makes its minutes N ms long
// (100..60000), for a test to hear all of it in seconds.
const sleepMinute = Number(new URLSearchParams(location.search).get('sleep-minute'));
const sleep = new SleepTimer({ minuteMs: sleepMinute >= 100 && sleepMinute <= 60000 ? sleepMinute : 60000 });
const sleepSelect = $('sleep');
const sleepCustom = $('sleep-custom');
const sleepMinutes = $('sleep-minutes');
const sleepLeft = $('sleep-left');
sleepSelect.add(new Option('Off', 'off'));
for (const m of SLEEP_CHOICES) sleepSelect.add(new Option(`${m} minutes`, String(m)));
sleepSelect.add(new Option('Custom…', 'custom'));
let sleepFadeTimer = null, sleepEndTimer = null, sleepTick = null;
let sleepFading = false;

function showSleep() {
	const text = sleep.text(performance.now());
	if (sleepLeft.textContent !== text) sleepLeft.textContent = text;
}

/** Schedules the fade and the stop of a counting timer (again, after any change). */
function scheduleSleep() {
	clearTimeout(sleepFadeTimer);
	clearTimeout(sleepEndTimer);
	clearInterval(sleepTick);
	sleepFadeTimer = sleepEndTimer = sleepTick = null;
	const now = performance.now();
	const left = sleep.remainingMs(now);
	if (left !== null) {
		sleepFadeTimer = setTimeout(() => {
			sleepFading = true;
			app.player.fadeOut(sleep.remainingMs(performance.now()) / 1000);
			showSleep();
		}, sleep.untilFadeMs(now));
		sleepEndTimer = setTimeout(endSleep, left);
		sleepTick = setInterval(showSleep, 250);
	}
	showSleep();
}

/** A time chosen (minutes), or none (null): counting at once while the music plays. */
function setSleep(minutes) {
	if (sleepFading) app.player.unfade();
	sleepFading = false;
	sleep.set(minutes, app.active ? performance.now() : null);
	scheduleSleep();
}

/** The time is up: the fade has ended in silence; the music stops and the stream closes. */
function endSleep() {
	sleep.cancel();
	sleepFading = false;
	sleepSelect.value = 'off';
	sleepCustom.hidden = true;
	scheduleSleep();
	app.stop();
	change.textContent = 'Stopped by the sleep timer';
}

sleepSelect.addEventListener('change', () => {
	const v = sleepSelect.value;
	sleepCustom.hidden = v !== 'custom';
	if (v === 'custom') {
		sleepMinutes.focus();
		return;
	}
	setSleep(v === 'off' ? null : Number(v));
});
$('sleep-form').addEventListener('submit', (e) => {
	e.preventDefault();
	const minutes = parseMinutes(sleepMinutes.value);
	if (minutes === null) {
		sleepMinutes.reportValidity();
		return;
	}
	setSleep(minutes);
});
// It counts while the music plays: from Play, and Stop turns it off.
app.addEventListener('state', (e) => {
	if (e.detail.state === 'stopped') {
		if (sleep.phase(performance.now()) === 'off') return;
		setSleep(null);
		sleepSelect.value = 'off';
		sleepCustom.hidden = true;
	} else if (sleep.begin(performance.now())) {
		scheduleSleep();
	}
});

// Installable: the service worker (sw.js) keeps the page's shell, so the
// page opens without the server, and then says it is offline; it looks
// again every 5 s, and the note goes once the server answers (or a stream
// opens).
if ('serviceWorker' in navigator) {
	const register = () => navigator.serviceWorker.register('sw.js').catch(() => {});
	if (document.readyState === 'complete') register();
	else addEventListener('load', register, { once: true });
}
const offline = $('offline');
let offlineTimer = null;
async function checkOnline() {
	clearTimeout(offlineTimer);
	let up = false;
	try {
		up = await app.probeServer();
	} catch { /* not reached */ }
	offline.hidden = up;
	if (!up) offlineTimer = setTimeout(checkOnline, 5000);
}
checkOnline();
addEventListener('offline', () => { offline.hidden = false; checkOnline(); });
addEventListener('online', checkOnline);
app.connection.addEventListener('open', () => {
	clearTimeout(offlineTimer);
	offline.hidden = true;
});

window.auralis = {
	sleep,
	visual,
	media: mediaActions,
	stats: () => app.stats(),
	details: () => app.details(),
	play: () => app.play(),
	stop: () => app.stop(),
	session: app,
};
