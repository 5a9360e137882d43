using NetVips;

namespace Imagebin.Features.Media;

/// <summary>
/// ThumbHash (https://evanw.github.io/thumbhash/, evanw/thumbhash's <c>rgbaToThumbHash</c>): a ~25-byte summary of an image
/// from which a blurred ~32 px preview is drawn while the image loads. The encoder follows the reference operation for
/// operation (JavaScript doubles, <c>Math.round</c>), so its bytes equal the reference's for the same pixels; the tests hold
/// vectors from the reference package (<c>tools/thumbhash-vectors</c>).
/// </summary>
public static class ThumbHash
{
    /// <summary>The encoder's input is at most this many pixels on each side (the reference refuses more).</summary>
    public const int MaxSide = 100;

    /// <summary>
    /// The placeholder of an image (its first frame, turned upright by its orientation, in sRGB), as base64, from libvips'
    /// thumbnail of at most <see cref="MaxSide"/> pixels a side (never enlarged).
    /// </summary>
    public static string FromImage(Image image)
    {
        using var small = image.ThumbnailImage(MaxSide, height: MaxSide, size: Enums.Size.Down);
        return Convert.ToBase64String(FromThumbnail(small));
    }

    /// <summary>As <see cref="FromImage"/>, reading the file with libvips' shrink-on-load.</summary>
    public static string FromFile(string path)
    {
        using var small = Image.Thumbnail(path, MaxSide, height: MaxSide, size: Enums.Size.Down);
        return Convert.ToBase64String(FromThumbnail(small));
    }

    private static byte[] FromThumbnail(Image small)
    {
        using var rgba = ToRgba8(small);
        var pixels = rgba.WriteToMemory<byte>();
        return Encode(rgba.Width, rgba.Height, pixels);
    }

    /// <summary>Any band layout and sample format to 8-bit sRGB with alpha (opaque when the image has none).</summary>
    private static Image ToRgba8(Image image)
    {
        var current = image.Copy();
        void Replace(Func<Image, Image> step)
        {
            var next = step(current);
            current.Dispose();
            current = next;
        }

        if (current.Interpretation != Enums.Interpretation.Srgb)
        {
            Replace(i => i.Colourspace(Enums.Interpretation.Srgb));
        }

        if (current.Format != Enums.BandFormat.Uchar)
        {
            Replace(i => i.Cast(Enums.BandFormat.Uchar));
        }

        if (current.Bands < 3)
        {
            // Still grey (an interpretation libvips could not convert): grey for each of R, G and B.
            var hasAlpha = current.Bands == 2;
            Replace(i => hasAlpha ? i[0].Bandjoin(i[0], i[0], i[1]) : i[0].Bandjoin(i[0], i[0]));
        }

        if (current.Bands == 3)
        {
            Replace(i => i.Bandjoin(255));
        }
        else if (current.Bands > 4)
        {
            Replace(i => i.ExtractBand(0, n: 4));
        }

        return current;
    }

    /// <summary>The reference <c>rgbaToThumbHash</c>: <paramref name="rgba"/> is row by row, 4 bytes a pixel, not premultiplied.</summary>
    public static byte[] Encode(int w, int h, ReadOnlySpan<byte> rgba)
    {
        if (w is < 1 or > MaxSide || h is < 1 or > MaxSide)
        {
            throw new ArgumentOutOfRangeException(nameof(w), $"{w}x{h} doesn't fit in {MaxSide}x{MaxSide}");
        }

        if (rgba.Length < w * h * 4)
        {
            throw new ArgumentException($"{w}x{h} RGBA needs {w * h * 4} bytes, got {rgba.Length}.", nameof(rgba));
        }

        // The average colour.
        double avgR = 0, avgG = 0, avgB = 0, avgA = 0;
        for (int i = 0, j = 0; i < w * h; i++, j += 4)
        {
            var alpha = rgba[j + 3] / 255.0;
            avgR += alpha / 255 * rgba[j];
            avgG += alpha / 255 * rgba[j + 1];
            avgB += alpha / 255 * rgba[j + 2];
            avgA += alpha;
        }

        if (avgA != 0)
        {
            avgR /= avgA;
            avgG /= avgA;
            avgB /= avgA;
        }

        var hasAlpha = avgA < w * h;
        var lLimit = hasAlpha ? 5 : 7; // fewer luminance bits when there is alpha
        var lx = Math.Max(1, Round((double)lLimit * w / Math.Max(w, h)));
        var ly = Math.Max(1, Round((double)lLimit * h / Math.Max(w, h)));
        var l = new double[w * h];
        var p = new double[w * h];
        var q = new double[w * h];
        var a = new double[w * h];

        // RGBA to LPQA, composited atop the average colour.
        for (int i = 0, j = 0; i < w * h; i++, j += 4)
        {
            var alpha = rgba[j + 3] / 255.0;
            var r = avgR * (1 - alpha) + alpha / 255 * rgba[j];
            var g = avgG * (1 - alpha) + alpha / 255 * rgba[j + 1];
            var b = avgB * (1 - alpha) + alpha / 255 * rgba[j + 2];
            l[i] = (r + g + b) / 3;
            p[i] = (r + g) / 2 - b;
            q[i] = r - g;
            a[i] = alpha;
        }

        var (lDc, lAc, lScale) = EncodeChannel(l, w, h, Math.Max(3, lx), Math.Max(3, ly));
        var (pDc, pAc, pScale) = EncodeChannel(p, w, h, 3, 3);
        var (qDc, qAc, qScale) = EncodeChannel(q, w, h, 3, 3);
        var (aDc, aAc, aScale) = hasAlpha ? EncodeChannel(a, w, h, 5, 5) : (0, [], 0);

        // The constants.
        var isLandscape = w > h;
        var header24 = Round(63 * lDc) | (Round(31.5 + 31.5 * pDc) << 6) | (Round(31.5 + 31.5 * qDc) << 12)
            | (Round(31 * lScale) << 18) | ((hasAlpha ? 1 : 0) << 23);
        var header16 = (isLandscape ? ly : lx) | (Round(63 * pScale) << 3) | (Round(63 * qScale) << 9) | ((isLandscape ? 1 : 0) << 15);
        var acStart = hasAlpha ? 6 : 5;
        var acCount = lAc.Count + pAc.Count + qAc.Count + (hasAlpha ? aAc.Count : 0);
        var hash = new byte[acStart + (acCount + 1) / 2];
        hash[0] = (byte)(header24 & 255);
        hash[1] = (byte)((header24 >> 8) & 255);
        hash[2] = (byte)(header24 >> 16);
        hash[3] = (byte)(header16 & 255);
        hash[4] = (byte)(header16 >> 8);
        if (hasAlpha)
        {
            hash[5] = (byte)(Round(15 * aDc) | (Round(15 * aScale) << 4));
        }

        // The varying factors, two to a byte.
        var acIndex = 0;
        foreach (var ac in hasAlpha ? new[] { lAc, pAc, qAc, aAc } : [lAc, pAc, qAc])
        {
            foreach (var f in ac)
            {
                hash[acStart + (acIndex >> 1)] |= (byte)(Round(15 * f) << ((acIndex & 1) << 2));
                acIndex++;
            }
        }

        return hash;
    }

