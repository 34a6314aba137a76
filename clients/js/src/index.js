// mindsync-client: the JavaScript client of the MindSync API (ES module, no build step;
// Node 20+ and current browsers). The web app at /app uses these same files.

export { analysisBody, Client, CONSENT_FIELDS, score } from "./client.js";
export { encodeAudio, encodeImage, encodeMotion, motionColumns, motionFromRows, toBase64 } from "./encoding.js";
export {
  AuthenticationError,
  Conflict,
  ConsentRequired,
  errorFrom,
  Forbidden,
  MindSyncError,
  NetworkError,
  NotFound,
  PayloadTooLarge,
  RateLimited,
  retryAfterSeconds,
  ServerError,
  ServiceUnavailable,
  UnsupportedMediaType,
  ValidationError,
} from "./errors.js";
export { frame, HEADER_BYTES, KIND_JPEG, KIND_PCM16, KIND_WEBM, Stream } from "./stream.js";

export const VERSION = "0.1.0";
