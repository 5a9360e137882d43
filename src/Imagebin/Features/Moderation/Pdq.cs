using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using NetVips;

namespace Imagebin.Features.Moderation;

/// <summary>
/// A 256-bit PDQ hash. Bit <c>k = 16·row + column</c> of the 16×16 DCT block is bit <c>k</c> of the 256-bit number whose
/// big-endian hex is the reference's text form: <see cref="W0"/> holds bits 255..192 (the first 16 hex digits), <see cref="W3"/>
/// bits 63..0, so hashes from ThreatExchange lists parse and print unchanged.
/// </summary>
public readonly record struct PdqHash(ulong W0, ulong W1, ulong W2, ulong W3)
{
    public const int HexLength = 64;

    public string ToHex() => string.Create(HexLength, this, static (chars, hash) =>
    {
        hash.W0.TryFormat(chars[..16], out _, "x16", CultureInfo.InvariantCulture);
        hash.W1.TryFormat(chars[16..32], out _, "x16", CultureInfo.InvariantCulture);
        hash.W2.TryFormat(chars[32..48], out _, "x16", CultureInfo.InvariantCulture);
        hash.W3.TryFormat(chars[48..], out _, "x16", CultureInfo.InvariantCulture);
    });

    public override string ToString() => ToHex();

    public static PdqHash Parse(string hex) =>
        TryParse(hex, out var hash) ? hash : throw new FormatException($"A PDQ hash is {HexLength} hex digits; got \"{hex}\".");

    public static bool TryParse(string? hex, out PdqHash hash)
    {
        hash = default;
        if (hex is null || hex.Length != HexLength)
        {
            return false;
        }

        var digits = hex.AsSpan();
        if (!ParseWord(digits[..16], out var w0) || !ParseWord(digits[16..32], out var w1) ||
            !ParseWord(digits[32..48], out var w2) || !ParseWord(digits[48..], out var w3))
        {
            return false;
        }

        hash = new PdqHash(w0, w1, w2, w3);
        return true;
    }

    public int DistanceTo(PdqHash other) =>
        BitOperations.PopCount(W0 ^ other.W0) + BitOperations.PopCount(W1 ^ other.W1) +
        BitOperations.PopCount(W2 ^ other.W2) + BitOperations.PopCount(W3 ^ other.W3);

    /// <summary>Sets bit <paramref name="index"/> (0..255) of the hash being built in <paramref name="words"/>, W0 first.</summary>
    internal static void SetBit(Span<ulong> words, int index) => words[3 - (index >> 6)] |= 1UL << (index & 63);

    private static bool ParseWord(ReadOnlySpan<char> digits, out ulong word)
    {
        // AllowHexSpecifier alone admits neither signs nor white space, so only the 16 digits themselves pass.
        return ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out word);
    }
}

/// <summary>
/// A PDQ hash with its quality (0..100; below <see cref="Pdq.MinQuality"/> the hash says little) and the hashes of the image's
/// eight dihedral transforms, in the reference's order: original, rotated 90°, 180° and 270° anticlockwise (libvips' Rot270,
/// Rot180, Rot90), flip X (upside down),
/// flip Y (mirrored left to right), flip +1 (transposed about the main diagonal), flip −1 (about the anti-diagonal).
/// <c>Dihedral[0] == Hash</c>. Matching a stored hash against all eight finds rotated and mirrored copies.
/// </summary>
public sealed record PdqResult(PdqHash Hash, int Quality, IReadOnlyList<PdqHash> Dihedral);

/// <summary>
/// Meta's PDQ perceptual hash, after the ThreatExchange reference (<c>pdq/cpp</c>, <c>pdq/java</c>): luma
/// 0.299 R + 0.587 G + 0.114 B, a Jarosz tent filter (two box passes per axis, window ⌈dimension / 128⌉), decimation to
/// 64×64 at cell centres, the first 16×16 DCT coefficients past DC, and one bit per coefficient above the median.
/// The float arithmetic follows the reference step for step, so hashes agree with it to the bit or nearly.
/// </summary>
public static class Pdq
{
    /// <summary>Hashes at most this many bits apart are the same picture (Meta's production threshold).</summary>
    public const int MatchDistance = 31;

