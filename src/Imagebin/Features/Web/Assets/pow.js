// The home page's upload challenge (Features/Items/AnonymousUploads.cs): find a nonce, a decimal number as text, such that
// sha256(prefix + nonce) has difficulty_bits leading zero bits. This file is both the page's script (Imagebin.solvePow)
// and the Web Worker it starts, so the page stays responsive; without workers it solves in slices on the page itself.
// SHA-256 is computed here in plain JavaScript: crypto.subtle.digest per attempt costs a promise each, far too slow.
"use strict";

(() => {
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const w = new Uint32Array(64);
  const h = new Uint32Array(8);

  /** The first word (32 bits, big-endian) of sha256 of an ASCII string: enough to count up to 32 leading zero bits. */
  const firstWord = (text) => {
    const length = text.length;
    const blocks = ((length + 8) >> 6) + 1;
    const words = new Uint32Array(blocks * 16);
    for (let i = 0; i < length; i++) {
      words[i >> 2] |= (text.charCodeAt(i) & 0xff) << (24 - (i & 3) * 8);
    }
    words[length >> 2] |= 0x80 << (24 - (length & 3) * 8);
    words[blocks * 16 - 1] = length * 8;
    h.set([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    for (let block = 0; block < blocks; block++) {
      for (let t = 0; t < 16; t++) {
        w[t] = words[block * 16 + t];
      }
      for (let t = 16; t < 64; t++) {
        const a = w[t - 15], b = w[t - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    return h[0];
  };

  /** Tries nonces from start on for at most count attempts; the nonce found, or null. */
  const search = (prefix, bits, start, count) => {
    // Difficulty is at most 32 bits (PowOptions), so the first word decides.
    const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    for (let n = start; n < start + count; n++) {
      if ((firstWord(prefix + n) & mask) >>> 0 === 0) {
        return String(n);
      }
    }
    return null;
  };

  if (typeof window === "undefined") {
    // Started as the page's worker: one challenge per message, the nonce back.
    self.onmessage = (event) => {
      const { prefix, bits } = event.data;
      for (let start = 0; ; start += 1 << 20) {
        const nonce = search(prefix, bits, start, 1 << 20);
        if (nonce !== null) {
          self.postMessage({ nonce });
          return;
        }
      }
    };
    return;
  }

  const workerUrl = document.currentScript && document.currentScript.src;

  /** On the page itself, in slices of a few milliseconds so that it keeps answering. */
  const solveHere = (prefix, bits) => new Promise((resolve) => {
    let start = 0;
    const slice = () => {
      const nonce = search(prefix, bits, start, 5000);
      if (nonce !== null) {
        resolve(nonce);
      } else {
        start += 5000;
        setTimeout(slice, 0);
      }
    };
    slice();
  });

  /** Resolves to the nonce for a challenge ({prefix, difficulty_bits}). */
  const solvePow = (challenge) => {
    const prefix = challenge.prefix, bits = challenge.difficulty_bits;
    if (typeof Worker === "undefined" || !workerUrl) {
      return solveHere(prefix, bits);
    }
    return new Promise((resolve) => {
      let worker;
      try {
        worker = new Worker(workerUrl);
      } catch {
        resolve(solveHere(prefix, bits));
        return;
      }
      worker.onmessage = (event) => {
        worker.terminate();
        resolve(event.data.nonce);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        resolve(solveHere(prefix, bits));
      };
      worker.postMessage({ prefix, bits });
    });
  };

  window.Imagebin = Object.assign(window.Imagebin || {}, { solvePow, powFirstWord: firstWord });
})();
