// The MindSync HTTP API client: analysis, sessions, preferences, privacy and the live stream.
//
// Every call retries a request answered 429 or 503 (or cut off by the network) after the
// server's Retry-After (else 0.5 s, 1 s, 2 s …), at most `maxRetries` times. `analyze` always
// sends a session_id (random unless given, also as Idempotency-Key), so a retry whose first
// answer was lost returns the stored result instead of analysing twice.

import { encodeAudio, encodeImage, encodeMotion } from "./encoding.js";
import { errorFrom, MindSyncError, NetworkError } from "./errors.js";
import { Stream } from "./stream.js";

/** @typedef {import("./schema.js").AnalysisResponse} AnalysisResponse */
/** @typedef {import("./schema.js").PreferencesRead} Preferences */
/** @typedef {import("./schema.js").SessionList} SessionList */
/** @typedef {import("./encoding.js").BinaryInput} BinaryInput */
/** @typedef {import("./encoding.js").MotionInput} MotionInput */

const RETRY_STATUSES = new Set([429, 503]);
const DEFAULT_BACKOFF_S = 0.5;
const MAX_WAIT_S = 60;
/** Consent names of the modalities and the preference each one sets. */
export const CONSENT_FIELDS = { face: "face_enabled", voice: "audio_enabled", motion: "motion_enabled" };

/**
 * @typedef {object} ClientOptions
 * @property {number} [timeoutMs] per attempt (default 60000)
 * @property {number} [maxRetries] retries after 429, 503 or a lost connection (default 3)
 * @property {typeof fetch} [fetch] the fetch to use (default: the global one)
 * @property {typeof WebSocket} [WebSocket] for `stream()` (default: the global one; Node 20
 *   needs `--experimental-websocket`, Node 22 has it)
 * @property {(info: {attempt: number, waitS: number, error: MindSyncError}) => void} [onRetry]
 *   told before each retry
 */

/**
 * @typedef {object} AnalyzeOptions
 * @property {BinaryInput | HTMLCanvasElement | OffscreenCanvas} [face] a photo (JPEG, PNG, WebP)
 * @property {BinaryInput} [audio] a clip (WAV, MP3, OGG, WebM/Opus, MP4/AAC, FLAC)
 * @property {MotionInput} [motion] columnar object, the seed's samples, or rows
 * @property {string} [userId] whose analysis (an admin token must name one to store it)
 * @property {string} [sessionId] a UUID; random when absent (retries reuse it)
 * @property {string | Date} [timestamp] when the data was captured
 * @property {number} [durationSeconds]
 * @property {{x: number, y: number}} [faceFocus] which face, in a photo of several (0–1)
 * @property {AbortSignal} [signal]
 */

/**
 * A random UUID (v4).
 * @returns {string}
 */
function uuid4() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A path segment, escaped (user ids may hold ":" or "@"). @param {string} value */
const seg = (value) => encodeURIComponent(String(value));

/**
 * The JSON body of POST /analyze; `session_id` is always set (random if absent).
 * @param {AnalyzeOptions} options
 * @returns {Promise<Record<string, any>>}
 */
export async function analysisBody({ face, audio, motion, userId, sessionId, timestamp,
  durationSeconds, faceFocus } = {}) {
  if (face == null && audio == null && motion == null) {
    throw new TypeError("give at least one of face, audio or motion");
  }
  /** @type {Record<string, any>} */
  const body = { session_id: sessionId || uuid4() };
  if (face != null) body.face_image = await encodeImage(face);
  if (audio != null) body.audio_data = await encodeAudio(audio);
  if (motion != null) body.motion_data = encodeMotion(motion);
  if (userId != null) body.user_id = userId;
  if (timestamp != null) body.timestamp = timestamp instanceof Date ? timestamp.toISOString() : timestamp;
  if (durationSeconds != null) body.duration_seconds = durationSeconds;
  if (faceFocus != null) body.face_focus = { x: faceFocus.x, y: faceFocus.y };
  return body;
}

/**
 * One fused score of a result: value (0–1, null when nothing informs it), confidence, sources.
 * @param {AnalysisResponse} result
 * @param {"stress" | "attention" | "overall"} name
 * @returns {{value: number | null, confidence: number, modalities: string[], reason: string | null}}
 */
