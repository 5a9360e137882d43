// Converts nsfwjs's default model (MobileNetV2, a Keras layers model with 8-bit quantized weights) to ONNX.
//
//   node convert.mjs OUTPUT.onnx
//
// Reads only the pinned npm package (node_modules/nsfwjs/dist/models/mobilenet_v2/*.min.js) and writes the ONNX
// protobuf with the small encoder below, so the output is byte-identical on every run. See docs/moderation-model.md.
//
// Weights stay uint8 in the file, exactly as nsfwjs ships them, and are dequantized in the graph
// (value = float(q) * scale + min, the formula of tfjs's io.decodeWeights); ONNX Runtime folds those constants once,
// when the session is created. The model is four times smaller than with float32 weights (2.8 MB instead of ~10.5 MB).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const NSFWJS_VERSION = '4.4.0';
const modelDir = join(here, 'node_modules', 'nsfwjs', 'dist', 'models', 'mobilenet_v2');

const output = process.argv[2];
if (!output) {
  console.error('usage: node convert.mjs OUTPUT.onnx');
  process.exit(2);
}

const nsfwjsPackage = JSON.parse(readFileSync(join(here, 'node_modules', 'nsfwjs', 'package.json'), 'utf8'));
if (nsfwjsPackage.version !== NSFWJS_VERSION) {
  throw new Error(`expected nsfwjs ${NSFWJS_VERSION}, found ${nsfwjsPackage.version}; run npm ci`);
}

// The .min.js files are browserify bundles whose module.exports is the model JSON / the base64 weights.
const modelJson = require(join(modelDir, 'model.min.js'));
const weightBase64 = require(join(modelDir, 'group1-shard1of1.min.js'));

// ---------------------------------------------------------------------------------------------------------------
// Weights: the manifest lists every tensor in buffer order; each is uint8 with a per-tensor (scale, min).
const manifest = modelJson.weightsManifest;
if (manifest.length !== 1 || manifest[0].paths.length !== 1 || manifest[0].paths[0] !== 'group1-shard1of1') {
  throw new Error('unexpected weights manifest layout');
}
const weightBytes = Buffer.from(weightBase64, 'base64');
const weights = new Map();
let offset = 0;
for (const spec of manifest[0].weights) {
  const q = spec.quantization;
  if (spec.dtype !== 'float32' || !q || q.dtype !== 'uint8') {
    throw new Error(`unsupported weight encoding for ${spec.name}`);
  }
  const count = spec.shape.reduce((a, b) => a * b, 1);
  weights.set(spec.name, { shape: spec.shape, q: weightBytes.subarray(offset, offset + count), scale: q.scale, min: q.min, used: false });
  offset += count;
}
if (offset !== weightBytes.length) {
  throw new Error(`weights manifest covers ${offset} bytes, the shard holds ${weightBytes.length}`);
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal protobuf writer (proto2 wire format: varints, fixed32 floats, length-delimited bytes and messages).
class Proto {
  constructor() { this.parts = []; }
  varint(value) {
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) b |= 0x80;
      bytes.push(b);
    } while (v !== 0n);
    this.parts.push(Buffer.from(bytes));
  }
  key(field, wireType) { this.varint((field << 3) | wireType); }
  int(field, value) { this.key(field, 0); this.varint(value); return this; }
  float(field, value) {
    this.key(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.parts.push(b);
    return this;
  }
  bytes(field, buffer) { this.key(field, 2); this.varint(buffer.length); this.parts.push(Buffer.from(buffer)); return this; }
  string(field, text) { return this.bytes(field, Buffer.from(text, 'utf8')); }
  message(field, proto) { return this.bytes(field, proto.toBuffer()); }
  toBuffer() { return Buffer.concat(this.parts); }
}

// onnx.proto enums
const FLOAT = 1, UINT8 = 2, INT64 = 7;
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_INTS = 7;

const nodes = [];
const initializers = [];

