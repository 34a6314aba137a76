// Typed errors built from the API's error shape {"error": {code, message, field, request_id}}.

/**
 * Any error the service answered with (or `status` 0 when it could not be reached).
 * `code` is the API's machine-readable code, `field` the request field at fault.
 */
export class MindSyncError extends Error {
  /**
   * @param {string} message
   * @param {{status: number, code: string, field?: string | null, requestId?: string | null,
   *   details?: Array<{field: string | null, message: string}>, retryAfter?: number | null}} info
   */
  constructor(message, { status, code, field = null, requestId = null, details = [], retryAfter = null }) {
    super(message);
    this.name = new.target.name;
    /** HTTP status; 0 when no answer came. */
    this.status = status;
    this.code = code;
    /** @type {string | null} */
    this.field = field;
    /** @type {string | null} quote it when reporting a problem */
    this.requestId = requestId;
    this.details = details || [];
    /** @type {number | null} seconds the server asked to wait (Retry-After) */
    this.retryAfter = retryAfter;
  }

  toString() {
    return `${this.name}: ${this.status} ${this.code}${this.field ? ` (${this.field})` : ""}: ${this.message}`;
  }
}

/** 401: no token, or an unknown or revoked one. */
export class AuthenticationError extends MindSyncError {}

/** 403 `consent_required`: the user has not consented to any modality sent. */
export class ConsentRequired extends MindSyncError {
  /**
   * @param {string} message
   * @param {ConstructorParameters<typeof MindSyncError>[1] & {modalities?: string[]}} info
   */
  constructor(message, info) {
    super(message, info);
    /** The modalities that lack consent ("face", "voice", "motion"). */
    this.modalities = info.modalities || [];
  }
}

/** 403 (other than consent): the token may not do this. */
export class Forbidden extends MindSyncError {}

/** 404: it does not exist, or is not yours. */
export class NotFound extends MindSyncError {}

/** 409: e.g. a session id already used by someone else. */
export class Conflict extends MindSyncError {}

/** 413: an input is past a limit; the message names it. */
export class PayloadTooLarge extends MindSyncError {}

/** 415: an image or clip that cannot be decoded. */
export class UnsupportedMediaType extends MindSyncError {}

/** 422: an invalid request; `field` and `details` say what. */
export class ValidationError extends MindSyncError {}

/** 429: too many requests; retry after `retryAfter` seconds. */
export class RateLimited extends MindSyncError {}

/** 503: database or analysis temporarily unavailable; retry after `retryAfter`. */
export class ServiceUnavailable extends MindSyncError {}

/** Another 5xx: quote `requestId` when reporting it. */
export class ServerError extends MindSyncError {}

/** No answer: the server cannot be reached, or the request timed out (`status` 0). */
export class NetworkError extends MindSyncError {}

/** @type {Record<number, typeof MindSyncError>} */
const BY_STATUS = {
  401: AuthenticationError,
  403: Forbidden,
  404: NotFound,
  409: Conflict,
  413: PayloadTooLarge,
  415: UnsupportedMediaType,
  422: ValidationError,
  429: RateLimited,
  503: ServiceUnavailable,
};

/**
 * The seconds of a Retry-After header (delta-seconds or HTTP-date), or null.
 * @param {string | null | undefined} value
 * @param {number} [now] ms since the epoch, for the HTTP-date form
 * @returns {number | null}
 */
export function retryAfterSeconds(value, now = Date.now()) {
  if (!value) return null;
  const trimmed = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Number(trimmed));
  const when = Date.parse(trimmed);
  return Number.isNaN(when) ? null : Math.max(0, (when - now) / 1000);
}

/**
 * The typed error for an error answer (any body, even one that is not JSON).
 * @param {number} status
 * @param {any} body the parsed JSON body, or null
 * @param {{get(name: string): string | null} | null} [headers]
 * @returns {MindSyncError}
 */
export function errorFrom(status, body, headers = null) {
  let error = body && typeof body === "object" ? body.error : null;
  if (!error || typeof error !== "object") error = {};
  const code = String(error.code || (status === 0 ? "network" : "http_error"));
  const info = {
    status,
    code,
    field: error.field ?? null,
    requestId: error.request_id || (headers && headers.get("x-request-id")) || null,
    details: Array.isArray(error.details) ? error.details : [],
    retryAfter: retryAfterSeconds(headers && headers.get("retry-after")),
    modalities: Array.isArray(error.modalities) ? error.modalities : [],
  };
  const message = String(error.message || `The server answered ${status}.`);
  if (code === "consent_required") return new ConsentRequired(message, info);
  const Cls = BY_STATUS[status] || (status >= 500 ? ServerError : MindSyncError);
  return new Cls(message, info);
}
