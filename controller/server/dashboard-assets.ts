// The dashboard's stylesheet and its one script, served from /ui/assets/ (the Content-Security-Policy
// allows scripts and styles from the same origin only). The pages work without the script; it only
// refreshes the regions marked data-live every few seconds while the page is visible.

const CSS = `
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --mixed: #bf8700; --pending: #0969da; --muted: #59636e; --line: #d1d9e0; }
@media (prefers-color-scheme: dark) { :root { --ok: #3fb950; --bad: #f85149; --mixed: #d29922; --pending: #4493f8; --muted: #9198a1; --line: #3d444d; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header nav { display: flex; gap: 1rem; }
header nav a[aria-current] { font-weight: 700; text-decoration: none; }
.brand { font-weight: 700; }
.logout { margin-left: auto; }
main { padding: 0 1rem 1rem; max-width: 90rem; }
main:focus { outline: none; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; } h3 { font-size: 1rem; } h4 { font-size: .9rem; margin: .8rem 0 .2rem; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: .5rem; background: Canvas; padding: .3rem; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, .scroll:focus-visible { outline: 3px solid var(--pending); outline-offset: 2px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid var(--line); }
thead th { font-size: .85rem; color: var(--muted); white-space: nowrap; }
td.num { text-align: right; }
.url, .message { display: block; font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .6rem; border: 1px solid currentColor; font-size: .8rem; white-space: nowrap; }
.badge.ok { color: var(--ok); } .badge.bad { color: var(--bad); } .badge.pending { color: var(--pending); } .badge.unknown { color: var(--muted); }
.conditions { list-style: none; margin: 0; padding: 0; }
.reason { font-size: .85rem; }
.charts { display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
figure { margin: 0; }
figcaption { font-size: .8rem; }
.chart { width: 240px; max-width: 100%; height: 48px; border-bottom: 1px solid var(--line); }
.chart rect.ok { fill: var(--ok); } .chart rect.bad { fill: var(--bad); } .chart rect.mixed { fill: var(--mixed); }
.chart polyline { fill: none; stroke: var(--pending); stroke-width: 1.5; } .chart circle { fill: var(--pending); }
.filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: flex-end; margin-bottom: 1rem; }
.field { display: flex; flex-direction: column; gap: .15rem; }
label { font-size: .85rem; font-weight: 600; }
input, select, button, .button { font: inherit; padding: .3rem .5rem; }
.button, button { border: 1px solid var(--line); border-radius: .3rem; background: ButtonFace; color: ButtonText; text-decoration: none; cursor: pointer; }
.paging { display: flex; gap: 1rem; margin-top: .6rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dd { margin: 0; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; padding: .5rem; border: 1px solid var(--line); font-size: .85rem; max-height: 24rem; overflow: auto; }
.attempt { border-top: 1px solid var(--line); }
.error { color: var(--bad); font-weight: 600; }
.notice { border-left: 4px solid var(--ok); padding-left: .6rem; }
.login { display: flex; flex-direction: column; gap: .4rem; max-width: 24rem; }
.live-note { padding: 0 1rem; font-size: .8rem; }
`

const JS = `'use strict';
// Live updates: every 3 s while the page is visible, fetch it again and swap each region marked
// data-live (same id) when it changed. Markup comes escaped from the server; a region holding
// the keyboard focus is left alone so nothing moves under the user.
(function () {
  var state = document.getElementById('live-state');
  function refresh() {
    if (document.visibilityState !== 'visible') return;
    fetch(location.href, { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' })
      .then(function (r) {
        if (r.type === 'opaqueredirect' || !r.ok) throw new Error('the server answered ' + (r.status || 'with a redirect; log in again'));
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (!fresh || fresh.innerHTML === el.innerHTML || el.contains(document.activeElement)) return;
          el.innerHTML = fresh.innerHTML;
        });
        if (state) state.textContent = 'Updates every few seconds; last at ' + new Date().toLocaleTimeString() + '.';
      })
      .catch(function (e) {
        if (state) state.textContent = 'Live updates paused: ' + e.message;
      });
  }
  setInterval(refresh, 3000);
})();
`

export const ASSETS: Record<string, { type: string; body: string }> = {
  'dashboard.css': { type: 'text/css; charset=utf-8', body: CSS },
  'dashboard.js': { type: 'text/javascript; charset=utf-8', body: JS },
}
