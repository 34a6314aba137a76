// mindsync-client against a real `mindsync serve` process (real analysers, SQLite, real
// photos and speech from tests/data).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  analysisBody,
  AuthenticationError,
  Client,
  ConsentRequired,
  frame,
  NotFound,
  score,
  UnsupportedMediaType,
  ValidationError,
} from "../src/index.js";
import { ADMIN_TOKEN, basicMotion, DATA, makeUser, startServer, walk } from "./server.js";

const PHOTO = join(DATA, "face", "astronaut.png");
const JPEG = join(DATA, "face", "grace_hopper.jpg");
const SPEECH = join(DATA, "voice", "arctic_a0007.wav");

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

describe("analyze", () => {
  test("takes paths, bytes and Blobs, and both motion forms", async () => {
    const user = await makeUser(server.url);
    const client = new Client(server.url, user.token);
    const first = await client.analyze({ face: PHOTO, audio: SPEECH, motion: walk() });
    assert.equal(first.user_id, user.user_id);
    assert.equal(first.stored, true);
    assert.deepEqual(first.modalities_used, ["face", "voice", "motion"]);
    assert.equal(first.emotion_analysis.dominant_emotion, "happy"); // the smiling astronaut
    assert.ok(first.stress_confidence > 0);
    assert.equal(score(first, "stress").confidence, first.stress_confidence);
    assert.ok(score(first, "stress").modalities.length);

    const blob = new Blob([readFileSync(JPEG)], { type: "image/jpeg" });
    const walking = basicMotion("Walking"); // the seed's sample objects, with gyroscope
    const second = await client.analyze({ face: blob, audio: readFileSync(SPEECH), motion: walking });
    assert.deepEqual(second.modalities_used, ["face", "voice", "motion"]);
    assert.equal(second.modalities.motion.activity, "walking");

    const dataUrl = `data:image/png;base64,${readFileSync(PHOTO).toString("base64")}`;
    const third = await client.analyze({ face: dataUrl, sessionId: crypto.randomUUID() });
    assert.deepEqual(third.modalities_used, ["face"]);
  });

  test("sends base64 and a session id, reused as the idempotency key", async () => {
    const body = await analysisBody({ face: PHOTO, sessionId: "fixed", motion: walk(1) });
    assert.deepEqual(Buffer.from(body.face_image, "base64"), readFileSync(PHOTO));
    assert.equal(body.session_id, "fixed");
    assert.equal(body.motion_data.timestamps.length, 50);
    const random = await analysisBody({ audio: new Uint8Array([1, 2, 3]) });
    assert.match(random.session_id, /^[0-9a-f-]{36}$/);
    assert.equal(random.audio_data, "AQID");
    await assert.rejects(analysisBody({}), TypeError);

    const user = await makeUser(server.url);
    const client = new Client(server.url, user.token);
    const sessionId = crypto.randomUUID();
    const once = await client.analyze({ audio: SPEECH, sessionId });
    const again = await client.analyze({ audio: SPEECH, sessionId }); // a retry: the stored one
    assert.equal(again.session_id, once.session_id);
    const all = [];
    for await (const s of client.sessions()) all.push(s.session_id);
    assert.deepEqual(all, [sessionId]);
  });
});

describe("errors", () => {
  test("become typed errors from the API's error shape", async () => {
    const neverAsked = await makeUser(server.url, []);
    const client = new Client(server.url, neverAsked.token);
    const refused = await client.analyze({ face: PHOTO }).catch((e) => e);
    assert.ok(refused instanceof ConsentRequired, String(refused));
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "consent_required");
    assert.deepEqual(refused.modalities, ["face"]);
    assert.ok(refused.requestId);

    const prefs = await client.giveConsent(["face"]);
    assert.equal(prefs.face_enabled, true);
    assert.equal(prefs.audio_enabled, false);
    const partly = await client.analyze({ face: PHOTO, audio: SPEECH });
    assert.deepEqual(partly.modalities_used, ["face"]);
    assert.deepEqual(partly.modalities_skipped.map((s) => [s.modality, s.reason]), [["voice", "no consent given"]]);

    const corrupt = await client.analyze({ face: new Uint8Array(64).fill(7) }).catch((e) => e);
    assert.ok(corrupt instanceof UnsupportedMediaType, String(corrupt));
    assert.equal(corrupt.field, "face_image");
    const invalid = await client.analyze({ motion: { timestamps: [0, 1], acceleration: { x: [0], y: [0], z: [0] } } })
      .catch((e) => e);
    assert.ok(invalid instanceof ValidationError, String(invalid));
    assert.ok(invalid.field && invalid.field.startsWith("motion_data"), invalid.field);
    await assert.rejects(client.session("00000000-0000-0000-0000-000000000000"), NotFound);
    await assert.rejects(new Client(server.url, "ms_not-a-token").me(), AuthenticationError);
  });
});