export function score(result, name) {
  /** @type {Partial<import("./schema.js").ScoreRead>} */
  const part = (result.assessment && result.assessment[name]) || {};
  return {
    value: part.value ?? null,
    confidence: Number(part.confidence ?? 0),
    modalities: [...(part.modalities || [])],
    reason: part.reason ?? null,
  };
}

export class Client {
  /**
   * @param {string} [baseUrl] e.g. "http://127.0.0.1:8000"; in a browser, default this page's origin
   * @param {string | null} [token] a bearer token (`ms_…`)
   * @param {ClientOptions} [options]
   */
  constructor(baseUrl, token = null, { timeoutMs = 60000, maxRetries = 3, fetch: fetchFn,
    WebSocket: WebSocketImpl, onRetry } = {}) {
    const origin = globalThis.location && globalThis.location.origin;
    this.baseUrl = String(baseUrl || origin || "").replace(/\/+$/, "");
    if (!this.baseUrl) throw new TypeError("baseUrl is needed outside a browser");
    this.token = token;
    this.timeoutMs = timeoutMs;
    this.maxRetries = maxRetries;
    this.onRetry = onRetry;
    this._fetch = fetchFn || globalThis.fetch.bind(globalThis);
    this._WebSocket = WebSocketImpl;
  }

  /**
   * One API call with retries on 429/503 and lost connections; resolves to the parsed JSON
   * (null for an empty body), rejects with a typed MindSyncError.
   * @param {string} method
   * @param {string} path e.g. "/sessions"
   * @param {{json?: any, query?: Record<string, any>, headers?: Record<string, string>,
   *   signal?: AbortSignal}} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, { json, query, headers = {}, signal } = {}) {
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) params.set(key, value instanceof Date ? value.toISOString() : String(value));
      }
      const text = params.toString();
      if (text) url += (url.includes("?") ? "&" : "?") + text;
    }
    /** @type {Record<string, string>} */
    const allHeaders = { Accept: "application/json", ...headers };
    if (this.token) allHeaders.Authorization = `Bearer ${this.token}`;
    if (json !== undefined) allHeaders["Content-Type"] = "application/json";
    const body = json === undefined ? undefined : JSON.stringify(json); // the same bytes every attempt
    for (let attempt = 0; ; attempt += 1) {
      let error;
      try {
        return await this._once(method, url, allHeaders, body, signal);
      } catch (exc) {
        if (!(exc instanceof MindSyncError)) throw exc;
        const retryable = exc instanceof NetworkError || RETRY_STATUSES.has(exc.status);
        if (!retryable || attempt >= this.maxRetries || (signal && signal.aborted)) throw exc;
        error = exc;
      }
      const waitS = Math.min(error.retryAfter ?? DEFAULT_BACKOFF_S * 2 ** attempt, MAX_WAIT_S);
      if (this.onRetry) this.onRetry({ attempt: attempt + 1, waitS, error });
      await sleep(waitS * 1000);
    }
  }

  /**
   * @param {string} method
   * @param {string} url
   * @param {Record<string, string>} headers
   * @param {string | undefined} body
   * @param {AbortSignal | undefined} signal
   */
  async _once(method, url, headers, body, signal) {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const both = signal && AbortSignal.any ? AbortSignal.any([signal, timeout]) : signal || timeout;
    let response;
    let text;
    try {
      response = await this._fetch(url, { method, headers, body, signal: both, cache: "no-store" });
      text = await response.text();
    } catch (exc) {
      if (signal && signal.aborted) throw exc; // the caller gave up: not a network problem
      const timedOut = timeout.aborted;
      throw new NetworkError(
        timedOut ? `No answer within ${this.timeoutMs / 1000} s.` : "The server cannot be reached. Check your connection.",
        { status: 0, code: timedOut ? "timeout" : "network" },
      );
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) throw errorFrom(response.status, data, response.headers);
    return data;
  }

  /**
   * Analyse `face`, `audio` and/or `motion`; only consented modalities are analysed.
   * @param {AnalyzeOptions} options
   * @returns {Promise<AnalysisResponse>}
   */
  async analyze(options) {
    const body = await analysisBody(options);
    return this.request("POST", "/analyze", {
      json: body,
      headers: { "Idempotency-Key": body.session_id },
      signal: options.signal,
    });
  }

  /** Who the token belongs to: {kind, user_id, name}. */
  me() {
    return this.request("GET", "/me");
  }

  /**
   * Record consent to `modalities` ("face", "voice", "motion"); resolves to the preferences.
   * @param {string | string[]} modalities
   * @param {{userId?: string}} [options]
   * @returns {Promise<Preferences>}
   */
  giveConsent(modalities, { userId } = {}) {
    /** @type {Record<string, any>} */
    const changes = {};
    for (const name of typeof modalities === "string" ? [modalities] : modalities) {
      const field = /** @type {Record<string, string>} */ (CONSENT_FIELDS)[name];
      if (!field) throw new TypeError(`unknown modality ${name}; use face, voice or motion`);
      changes[field] = true;
    }
    return this.setPreferences(changes, { userId });
  }

  /**
   * Change preferences (the API's fields: face_enabled, audio_enabled, motion_enabled,
   * store_history, retention_days); a false `*_enabled` withdraws consent.
   * @param {Record<string, any>} changes
   * @param {{userId?: string}} [options] whose (an admin token must name one)
   * @returns {Promise<Preferences>}
   */
  setPreferences(changes, { userId } = {}) {
    const json = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined && v !== null));
    if (userId != null) json.user_id = userId;
    return this.request("POST", "/preferences", { json });
  }

  /**
   * A user's preferences (`is_default` true while they never chose).
   * @param {string} userId
   * @returns {Promise<Preferences>}
   */
  preferences(userId) {
    return this.request("GET", `/preferences/${seg(userId)}`);
  }

  /**
   * One stored session.
   * @param {string} sessionId
   * @returns {Promise<AnalysisResponse>}
   */
  session(sessionId) {
    return this.request("GET", `/session/${seg(sessionId)}`);
  }

  /**
   * The pages of /sessions, newest first: `for await (const page of client.sessionPages())`.
   * Each page is {items, total, offset}.
   * @param {{pageSize?: number, userId?: string, since?: string | Date, until?: string | Date}} [filters]
   * @returns {AsyncGenerator<{items: AnalysisResponse[], total: number, offset: number}>}
   */
  async *sessionPages({ pageSize = 50, userId, since, until } = {}) {
    let offset = 0;
    while (true) {
      const query = { user_id: userId, since, until, limit: pageSize, offset };
      const page = await this.request("GET", "/sessions", { query });
      yield { items: page.items, total: page.total, offset };
      offset += page.items.length;
      if (!page.items.length || offset >= page.total) return;
    }
  }

  /**
   * Every stored session matching the filters, newest first, fetched a page at a time:
   * `for await (const session of client.sessions({userId}))`.
   * @param {{pageSize?: number, userId?: string, since?: string | Date, until?: string | Date}} [filters]
   * @returns {AsyncGenerator<AnalysisResponse>}
   */
  async *sessions(filters = {}) {
    for await (const page of this.sessionPages(filters)) yield* page.items;
  }

  /**
   * Scores per hour or day over the last `days` days.
   * @param {string} userId
   * @param {{days?: number, bucket?: "hour" | "day"}} [options]
   */
  trends(userId, { days = 7, bucket = "day" } = {}) {
    return this.request("GET", `/users/${seg(userId)}/trends`, { query: { days, bucket } });
  }

  /**
   * Everything held about a user (GDPR Art. 15/20).
   * @param {string} userId
   */
  export(userId) {
    return this.request("GET", `/users/${seg(userId)}/export`);
  }

  /**
   * Erase everything held about a user (GDPR Art. 17); says what was deleted.
   * @param {string} userId
   * @returns {Promise<{deleted: Record<string, number>}>}
   */
  erase(userId) {
    return this.request("DELETE", `/users/${seg(userId)}`);
  }

  /** The service's health (a 503 rejects with ServiceUnavailable after retries). */
  health() {
    return this.request("GET", "/health");
  }

  /**
   * Open a live analysis over WS /ws/analyze; resolves once the server is ready (rejects with
   * ConsentRequired, AuthenticationError … when it refuses).
   * @param {import("./stream.js").StreamOptions} [options]
   * @returns {Promise<Stream>}
   */
  stream(options = {}) {
    const stream = new Stream(this.baseUrl, this.token, { WebSocket: this._WebSocket, ...options });
    return stream.open();
  }
}
