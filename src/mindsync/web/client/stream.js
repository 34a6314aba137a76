// The live stream, WS /ws/analyze: a JSON start message with the token; binary data messages
// of 1 byte kind + 8 bytes big-endian float64 client timestamp (ms) + payload; motion as JSON
// text; results as JSON text. See the server's src/mindsync/api/routes/stream.py.

import { bytesOf, motionColumns } from "./encoding.js";
import { errorFrom, MindSyncError } from "./errors.js";

export const KIND_JPEG = 1;
export const KIND_PCM16 = 2;
export const KIND_WEBM = 3;
export const HEADER_BYTES = 9;

/**
 * @typedef {object} StreamOptions
 * @property {string} [userId] whose stream (an admin token must name one to store it)
 * @property {number} [intervalMs] how often results come, 100–10000 (default 500)
 * @property {typeof WebSocket} [WebSocket] default: the global one
 * @property {{result?: (message: any) => void, error?: (message: any) => void,
 *   stored?: (message: any) => void, close?: (event: {code: number, reason: string}) => void}} [on]
 *   callbacks, an alternative to `for await`: results; server errors after start (bad data);
 *   the final "stored"/"closed" message; a connection that ended without `stop()`.
 */

/**
 * One binary message: kind byte, big-endian float64 timestamp (ms), payload.
 * @param {number} kind
 * @param {Uint8Array} payload
 * @param {number} [timestampMs] default: now
 * @returns {Uint8Array}
 */
export function frame(kind, payload, timestampMs = Date.now()) {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, kind);
  view.setFloat64(1, timestampMs, false); // big-endian
  out.set(payload, HEADER_BYTES);
  return out;
}

/** @param {Uint8Array | ArrayBuffer | ArrayBufferView} data */
function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("give the payload as a Uint8Array or an ArrayBuffer");
}

/**
 * One live analysis. `await client.stream()` opens it; send data with `send*`; iterate
 * (`for await (const result of stream)`) or pass `on` callbacks; `await stream.stop()` asks
 * the server to store the session and resolves with its final message.
 */
export class Stream {
  /**
   * @param {string} baseUrl
   * @param {string | null} token
   * @param {StreamOptions} [options]
   */
  constructor(baseUrl, token, { userId, intervalMs = 500, WebSocket: WebSocketImpl, on = {} } = {}) {
    this.url = baseUrl.replace(/^http/, "ws") + "/ws/analyze";
    /** @type {Record<string, any>} */
    this.start = { type: "start", token, interval_ms: intervalMs };
    if (userId != null) this.start.user_id = userId;
    this.WebSocket = WebSocketImpl || globalThis.WebSocket;
    this.on = on;
    /** The server's "ready" message: session_id, modalities_allowed, modalities_skipped … */
    this.ready = null;
    /** The final "stored" (or "closed", when nothing was stored) message. */
    this.stored = null;
    /** @type {any[]} Errors the server sent about data after the start (the stream goes on). */
    this.errors = [];
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {any[]} */
    this._queue = [];
    /** @type {((step: IteratorResult<any>) => void) | null} */
    this._waiting = null;
    this._ended = false;
    /** @type {((message: any) => void) | null} */
    this._stopping = null;
  }