describe("sessions, preferences, export and erase", () => {
  test("pages through every session, then exports and erases the user", async () => {
    const user = await makeUser(server.url, ["motion"]);
    const client = new Client(server.url, user.token);
    const made = new Set();
    for (let i = 0; i < 3; i += 1) made.add((await client.analyze({ motion: walk() })).session_id);
    const pages = [];
    for await (const page of client.sessionPages({ pageSize: 2 })) pages.push(page.items.length);
    assert.deepEqual(pages, [2, 1]);
    const listed = new Set();
    for await (const s of client.sessions({ pageSize: 2, userId: user.user_id })) listed.add(s.session_id);
    assert.deepEqual(listed, made);

    const prefs = await client.setPreferences({ store_history: true, retention_days: 30 });
    assert.equal(prefs.retention_days, 30);
    assert.equal((await client.preferences(user.user_id)).retention_days, 30);
    const exported = await client.export(user.user_id);
    assert.equal(exported.sessions.length, 3);
    const erased = await client.erase(user.user_id);
    assert.equal(erased.deleted.sessions, 3);
    await assert.rejects(client.me(), AuthenticationError);
  });

  test("an administrator acts for a user by naming them", async () => {
    const user = await makeUser(server.url, []);
    const admin = new Client(server.url, ADMIN_TOKEN);
    await admin.giveConsent("voice", { userId: user.user_id });
    const result = await admin.analyze({ audio: SPEECH, userId: user.user_id });
    assert.equal(result.user_id, user.user_id);
    assert.deepEqual(result.modalities_used, ["voice"]);
  });
});

describe("stream", () => {
  test("frames and motion in, results out, one stored session", async () => {
    const user = await makeUser(server.url);
    const client = new Client(server.url, user.token);
    assert.deepEqual([...frame(1, new Uint8Array([120]), 1).subarray(0, 9)], [1, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    const stream = await client.stream({ intervalMs: 200 });
    assert.deepEqual(stream.ready.modalities_allowed, ["face", "voice", "motion"]);
    assert.ok(stream.sendFrame(readFileSync(JPEG)));
    assert.ok(stream.sendMotion(walk(4)));
    const results = [];
    let stored = null;
    for await (const result of stream) {
      results.push(result);
      if (results.length === 1) stored = await stream.stop();
    }
    assert.ok(results[0].emotion_analysis, JSON.stringify(results[0]).slice(0, 300));
    assert.ok("stress_confidence" in results[0]);
    assert.equal(stored.type, "stored");
    assert.equal(stream.stored, stored);
    const sessions = [];
    for await (const s of client.sessions()) sessions.push(s.session_id);
    assert.deepEqual(sessions, [stored.session_id]);
  });

  test("callbacks instead of iteration; bad data is an error message, not the end", async () => {
    const user = await makeUser(server.url, ["voice"]);
    const client = new Client(server.url, user.token);
    const errors = [];
    let gotResult;
    const firstResult = new Promise((ok) => { gotResult = ok; });
    const stream = await client.stream({ intervalMs: 200, on: { result: (m) => gotResult(m), error: (e) => errors.push(e) } });
    assert.deepEqual(stream.ready.modalities_allowed, ["voice"]);
    assert.deepEqual(stream.ready.modalities_skipped.map((m) => m.modality), ["face", "motion"]);
    assert.throws(() => stream.sendMotion([[0, 0, 0]]), TypeError); // 3 values a row: refused here
    // 1 s of the real speech as 16 kHz PCM16 (the WAV's samples after its 44-byte header).
    stream.sendPcm(readFileSync(SPEECH).subarray(44, 44 + 32000));
    stream.ws.send(new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 0, 1])); // a kind the server does not know
    const result = await firstResult;
    assert.ok(result.modalities.voice, JSON.stringify(result).slice(0, 300));
    const final = await stream.stop();
    assert.equal(final.type, "stored");
    assert.deepEqual(errors.map((e) => e.field), ["binary"]);
  });

  test("refuses a user without consent with ConsentRequired", async () => {
    const user = await makeUser(server.url, []);
    const refused = await new Client(server.url, user.token).stream().catch((e) => e);
    assert.ok(refused instanceof ConsentRequired, String(refused));
    assert.deepEqual(refused.modalities, ["face", "voice", "motion"]);
    const stranger = await new Client(server.url, "ms_not-a-token").stream().catch((e) => e);
    assert.ok(stranger instanceof AuthenticationError, String(stranger));
  });
});
