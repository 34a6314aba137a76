// AudioWorklet processor: microphone audio -> 16 kHz mono PCM16 chunks for the WebSocket.
//
// Runs on the audio thread. `sampleRate` (a global of AudioWorkletGlobalScope) is the
// context's rate, usually 48 000 or 44 100. Each output sample is the mean of the input
// samples that fall in its 1/16000 s slot: a box filter, which is enough anti-aliasing for
// the speech features the server computes (pitch, loudness, timing) at any input rate.

const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 1600; // 100 ms of output per message

class PcmDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample (>= 1 normally)
    this.acc = 0; // sum of input samples in the current slot
    this.count = 0; // how many input samples it holds
    this.pos = 0; // input samples into the current slot
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.fill = 0;
    this.stopped = false;
    this.port.onmessage = (event) => {
      if (event.data === "stop") this.stopped = true;
    };
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const frames = input[0].length;
    const channels = input.length;
    for (let i = 0; i < frames; i += 1) {
      // Mix down to mono.
      let sample = 0;
      for (let c = 0; c < channels; c += 1) sample += input[c][i];
      sample /= channels;
      if (this.step <= 1) {
        // Input at or below 16 kHz (rare): pass samples through unchanged.
        this.emit(sample);
        continue;
      }
      this.acc += sample;
      this.count += 1;
      this.pos += 1;
      if (this.pos >= this.step) {
        this.emit(this.acc / this.count);
        this.pos -= this.step;
        this.acc = 0;
        this.count = 0;
      }
    }
    return true;
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.chunk[this.fill] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    this.fill += 1;
    if (this.fill === CHUNK_SAMPLES) {
      // Transfer the buffer (no copy) and start a new one.
      this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
      this.chunk = new Int16Array(CHUNK_SAMPLES);
      this.fill = 0;
    }
  }
}

registerProcessor("mindsync-pcm16", PcmDownsampler);