    /// <summary>Hashes of quality below this are of near-flat images and should be neither stored nor matched.</summary>
    public const int MinQuality = 50;

    private const int MinHashableDimension = 5;
    private const int Downsampled = 64;
    private const int DctSize = 16;
    private const float LumaFromRed = 0.299f;
    private const float LumaFromGreen = 0.587f;
    private const float LumaFromBlue = 0.114f;

    /// <summary>JPEGs are decoded at 1/2, 1/4 or 1/8 scale as long as the shorter side stays at least this long.</summary>
    private const int ShrinkOnLoadFloor = 512;

    private static readonly float[] DctMatrix = BuildDctMatrix();

    private static readonly PdqResult Unhashable = new(default, 0, [.. Enumerable.Repeat(default(PdqHash), 8)]);

    public static bool Matches(PdqHash a, PdqHash b, int threshold = MatchDistance) => a.DistanceTo(b) <= threshold;

    /// <summary>
    /// Hashes the first frame of the file. Large JPEGs are decoded with shrink-on-load (libjpeg's DCT scaling) down to no less
    /// than 512 pixels on the shorter side, which makes a 12 MP decode about five times cheaper. Measured against full
    /// resolution the hash moved 0–6 bits on upscaled reference photos and 10 bits on a noisy synthetic 12 MP picture: well
    /// inside <see cref="MatchDistance"/>, but not bit-exact, so hashes meant for exchange with other parties should come
    /// from <see cref="Compute(Image)"/> on the full image.
    /// </summary>
    public static PdqResult ComputeFile(string path)
    {
        using var image = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error);
        var shrink = JpegShrink(image);
        if (shrink == 1)
        {
            return Compute(image);
        }

