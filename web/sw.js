// sw.js - the listening page's service worker: it keeps the page's shell
// (the HTML, the stylesheet, the modules, the icons, the manifest) so the
// page opens like an application, also when the server cannot be reached,
// and then says that it is offline (index.js).
//
// Network first: while the server answers, every file comes from it, fresh,
// and the copy kept is refreshed; only when the request fails does the kept
// copy answer. What must be fresh is never kept nor answered from here: the
// stream (/stream, a WebSocket, which a service worker never sees anyway),
// aur-stat's /api/ and /metrics, config.json and presets.json (what this
// server says now), and anything but a GET (the page's HEAD probes whether
// the server is back).

const CACHE = 'auralis-shell-1';

/** The shell, relative to the worker's scope: kept at install. */
const SHELL = [
	'./', 'index.html', 'manifest.json', 'favicon.svg', 'css/auralis.css',
	'icons/icon.svg', 'icons/icon-192.png', 'icons/icon-512.png',
	'js/index.js', 'js/auralis.js', 'js/buffering.js', 'js/connection.js', 'js/engine.js', 'js/keys.js',
	'js/opus.js', 'js/player.js', 'js/quality.js', 'js/settings.js', 'js/sleep.js', 'js/ui.js',
	'js/visual.js', 'js/worklet.js',
];

/** Paths (under the scope) never kept: they must say what the server says now. */
const FRESH = /^(stream|api\/|metrics|config\.json|presets\.json)/;

self.addEventListener('install', (event) => {
	event.waitUntil((async () => {
		const cache = await caches.open(CACHE);
		await cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' })));
		await self.skipWaiting();
	})());
});

self.addEventListener('activate', (event) => {
	event.waitUntil((async () => {
		for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
		await self.clients.claim();
	})());
});

/** The path of a same-origin URL under the scope ('' for the scope itself), or null. */
function scopePath(url) {
	const scope = new URL(self.registration.scope);
	if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return null;
	return url.pathname.slice(scope.pathname.length);
}

/** Is this a file of the shell: a page, a module, the stylesheet, an icon? */
function isShell(path) {
	return path !== null && !FRESH.test(path)
		&& (path === '' || /\.(html|js|css|svg|png|json)$/.test(path));
}

self.addEventListener('fetch', (event) => {
	const request = event.request;
	if (request.method !== 'GET') return;
	const url = new URL(request.url);
	if (!isShell(scopePath(url))) return;    // the network's alone
	event.respondWith((async () => {
		try {
			const response = await fetch(request);
			if (response.ok && response.type === 'basic') {
				const copy = response.clone();
				// A page with a query string (a shared link) is the same page.
				const key = request.mode === 'navigate' ? new Request(new URL(url.pathname, url)) : request;
				event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
			}
			return response;
		} catch (error) {
			const kept = await caches.match(request, { ignoreSearch: request.mode === 'navigate' });
			if (kept) return kept;
			throw error;
		}
	})());
});
