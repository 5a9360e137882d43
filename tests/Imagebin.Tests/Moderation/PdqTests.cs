using Imagebin.Features.Moderation;
using NetVips;

namespace Imagebin.Tests.Moderation;

/// <summary>
/// Reference vectors are Meta's (TestData/pdq, BSD notice in its README.md): every image must hash within 16 bits of the
/// reference's hash, the bar the reference sets for other implementations. The rest checks what moderation relies on:
/// rotated and mirrored copies are found through the dihedral hashes, re-encoded and resized copies still match, and
/// unrelated pictures do not.
/// </summary>
public sealed class PdqTests(ITestOutputHelper output)
{
    private static readonly string DataDirectory = Path.Combine(AppContext.BaseDirectory, "TestData", "pdq");

    public static TheoryData<string, string> ReferenceVectors() => new(ReferenceFiles().Select(vector => (vector.File, vector.Hex)));

    private static IEnumerable<(string File, string Hex)> ReferenceFiles() =>
        File.ReadLines(Path.Combine(DataDirectory, "expected.csv")).Skip(1).Select(line => line.Split(',')).Select(fields => (fields[0], fields[1]));

    [Theory]
    [MemberData(nameof(ReferenceVectors))]
    public void ReferenceImage_HashesWithinToleranceOfReference(string file, string expectedHex)
    {
        var expected = PdqHash.Parse(expectedHex);

        var result = Pdq.ComputeFile(ReferencePath(file));

        var distance = result.Hash.DistanceTo(expected);
        output.WriteLine($"{file}: distance {distance}, quality {result.Quality}, hash {result.Hash}");
        Assert.True(distance <= 16, $"{file} is {distance} bits from the reference");
        if (result.Quality >= 80)
        {
            Assert.True(distance <= 10, $"{file} has quality {result.Quality} yet is {distance} bits from the reference");
        }
    }

    [Theory]
    [MemberData(nameof(ReferenceVectors))]
    public void ReferenceImage_Reduced_HashesWithinToleranceOfReference(string file, string expectedHex)
    {
        // The pipeline's path: the decoded image in memory, resized to 512 px at most (as Meta's C++ reference does).
        using var image = Image.NewFromFile(ReferencePath(file));
        using var decoded = image.CopyMemory();

        var result = Pdq.ComputeReduced(decoded);

        var distance = result.Hash.DistanceTo(PdqHash.Parse(expectedHex));
        var full = Pdq.Compute(decoded);
        output.WriteLine($"{file}: distance {distance} (full resolution {full.Hash.DistanceTo(PdqHash.Parse(expectedHex))}), quality {result.Quality}");
        Assert.True(distance <= 16, $"{file} is {distance} bits from the reference");
        Assert.True(Math.Abs(result.Quality - full.Quality) <= 10, $"{file}: quality {result.Quality} reduced, {full.Quality} in full");
    }

    public static TheoryData<string, int> Transforms() => new()
    {
        { "rot90", 1 }, { "rot180", 2 }, { "rot270", 3 }, { "flipX", 4 }, { "flipY", 5 }, { "flipPlus1", 6 }, { "flipMinus1", 7 },
    };

    [Theory]
    [MemberData(nameof(Transforms))]
    public void Dihedral_OfOriginal_IsHashOfTransformedImage(string transform, int index)
    {
        using var original = Image.NewFromFile(ReferencePath("misc-images/c.png"));
        using var transformed = Transform(original, transform);

        var predicted = Pdq.Compute(original).Dihedral[index];
        var actual = Pdq.Compute(transformed).Hash;

        var distance = predicted.DistanceTo(actual);
        output.WriteLine($"{transform}: predicted vs actual distance {distance}");
        Assert.True(distance <= 6, $"{transform}: the dihedral hash is {distance} bits from the transformed image's hash");
    }

    [Fact]
    public void Dihedral_FirstEntryIsTheHash_AndTheEightDiffer()
    {
        var result = Pdq.ComputeFile(ReferencePath("labelme-subset/q1050.jpg"));

        Assert.Equal(8, result.Dihedral.Count);
        Assert.Equal(result.Hash, result.Dihedral[0]);
        Assert.Equal(8, result.Dihedral.Distinct().Count());
    }

