// Turning what an app has (bytes, Blobs, canvases, Node file paths, motion samples) into the
// API's request fields. No dependency: Node 20 and current browsers have everything used here.

/** @typedef {Uint8Array | ArrayBuffer | ArrayBufferView | Blob | string | URL} BinaryInput
 * Bytes, a Blob/File, a `data:` URL, or (Node only) a file path or `file:` URL. */

/**
 * One motion sample in the seed's object form.
 * @typedef {{timestamp: number, acceleration: {x: number, y: number, z: number},
 *   gyroscope?: {x: number, y: number, z: number} | null}} MotionSample
 */

/**
 * Motion in the API's compact columnar form (timestamps in seconds, m/s², rad/s).
 * @typedef {{timestamps: number[], acceleration: {x: number[], y: number[], z: number[]},
 *   gyroscope?: {x: number[], y: number[], z: number[]} | null}} MotionColumns
 */

/** @typedef {MotionColumns | MotionSample[] | number[][]} MotionInput
 * The columnar object, the seed's list of samples, or rows `[t, ax, ay, az(, gx, gy, gz)]`. */

const isNode = typeof process !== "undefined" && !!(process.versions && process.versions.node);

/**
 * Base64 of some bytes (standard alphabet, with padding).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  if (isNode) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let binary = "";
  const CHUNK = 0x8000; // String.fromCharCode takes a limited number of arguments
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + CHUNK)));
  }
  return btoa(binary);
}

/**
 * The bytes of a binary input.
 * @param {BinaryInput} value
 * @param {string} what the argument's name, for error messages
 * @returns {Promise<Uint8Array>}
 */
export async function bytesOf(value, what) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof Blob !== "undefined" && value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  if (typeof value === "string" || value instanceof URL) {
    if (isNode) {
      const { readFile } = await import("node:fs/promises");
      return new Uint8Array(await readFile(value));
    }
    throw new TypeError(`${what}: a path can only be read in Node; give bytes, a Blob or a data: URL`);
  }
  throw new TypeError(`${what}: give bytes, a Blob, a data: URL or (Node) a path, not ${describe(value)}`);
}

/** @param {unknown} value */
function describe(value) {
  if (value === null) return "null";
  return typeof value === "object" ? (value.constructor && value.constructor.name) || "an object" : typeof value;
}

/**
 * Base64 of a binary input; a `data:...;base64,` URL is sent as its base64 part.
 * @param {BinaryInput} value
 * @param {string} what
 * @returns {Promise<string>}
 */
async function encodeBinary(value, what) {
  if (typeof value === "string" && value.startsWith("data:")) {
    const comma = value.indexOf(",");
    if (comma < 0 || !value.slice(0, comma).endsWith(";base64")) {
      throw new TypeError(`${what}: a data: URL must be base64 encoded`);
    }
    return value.slice(comma + 1);
  }
  return toBase64(await bytesOf(value, what));
}

/**
 * Base64 of an image: bytes, a Blob/File, a data: URL, a path (Node), or a canvas
 * (HTMLCanvasElement or OffscreenCanvas, sent as JPEG).
 * @param {BinaryInput | HTMLCanvasElement | OffscreenCanvas} image
 * @returns {Promise<string>}
 */
export async function encodeImage(image) {
  if (image && typeof image === "object" && "convertToBlob" in image) {
    return encodeBinary(await image.convertToBlob({ type: "image/jpeg", quality: 0.9 }), "face");
  }
  if (image && typeof image === "object" && "toBlob" in image) {
    const canvas = /** @type {HTMLCanvasElement} */ (image);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    if (!blob) throw new TypeError("face: the canvas could not be encoded as JPEG");
    return encodeBinary(blob, "face");
  }
  return encodeBinary(/** @type {BinaryInput} */ (image), "face");
}

/**
 * Base64 of an audio clip (WAV, MP3, OGG, WebM/Opus, MP4/AAC, FLAC).
 * @param {BinaryInput} audio
 * @returns {Promise<string>}
 */
export function encodeAudio(audio) {
  return encodeBinary(audio, "audio");
}

/**
 * Rows `[t, ax, ay, az(, gx, gy, gz)]` in the columnar form.
 * @param {number[][]} rows
 * @returns {MotionColumns}
 */
export function motionFromRows(rows) {
  if (!rows.length || !rows.every((row) => Array.isArray(row) && row.length === rows[0].length)
      || (rows[0].length !== 4 && rows[0].length !== 7)) {
    throw new TypeError("motion rows need 4 (t, ax, ay, az) or 7 (… gx, gy, gz) values each");
  }
  const col = (/** @type {number} */ i) => rows.map((row) => Number(row[i]));
  /** @type {MotionColumns} */
  const out = { timestamps: col(0), acceleration: { x: col(1), y: col(2), z: col(3) } };
  if (rows[0].length === 7) out.gyroscope = { x: col(4), y: col(5), z: col(6) };
  return out;
}

/**
 * The seed's sample objects in the columnar form (gyroscope only when every sample has it).
 * @param {MotionSample[]} samples
 * @returns {MotionColumns}
 */
export function motionFromSamples(samples) {
  const gyro = samples.every((s) => s.gyroscope);
  return motionFromRows(samples.map(({ timestamp, acceleration: a, gyroscope: g }) => [
    timestamp, a.x, a.y, a.z, ...(gyro && g ? [g.x, g.y, g.z] : []),
  ]));
}

/**
 * `motion_data` for POST /analyze: the seed's sample objects and the columnar object are sent
 * as they are (the API takes both); rows become the columnar form.
 * @param {MotionInput} motion
 * @returns {MotionColumns | MotionSample[]}
 */
export function encodeMotion(motion) {
  if (Array.isArray(motion)) {
    if (!motion.length) throw new TypeError("motion: no samples");
    if (Array.isArray(motion[0])) return motionFromRows(/** @type {number[][]} */ (motion));
    if (motion[0] && typeof motion[0] === "object") return /** @type {MotionSample[]} */ (motion);
  } else if (motion && typeof motion === "object" && "timestamps" in motion) {
    return { ...motion };
  }
  throw new TypeError("motion: give {timestamps, acceleration, gyroscope?}, sample objects or rows");
}

/**
 * Motion as the stream wants it: always columnar.
 * @param {MotionInput} motion
 * @returns {MotionColumns}
 */
export function motionColumns(motion) {
  const data = encodeMotion(motion);
  return Array.isArray(data) ? motionFromSamples(data) : data;
}
