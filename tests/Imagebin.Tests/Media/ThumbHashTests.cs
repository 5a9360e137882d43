using Imagebin.Features.Media;
using Imagebin.Tests.Support;
using NetVips;

namespace Imagebin.Tests.Media;

/// <summary>The ThumbHash encoder against the reference implementation, and the placeholder of real images.</summary>
public sealed class ThumbHashTests
{
    /// <summary>
    /// Made by the reference implementation (npm <c>thumbhash</c> 0.1.1, evanw's): <c>tools/thumbhash-vectors/vectors.sh</c>
    /// prints, for each image of <see cref="Pixels"/> (the same formulas as its <c>vectors.mjs</c>), the base64 hash, the
    /// approximate aspect ratio and the average RGBA. Regenerate with that script; the tests never run npm.
    /// </summary>
    public static TheoryData<string, int, int, bool, string, double, double[]> ReferenceVectors => new()
    {
        { "opaque-8x6", 8, 6, false, "TDcKHYaAh4eQiIiHiHh4h50fiAZ3", 1.4, [0.2195767195767196, 0.10846560846560843, 0.2433862433862434, 1] },
        { "opaque-100x75", 100, 75, false, "HwgCDYJWdSUhFANiZ0aGdPw4fPjd", 1.4, [0.5052910052910051, 0.4894179894179893, 0.4814814814814815, 1] },
        { "opaque-40x100", 40, 100, false, "HwgCAwQyZAIhhlVmvqqgmvk=", 0.42857142857142855, [0.5052910052910051, 0.4894179894179893, 0.4814814814814815, 1] },
        { "opaque-1x1", 1, 1, false, "QQcGJwAI9wiIh4hwj3CI+AiIcH/4AAAA", 1, [0, 0, 0.06878306878306881, 1] },
        { "alpha-64x64", 64, 64, true, "IPiBDQIImUVARpaGWr8oO/V+p9cmBoNjeA==", 1, [0.5052910052910051, 0.521164021164021, 0.4973544973544974, 0.5333333333333333] },
        { "alpha-100x33", 100, 33, true, "HwiCCoAHhpRwCouXqp//pBkJRUV3eHc=", 2.5, [0.5052910052910051, 0.4894179894179893, 0.4814814814814815, 0.4666666666666667] },
        { "alpha-17x90", 17, 90, true, "odiBCQQXREAilJvOQEb67IeHK3QCXFw=", 0.2, [0.5105820105820107, 0.5899470899470901, 0.470899470899471, 0.4666666666666667] },
    };

    [Theory, MemberData(nameof(ReferenceVectors))]
    public void Encode_MatchesTheReferenceImplementation(string name, int width, int height, bool alpha, string expected, double aspect, double[] average)
    {
        var hash = ThumbHash.Encode(width, height, Pixels(width, height, alpha));

        Assert.True(expected == Convert.ToBase64String(hash), $"{name}: {Convert.ToBase64String(hash)}");
        Assert.Equal(aspect, ThumbHash.ApproximateAspectRatio(hash), 12);
        var (r, g, b, a) = ThumbHash.AverageRgba(hash);
        Assert.Equal(average, [r, g, b, a], (x, y) => Math.Abs(x - y) < 1e-12);
    }

    [Fact]
    public void Encode_RefusesImagesLargerThanTheReferenceAccepts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ThumbHash.Encode(101, 10, new byte[101 * 10 * 4]));
    }

    [Theory]
    [InlineData(800, 200)]
    [InlineData(90, 300)]
    [InlineData(37, 37)]
    public void FromImage_OfAPicture_KeepsItsShapeAndColour(int width, int height)
    {
        using var red = Image.Black(width, height, bands: 3).NewFromImage(200, 30, 40).Cast(Enums.BandFormat.Uchar);

        var hash = Convert.FromBase64String(ThumbHash.FromImage(red));

        Assert.Equal((double)width / height, ThumbHash.ApproximateAspectRatio(hash), 0.5);
        var (r, g, b, a) = ThumbHash.AverageRgba(hash);
        Assert.InRange(r, 0.7, 0.86);
        Assert.InRange(g, 0.05, 0.2);
        Assert.InRange(b, 0.08, 0.24);
        Assert.Equal(1, a);
    }

    [Fact]
    public void FromImage_OfGreyOrSixteenBitOrAlpha_IsEncodedAsRgba()
    {
        using var grey = Image.Black(50, 40).NewFromImage(128).Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Bw);
        using var deep = (TestImages.Picture(60, 40) * 257).Cast(Enums.BandFormat.Ushort).Copy(interpretation: Enums.Interpretation.Rgb16);
        using var halfTransparent = TestImages.Picture(60, 40).Bandjoin(128);

        var greyAverage = ThumbHash.AverageRgba(Convert.FromBase64String(ThumbHash.FromImage(grey)));
        Assert.InRange(greyAverage.R, 0.4, 0.6);
        Assert.Equal(greyAverage.R, greyAverage.B, 0.05);
        Assert.NotEmpty(ThumbHash.FromImage(deep));
        Assert.InRange(ThumbHash.AverageRgba(Convert.FromBase64String(ThumbHash.FromImage(halfTransparent))).A, 0.4, 0.6);
    }

    /// <summary>The test images of <c>tools/thumbhash-vectors/vectors.mjs</c>: the same integer formulas, byte for byte.</summary>
    private static byte[] Pixels(int width, int height, bool alpha)
    {
        var rgba = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 4;
                rgba[i] = (byte)((x * 7 + y * 13) % 256);
                rgba[i + 1] = (byte)((x * x + 3 * y) % 256);
                rgba[i + 2] = (byte)((x * y * 5 + 17) % 256);
                rgba[i + 3] = (byte)(alpha ? (x * 11 + y * 3) % 256 : 255);
            }
        }

        return rgba;
    }
}