    [Fact]
    public void EditedCopy_MatchesThroughDihedralHashes_UnrelatedImageDoesNot()
    {
        using var original = Image.NewFromFile(ReferencePath("misc-images/c.png"));
        var reference = Pdq.Compute(original);

        // Re-encoded at JPEG quality 60, halved, turned a quarter and mirrored, all at once.
        var jpeg = original.Flatten().JpegsaveBuffer(q: 60);
        using var decoded = Image.NewFromBuffer(jpeg);
        using var half = decoded.Resize(0.5);
        using var turned = half.Rot90();
        using var edited = turned.FlipHor();
        var copy = Pdq.Compute(edited);

        var plain = reference.Hash.DistanceTo(copy.Hash);
        var best = reference.Dihedral.Min(variant => variant.DistanceTo(copy.Hash));
        output.WriteLine($"edited copy: {plain} bits from the original hash, {best} from the nearest dihedral hash");
        Assert.True(best <= Pdq.MatchDistance, $"the edited copy is {best} bits from the nearest dihedral hash");
        Assert.Contains(reference.Dihedral, variant => Pdq.Matches(variant, copy.Hash));

        var unrelated = Pdq.ComputeFile(ReferencePath("labelme-subset/q2821.jpg"));
        var unrelatedBest = reference.Dihedral.Min(variant => variant.DistanceTo(unrelated.Hash));
        output.WriteLine($"unrelated image: {unrelatedBest} bits from the nearest dihedral hash");
        Assert.True(unrelatedBest > Pdq.MatchDistance, $"an unrelated image is only {unrelatedBest} bits away");
    }

    [Fact]
    public void ReferenceImages_DoNotMatchEachOther()
    {
        var results = ReferenceFiles().Select(vector => (vector.File, Result: Pdq.ComputeFile(ReferencePath(vector.File))))
            .Where(entry => entry.Result.Quality >= Pdq.MinQuality)
            .ToList();
        Assert.True(results.Count >= 5, "too few reference images of usable quality");

        var closest = int.MaxValue;
        foreach (var (file, result) in results)
        {
            foreach (var (otherFile, other) in results.Where(entry => entry.File != file))
            {
                var distance = result.Dihedral.Min(variant => variant.DistanceTo(other.Hash));
                closest = Math.Min(closest, distance);
                Assert.True(distance > Pdq.MatchDistance, $"{file} and {otherFile} are only {distance} bits apart");
            }
        }

        output.WriteLine($"closest pair of distinct reference images: {closest} bits");
    }

    [Fact]
    public void FlatImage_HasLowQuality()
    {
        using var black = Image.Black(300, 200, bands: 3);
        using var flat = (black + new[] { 90.0, 160.0, 40.0 }).Cast(Enums.BandFormat.Uchar);

        var result = Pdq.Compute(flat);

        output.WriteLine($"flat: quality {result.Quality}");
        Assert.True(result.Quality < Pdq.MinQuality);
    }

    [Fact]
    public void DetailedImage_HasHighQuality()
    {
        var result = Pdq.ComputeFile(ReferencePath("misc-images/c.png"));

        output.WriteLine($"c.png: quality {result.Quality}");
        Assert.True(result.Quality >= Pdq.MinQuality);
    }

    [Fact]
    public void LumaBuffer_HashesLikeTheImage()
    {
        using var image = Image.NewFromFile(ReferencePath("labelme-subset/q0291.jpg"));
        var pixels = image.WriteToMemory<byte>();
        var luma = new float[image.Width * image.Height];
        for (var i = 0; i < luma.Length; i++)
        {
            luma[i] = 0.299f * pixels[3 * i] + 0.587f * pixels[3 * i + 1] + 0.114f * pixels[3 * i + 2];
        }

        var fromLuma = Pdq.Compute(luma, image.Width, image.Height);
        var fromImage = Pdq.Compute(image);

        Assert.Equal(fromImage, fromLuma with { Dihedral = fromImage.Dihedral });
        Assert.Equal(fromImage.Dihedral, fromLuma.Dihedral);
    }

