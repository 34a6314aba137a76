// Live capture: camera frames, microphone PCM and device motion, streamed to WS /ws/analyze
// through the MindSync JavaScript client (./client/, a copy of clients/js/src), which owns the
// wire format: a JSON start message, binary frames of 1 kind byte + big-endian float64
// timestamp (ms) + payload, and motion as JSON text.

const FRAME_INTERVAL_MS = 200; // 5 frames a second
const MAX_FRAME_W = 640;
const MAX_FRAME_H = 480;
const JPEG_QUALITY = 0.8;
const MOTION_SEND_MS = 500;
// Past this many bytes waiting in the socket a new frame is skipped rather than queued:
// on a slow link fresh frames matter more than old ones.
const MAX_BUFFERED_BYTES = 512 * 1024;
const STOP_TIMEOUT_MS = 10000;
const DEG = Math.PI / 180;

/**
 * One live session. `handlers` get: state(name, detail), result(message), counters(counts),
 * error(message), stored(message), preview(stream).
 */
export class LiveStream {
  constructor({ client, use, handlers, workletUrl }) {
    this.client = client; // a Client of ./client/index.js, with the user's token
    this.use = use; // {face, audio, motion}: what the user consented to
    this.on = handlers;
    this.workletUrl = workletUrl;
    this.stream = null; // the client's Stream, once the server is ready
    this.media = null;
    this.audioContext = null;
    this.worklet = null;
    this.recorder = null;
    this.timers = [];
    this.motionRows = [];
    this.motionHandler = null;
    this.encoding = false;
    this.counts = { sent: 0, skipped: 0, audioSeconds: 0, motion: 0 };
    this.canvas = document.createElement("canvas");
  }