  /** @returns {Promise<Stream>} resolves when the server is ready */
  open() {
    if (!this.WebSocket) {
      return Promise.reject(new TypeError("no WebSocket here: Node 20 needs --experimental-websocket (Node 22 has it)"));
    }
    const ws = new this.WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => ws.send(JSON.stringify(this.start)));
      ws.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        const message = JSON.parse(event.data);
        if (!this.ready) {
          if (message.type === "ready") {
            this.ready = message;
            resolve(this);
          } else {
            const status = message.code === "consent_required" ? 403 : message.code === "unauthorized" ? 401 : 400;
            reject(errorFrom(status, { error: message }));
          }
          return;
        }
        this._onMessage(message);
      });
      ws.addEventListener("close", (event) => {
        if (!this.ready) {
          reject(new MindSyncError(event.reason || "The server closed the connection.", { status: 0, code: "closed" }));
          return;
        }
        const lost = !this._stopping;
        this._end();
        if (lost && this.on.close) this.on.close({ code: event.code, reason: event.reason });
      });
      ws.addEventListener("error", () => {
        if (!this.ready) reject(new MindSyncError("The live connection could not be opened.", { status: 0, code: "network" }));
      });
    });
  }

  /** @param {any} message */
  _onMessage(message) {
    if (message.type === "result") {
      if (this.on.result) this.on.result(message);
      else this._push(message);
    } else if (message.type === "error") {
      this.errors.push(message);
      if (this.on.error) this.on.error(message);
    } else if (message.type === "stored" || message.type === "closed") {
      this.stored = message;
      if (this.on.stored) this.on.stored(message);
      if (this._stopping) this._stopping(message);
      this._end();
    }
  }

  /** @param {any} message */
  _push(message) {
    if (this._waiting) {
      this._waiting({ value: message, done: false });
      this._waiting = null;
    } else {
      this._queue.push(message);
    }
  }

  _end() {
    this._ended = true;
    if (this._waiting) this._waiting({ value: undefined, done: true });
    this._waiting = null;
    if (this._stopping) this._stopping(this.stored);
  }

  /** Whether data can be sent now. */
  get isOpen() {
    return !!this.ws && this.ws.readyState === 1;
  }

  /** Bytes queued in the socket and not yet sent (skip frames while it is high). */
  get bufferedAmount() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  /** @param {string | Uint8Array} data */
  _send(data) {
    if (!this.ws || !this.isOpen) return false;
    this.ws.send(data);
    return true;
  }

  /**
   * A JPEG camera frame; false when the connection is no longer open.
   * @param {Uint8Array | ArrayBuffer} jpeg
   * @param {number} [timestampMs]
   */
  sendFrame(jpeg, timestampMs) {
    return this._send(frame(KIND_JPEG, toBytes(jpeg), timestampMs));
  }

  /**
   * 16 kHz mono little-endian int16 audio samples (any chunk length).
   * @param {Uint8Array | ArrayBuffer} pcm16
   * @param {number} [timestampMs]
   */
  sendPcm(pcm16, timestampMs) {
    return this._send(frame(KIND_PCM16, toBytes(pcm16), timestampMs));
  }

  /**
   * A MediaRecorder WebM/Opus chunk (the first one carries the header).
   * @param {Uint8Array | ArrayBuffer} chunk
   * @param {number} [timestampMs]
   */
  sendWebm(chunk, timestampMs) {
    return this._send(frame(KIND_WEBM, toBytes(chunk), timestampMs));
  }

  /**
   * Motion in any form the client takes (sent columnar, as JSON text).
   * @param {import("./encoding.js").MotionInput} motion
   */
  sendMotion(motion) {
    return this._send(JSON.stringify({ type: "motion", ...motionColumns(motion) }));
  }

  /**
   * Ask the server to store the session; resolves with its "stored" or "closed" message
   * (null when none came within `timeoutMs`), then closes the connection.
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<any>}
   */
  async stop({ timeoutMs = 10000 } = {}) {
    if (!this.ws || !this.isOpen || this._ended) {
      this.close();
      return this.stored;
    }
    const done = new Promise((resolve) => {
      this._stopping = resolve;
    });
    this.ws.send(JSON.stringify({ type: "stop" }));
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const message = await Promise.race([done, timeout]);
    clearTimeout(timer);
    this.close();
    return message;
  }

  /** Close the connection at once (the server still stores what it already answered). */
  close() {
    if (!this._stopping) this._stopping = () => {}; // a close we asked for is not "lost"
    if (this.ws && this.ws.readyState <= 1) this.ws.close(1000, "stopped");
    this._end();
  }

  /** Results as they come, until the stream ends. */
  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this._queue.length) return Promise.resolve({ value: this._queue.shift(), done: false });
        if (this._ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this._waiting = resolve;
        });
      },
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