    [Fact]
    public void OtherPixelFormats_HashLikeEightBitRgb()
    {
        using var rgba = Image.NewFromFile(ReferencePath("misc-images/c.png"));
        using var rgb = rgba.ExtractBand(0, n: 3);
        var expected = Pdq.Compute(rgb).Hash;

        using var sixteen = rgb.Colourspace(Enums.Interpretation.Rgb16);
        using var grey = rgb.Colourspace(Enums.Interpretation.Bw);
        using var cmyk = rgb.Colourspace(Enums.Interpretation.Cmyk);
        var distances = new Dictionary<string, int>
        {
            ["rgba"] = Pdq.Compute(rgba).Hash.DistanceTo(expected),
            ["rgb16"] = Pdq.Compute(sixteen).Hash.DistanceTo(expected),
            ["b-w"] = Pdq.Compute(grey).Hash.DistanceTo(expected),
            ["cmyk"] = Pdq.Compute(cmyk).Hash.DistanceTo(expected),
        };

        output.WriteLine(string.Join(", ", distances.Select(pair => $"{pair.Key} {pair.Value}")));
        Assert.Equal(0, distances["rgba"]);
        Assert.All(distances, pair => Assert.True(pair.Value <= 10, $"{pair.Key} is {pair.Value} bits from 8-bit RGB"));
    }

    [Fact]
    public void LargeJpeg_ShrunkOnLoad_HashesLikeFullResolution()
    {
        using var source = Image.NewFromFile(ReferencePath("misc-images/c.png"));
        using var large = source.ExtractBand(0, n: 3).Resize(3.0);
        var path = Path.Combine(Path.GetTempPath(), $"imagebin-pdq-{Guid.NewGuid():N}.jpg");
        try
        {
            large.Jpegsave(path, q: 90);
            using var full = Image.NewFromFile(path);

            var shrunk = Pdq.ComputeFile(path);
            var distance = shrunk.Hash.DistanceTo(Pdq.Compute(full).Hash);

            output.WriteLine($"{large.Width}×{large.Height} JPEG: shrink-on-load moves the hash by {distance} bits");
            Assert.True(distance <= 8, $"shrink-on-load moved the hash by {distance} bits");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TinyImage_IsUnhashable()
    {
        using var tiny = Image.Black(4, 40, bands: 3).Cast(Enums.BandFormat.Uchar);

        var result = Pdq.Compute(tiny);

        Assert.Equal(0, result.Quality);
        Assert.Equal(default, result.Hash);
    }

    [Fact]
    public void Hex_RoundTripsInReferenceOrder()
    {
        const string hex = "e64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064";

        var hash = PdqHash.Parse(hex);

        Assert.Equal(hex, hash.ToHex());
        Assert.Equal(0xe64cc9d91e623842UL, hash.W0);
        Assert.Equal(0xb7e11e0bf061b064UL, hash.W3);
        Assert.Equal(hash, PdqHash.Parse(hex.ToUpperInvariant()));
        Assert.Equal(0, hash.DistanceTo(hash));
        Assert.Equal(256, hash.DistanceTo(new PdqHash(~hash.W0, ~hash.W1, ~hash.W2, ~hash.W3)));
    }

    [Fact]
    public void Hex_BitZeroIsTheLastDigitsLowBit()
    {
        // In the reference, bit k is coefficient (k / 16, k % 16); bit 0, the lowest horizontal and vertical frequency, prints last.
        var hash = PdqHash.Parse(new string('0', 63) + "1");

        Assert.Equal(new PdqHash(0, 0, 0, 1), hash);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("e64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b06")]
    [InlineData("e64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b0640")]
    [InlineData("g64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064")]
    [InlineData("+64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064")]
    [InlineData(" 64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064")]
    [InlineData("0x4cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064")]
    public void Hex_Malformed_IsRejected(string? hex)
    {
        Assert.False(PdqHash.TryParse(hex, out var hash));
        Assert.Equal(default, hash);
        if (hex is not null)
        {
            Assert.Throws<FormatException>(() => PdqHash.Parse(hex));
        }
    }

    private static string ReferencePath(string file) => Path.Combine(DataDirectory, file);

    private static Image Transform(Image image, string transform) => transform switch
    {
        // The reference turns anticlockwise; libvips' Rot90 turns clockwise.
        "rot90" => image.Rot270(),
        "rot180" => image.Rot180(),
        "rot270" => image.Rot90(),
        "flipX" => image.FlipVer(),
        "flipY" => image.FlipHor(),
        "flipPlus1" => Transpose(image),
        "flipMinus1" => AntiTranspose(image),
        _ => throw new ArgumentOutOfRangeException(nameof(transform)),
    };

    private static Image Transpose(Image image)
    {
        using var turned = image.Rot90();
        return turned.FlipHor();
    }

    private static Image AntiTranspose(Image image)
    {
        using var turned = image.Rot90();
        return turned.FlipVer();
    }
}