  /** Ask for the sensors, connect, and start sending. Call from a click (iOS needs it). */
  async start() {
    // iOS asks for motion permission only from a user gesture: before any await.
    let motionPermission = Promise.resolve("granted");
    if (this.use.motion && typeof DeviceMotionEvent !== "undefined"
        && typeof DeviceMotionEvent.requestPermission === "function") {
      motionPermission = DeviceMotionEvent.requestPermission().catch(() => "denied");
    }
    this.on.state("connecting", "Asking for the sensors…");
    if (this.use.face || this.use.audio) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error("This browser cannot use the camera or microphone here (it needs HTTPS).");
      }
      this.media = await navigator.mediaDevices.getUserMedia({
        video: this.use.face
          ? { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15 } }
          : false,
        audio: this.use.audio
          ? { channelCount: 1, echoCancellation: false, noiseSuppression: false,
            autoGainControl: false }
          : false,
      });
      this.on.preview(this.use.face ? this.media : null);
    }
    const motionAllowed = (await motionPermission) === "granted";

    this.on.state("connecting", "Connecting…");
    await this.connect();
    if (this.use.face) this.startFrames();
    if (this.use.audio) await this.startAudio();
    if (this.use.motion && motionAllowed) this.startMotion();
    return { motion: this.use.motion && motionAllowed };
  }

  /** Open the stream; rejects with the client's typed errors (ConsentRequired …). */
  async connect() {
    this.stream = await this.client.stream({
      intervalMs: 500,
      on: {
        result: (message) => this.on.result(message),
        error: (message) => this.on.error(message.message),
        stored: (message) => this.on.stored(message),
        close: () => {
          // Lost without a stop: the sensors go off at once.
          this.release();
          this.on.state("lost", "Connection lost");
        },
      },
    });
    this.on.state("live", "Live");
  }

  /** Close the connection without storing anything more (used when starting failed). */
  close() {
    if (this.stream) this.stream.close();
  }

  startFrames() {
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.srcObject = this.media;
    video.play().catch(() => {});
    this.video = video;
    this.timers.push(setInterval(() => this.sendFrame(), FRAME_INTERVAL_MS));
  }

  sendFrame() {
    const video = this.video;
    if (!video || video.readyState < 2 || !video.videoWidth) return;
    if (this.encoding || (this.stream && this.stream.bufferedAmount > MAX_BUFFERED_BYTES)) {
      this.counts.skipped += 1;
      this.on.counters(this.counts);
      return;
    }
    const scale = Math.min(1, MAX_FRAME_W / video.videoWidth, MAX_FRAME_H / video.videoHeight);
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
    this.canvas.getContext("2d").drawImage(video, 0, 0, w, h);
    this.encoding = true;
    this.canvas.toBlob(async (blob) => {
      try {
        if (blob && this.stream && this.stream.sendFrame(await blob.arrayBuffer())) {
          this.counts.sent += 1;
          this.on.counters(this.counts);
        }
      } finally {
        this.encoding = false;
      }
    }, "image/jpeg", JPEG_QUALITY);
  }

  async startAudio() {
    const track = this.media.getAudioTracks()[0];
    if (!track) return;
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (AudioCtx && window.AudioWorkletNode) {
      this.audioContext = new AudioCtx();
      await this.audioContext.audioWorklet.addModule(this.workletUrl);
      const source = this.audioContext.createMediaStreamSource(new MediaStream([track]));
      this.worklet = new AudioWorkletNode(this.audioContext, "mindsync-pcm16", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        channelCount: 1,
        channelCountMode: "explicit",
      });
      this.worklet.port.onmessage = (event) => {
        if (this.stream) this.stream.sendPcm(event.data);
        this.counts.audioSeconds += event.data.byteLength / 2 / 16000;
        this.on.counters(this.counts);
      };
      // A silent sink keeps the worklet pulled by the audio graph without playing anything.
      const mute = this.audioContext.createGain();
      mute.gain.value = 0;
      source.connect(this.worklet).connect(mute).connect(this.audioContext.destination);
      if (this.audioContext.state === "suspended") await this.audioContext.resume();
      return;
    }
    // Older browsers: compressed WebM/Opus chunks, which the server decodes.
    if (window.MediaRecorder && MediaRecorder.isTypeSupported("audio/webm;codecs=opus")) {
      this.recorder = new MediaRecorder(new MediaStream([track]), {
        mimeType: "audio/webm;codecs=opus",
      });
      this.recorder.addEventListener("dataavailable", async (event) => {
        if (event.data.size && this.stream) this.stream.sendWebm(await event.data.arrayBuffer());
      });
      this.recorder.start(1000);
    }
  }

  startMotion() {
    this.motionHandler = (event) => {
      const a = event.accelerationIncludingGravity;
      if (!a || a.x === null || a.y === null || a.z === null) return;
      const r = event.rotationRate;
      const gyro = r && r.alpha !== null && r.beta !== null && r.gamma !== null;
      // rotationRate is in deg/s around z (alpha), x (beta), y (gamma); the API wants rad/s.
      this.motionRows.push([
        // Seconds on the page's monotonic clock: only differences matter to the server.
        (event.timeStamp || performance.now()) / 1000,
        a.x, a.y, a.z,
        gyro ? r.beta * DEG : null, gyro ? r.gamma * DEG : null, gyro ? r.alpha * DEG : null,
      ]);
    };
    window.addEventListener("devicemotion", this.motionHandler);
    this.timers.push(setInterval(() => this.flushMotion(), MOTION_SEND_MS));
  }

  flushMotion() {
    const rows = this.motionRows;
    if (rows.length < 2) return;
    this.motionRows = [];
    const col = (i) => rows.map((row) => row[i]);
    const motion = { timestamps: col(0), acceleration: { x: col(1), y: col(2), z: col(3) } };
    // Gyroscope only when every sample has it (the server fills in "absent" by itself).
    if (rows.every((row) => row[4] !== null)) motion.gyroscope = { x: col(4), y: col(5), z: col(6) };
    if (this.stream) this.stream.sendMotion(motion);
    this.counts.motion += rows.length;
    this.on.counters(this.counts);
  }

  /** Stop the sensors at once, then ask the server to store the session. */
  async stop() {
    const stream = this.stream;
    if (stream && stream.isOpen) this.flushMotion();
    this.release();
    if (!stream || !stream.isOpen) return;
    this.on.state("stopping", "Saving…");
    await stream.stop({ timeoutMs: STOP_TIMEOUT_MS }); // "stored" reaches on.stored
    this.on.state("stopped", "Stopped");
  }

  /** Turn every sensor off (camera light goes out) and forget pending data. */
  release() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.motionHandler) window.removeEventListener("devicemotion", this.motionHandler);
    this.motionHandler = null;
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
    this.recorder = null;
    if (this.worklet) {
      this.worklet.port.postMessage("stop");
      this.worklet.disconnect();
      this.worklet = null;
    }
    if (this.audioContext) {
      this.audioContext.close().catch(() => {});
      this.audioContext = null;
    }
    if (this.media) for (const track of this.media.getTracks()) track.stop();
    this.media = null;
    if (this.video) this.video.srcObject = null;
    this.video = null;
    this.on.preview(null);
  }
}
