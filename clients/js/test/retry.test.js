// Retries: a real 429 from the server's rate limit and a real 503 from an analysis that ran
// past its time limit, both honouring Retry-After; and a stand-in server that answers 429,
// 503, then 200, to show every attempt sends the same body and session id.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { Client, NetworkError, RateLimited, retryAfterSeconds, ServiceUnavailable } from "../src/index.js";
import { freePort, makeUser, startServer, walk } from "./server.js";

describe("against a stand-in server", () => {
  let stub;
  let url;
  const seen = [];
  const answers = [];
  before(async () => {
    stub = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => { body += chunk; });
      request.on("end", () => {
        seen.push({ body, key: request.headers["idempotency-key"] });
        const [status, headers, json] = answers.shift() || [200, {}, { session_id: JSON.parse(body).session_id, stored: true }];
        response.writeHead(status, { "content-type": "application/json", ...headers });
        response.end(JSON.stringify(json));
      });
    });
    await new Promise((ok) => stub.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${stub.address().port}`;
  });
  after(() => new Promise((ok) => stub.close(ok)));

  test("429 then 503 are retried after Retry-After with the same body", async () => {
    answers.push(
      [429, { "retry-after": "0.2" }, { error: { code: "rate_limited", message: "slow down" } }],
      [503, { "retry-after": "0.1" }, { error: { code: "analysis_interrupted", message: "busy" } }],
    );
    const waits = [];
    const client = new Client(url, "t", { onRetry: ({ waitS, error }) => waits.push([error.status, waitS]) });
    const started = performance.now();
    const result = await client.analyze({ audio: new Uint8Array([82, 73, 70, 70]) });
    assert.ok(performance.now() - started >= 300);
    assert.deepEqual(waits, [[429, 0.2], [503, 0.1]]);
    assert.equal(seen.length, 3);
    assert.equal(new Set(seen.map((s) => s.body)).size, 1);
    assert.deepEqual(seen.map((s) => s.key), Array(3).fill(result.session_id));
  });

  test("gives up after maxRetries with the typed error", async () => {
    answers.push(...Array(3).fill([503, { "retry-after": "0" }, { error: {} }]));
    const error = await new Client(url, null, { maxRetries: 2 }).health().catch((e) => e);
    assert.ok(error instanceof ServiceUnavailable, String(error));
    assert.equal(error.retryAfter, 0);
    assert.equal(answers.length, 0);
  });
});

test("Retry-After in both forms", () => {
  assert.equal(retryAfterSeconds("7"), 7);
  assert.equal(retryAfterSeconds("Wed, 21 Oct 2015 07:28:30 GMT", Date.parse("2015-10-21T07:28:00Z")), 30);
  assert.equal(retryAfterSeconds("soon"), null);
  assert.equal(retryAfterSeconds(null), null);
});

test("a server that cannot be reached is a NetworkError after the retries", async () => {
  const port = await freePort(); // nothing listens there
  const waits = [];
  const client = new Client(`http://127.0.0.1:${port}`, null, { maxRetries: 2, onRetry: (r) => waits.push(r.waitS) });
  const error = await client.health().catch((e) => e);
  assert.ok(error instanceof NetworkError, String(error));
  assert.equal(error.status, 0);
  assert.deepEqual(waits, [0.5, 1]); // the back-off without Retry-After
});

describe("against a real server", () => {
  test("a real 429 of the rate limit is waited out, then the same session is analysed", async (t) => {
    const server = await startServer({ MINDSYNC_RATE_LIMIT_PER_MINUTE: "3", MINDSYNC_ANALYSIS_PROCESSES: "0" });
    t.after(() => server.stop());
    const user = await makeUser(server.url, ["motion"]); // POST /users counts for the admin token only
    const impatient = new Client(server.url, user.token, { maxRetries: 0 });
    let limited;
    for (let i = 0; i < 8 && !limited; i += 1) {
      limited = await impatient.me().then(() => null, (e) => e);
    }
    assert.ok(limited instanceof RateLimited, String(limited));
    assert.equal(limited.code, "rate_limited");
    assert.ok(limited.retryAfter >= 1 && limited.retryAfter <= 60, String(limited.retryAfter));

    const retries = [];
    const patient = new Client(server.url, user.token, { onRetry: (r) => retries.push(r) });
    const sessionId = crypto.randomUUID();
    const started = performance.now();
    const result = await patient.analyze({ motion: walk(), sessionId });
    assert.equal(result.session_id, sessionId);
    assert.ok(retries.length >= 1 && retries.every((r) => r.error.status === 429));
    assert.ok((performance.now() - started) / 1000 >= retries[0].waitS - 0.05);
  });

  test("a real 503 (analysis past its time limit) is retried after Retry-After, then raised", async (t) => {
    const server = await startServer({ MINDSYNC_ANALYSIS_PROCESSES: "1", MINDSYNC_ANALYSIS_TIMEOUT_SECONDS: "0.001" });
    t.after(() => server.stop());
    const user = await makeUser(server.url, ["motion"]);
    const retries = [];
    const client = new Client(server.url, user.token, { maxRetries: 2, onRetry: (r) => retries.push(r) });
    const sessionId = crypto.randomUUID();
    // Five minutes at 100 Hz: tens of milliseconds of analysis, far past the 1 ms limit on
    // any machine (a 6 s walk could come close to it on a fast, idle one).
    const error = await client.analyze({ motion: walk(300, 100), sessionId }).catch((e) => e);
    assert.ok(error instanceof ServiceUnavailable, String(error));
    assert.equal(error.retryAfter, 1);
    assert.deepEqual(retries.map((r) => [r.error.status, r.waitS]), [[503, 1], [503, 1]]);
    const stored = [];
    for await (const s of client.sessions()) stored.push(s);
    assert.equal(stored.length, 0); // nothing analysed, nothing stored
  });
});
