// Start and stop a real `mindsync serve` process for the client's tests (as the Python
// client's tests do with tests/e2e/server.py): loopback, a free port, a temporary SQLite DB.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const DATA = join(REPO, "tests", "data");
// The administrator token of tests/conftest.py.
export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef-0123456789";

/** The Python that runs MindSync: $MINDSYNC_PYTHON, else the repository's .venv, else python3. */
function python() {
  if (process.env.MINDSYNC_PYTHON) return process.env.MINDSYNC_PYTHON;
  const venv = join(REPO, ".venv", process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
  return existsSync(venv) ? venv : "python3";
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * `python -m mindsync serve` with these extra environment variables; resolves once /health
 * answers. `stop()` ends it and removes its folder.
 * @param {Record<string, string>} [env]
 */
export async function startServer(env = {}) {
  const folder = mkdtempSync(join(tmpdir(), "mindsync-js-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = join(folder, "server.log");
  const out = openSync(log, "a");
  const child = spawn(python(), ["-m", "mindsync", "serve", "--port", String(port)], {
    cwd: REPO,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite:///${join(folder, "client.db")}`,
      MINDSYNC_ADMIN_TOKEN: ADMIN_TOKEN,
      MINDSYNC_ANALYSIS_PROCESSES: "1",
      ...env,
    },
    stdio: ["ignore", out, out],
  });
  let exited = null;
  child.on("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + 90000;
  for (;;) {
    if (exited !== null) throw new Error(`server exited early: ${readFileSync(log, "utf8").slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("server did not become ready");
    }
    try {
      const answer = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (answer.status === 200 || answer.status === 503) break;
    } catch {
      // not listening yet
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  return {
    url,
    log,
    async stop() {
      if (exited === null) {
        const gone = new Promise((ok) => child.once("exit", ok));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/**
 * A user made by the administrator, with consent to `consent` (none: [] ).
 * @returns {Promise<{user_id: string, token: string}>}
 */
export async function makeUser(url, consent = ["face", "voice", "motion"], name = "JS client") {
  const answer = await fetch(`${url}/users`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name, consent }),
  });
  if (!answer.ok) throw new Error(`POST /users: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** A walk at 1.9 steps a second, rows [t, ax, ay, az] (generated: a controlled signal). */
export function walk(seconds = 6, rate = 50) {
  const rows = [];
  for (let i = 0; i < seconds * rate; i += 1) {
    const t = i / rate;
    const step = 2 * Math.PI * 1.9 * t;
    rows.push([t, 0.9 * Math.sin(step), 0.5 * Math.cos(step), 9.81 + 2.0 * Math.sin(2 * step)]);
  }
  return rows;
}

/**
 * A real BasicMotions smart-watch recording (10 s, 10 Hz, gravity removed; tests/data/motion)
 * of `label` (Standing, Walking, Running, Badminton), linearly resampled to `rate` Hz, as
 * the seed's sample objects with gyroscope.
 */
export function basicMotion(label, rate = 50) {
  const text = readFileSync(join(DATA, "motion", "BasicMotions_TEST.ts"), "utf8");
  const line = text.split("\n").map((l) => l.trim())
    .find((l) => l && !l.startsWith("#") && !l.startsWith("@") && l.endsWith(`:${label}`));
  const dims = line.split(":").slice(0, 6).map((d) => d.split(",").map(Number));
  const n = dims[0].length;
  const at = (d, x) => {
    const i = Math.min(Math.floor(x), n - 2);
    return dims[d][i] + (dims[d][i + 1] - dims[d][i]) * (x - i);
  };
  const samples = [];
  for (let k = 0; k <= ((n - 1) / 10) * rate; k += 1) {
    const t = k / rate;
    const x = t * 10;
    samples.push({
      timestamp: t,
      acceleration: { x: at(0, x), y: at(1, x), z: at(2, x) },
      gyroscope: { x: at(3, x), y: at(4, x), z: at(5, x) },
    });
  }
  return samples;
}
