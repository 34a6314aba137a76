// MindSync web app: sign in, consent, live analysis, history and privacy.
//
// Plain ES modules, no build step. Views are <section data-view> elements shown one at a time
// by the URL hash (#/live, #/history, #/privacy); nothing here uses inline scripts or styles,
// because the page's Content-Security-Policy forbids them. Every call to the API goes through
// the MindSync JavaScript client (./client/, a copy of clients/js/src).

import { AuthenticationError, Client, MindSyncError } from "./client/index.js";
import { drawChart, pct } from "./chart.js";
import { LiveStream } from "./live.js";

const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const GAUGES = [
  { key: "stress_level", label: "Stress", assessment: "stress" },
  { key: "attention_score", label: "Attention", assessment: "attention" },
  { key: "overall_score", label: "Overall", assessment: "overall" },
  { key: "quality_score", label: "Quality", assessment: null },
];
const TIMELINE_WINDOW_MS = 2 * 60 * 1000;
const SUMMARY_EVERY_MS = 10000;
const CONSENT_KEY = "mindsync.consented";
// The token lives in sessionStorage (this tab only, gone when it closes) and is sent in the
// Authorization header (the stream's start message on the WebSocket); never in a URL.
const TOKEN_KEY = "mindsync.token";
// A busy server (429/503) is retried after its Retry-After; a person waits for two tries at most.
const MAX_RETRIES = 2;
const PAGE_SIZE = 25;

const $ = (id) => document.getElementById(id);

const state = {
  client: null, // the signed-in user's Client
  me: null, // {kind, user_id, name}
  prefs: null,
  live: null, // the running LiveStream
  timeline: [], // [{x, stress_level, attention_score, overall_score}]
  lastSummary: 0,
  sessionPages: null, // the async generator of /sessions pages behind "More"
  trends: null, // the last trends drawn: {points, options}, kept to redraw on resize
};

// ----------------------------------------------------------------------------- helpers

function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A client of this page's origin with `token`, that says so when it waits for a busy server. */
function clientFor(token) {
  return new Client(location.origin, token, {
    maxRetries: MAX_RETRIES,
    onRetry: ({ waitS }) => showNotice(`The server is busy; trying again in ${Math.ceil(waitS)} s…`),
  });
}

/** Create an element with text and attributes: el("td", "42", {class: "num"}). */
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function showNotice(message) {
  const notice = $("notice");
  notice.textContent = message;
  notice.hidden = !message;
}

