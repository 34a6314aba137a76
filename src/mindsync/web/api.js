// The REST API, called with the bearer token of the signed-in user.
//
// The token lives in sessionStorage (this tab only, gone when it closes) and is sent in the
// Authorization header; it is never put in a URL.

const TOKEN_KEY = "mindsync.token";

export class ApiError extends Error {
  /** An error answer of the API: {"error": {code, message, field}}. */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Call the API; resolves to the parsed JSON, rejects with an ApiError. */
export async function api(path, { method = "GET", body, token = getToken() } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    throw new ApiError(
      response.status,
      error.code || "http_" + response.status,
      error.message || `The server answered ${response.status}.`,
    );
  }
  return data;
}

/** Path segment escaping for user ids (they may hold ":" or "@"). */
export function seg(value) {
  return encodeURIComponent(value);
}