function tensorProto(name, dataType, dims, raw) {
  const t = new Proto();
  for (const d of dims) t.int(1, d);
  t.int(2, dataType);
  t.string(8, name);
  t.bytes(9, raw);
  return t;
}

function addInitializer(name, dataType, dims, raw) {
  initializers.push(tensorProto(name, dataType, dims, raw));
  return name;
}

function floatScalar(name, value) {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return addInitializer(name, FLOAT, [], b);
}

function int64Tensor(name, values) {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigInt64LE(BigInt(v), 8 * i));
  return addInitializer(name, INT64, [values.length], b);
}

function attribute(name, value) {
  const a = new Proto().string(1, name);
  if (Array.isArray(value)) {
    for (const v of value) a.int(8, v);
    a.int(20, ATTR_INTS);
  } else if (Number.isInteger(value)) {
    a.int(3, value).int(20, ATTR_INT);
  } else {
    throw new Error(`attribute ${name}: use floatAttribute or stringAttribute`);
  }
  return a;
}

function addNode(opType, inputs, outputs, name, attributes = {}) {
  const n = new Proto();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name);
  n.string(4, opType);
  for (const [key, value] of Object.entries(attributes)) {
    n.message(5, value instanceof Proto ? value : attribute(key, value));
  }
  nodes.push(n);
  return outputs[0];
}

function floatAttribute(name, value) {
  return new Proto().string(1, name).float(2, value).int(20, ATTR_FLOAT);
}

function stringAttribute(name, value) {
  return new Proto().string(1, name).string(4, value).int(20, ATTR_STRING);
}

// Emits a Keras weight as uint8 initializer, permuted to the ONNX layout (a permutation of the quantized bytes is
// exact, since quantization is per tensor), plus Cast → Mul(scale) → Add(min) nodes that dequantize it in the graph.
function weight(kerasName, onnxDims, indexOf) {
  const w = weights.get(kerasName);
  if (!w) throw new Error(`missing weight ${kerasName}`);
  if (w.used) throw new Error(`weight ${kerasName} used twice`);
  w.used = true;
  let q = w.q;
  if (indexOf) {
    q = Buffer.alloc(w.q.length);
    indexOf((onnxIndex, kerasIndex) => { q[onnxIndex] = w.q[kerasIndex]; });
  }
  const base = kerasName;
  addInitializer(`${base}:q`, UINT8, onnxDims, q);
  floatScalar(`${base}:scale`, w.scale);
  floatScalar(`${base}:min`, w.min);
  addNode('Cast', [`${base}:q`], [`${base}:f`], `${base}:cast`, { to: FLOAT });
  addNode('Mul', [`${base}:f`, `${base}:scale`], [`${base}:scaled`], `${base}:mul`);
  return addNode('Add', [`${base}:scaled`, `${base}:min`], [base], `${base}:dequantize`);
}

// Keras conv kernel [kh, kw, in, out] → ONNX [out, in, kh, kw].
function convKernel(kerasName) {
  const [kh, kw, cin, cout] = weights.get(kerasName).shape;
  return weight(kerasName, [cout, cin, kh, kw], (set) => {
    for (let o = 0; o < cout; o++) for (let i = 0; i < cin; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      set(((o * cin + i) * kh + y) * kw + x, ((y * kw + x) * cin + i) * cout + o);
    }
  });
}

// Keras depthwise kernel [kh, kw, in, multiplier] → ONNX grouped conv [in * multiplier, 1, kh, kw]; TF orders the
// output channels as c * multiplier + m.
function depthwiseKernel(kerasName) {
  const [kh, kw, cin, mult] = weights.get(kerasName).shape;
  return weight(kerasName, [cin * mult, 1, kh, kw], (set) => {
    for (let c = 0; c < cin; c++) for (let m = 0; m < mult; m++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      set(((c * mult + m) * kh + y) * kw + x, ((y * kw + x) * cin + c) * mult + m);
    }
  });
}