    /// <summary>The DCT of one channel: the DC term, the AC terms normalised to 0..1, and their scale.</summary>
    private static (double Dc, List<double> Ac, double Scale) EncodeChannel(double[] channel, int w, int h, int nx, int ny)
    {
        double dc = 0, scale = 0;
        var ac = new List<double>();
        var fx = new double[w];
        for (var cy = 0; cy < ny; cy++)
        {
            for (var cx = 0; cx * ny < nx * (ny - cy); cx++)
            {
                double f = 0;
                for (var x = 0; x < w; x++)
                {
                    fx[x] = Math.Cos(Math.PI / w * cx * (x + 0.5));
                }

                for (var y = 0; y < h; y++)
                {
                    var fy = Math.Cos(Math.PI / h * cy * (y + 0.5));
                    for (var x = 0; x < w; x++)
                    {
                        f += channel[x + y * w] * fx[x] * fy;
                    }
                }

                f /= w * h;
                if (cx != 0 || cy != 0)
                {
                    ac.Add(f);
                    scale = Math.Max(scale, Math.Abs(f));
                }
                else
                {
                    dc = f;
                }
            }
        }

        if (scale != 0)
        {
            for (var i = 0; i < ac.Count; i++)
            {
                ac[i] = 0.5 + 0.5 / scale * ac[i];
            }
        }

        return (dc, ac, scale);
    }

    /// <summary>The reference <c>thumbHashToApproximateAspectRatio</c>: width / height of the original, roughly.</summary>
    public static double ApproximateAspectRatio(ReadOnlySpan<byte> hash)
    {
        var header = hash[3];
        var hasAlpha = (hash[2] & 0x80) != 0;
        var isLandscape = (hash[4] & 0x80) != 0;
        var lx = isLandscape ? hasAlpha ? 5 : 7 : header & 7;
        var ly = isLandscape ? header & 7 : hasAlpha ? 5 : 7;
        return (double)lx / ly;
    }

    /// <summary>The reference <c>thumbHashToAverageRGBA</c>: the average colour, each channel 0..1, not premultiplied.</summary>
    public static (double R, double G, double B, double A) AverageRgba(ReadOnlySpan<byte> hash)
    {
        var header = hash[0] | (hash[1] << 8) | (hash[2] << 16);
        var l = (header & 63) / 63.0;
        var p = ((header >> 6) & 63) / 31.5 - 1;
        var q = ((header >> 12) & 63) / 31.5 - 1;
        var hasAlpha = (header >> 23) != 0;
        var a = hasAlpha ? (hash[5] & 15) / 15.0 : 1;
        var b = l - 2.0 / 3 * p;
        var r = (3 * l - b + q) / 2;
        var g = r - q;
        return (Math.Clamp(r, 0, 1), Math.Clamp(g, 0, 1), Math.Clamp(b, 0, 1), a);
    }

    /// <summary>JavaScript's <c>Math.round</c>: the nearest integer, halves up (C#'s default rounds halves to even).</summary>
    private static int Round(double value)
    {
        var floor = Math.Floor(value);
        return (int)(value - floor >= 0.5 ? floor + 1 : floor);
    }
}
