using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Imagebin.Tests.Moderation;

/// <summary>
/// The inputs of tools/nsfw-model/reference.mjs, rebuilt value for value (each case in reference-outputs.json records the
/// sha256 of its input, and the tests check it before comparing outputs).
/// </summary>
internal static class NsfwReferenceInputs
{
    private const int Size = 224;

    /// <summary>mulberry32, as in reference.mjs.</summary>
    private sealed class Mulberry32(uint seed)
    {
        private uint state = seed;

        public uint Next()
        {
            state += 0x6D2B79F5;
            var t = state;
            t = (t ^ (t >> 15)) * (t | 1);
            t ^= t + (t ^ (t >> 7)) * (t | 61);
            return t ^ (t >> 14);
        }
    }

    /// <summary>224 × 224 × 3 float tensors given to the model's predict.</summary>
    public static float[] Tensor(string name) => name switch
    {
        _ when name.StartsWith("noise-seed-", StringComparison.Ordinal) => Noise(uint.Parse(name["noise-seed-".Length..])),
        _ when name.StartsWith("blocks16-seed-", StringComparison.Ordinal) => ToUnit(Blocks(Size, Size, 16, uint.Parse(name["blocks16-seed-".Length..]))),
        "gradient" => ToUnit(Gradient(Size, Size)),
        "checkerboard-16-black-white" => ToUnit(Checkerboard(Size, Size, 16, [0, 0, 0], [255, 255, 255])),
        "checkerboard-8-skin-brown" => ToUnit(Checkerboard(Size, Size, 8, [224, 172, 138], [101, 67, 33])),
        "flat-skin" => ToUnit(Flat([224, 172, 138])),
        "flat-grey" => ToUnit(Flat([128, 128, 128])),
        "flat-black" => ToUnit(Flat([0, 0, 0])),
        "flat-white" => ToUnit(Flat([255, 255, 255])),
        _ => throw new ArgumentException($"unknown reference tensor {name}"),
    };

    /// <summary>RGB byte images given to nsfwjs's infer (which divides by 255 and resizes).</summary>
    public static byte[] Image(string name, int width, int height) => name switch
    {
        "rings-640x427" => Rings(width, height),
        "gradient-300x500" => Gradient(width, height),
        "blocks8-seed-7-150x100" => Blocks(width, height, 8, 7),
        _ => throw new ArgumentException($"unknown reference image {name}"),
    };

    public static string Sha256<T>(T[] values)
        where T : struct => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(values.AsSpan())));

    private static float[] Noise(uint seed)
    {
        var next = new Mulberry32(seed);
        var data = new float[Size * Size * 3];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (next.Next() >> 8) / 16777216f;
        }

        return data;
    }

    private static float[] ToUnit(byte[] bytes) => bytes.Select(b => b / 255f).ToArray();

    private static byte[] RgbBytes(int width, int height, Func<int, int, (int R, int G, int B)> pixel)
    {
        var bytes = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var (r, g, b) = pixel(x, y);
                var i = (y * width + x) * 3;
                bytes[i] = (byte)r;
                bytes[i + 1] = (byte)g;
                bytes[i + 2] = (byte)b;
            }
        }

        return bytes;
    }

    private static byte[] Blocks(int width, int height, int blockSize, uint seed)
    {
        var next = new Mulberry32(seed);
        var columns = (width + blockSize - 1) / blockSize;
        var rows = (height + blockSize - 1) / blockSize;
        var colours = new (int, int, int)[columns * rows];
        for (var i = 0; i < colours.Length; i++)
        {
            var v = next.Next();
            colours[i] = ((int)(v & 255), (int)((v >> 8) & 255), (int)((v >> 16) & 255));
        }

        return RgbBytes(width, height, (x, y) => colours[y / blockSize * columns + x / blockSize]);
    }

    private static byte[] Gradient(int width, int height) => RgbBytes(width, height,
        (x, y) => (x * 255 / (width - 1), y * 255 / (height - 1), (x + y) * 255 / (width + height - 2)));

    private static byte[] Checkerboard(int width, int height, int square, int[] a, int[] b) => RgbBytes(width, height, (x, y) =>
    {
        var c = (x / square + y / square) % 2 == 0 ? a : b;
        return (c[0], c[1], c[2]);
    });

    private static byte[] Flat(int[] rgb) => RgbBytes(Size, Size, (_, _) => (rgb[0], rgb[1], rgb[2]));

    private static byte[] Rings(int width, int height) => RgbBytes(width, height, (x, y) =>
    {
        var dx = x - width / 2.0;
        var dy = y - height / 2.0;
        var d = (int)Math.Floor(Math.Sqrt(dx * dx + dy * dy));
        return ((d * 7) & 255, (d * 3 + 80) & 255, 255 - ((d * 5) & 255));
    });
}