function errorText(error) {
  if (error instanceof MindSyncError) return error.message;
  if (error && error.name === "NotAllowedError") {
    return "The browser was not allowed to use the camera or microphone. Allow it in the "
      + "site settings, or turn those sensors off on the Privacy page.";
  }
  if (error && error.name === "NotFoundError") return "No camera or microphone was found.";
  return (error && error.message) || String(error);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

// ----------------------------------------------------------------------------- routing

const VIEWS = ["signin", "consent", "live", "history", "privacy"];

function currentRoute() {
  const name = location.hash.replace(/^#\/?/, "");
  return VIEWS.includes(name) ? name : "live";
}

function go(name) {
  if (location.hash !== `#/${name}`) location.hash = `#/${name}`;
  else render();
}

/** Show the view the hash names, or the step the user must do first. */
async function render() {
  let route = currentRoute();
  if (!state.me) route = "signin";
  else if (route === "signin") route = "live";
  else if (route === "live" && sessionStorage.getItem(CONSENT_KEY) !== "yes") route = "consent";
  if (route !== "live" && state.live) {
    // Leaving the live page ends the capture: no sensor runs where the user cannot see it.
    await stopLive();
  }
  for (const section of document.querySelectorAll("[data-view]")) {
    section.hidden = section.dataset.view !== route;
  }
  $("nav").hidden = !state.me;
  for (const link of document.querySelectorAll("[data-route]")) {
    if (link.dataset.route === route) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `MindSync: ${{ signin: "Sign in", consent: "Consent", live: "Live",
    history: "History", privacy: "Privacy" }[route]}`;
  const heading = $(`${route}-title`);
  if (heading && render.moved) heading.focus();
  render.moved = true;
  if (route === "consent") fillConsent();
  if (route === "live") describeSensors();
  if (route === "history") loadHistory();
  if (route === "privacy") loadPrivacy();
  if (route === "live") requestAnimationFrame(drawTimeline);
}

// ----------------------------------------------------------------------------- sign in

async function signIn(token) {
  const client = clientFor(token);
  const me = await client.me();
  if (me.kind !== "user" || !me.user_id) {
    throw new Error("That is an administrator token. Sign in with a user's token.");
  }
  setToken(token);
  state.client = client;
  state.me = me;
  $("who-name").textContent = me.name ? `Signed in as ${me.name}` : "Signed in";
  state.prefs = await client.preferences(me.user_id);
}

function signOut(message) {
  if (state.live) stopLive();
  setToken(null);
  sessionStorage.removeItem(CONSENT_KEY);
  state.client = null;
  state.me = null;
  state.prefs = null;
  state.timeline = [];
  showNotice(message || "");
  go("signin");
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("token-input");
  const token = input.value.trim();
  const error = $("signin-error");
  error.textContent = "";
  if (!token) {
    error.textContent = "Paste your access token.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  try {
    await signIn(token);
    input.value = "";
    input.removeAttribute("aria-invalid");
    showNotice("");
    go("live");
  } catch (err) {
    error.textContent = err instanceof AuthenticationError
      ? "That token is not valid (it may have been revoked)."
      : errorText(err);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
});

$("sign-out").addEventListener("click", () => signOut("You are signed out."));

// ----------------------------------------------------------------------------- consent

function fillConsent() {
  // Users who never chose start with everything off: consent is opt-in.
  const prefs = state.prefs || {};
  const chosen = prefs.is_default === false;
  $("consent-face").checked = chosen && prefs.face_enabled;
  $("consent-audio").checked = chosen && prefs.audio_enabled;
  $("consent-motion").checked = chosen && prefs.motion_enabled;
}

$("consent-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const choice = {
    face_enabled: $("consent-face").checked,
    audio_enabled: $("consent-audio").checked,
    motion_enabled: $("consent-motion").checked,
  };
  try {
    state.prefs = await state.client.setPreferences(choice, { userId: state.me.user_id });
    sessionStorage.setItem(CONSENT_KEY, "yes");
    go("live");
  } catch (err) {
    $("consent-error").textContent = errorText(err);
  }
});

// ----------------------------------------------------------------------------- live

function consentedSensors() {
  const p = state.prefs || {};
  return { face: !!p.face_enabled, audio: !!p.audio_enabled, motion: !!p.motion_enabled };
}

function describeSensors() {
  const use = consentedSensors();
  const names = [use.face && "camera", use.audio && "microphone", use.motion && "motion sensors"]
    .filter(Boolean);
  $("live-sensors").textContent = names.length
    ? `Start uses: ${names.join(", ")}. Change this on the Privacy page.`
    : "No sensor is allowed. Turn one on on the Privacy page to start.";
  $("live-start").disabled = !names.length || !!state.live;
}

function setConnection(name, text) {
  if (name === "lost") state.live = null; // the stream released its sensors already
  $("conn-state").textContent = text;
  $("conn-dot").className = `dot dot-${name}`;
  const running = name === "connecting" || name === "live" || name === "stopping";
  $("live-start").disabled = running || !Object.values(consentedSensors()).some(Boolean);
  $("live-stop").disabled = !(name === "connecting" || name === "live");
}

function buildGauges() {
  const bars = $("expr-bars");
  for (const emotion of EMOTIONS) {
    const row = el("li");
    row.append(el("span", emotion, { class: "bar-label" }));
    const track = el("span", null, { class: "bar-track", "aria-hidden": "true" });
    track.append(el("span", null, { class: "bar-fill", id: `bar-${emotion}` }));
    row.append(track, el("span", "—", { class: "bar-value", id: `val-${emotion}` }));
    bars.append(row);
  }
  const gauges = $("gauges");
  for (const gauge of GAUGES) {
    const box = el("div", null, { class: "gauge" });
    box.append(el("p", gauge.label, { class: "gauge-label", id: `g-${gauge.key}-label` }));
    box.append(el("p", "—", { class: "gauge-value", id: `g-${gauge.key}`,
      "aria-describedby": `g-${gauge.key}-label` }));
    const track = el("span", null, { class: "bar-track", "aria-hidden": "true" });
    track.append(el("span", null, { class: `bar-fill fill-${gauge.key}`, id: `gb-${gauge.key}` }));
    box.append(track, el("p", "", { class: "gauge-conf", id: `gc-${gauge.key}` }));
    gauges.append(box);
  }
}

function setBar(id, value) {
  // Width from the script file (allowed by the CSP), never a style="" attribute.
  $(id).style.width = `${Math.round(Math.max(0, Math.min(1, value || 0)) * 100)}%`;
}

function resetLive() {
  state.timeline = [];
  for (const emotion of EMOTIONS) {
    setBar(`bar-${emotion}`, 0);
    $(`val-${emotion}`).textContent = "—";
  }
  for (const gauge of GAUGES) {
    $(`g-${gauge.key}`).textContent = "—";
    $(`gc-${gauge.key}`).textContent = "";
    setBar(`gb-${gauge.key}`, 0);
  }
  $("expr-dominant").textContent = "—";
  $("expr-confidence").textContent = "no face yet";
  for (const id of ["count-seq", "count-sent", "count-dropped", "count-skipped", "count-motion"]) {
    $(id).textContent = "0";
  }
  $("count-audio").textContent = "0 s";
  $("live-log").textContent = "";
  drawTimeline();
}

function showResult(message) {
  $("count-seq").textContent = String(message.seq);
  $("count-dropped").textContent = String((message.dropped && message.dropped.face) || 0);

  const emotion = message.emotion_analysis;
  if (emotion) {
    $("expr-dominant").textContent = emotion.dominant_emotion;
    $("expr-confidence").textContent = `${pct(emotion.confidence)}% likely · valence `
      + `${emotion.valence.toFixed(2)} · arousal ${emotion.arousal.toFixed(2)}`;
    for (const name of EMOTIONS) {
      const p = emotion.emotions[name] || 0;
      setBar(`bar-${name}`, p);
      $(`val-${name}`).textContent = `${pct(p)}%`;
    }
  }
  for (const gauge of GAUGES) {
    const value = message[gauge.key];
    $(`g-${gauge.key}`).textContent = pct(value);
    setBar(`gb-${gauge.key}`, value);
    const fused = gauge.assessment && message.assessment && message.assessment[gauge.assessment];
    $(`gc-${gauge.key}`).textContent = fused && fused.value === null && fused.reason
      ? fused.reason // e.g. attention does not apply while walking
      : fused
      ? `confidence ${pct(fused.confidence)}%${fused.modalities.length ? " · " + fused.modalities.join(", ") : ""}`
      : gauge.key === "quality_score" ? "how far to trust these" : "";
  }

  const mods = $("modalities");
  mods.replaceChildren();
  for (const [name, result] of Object.entries(message.modalities || {})) {
    const text = result.status === "ok"
      ? `${name}: ok, quality ${pct(result.quality)}%`
      : `${name}: ${result.status.replace(/_/g, " ")}${result.reason ? ` (${result.reason})` : ""}`;
    mods.append(el("li", text));
  }
  if (!mods.childElementCount) mods.append(el("li", "Nothing analysed in this window."));

  const recs = $("recommendations");
  recs.replaceChildren();
  for (const text of message.recommendations || []) recs.append(el("li", text));
  if (!recs.childElementCount) recs.append(el("li", "None right now."));

  const now = Date.now();
  state.timeline.push({
    x: now,
    stress_level: message.stress_level,
    attention_score: message.attention_score,
    overall_score: message.overall_score,
  });
  while (state.timeline.length && state.timeline[0].x < now - TIMELINE_WINDOW_MS) {
    state.timeline.shift();
  }
  drawTimeline();

  if (now - state.lastSummary > SUMMARY_EVERY_MS) {
    state.lastSummary = now;
    $("live-summary").textContent = [
      emotion ? `Expression ${emotion.dominant_emotion}.` : "",
      `Stress ${pct(message.stress_level)}, attention ${pct(message.attention_score)}, `
        + `overall ${pct(message.overall_score)}, quality ${pct(message.quality_score)}, out of 100.`,
    ].join(" ");
  }
}

function drawTimeline() {
  const canvas = $("timeline");
  if (canvas.offsetParent === null) return; // hidden view: nothing to size against
  const now = Date.now();
  const points = state.timeline;
  const first = points.length ? points[0].x : now;
  drawChart(canvas, points, {
    xMin: Math.max(first, now - TIMELINE_WINDOW_MS),
    xMax: Math.max(now, first + 10000),
    formatX: (ms) => timeFormat.format(new Date(ms)),
    emptyText: "Press Start to see the timeline",
  });
  const last = points[points.length - 1];
  canvas.setAttribute("aria-label", last
    ? `Timeline of the last ${points.length} results. Latest: stress ${pct(last.stress_level)}, `
      + `attention ${pct(last.attention_score)}, overall ${pct(last.overall_score)} out of 100.`
    : "Timeline of stress, attention and overall: no data yet");
}

async function startLive() {
  if (state.live) return;
  resetLive();
  showNotice("");
  const live = new LiveStream({
    client: state.client,
    use: consentedSensors(),
    workletUrl: new URL("pcm-worklet.js", import.meta.url).href,
    handlers: {
      state: setConnection,
      result: showResult,
      counters: (c) => {
        $("count-sent").textContent = String(c.sent);
        $("count-skipped").textContent = String(c.skipped);
        $("count-audio").textContent = `${Math.round(c.audioSeconds)} s`;
        $("count-motion").textContent = String(c.motion);
      },
      error: (text) => {
        $("live-log").textContent = `Server: ${text}`;
      },
      stored: (message) => {
        $("live-log").textContent = message.type === "stored"
          ? "This session was saved to your history (derived numbers only)."
          : "This session was not saved (history is off).";
      },
      preview: (stream) => {
        const video = $("preview");
        video.srcObject = stream;
        if (stream) video.play().catch(() => {});
      },
    },
  });
  state.live = live;
  try {
    const started = await live.start();
    if (live !== state.live) return; // stopped while starting
    if (consentedSensors().motion && !started.motion) {
      $("live-log").textContent = "Motion sensors were not allowed; going on without them.";
    } else if (started.motion) {
      // Laptops accept the listener but never report motion: say so instead of showing 0.
      setTimeout(() => {
        if (state.live === live && live.counts.motion === 0 && !live.motionRows.length) {
          $("live-log").textContent = "This device reports no motion sensor; going on without it.";
        }
      }, 4000);
    }
  } catch (err) {
    live.release();
    live.close();
    if (state.live === live) state.live = null;
    setConnection("error", "Not connected");
    showNotice(errorText(err));
  }
}

async function stopLive() {
  const live = state.live;
  if (!live) return;
  state.live = null;
  await live.stop();
  setConnection("stopped", "Stopped");
}

$("live-start").addEventListener("click", startLive);
$("live-stop").addEventListener("click", stopLive);
window.addEventListener("pagehide", () => {
  if (state.live) state.live.release();
});

// ----------------------------------------------------------------------------- history

function scoreCell(value) {
  return el("td", pct(value), { class: "num" });
}

async function loadSessions(append) {
  const rows = $("sessions-rows");
  if (!append || !state.sessionPages) {
    state.sessionPages = state.client.sessionPages({ userId: state.me.user_id, pageSize: PAGE_SIZE });
  }
  const next = await state.sessionPages.next();
  if (!append) rows.replaceChildren();
  if (next.done) {
    $("sessions-more").hidden = true;
    return;
  }
  const page = next.value;
  for (const s of page.items) {
    const tr = el("tr");
    tr.append(
      el("td", dateTimeFormat.format(new Date(s.timestamp))),
      el("td", duration(s.duration_seconds)),
      el("td", s.emotion_analysis ? s.emotion_analysis.dominant_emotion : "—"),
      scoreCell(s.stress_level),
      scoreCell(s.attention_score),
      scoreCell(s.overall_score),
      scoreCell(s.quality_score),
      el("td", (s.modalities_used || []).join(", ") || "—"),
    );
    rows.append(tr);
  }
  $("sessions-total").textContent = page.total === 1 ? "1 session" : `${page.total} sessions`;
  $("sessions-more").hidden = page.offset + page.items.length >= page.total;
  if (!page.total) {
    const tr = el("tr");
    tr.append(el("td", "No sessions yet: start one on the Live page.", { colspan: "8" }));
    rows.append(tr);
  }
}

async function loadTrends() {
  const days = Number($("trends-days").value);
  const bucket = $("trends-bucket").value;
  const trends = await state.client.trends(state.me.user_id, { days, bucket });
  const points = trends.buckets.map((b) => ({ ...b, x: Date.parse(b.start) }));
  const canvas = $("trends");
  const format = bucket === "hour"
    ? (ms) => `${dateFormat.format(new Date(ms))} ${new Date(ms).getHours()}h`
    : (ms) => dateFormat.format(new Date(ms));
  state.trends = {
    points,
    options: {
      xMin: Date.parse(trends.since),
      xMax: Date.parse(trends.until),
      formatX: format,
      emptyText: "No sessions in this period",
    },
  };
  drawTrends();
  canvas.setAttribute("aria-label", points.length
    ? `Trends over ${days} days per ${bucket}: ${points.length} periods with sessions. `
      + "The table below lists them."
    : `Trends over ${days} days: no sessions.`);
  const body = $("trends-rows");
  body.replaceChildren();
  for (const b of trends.buckets) {
    const tr = el("tr");
    tr.append(el("td", format(Date.parse(b.start))), el("td", String(b.sessions), { class: "num" }),
      scoreCell(b.stress_level), scoreCell(b.attention_score), scoreCell(b.overall_score),
      scoreCell(b.quality_score));
    body.append(tr);
  }
}

function drawTrends() {
  const canvas = $("trends");
  if (!state.trends || canvas.offsetParent === null) return;
  drawChart(canvas, state.trends.points, state.trends.options);
}

async function loadHistory() {
  try {
    await Promise.all([loadSessions(false), loadTrends()]);
  } catch (err) {
    handleApiError(err);
  }
}

$("sessions-more").addEventListener("click", () => loadSessions(true).catch(handleApiError));
$("history-refresh").addEventListener("click", loadHistory);
$("trends-days").addEventListener("change", () => loadTrends().catch(handleApiError));
$("trends-bucket").addEventListener("change", () => loadTrends().catch(handleApiError));
$("trends-form").addEventListener("submit", (event) => event.preventDefault());

// ----------------------------------------------------------------------------- privacy

async function loadPrivacy() {
  try {
    const prefs = await state.client.preferences(state.me.user_id);
    state.prefs = prefs;
    $("pref-face").checked = prefs.face_enabled;
    $("pref-audio").checked = prefs.audio_enabled;
    $("pref-motion").checked = prefs.motion_enabled;
    $("pref-history").checked = prefs.store_history;
    $("pref-retention").value = String(prefs.retention_days);
    $("prefs-status").textContent = prefs.is_default ? "You have not chosen yet: nothing is analysed until you turn a sensor on." : "";
  } catch (err) {
    handleApiError(err);
  }
}

$("prefs-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const retention = Number($("pref-retention").value);
  const status = $("prefs-status");
  if (!Number.isInteger(retention) || retention < 1 || retention > 3650) {
    status.textContent = "Retention must be a whole number of days from 1 to 3650.";
    $("pref-retention").setAttribute("aria-invalid", "true");
    $("pref-retention").focus();
    return;
  }
  $("pref-retention").removeAttribute("aria-invalid");
  try {
    state.prefs = await state.client.setPreferences({
      face_enabled: $("pref-face").checked,
      audio_enabled: $("pref-audio").checked,
      motion_enabled: $("pref-motion").checked,
      store_history: $("pref-history").checked,
      retention_days: retention,
    }, { userId: state.me.user_id });
    sessionStorage.setItem(CONSENT_KEY, "yes"); // choosing here is an explicit choice too
    status.textContent = "Saved.";
  } catch (err) {
    status.textContent = errorText(err);
  }
});

