// Talking to the service: the API key, /metadata, /predict, and the JSON error body.

const KEY_STORAGE = "emotion.apiKey";

/** An HTTP or network failure carrying the message to show the user. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = "network_error", retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** The saved API key, or "" (localStorage may be disabled, e.g. in private windows). */
export function loadApiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

/** Remember the API key in this browser (removed when empty). */
export function saveApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Not persisted; the key still works for this page load.
  }
}

/** Relative to the page, so the service also works behind a path prefix. */
function endpoint(path, query) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(query || {})) url.searchParams.set(name, value);
  return url;
}

/** The seconds in a Retry-After header (delta-seconds or an HTTP date), or null. */
function retryAfterSeconds(response) {
  const raw = response.headers.get("Retry-After");
  if (!raw) return null;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(raw);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Turn a non-2xx response into an ApiError with the server's own message when it sent one. */
async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText}`.trim() + ".";
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) {
      message = body.error.message;
      code = body.error.code || code;
    }
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): keep the status line.
  }
  const retryAfter = retryAfterSeconds(response);
  if (retryAfter !== null && !/try again/i.test(message)) {
    message += ` Try again in ${retryAfter} s.`;
  }
  return new ApiError(message, { status: response.status, code, retryAfter });
}

/** fetch() that resolves to parsed JSON or throws ApiError. */
async function request(path, { apiKey = "", query, body, signal, method = "GET" } = {}) {
  const headers = { Accept: "application/json" };
  if (apiKey) headers["X-API-Key"] = apiKey;
  let response;
  try {
    response = await fetch(endpoint(path, query), { method, headers, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Could not reach the service. Check your connection and try again.");
  }
  if (!response.ok) throw await errorFrom(response);
  try {
    return await response.json();
  } catch {
    throw new ApiError("The service sent a response this page cannot read.", {
      status: response.status, code: "bad_response",
    });
  }
}

/** GET /metadata: name, version, class names and test metrics of the served model. */
export function fetchMetadata(apiKey) {
  return request("metadata", { apiKey });
}

/** POST /predict with the image as the multipart field "image". */
export function predict(blob, { apiKey = "", detect = "auto", filename = "image", signal } = {}) {
  const form = new FormData();
  form.append("image", blob, filename);
  return request("predict", { apiKey, query: { detect }, body: form, signal, method: "POST" });
}

/** POST /predict/video with the clip as the multipart field "video". */
export function predictVideo(blob, { apiKey = "", detect = "auto", filename = "video", signal } = {}) {
  const form = new FormData();
  form.append("video", blob, filename);
  return request("predict/video", { apiKey, query: { detect }, body: form, signal, method: "POST" });
}