// TF padding: 'valid' pads nothing; 'same' pads so that out = ceil(in / stride), the odd pixel at the end.
function tfPads(padding, inputHW, kernel, strides, dilation) {
  if (padding === 'valid') return { pads: [0, 0, 0, 0], out: inputHW.map((n, i) => Math.floor((n - ((kernel[i] - 1) * dilation[i] + 1)) / strides[i]) + 1) };
  if (padding !== 'same') throw new Error(`unsupported padding ${padding}`);
  const begin = [], end = [], out = [];
  for (let i = 0; i < 2; i++) {
    const o = Math.ceil(inputHW[i] / strides[i]);
    const total = Math.max((o - 1) * strides[i] + (kernel[i] - 1) * dilation[i] + 1 - inputHW[i], 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
    out.push(o);
  }
  return { pads: [begin[0], begin[1], end[0], end[1]], out };
}

// ---------------------------------------------------------------------------------------------------------------
// Layers → nodes. Tensors after the input transpose are NCHW until Flatten, then [N, features].
const topology = modelJson.modelTopology.model_config;
if (topology.class_name !== 'Model') throw new Error(`unexpected model class ${topology.class_name}`);
const layers = topology.config.layers;
const tensors = new Map(); // Keras layer name → { name: ONNX tensor name, shape: [C, H, W] or [features] }

const inputName = 'input';
const outputName = 'probabilities';
const producedBy = (layer) => {
  const inbound = layer.inbound_nodes;
  if (inbound.length !== 1) throw new Error(`${layer.name}: shared layers are not supported`);
  return inbound[0].map(([name, nodeIndex, tensorIndex]) => {
    if (nodeIndex !== 0 || tensorIndex !== 0) throw new Error(`${layer.name}: unsupported inbound node`);
    const t = tensors.get(name);
    if (!t) throw new Error(`${layer.name}: input ${name} not converted yet`);
    return t;
  });
};

function activation(layer, input) {
  const kind = layer.config.activation;
  if (kind === 'linear') return input;
  const name = `${layer.name}/${kind}`;
  if (kind === 'relu') return addNode('Relu', [input], [name], name);
  if (kind === 'softmax') return addNode('Softmax', [input], [name], name, { axis: -1 });
  throw new Error(`${layer.name}: unsupported activation ${kind}`);
}

const expectNoExtras = (layer) => {
  const c = layer.config;
  if (c.data_format && c.data_format !== 'channels_last') throw new Error(`${layer.name}: data_format ${c.data_format}`);
  if (c.dilation_rate && (c.dilation_rate[0] !== 1 || c.dilation_rate[1] !== 1)) throw new Error(`${layer.name}: dilation`);
};

for (const layer of layers) {
  const c = layer.config;
  expectNoExtras(layer);
  switch (layer.class_name) {
    case 'InputLayer': {
      const [, h, w, ch] = c.batch_input_shape;
      const name = addNode('Transpose', [inputName], [`${layer.name}/nchw`], `${layer.name}/nchw`, { perm: [0, 3, 1, 2] });
      tensors.set(layer.name, { name, shape: [ch, h, w], nhwcShape: [h, w, ch] });
      break;
    }
    case 'ZeroPadding2D': {
      const [x] = producedBy(layer);
      const [[top, bottom], [left, right]] = c.padding;
      const pads = int64Tensor(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
      const name = addNode('Pad', [x.name, pads], [layer.name], layer.name, { mode: stringAttribute('mode', 'constant') });
      tensors.set(layer.name, { name, shape: [x.shape[0], x.shape[1] + top + bottom, x.shape[2] + left + right] });
      break;
    }
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const [x] = producedBy(layer);
      const depthwise = layer.class_name === 'DepthwiseConv2D';
      if (depthwise && !Number.isInteger(c.depth_multiplier)) throw new Error(`${layer.name}: depth_multiplier`);
      const kernel = depthwise ? depthwiseKernel(`${layer.name}/depthwise_kernel`) : convKernel(`${layer.name}/kernel`);
      const inputs = [x.name, kernel];
      if (c.use_bias) inputs.push(weight(`${layer.name}/bias`, weights.get(`${layer.name}/bias`).shape));
      const { pads, out } = tfPads(c.padding, [x.shape[1], x.shape[2]], c.kernel_size, c.strides, c.dilation_rate);
      const channels = depthwise ? x.shape[0] * c.depth_multiplier : c.filters;
      const conv = addNode('Conv', inputs, [c.activation === 'linear' ? layer.name : `${layer.name}/conv`], layer.name, {
        kernel_shape: c.kernel_size, strides: c.strides, pads, dilations: c.dilation_rate, group: depthwise ? x.shape[0] : 1,
      });
      tensors.set(layer.name, { name: activation(layer, conv), shape: [channels, out[0], out[1]] });
      break;
    }
    case 'BatchNormalization': {
      const [x] = producedBy(layer);
      if (c.axis !== -1 && c.axis !== 3 && !(Array.isArray(c.axis) && c.axis.length === 1 && c.axis[0] === 3)) throw new Error(`${layer.name}: axis ${c.axis}`);
      if (!c.center || !c.scale) throw new Error(`${layer.name}: center/scale off is not supported`);
      const inputs = [x.name, ...['gamma', 'beta', 'moving_mean', 'moving_variance'].map((p) => {
        const key = `${layer.name}/${p}`;
        return weight(key, weights.get(key).shape);
      })];
      const name = addNode('BatchNormalization', inputs, [layer.name], layer.name, { epsilon: floatAttribute('epsilon', c.epsilon) });
      tensors.set(layer.name, { name, shape: x.shape });
      break;
    }
    case 'ReLU': {
      const [x] = producedBy(layer);
      if ((c.negative_slope ?? 0) !== 0 || (c.threshold ?? 0) !== 0) throw new Error(`${layer.name}: leaky/thresholded ReLU`);
      let name;
      if (c.max_value == null) {
        name = addNode('Relu', [x.name], [layer.name], layer.name);
      } else {
        const low = floatScalar(`${layer.name}/min`, 0);
        const high = floatScalar(`${layer.name}/max`, c.max_value);
        name = addNode('Clip', [x.name, low, high], [layer.name], layer.name);
      }
      tensors.set(layer.name, { name, shape: x.shape });
      break;
    }
    case 'Add': {
      const xs = producedBy(layer);
      let name = xs[0].name;
      for (let i = 1; i < xs.length; i++) {
        name = addNode('Add', [name, xs[i].name], [i === xs.length - 1 ? layer.name : `${layer.name}/${i}`], `${layer.name}/${i}`);
      }
      tensors.set(layer.name, { name, shape: xs[0].shape });
      break;
    }
    case 'AveragePooling2D': {
      const [x] = producedBy(layer);
      if (c.padding !== 'valid') throw new Error(`${layer.name}: only 'valid' average pooling is converted (Keras excludes padding from the mean)`);
      const { pads, out } = tfPads('valid', [x.shape[1], x.shape[2]], c.pool_size, c.strides, [1, 1]);
      const name = addNode('AveragePool', [x.name], [layer.name], layer.name, { kernel_shape: c.pool_size, strides: c.strides, pads });
      tensors.set(layer.name, { name, shape: [x.shape[0], out[0], out[1]] });
      break;
    }
    case 'Flatten': {
      const [x] = producedBy(layer);
      let source = x.name;
      if (x.shape.length === 3 && (x.shape[1] !== 1 || x.shape[2] !== 1)) {
        // Keras flattens channels-last: go back to NHWC first.
        source = addNode('Transpose', [x.name], [`${layer.name}/nhwc`], `${layer.name}/nhwc`, { perm: [0, 2, 3, 1] });
      }
      const name = addNode('Flatten', [source], [layer.name], layer.name, { axis: 1 });
      tensors.set(layer.name, { name, shape: [x.shape.reduce((a, b) => a * b, 1)] });
      break;
    }
    case 'Dense': {
      const [x] = producedBy(layer);
      if (x.shape.length !== 1) throw new Error(`${layer.name}: Dense on a non-flat input`);
      const kernel = weight(`${layer.name}/kernel`, weights.get(`${layer.name}/kernel`).shape);
      const inputs = [x.name, kernel];
      if (c.use_bias) inputs.push(weight(`${layer.name}/bias`, weights.get(`${layer.name}/bias`).shape));
      const gemm = addNode('Gemm', inputs, [c.activation === 'linear' ? layer.name : `${layer.name}/gemm`], layer.name);
      tensors.set(layer.name, { name: activation(layer, gemm), shape: [c.units] });
      break;
    }
    case 'Dropout': {
      // Inference: identity.
      const [x] = producedBy(layer);
      tensors.set(layer.name, x);
      break;
    }
    default:
      throw new Error(`${layer.name}: unsupported layer ${layer.class_name}`);
  }
}

const unused = [...weights.entries()].filter(([, w]) => !w.used).map(([name]) => name);
if (unused.length) throw new Error(`weights not used by any layer: ${unused.join(', ')}`);

const [[outputLayer]] = topology.config.output_layers;
const last = tensors.get(outputLayer);
addNode('Identity', [last.name], [outputName], 'output');

// ---------------------------------------------------------------------------------------------------------------
function valueInfo(name, dims) {
  const shape = new Proto();
  for (const d of dims) shape.message(1, typeof d === 'string' ? new Proto().string(2, d) : new Proto().int(1, d));
  const tensorType = new Proto().int(1, FLOAT).message(2, shape);
  return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
}

const inputLayer = layers.find((l) => l.class_name === 'InputLayer');
const [, inH, inW, inC] = inputLayer.config.batch_input_shape;
const graph = new Proto();
for (const n of nodes) graph.message(1, n);
graph.string(2, 'nsfwjs_mobilenet_v2');
for (const t of initializers) graph.message(5, t);
graph.string(10, `nsfwjs ${NSFWJS_VERSION} mobilenet_v2. Input: RGB, NHWC, values in [0, 1]. Output: softmax over Drawing, Hentai, Neutral, Porn, Sexy.`);
graph.message(11, valueInfo(inputName, ['batch', inH, inW, inC]));
graph.message(12, valueInfo(outputName, ['batch', last.shape[0]]));

const metadata = {
  source: `npm nsfwjs@${NSFWJS_VERSION} dist/models/mobilenet_v2 (model.min.js, group1-shard1of1.min.js)`,
  license: 'MIT, Copyright (c) 2019 Infinite Red, Inc.',
  classes: 'Drawing,Hentai,Neutral,Porn,Sexy',
  preprocessing: 'RGB / 255, bilinear resize to 224x224 with align_corners=true, NHWC',
};
const model = new Proto();
model.int(1, 7); // IR version 7 (ONNX 1.8), enough for opset 13
model.string(2, 'imagebin tools/nsfw-model/convert.mjs');
model.string(3, '1');
model.message(7, graph);
model.message(8, new Proto().string(1, '').int(2, 13));
for (const [key, value] of Object.entries(metadata)) model.message(14, new Proto().string(1, key).string(2, value));

const bytes = model.toBuffer();
writeFileSync(output, bytes);
const sha = (b) => createHash('sha256').update(b).digest('hex');
console.error(`nsfwjs ${NSFWJS_VERSION}: model.min.js sha256 ${sha(readFileSync(join(modelDir, 'model.min.js')))}`);
console.error(`nsfwjs ${NSFWJS_VERSION}: group1-shard1of1.min.js sha256 ${sha(readFileSync(join(modelDir, 'group1-shard1of1.min.js')))}`);
console.error(`${layers.length} layers → ${nodes.length} nodes, ${initializers.length} initializers, ${bytes.length} bytes`);
console.log(`${sha(bytes)}  ${output}`);
