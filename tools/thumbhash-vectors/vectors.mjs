// Prints the reference ThumbHash (the npm package "thumbhash", evanw's reference implementation) of each test image of
// tests/Imagebin.Tests/Media/ThumbHashTests.cs, as "name base64 aspect-ratio average-rgba". The images are made by the same
// integer formulas as the test's Pixels(), so the two must change together.
import { rgbaToThumbHash, thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from "thumbhash";

export const images = [
  { name: "opaque-8x6", w: 8, h: 6, alpha: false },
  { name: "opaque-100x75", w: 100, h: 75, alpha: false },
  { name: "opaque-40x100", w: 40, h: 100, alpha: false },
  { name: "opaque-1x1", w: 1, h: 1, alpha: false },
  { name: "alpha-64x64", w: 64, h: 64, alpha: true },
  { name: "alpha-100x33", w: 100, h: 33, alpha: true },
  { name: "alpha-17x90", w: 17, h: 90, alpha: true },
];

export function pixels(w, h, alpha) {
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      rgba[i] = (x * 7 + y * 13) % 256;
      rgba[i + 1] = (x * x + 3 * y) % 256;
      rgba[i + 2] = (x * y * 5 + 17) % 256;
      rgba[i + 3] = alpha ? (x * 11 + y * 3) % 256 : 255;
    }
  }
  return rgba;
}

for (const { name, w, h, alpha } of images) {
  const hash = rgbaToThumbHash(w, h, pixels(w, h, alpha));
  const average = thumbHashToAverageRGBA(hash);
  console.log(name, Buffer.from(hash).toString("base64"), thumbHashToApproximateAspectRatio(hash),
    [average.r, average.g, average.b, average.a].join(","));
}
