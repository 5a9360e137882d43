// The report form (Features/Web/ReportPage.cs). For a visitor who is not signed in the form carries a proof-of-work
// challenge (PowChallenges): find a nonce such that sha256(prefix + nonce) has the challenge's leading zero bits, put it
// in the hidden field, and only then let the form go. The work starts on arrival, in slices that keep the page
// responsive, so it is usually done before the visitor has finished typing.
"use strict";

(() => {
  const form = document.getElementById("report-form");
  const challenge = form && form.elements.namedItem("challenge_id");
  if (!challenge) {
    return;
  }

  const nonceField = form.elements.namedItem("challenge_nonce");
  const status = document.getElementById("report-check");
  const prefix = challenge.dataset.prefix;
  const bits = Number(challenge.dataset.bits);

  // SHA-256 (FIPS 180-4) of an ASCII string, its first two words only: enough to count up to 64 leading zero bits.
  // Written out rather than crypto.subtle, which exists only on secure origins and answers one hash per promise.
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
  const W = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));

  const sha256Head = (text) => {
    const length = text.length;
    const blocks = ((length + 8) >> 6) + 1;
    const words = new Uint32Array(blocks * 16);
    for (let i = 0; i < length; i++) {
      words[i >> 2] |= text.charCodeAt(i) << (24 - (i & 3) * 8);
    }
    words[length >> 2] |= 0x80 << (24 - (length & 3) * 8);
    words[blocks * 16 - 1] = length * 8;

    let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
    let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (let block = 0; block < blocks; block++) {
      for (let t = 0; t < 16; t++) {
        W[t] = words[block * 16 + t];
      }
      for (let t = 16; t < 64; t++) {
        const s0 = rotr(W[t - 15], 7) ^ rotr(W[t - 15], 18) ^ (W[t - 15] >>> 3);
        const s1 = rotr(W[t - 2], 17) ^ rotr(W[t - 2], 19) ^ (W[t - 2] >>> 10);
        W[t] = W[t - 16] + s0 + W[t - 7] + s1;
      }

      let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (let t = 0; t < 64; t++) {
        const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    return [h0 >>> 0, h1 >>> 0];
  };

  const leadingZeroBits = ([first, second]) => (first === 0 ? 32 + Math.clz32(second) : Math.clz32(first));

  let next = 0;
  let solved = false;
  let sendWhenSolved = false;

  const work = () => {
    for (const end = next + 20000; next < end; next++) {
      if (leadingZeroBits(sha256Head(prefix + next)) >= bits) {
        nonceField.value = String(next);
        solved = true;
        if (sendWhenSolved) {
          form.submit();
        }
        return;
      }
    }
    setTimeout(work, 0);
  };

  form.addEventListener("submit", (event) => {
    if (!solved) {
      event.preventDefault();
      sendWhenSolved = true;
      status.textContent = "Finishing the check that keeps robots out; the report is sent as soon as it is done.";
    }
  });

  setTimeout(work, 0);
})();
