// Runs nsfwjs 4.4.0 itself (tfjs, WASM backend, single-threaded, no network) on deterministic inputs and writes its
// five probabilities per input to a JSON file that the C# tests compare the ONNX model against.
//
//   node reference.mjs OUTPUT.json
//
// The inputs are rebuilt byte for byte by tests/Imagebin.Tests/Moderation/NsfwReferenceInputs.cs; each case records the
// sha256 of its input so that a drift between the two generators fails loudly instead of loosening the comparison.
//
// "tensors": 224x224x3 float tensors (RGB, HWC, values in [0, 1]) given straight to the Keras model's predict.
// "images": RGB byte images of other sizes given to nsfwjs's infer(), which divides by 255 and resizes them to
//           224x224 (tf.image.resizeBilinear, alignCorners = true); they check the C# preprocessing.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as nsfwjs from 'nsfwjs';

const here = dirname(fileURLToPath(import.meta.url));
const output = process.argv[2];
if (!output) {
  console.error('usage: node reference.mjs OUTPUT.json');
  process.exit(2);
}

// mulberry32 (Tommy Ettinger): 32-bit state, each call adds 0x6D2B79F5 and mixes; returns an unsigned 32-bit integer.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const SIZE = 224;

// Uniform noise per value: the top 24 bits / 2^24, exact in float32.
function noise(seed) {
  const next = mulberry32(seed);
  const data = new Float32Array(SIZE * SIZE * 3);
  for (let i = 0; i < data.length; i++) data[i] = (next() >>> 8) / 16777216;
  return data;
}

// RGB bytes from a function of (x, y) → [r, g, b] (integers 0..255).
function rgbBytes(width, height, pixel) {
  const bytes = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const [r, g, b] = pixel(x, y);
    const i = (y * width + x) * 3;
    bytes[i] = r; bytes[i + 1] = g; bytes[i + 2] = b;
  }
  return bytes;
}

// Blocks of random colour: one PRNG draw per block, r, g, b = its three low bytes.
function blocks(width, height, blockSize, seed) {
  const next = mulberry32(seed);
  const columns = Math.ceil(width / blockSize), rows = Math.ceil(height / blockSize);
  const colours = [];
  for (let i = 0; i < columns * rows; i++) {
    const v = next();
    colours.push([v & 255, (v >>> 8) & 255, (v >>> 16) & 255]);
  }
  return rgbBytes(width, height, (x, y) => colours[Math.floor(y / blockSize) * columns + Math.floor(x / blockSize)]);
}

const toUnit = (bytes) => Float32Array.from(bytes, (b) => b / 255);

const gradient = (width, height) => rgbBytes(width, height, (x, y) => [
  Math.floor((x * 255) / (width - 1)), Math.floor((y * 255) / (height - 1)), Math.floor(((x + y) * 255) / (width + height - 2)),
]);
const checkerboard = (width, height, square, a, b) => rgbBytes(width, height, (x, y) => ((Math.floor(x / square) + Math.floor(y / square)) % 2 === 0 ? a : b));
const flat = (rgb) => rgbBytes(SIZE, SIZE, () => rgb);
const rings = (width, height) => rgbBytes(width, height, (x, y) => {
  const d = Math.floor(Math.sqrt((x - width / 2) ** 2 + (y - height / 2) ** 2));
  return [(d * 7) & 255, (d * 3 + 80) & 255, 255 - ((d * 5) & 255)];
});

const tensorCases = [
  ...[1, 2, 3].map((seed) => ({ name: `noise-seed-${seed}`, data: noise(seed) })),
  ...[4, 5, 6].map((seed) => ({ name: `blocks16-seed-${seed}`, data: toUnit(blocks(SIZE, SIZE, 16, seed)) })),
  { name: 'gradient', data: toUnit(gradient(SIZE, SIZE)) },
  { name: 'checkerboard-16-black-white', data: toUnit(checkerboard(SIZE, SIZE, 16, [0, 0, 0], [255, 255, 255])) },
  { name: 'checkerboard-8-skin-brown', data: toUnit(checkerboard(SIZE, SIZE, 8, [224, 172, 138], [101, 67, 33])) },
  { name: 'flat-skin', data: toUnit(flat([224, 172, 138])) },
  { name: 'flat-grey', data: toUnit(flat([128, 128, 128])) },
  { name: 'flat-black', data: toUnit(flat([0, 0, 0])) },
  { name: 'flat-white', data: toUnit(flat([255, 255, 255])) },
];

const imageCases = [
  { name: 'rings-640x427', width: 640, height: 427, data: rings(640, 427) },
  { name: 'gradient-300x500', width: 300, height: 500, data: gradient(300, 500) },
  { name: 'blocks8-seed-7-150x100', width: 150, height: 100, data: blocks(150, 100, 8, 7) },
];

const sha256 = (typed) => createHash('sha256').update(Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength)).digest('hex');
const round = (p) => Array.from(p);

// No network: the WASM binaries come from the installed package; one thread so that every run gives the same bits.
setWasmPaths(join(here, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/');
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
await tf.setBackend('wasm');
await tf.ready();

const console_info = console.info;
console.info = () => {}; // nsfwjs announces its default model on every load
const model = await nsfwjs.load('MobileNetV2');
console.info = console_info;

const tensors = [];
for (const c of tensorCases) {
  const probabilities = tf.tidy(() => model.model.predict(tf.tensor4d(c.data, [1, SIZE, SIZE, 3]))).dataSync();
  tensors.push({ name: c.name, inputSha256: sha256(c.data), probabilities: round(probabilities) });
}

const images = [];
for (const c of imageCases) {
  const probabilities = tf.tidy(() => model.infer(tf.tensor3d(c.data, [c.height, c.width, 3], 'int32'))).dataSync();
  images.push({ name: c.name, width: c.width, height: c.height, inputSha256: sha256(c.data), probabilities: round(probabilities) });
}

const result = {
  generatedBy: 'tools/nsfw-model/reference.mjs',
  nsfwjs: '4.4.0',
  model: 'MobileNetV2',
  tfjs: tf.version.tfjs,
  backend: tf.getBackend(),
  classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'],
  tensors,
  images,
};
writeFileSync(output, JSON.stringify(result, null, 2) + '\n');
console.error(`wrote ${tensors.length} tensor and ${images.length} image cases to ${output}`);