        using var reduced = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error,
            kwargs: new VOption { { "shrink", shrink } });
        return Compute(reduced);
    }

    /// <summary>The side above which <see cref="ComputeReduced"/> resizes first, as Meta's C++ reference does.</summary>
    public const int ReducedSide = 512;

    /// <summary>
    /// Hashes an image that is already decoded (in memory) the way Meta's C++ reference does: a picture larger than
    /// <see cref="ReducedSide"/> on either side is first resized to at most 512 × 512 (aspect kept; PDQ's 64 × 64 sampling
    /// stretches it anyway), then hashed as <see cref="Compute(Image)"/> hashes. Several times faster on large pictures;
    /// within the reference's tolerance of the full-resolution hash (PdqTests).
    /// </summary>
    public static PdqResult ComputeReduced(Image image)
    {
        if (image.Width <= ReducedSide && image.Height <= ReducedSide)
        {
            return Compute(image);
        }

        var scale = Math.Min((double)ReducedSide / image.Width, (double)ReducedSide / image.Height);
        using var reduced = image.Resize(scale, kernel: Enums.Kernel.Linear);
        return Compute(reduced);
    }

    /// <summary>
    /// Hashes the stored pixels as they are: no EXIF auto-rotation (the caller decides), alpha ignored as the reference does
    /// (it hashes the colour bands of RGBA images; flattening would make our hashes disagree with shared hash lists).
    /// CMYK, Lab and other colour spaces are converted to sRGB first; 16-bit images are scaled to 0..255 without rounding.
    /// </summary>
    public static PdqResult Compute(Image image)
    {
        using var pixels = ReferenceBands(image);
        var width = pixels.Width;
        var height = pixels.Height;
        if (width < MinHashableDimension || height < MinHashableDimension)
        {
            return Unhashable;
        }

        var bands = pixels.Bands;
        var sixteenBit = pixels.Format == Enums.BandFormat.Ushort;
        var rowBytes = width * bands * (sixteenBit ? 2 : 1);
        // Strips of about 64 KB keep each fetched buffer off the large-object heap.
        var stripRows = Math.Max(1, 65536 / rowBytes);
        var downsampler = new TentDownsampler(width, height);
        var luma = new float[width];
        using var region = Region.New(pixels);
        for (var top = 0; top < height; top += stripRows)
        {
            var rows = Math.Min(stripRows, height - top);
            var strip = region.Fetch(0, top, width, rows);
            for (var row = 0; row < rows; row++)
            {
                var bytes = strip.AsSpan(row * rowBytes, rowBytes);
                if (sixteenBit)
                {
                    FillLuma(MemoryMarshal.Cast<byte, ushort>(bytes), bands, luma);
                }
                else
                {
                    FillLuma(bytes, bands, luma);
                }

                downsampler.PushRow(luma);
            }
        }

        return FromDownsampled(downsampler.Finish());
    }

    /// <summary>Hashes a row-major luma buffer with values on the 0..255 scale.</summary>
    public static PdqResult Compute(ReadOnlySpan<float> luma, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (luma.Length < (long)width * height)
        {
            throw new ArgumentException($"{width}×{height} luma needs {(long)width * height} values; got {luma.Length}.", nameof(luma));
        }

        if (width < MinHashableDimension || height < MinHashableDimension)
        {
            return Unhashable;
        }

        var downsampler = new TentDownsampler(width, height);
        for (var row = 0; row < height; row++)
        {
            downsampler.PushRow(luma.Slice(row * width, width));
        }

        return FromDownsampled(downsampler.Finish());
    }

    private static int JpegShrink(Image image)
    {
        if (image.Contains("vips-loader") && image.Get("vips-loader") is "jpegload")
        {
            var shorter = Math.Min(image.Width, image.Height);
            foreach (var shrink in (ReadOnlySpan<int>)[8, 4, 2])
            {
                if (shorter / shrink >= ShrinkOnLoadFloor)
                {
                    return shrink;
                }
            }
        }

        return 1;
    }

    /// <summary>One band (grey) or three (RGB), 8- or 16-bit, alpha and any extra bands dropped.</summary>
    private static Image ReferenceBands(Image image)
    {
        var current = image.Interpretation switch
        {
            Enums.Interpretation.Cmyk or Enums.Interpretation.Lab or Enums.Interpretation.Labq or Enums.Interpretation.Labs
                or Enums.Interpretation.Lch or Enums.Interpretation.Cmc or Enums.Interpretation.Xyz or Enums.Interpretation.Yxy
                or Enums.Interpretation.Scrgb or Enums.Interpretation.Hsv or Enums.Interpretation.Oklab
                or Enums.Interpretation.Oklch => image.Colourspace(Enums.Interpretation.Srgb),
            // sRGB, RGB, B-W, 16-bit and anything unlabelled: the bands already are the colours.
            _ => image.Copy(),
        };

        var colourBands = current.Bands >= 3 ? 3 : 1;
        if (current.Bands != colourBands)
        {
            using var all = current;
            current = all.ExtractBand(0, n: colourBands);
        }

        if (current.Format is not (Enums.BandFormat.Uchar or Enums.BandFormat.Ushort))
        {
            using var wide = current;
            current = wide.Cast(Enums.BandFormat.Uchar);
        }

        return current;
    }

    private static void FillLuma(ReadOnlySpan<byte> pixels, int bands, Span<float> luma)
    {
        if (bands == 1)
        {
            for (var x = 0; x < luma.Length; x++)
            {
                luma[x] = pixels[x];
            }

            return;
        }

        for (int x = 0, p = 0; x < luma.Length; x++, p += 3)
        {
            luma[x] = LumaFromRed * pixels[p] + LumaFromGreen * pixels[p + 1] + LumaFromBlue * pixels[p + 2];
        }
    }

    private static void FillLuma(ReadOnlySpan<ushort> pixels, int bands, Span<float> luma)
    {
        const float toEightBit = 255f / 65535f;
        if (bands == 1)
        {
            for (var x = 0; x < luma.Length; x++)
            {
                luma[x] = pixels[x] * toEightBit;
            }

            return;
        }

        for (int x = 0, p = 0; x < luma.Length; x++, p += 3)
        {
            luma[x] = (LumaFromRed * pixels[p] + LumaFromGreen * pixels[p + 1] + LumaFromBlue * pixels[p + 2]) * toEightBit;
        }
    }

    private static PdqResult FromDownsampled(float[] pixels64)
    {
        var quality = Quality(pixels64);
        Span<float> dct = stackalloc float[DctSize * DctSize];
        Dct64To16(pixels64, dct);

        Span<float> transformed = stackalloc float[DctSize * DctSize];
        var hashes = new PdqHash[8];
        for (var transform = 0; transform < hashes.Length; transform++)
        {
            ApplyDihedral(transform, dct, transformed);
            hashes[transform] = ToBits(transformed);
        }

        return new PdqResult(hashes[0], quality, hashes);
    }

    /// <summary>Counts significant steps between neighbouring downsampled pixels; the constants are the reference's.</summary>
    private static int Quality(float[] pixels64)
    {
        var gradientSum = 0;
        for (var i = 0; i < Downsampled - 1; i++)
        {
            for (var j = 0; j < Downsampled; j++)
            {
                gradientSum += Math.Abs((int)((pixels64[i * Downsampled + j] - pixels64[(i + 1) * Downsampled + j]) * 100 / 255));
            }
        }

        for (var i = 0; i < Downsampled; i++)
        {
            for (var j = 0; j < Downsampled - 1; j++)
            {
                gradientSum += Math.Abs((int)((pixels64[i * Downsampled + j] - pixels64[i * Downsampled + j + 1]) * 100 / 255));
            }
        }

        return Math.Min(100, gradientSum / 90);
    }

    /// <summary>The reference's 16×64 matrix of DCT-II rows 1..16 (row 0, the mean, carries no structure).</summary>
    private static float[] BuildDctMatrix()
    {
        // The reference rounds the scale to float before multiplying by the double cosine.
        var scale = (float)Math.Sqrt(2.0 / Downsampled);
        var matrix = new float[DctSize * Downsampled];
        for (var i = 0; i < DctSize; i++)
        {
            for (var j = 0; j < Downsampled; j++)
            {
                matrix[i * Downsampled + j] = (float)(scale * Math.Cos(Math.PI / 2 / Downsampled * (i + 1) * (2 * j + 1)));
            }
        }

        return matrix;
    }

    /// <summary>B = D·A·Dᵀ, summed in the reference's order so rounding matches.</summary>
    private static void Dct64To16(float[] a, Span<float> b)
    {
        var d = DctMatrix;
        Span<float> t = stackalloc float[DctSize * Downsampled];
        for (var i = 0; i < DctSize; i++)
        {
            for (var j = 0; j < Downsampled; j++)
            {
                var sum = 0f;
                for (var k = 0; k < Downsampled; k++)
                {
                    sum += d[i * Downsampled + k] * a[k * Downsampled + j];
                }

                t[i * Downsampled + j] = sum;
            }
        }

        for (var i = 0; i < DctSize; i++)
        {
            for (var j = 0; j < DctSize; j++)
            {
                var sum = 0f;
                for (var k = 0; k < Downsampled; k++)
                {
                    sum += t[i * Downsampled + k] * d[j * Downsampled + k];
                }

                b[i * DctSize + j] = sum;
            }
        }
    }

    /// <summary>
    /// Rotating or flipping the image only transposes the DCT block and negates the coefficients of odd frequency along a
    /// flipped axis (coefficient index i is frequency i + 1), so all eight hashes come from one DCT. Signs as in the
    /// reference's <c>dct16OriginalToRotate90</c> and siblings.
    /// </summary>
    private static void ApplyDihedral(int transform, ReadOnlySpan<float> a, Span<float> b)
    {
        for (var i = 0; i < DctSize; i++)
        {
            for (var j = 0; j < DctSize; j++)
            {
                var (transpose, negate) = transform switch
                {
                    0 => (false, false),
                    1 => (true, (j & 1) == 0),
                    2 => (false, ((i + j) & 1) != 0),
                    3 => (true, (i & 1) == 0),
                    4 => (false, (i & 1) == 0),
                    5 => (false, (j & 1) == 0),
                    6 => (true, false),
                    _ => (true, ((i + j) & 1) != 0),
                };
                var value = a[i * DctSize + j];
                b[transpose ? j * DctSize + i : i * DctSize + j] = negate ? -value : value;
            }
        }
    }

    /// <summary>A bit per coefficient strictly above the median, which is the 128th smallest as Torben's algorithm picks it.</summary>
    private static PdqHash ToBits(ReadOnlySpan<float> dct)
    {
        Span<float> sorted = stackalloc float[DctSize * DctSize];
        dct.CopyTo(sorted);
        sorted.Sort();
        var median = sorted[(sorted.Length + 1) / 2 - 1];

        Span<ulong> words = stackalloc ulong[4];
        for (var k = 0; k < dct.Length; k++)
        {
            if (dct[k] > median)
            {
                PdqHash.SetBit(words, k);
            }
        }

        return new PdqHash(words[0], words[1], words[2], words[3]);
    }

    /// <summary>
    /// The reference's blur-and-decimate, fed one row at a time: box along the row, box down the columns, again, then keep
    /// the pixels at the 64×64 cell centres. The column boxes keep only their window of rows, and the second one only the 64
    /// sampled columns, so memory stays a few rows deep however large the image.
    /// </summary>
    private sealed class TentDownsampler
    {
        private readonly int rowWindow;
        private readonly int[] sampleColumns = new int[Downsampled];
        private readonly int[] sampleRows = new int[Downsampled];
        private readonly float[] firstRowPass;
        private readonly float[] secondRowPass;
        private readonly float[] sampled = new float[Downsampled];
        private readonly RunningColumnBox firstColumnPass;
        private readonly RunningColumnBox secondColumnPass;
        private readonly float[] output = new float[Downsampled * Downsampled];
        private int rowsOut;
        private int nextSample;

        public TentDownsampler(int width, int height)
        {
            rowWindow = WindowSize(width);
            var columnWindow = WindowSize(height);
            for (var i = 0; i < Downsampled; i++)
            {
                // Cell centres, not corners, computed in double as the reference does.
                sampleRows[i] = (int)((i + 0.5) * height / Downsampled);
                sampleColumns[i] = (int)((i + 0.5) * width / Downsampled);
            }

            firstRowPass = new float[width];
            secondRowPass = new float[width];
            firstColumnPass = new RunningColumnBox(width, height, columnWindow);
            secondColumnPass = new RunningColumnBox(Downsampled, height, columnWindow);
        }

        public void PushRow(ReadOnlySpan<float> luma)
        {
            BoxAlongRow(luma, firstRowPass, rowWindow);
            if (firstColumnPass.Push(firstRowPass, out var blurred))
            {
                SecondPass(blurred);
            }
        }

        public float[] Finish()
        {
            while (firstColumnPass.Drain(out var blurred))
            {
                SecondPass(blurred);
            }

            while (secondColumnPass.Drain(out var blurred))
            {
                Sample(blurred);
            }

            return output;
        }

        private void SecondPass(ReadOnlySpan<float> row)
        {
            BoxAlongRow(row, secondRowPass, rowWindow);
            for (var i = 0; i < Downsampled; i++)
            {
                sampled[i] = secondRowPass[sampleColumns[i]];
            }

            if (secondColumnPass.Push(sampled, out var blurred))
            {
                Sample(blurred);
            }
        }

        private void Sample(ReadOnlySpan<float> row)
        {
            // An image shorter than 64 rows samples some rows more than once.
            while (nextSample < Downsampled && sampleRows[nextSample] == rowsOut)
            {
                row.CopyTo(output.AsSpan(nextSample * Downsampled, Downsampled));
                nextSample++;
            }

            rowsOut++;
        }

        /// <summary>Half the 64th part of the dimension, rounded up: two passes make a tent one cell wide each side.</summary>
        private static int WindowSize(int dimension) => (dimension + 2 * Downsampled - 1) / (2 * Downsampled);
    }

    /// <summary>
    /// The reference's <c>box1DFloat</c> along one row: a running sum whose window grows from half size at the left edge,
    /// slides, and shrinks again at the right edge; each output is the mean of what the window holds.
    /// </summary>
    private static void BoxAlongRow(ReadOnlySpan<float> input, Span<float> output, int window)
    {
        var half = (window + 2) / 2;
        var length = input.Length;
        var sum = 0f;
        var count = 0;
        var right = 0;
        var left = 0;
        var written = 0;
        for (; right < half - 1; right++)
        {
            sum += input[right];
            count++;
        }

        for (; right < window; right++)
        {
            sum += input[right];
            count++;
            output[written++] = sum / count;
        }

        for (; right < length; right++)
        {
            sum += input[right];
            sum -= input[left++];
            output[written++] = sum / count;
        }

        while (written < length)
        {
            sum -= input[left++];
            count--;
            output[written++] = sum / count;
        }
    }

    /// <summary>
    /// <see cref="BoxAlongRow"/> down every column at once, one input row at a time, vectorised across the row. It holds the
    /// last <c>window</c> input rows to subtract them again; the operations per column are the reference's, in its order.
    /// </summary>
    private sealed class RunningColumnBox(int lanes, int length, int window)
    {
        private readonly int half = (window + 2) / 2;
        private readonly float[] sums = new float[lanes];
        private readonly float[] history = new float[lanes * window];
        private readonly float[] output = new float[lanes];
        private int pushed;
        private int drained;
        private int count;

        /// <summary>Takes the next input row; returns the next output row once the window reaches half its width.</summary>
        public bool Push(ReadOnlySpan<float> row, out ReadOnlySpan<float> result)
        {
            var index = pushed++;
            var slot = history.AsSpan(index % window * lanes, lanes);
            if (index < window)
            {
                Add(sums, row);
                count++;
            }
            else
            {
                AddAndRemove(sums, row, slot);
            }

            row.CopyTo(slot);
            result = output;
            if (index < half - 1)
            {
                return false;
            }

            Divide(sums, count, output);
            return true;
        }

        /// <summary>After the last input row, returns the remaining output rows as the window shrinks.</summary>
        public bool Drain(out ReadOnlySpan<float> result)
        {
            result = output;
            if (pushed != length || drained == half - 1)
            {
                return false;
            }

            var leaving = length - window + drained++;
            Subtract(sums, history.AsSpan(leaving % window * lanes, lanes));
            count--;
            Divide(sums, count, output);
            return true;
        }

        private static void Add(Span<float> sums, ReadOnlySpan<float> row)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(sums);
            var rowVectors = MemoryMarshal.Cast<float, Vector<float>>(row);
            for (var i = 0; i < vectors.Length; i++)
            {
                vectors[i] += rowVectors[i];
            }

            for (var i = vectors.Length * Vector<float>.Count; i < sums.Length; i++)
            {
                sums[i] += row[i];
            }
        }

        private static void Subtract(Span<float> sums, ReadOnlySpan<float> row)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(sums);
            var rowVectors = MemoryMarshal.Cast<float, Vector<float>>(row);
            for (var i = 0; i < vectors.Length; i++)
            {
                vectors[i] -= rowVectors[i];
            }

            for (var i = vectors.Length * Vector<float>.Count; i < sums.Length; i++)
            {
                sums[i] -= row[i];
            }
        }

        private static void AddAndRemove(Span<float> sums, ReadOnlySpan<float> entering, ReadOnlySpan<float> leaving)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(sums);
            var enteringVectors = MemoryMarshal.Cast<float, Vector<float>>(entering);
            var leavingVectors = MemoryMarshal.Cast<float, Vector<float>>(leaving);
            for (var i = 0; i < vectors.Length; i++)
            {
                vectors[i] = vectors[i] + enteringVectors[i] - leavingVectors[i];
            }

            for (var i = vectors.Length * Vector<float>.Count; i < sums.Length; i++)
            {
                sums[i] = sums[i] + entering[i] - leaving[i];
            }
        }

        private static void Divide(ReadOnlySpan<float> sums, int count, Span<float> output)
        {
            var divisor = new Vector<float>(count);
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(sums);
            var outputVectors = MemoryMarshal.Cast<float, Vector<float>>(output);
            for (var i = 0; i < vectors.Length; i++)
            {
                outputVectors[i] = vectors[i] / divisor;
            }

            for (var i = vectors.Length * Vector<float>.Count; i < sums.Length; i++)
            {
                output[i] = sums[i] / count;
            }
        }
    }
}