$("export-button").addEventListener("click", async () => {
  const status = $("export-status");
  status.textContent = "Preparing…";
  try {
    const data = await state.client.export(state.me.user_id);
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = el("a", null, { href: url, download: `mindsync-export-${state.me.user_id}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    status.textContent = `Downloaded: ${data.sessions.length} sessions.`;
  } catch (err) {
    status.textContent = errorText(err);
  }
});

const eraseDialog = $("erase-dialog");
$("erase-button").addEventListener("click", () => {
  $("erase-confirm").value = "";
  $("erase-really").disabled = true;
  eraseDialog.returnValue = ""; // Esc keeps the old value: never let it be a stale "erase"
  eraseDialog.showModal();
  $("erase-confirm").focus();
});
$("erase-confirm").addEventListener("input", () => {
  $("erase-really").disabled = $("erase-confirm").value.trim().toLowerCase() !== "erase";
});
eraseDialog.addEventListener("close", async () => {
  if (eraseDialog.returnValue !== "erase") {
    $("erase-button").focus();
    return;
  }
  const status = $("erase-status");
  try {
    const report = await state.client.erase(state.me.user_id);
    const parts = Object.entries(report.deleted).map(([kind, n]) => `${n} ${kind}`);
    signOut(`Everything was erased (${parts.join(", ")}).`);
  } catch (err) {
    status.textContent = errorText(err);
  }
});

// ----------------------------------------------------------------------------- start-up

function handleApiError(err) {
  if (err instanceof AuthenticationError) {
    signOut("Your token is no longer valid; sign in again.");
    return;
  }
  showNotice(errorText(err));
}

window.addEventListener("hashchange", render);
// Redraw charts when the layout changes size (rotation, window resize).
const resizes = new ResizeObserver(() => {
  drawTimeline();
  drawTrends();
});
resizes.observe($("timeline"));
resizes.observe($("trends"));

async function boot() {
  buildGauges();
  const token = getToken();
  if (token) {
    try {
      await signIn(token);
    } catch (err) {
      setToken(null);
      if (!(err instanceof AuthenticationError)) showNotice(errorText(err));
    }
  }
  render.moved = false; // do not steal focus on first load
  render();
}

boot();
