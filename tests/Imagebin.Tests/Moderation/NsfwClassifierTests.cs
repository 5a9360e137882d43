using System.Text.Json;
using System.Text.Json.Serialization;
using Imagebin.Features.Moderation;
using NetVips;

namespace Imagebin.Tests.Moderation;

public sealed class NsfwClassifierTests : IClassFixture<NsfwClassifierTests.SharedClassifier>
{
    /// <summary>Agreement with nsfwjs itself (tools/nsfw-model/reference.mjs): every probability within this distance.</summary>
    private const float ReferenceTolerance = 1e-4f;

    /// <summary>Golden scores pin the preprocessing (decode, colour, alpha, resize): a change there moves them by more.</summary>
    private const float GoldenTolerance = 1e-3f;

    private static readonly string TestData = Path.Combine(AppContext.BaseDirectory, "TestData", "nsfw");

    private readonly NsfwClassifier classifier;

    public NsfwClassifierTests(SharedClassifier shared) => classifier = shared.Classifier;

    public sealed class SharedClassifier : IDisposable
    {
        public NsfwClassifier Classifier { get; } = new();

        public void Dispose() => Classifier.Dispose();
    }

    [Fact]
    public void ClassifyTensor_ReferenceInputs_AgreesWithNsfwjsWithin1e4()
    {
        var reference = LoadReference();
        Assert.Equal(["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], reference.Classes);
        Assert.NotEmpty(reference.Tensors);
        var maxDiff = 0f;
        foreach (var c in reference.Tensors)
        {
            var input = NsfwReferenceInputs.Tensor(c.Name);
            Assert.True(c.InputSha256 == NsfwReferenceInputs.Sha256(input), $"{c.Name}: the C# input generator no longer matches reference.mjs");
            var scores = classifier.ClassifyTensor(input);
            maxDiff = Math.Max(maxDiff, AssertClose(c.Name, c.Probabilities, scores, ReferenceTolerance));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"max |onnx - nsfwjs| over {reference.Tensors.Count} tensors: {maxDiff:E2}");
    }

    [Fact]
    public void Classify_ReferenceImagesOfOtherSizes_ResizesLikeNsfwjs()
    {
        var reference = LoadReference();
        Assert.NotEmpty(reference.Images);
        var maxDiff = 0f;
        foreach (var c in reference.Images)
        {
            var bytes = NsfwReferenceInputs.Image(c.Name, c.Width, c.Height);
            Assert.True(c.InputSha256 == NsfwReferenceInputs.Sha256(bytes), $"{c.Name}: the C# input generator no longer matches reference.mjs");
            using var raw = Image.NewFromMemory(bytes, c.Width, c.Height, 3, Enums.BandFormat.Uchar);
            using var image = raw.Copy(interpretation: Enums.Interpretation.Srgb);
            var scores = classifier.Classify(image);
            maxDiff = Math.Max(maxDiff, AssertClose(c.Name, c.Probabilities, scores, ReferenceTolerance));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"max |onnx - nsfwjs| over {reference.Images.Count} resized images: {maxDiff:E2}");
    }

    public static TheoryData<string> GoldenImages => ["gradient-1024x768.png", "flat-skin-800x600.jpg", "checkerboard-alpha-500x300.png", "grey16-ramp-400x400.png"];

    [Theory]
    [MemberData(nameof(GoldenImages))]
    public void ClassifyFrames_GeneratedImage_GivesItsGoldenScores(string name)
    {
        float[] golden = name switch
        {
            "gradient-1024x768.png" => [0.8832439f, 0.01914808f, 0.09302145f, 0.003664617f, 0.0009218774f],
            "flat-skin-800x600.jpg" => [0.8524259f, 0.025156805f, 0.11350849f, 0.0074322005f, 0.0014765859f],
            "checkerboard-alpha-500x300.png" => [0.020335913f, 0.0028323405f, 0.9691877f, 0.0061739557f, 0.001470226f],
            "grey16-ramp-400x400.png" => [0.66963667f, 0.030464811f, 0.24854122f, 0.04571385f, 0.0056434516f],
            _ => throw new ArgumentException(name),
        };
        var path = Path.Combine(Path.GetTempPath(), $"imagebin-nsfw-{Guid.NewGuid():N}-{name}");
        try
        {
            using (var image = GoldenImage(name))
            {
                image.WriteToFile(path);
            }

            var results = classifier.ClassifyFrames(path);
            var scores = Assert.Single(results);
            TestContext.Current.TestOutputHelper?.WriteLine($"{name}: [{scores.Drawing:R}f, {scores.Hentai:R}f, {scores.Neutral:R}f, {scores.Porn:R}f, {scores.Sexy:R}f]");
            AssertClose(name, golden, scores, GoldenTolerance);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_TamperedModelFile_IsRefused()
    {
        var original = Path.Combine(AppContext.BaseDirectory, "Features", "Moderation", "Models", "nsfw-mobilenetv2.onnx");
        var tampered = Path.Combine(Path.GetTempPath(), $"imagebin-nsfw-{Guid.NewGuid():N}.onnx");
        var bytes = File.ReadAllBytes(original);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(tampered, bytes);
        try
        {
            using var bad = new NsfwClassifier(tampered);
            var error = Assert.Throws<InvalidDataException>(() => bad.ClassifyTensor(new float[NsfwClassifier.TensorLength]));
            Assert.Contains(NsfwClassifier.ModelSha256, error.Message);
        }
        finally
        {
            File.Delete(tampered);
        }
    }

    [Fact]
    public void ModelVersion_NamesTheSourceAndTheFileHash()
    {
        Assert.Equal($"nsfwjs-4.4.0-mobilenet_v2@sha256:{NsfwClassifier.ModelSha256[..12]}", classifier.ModelVersion);
    }

    [Fact]
    public void ClassifyTensor_WrongLength_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => classifier.ClassifyTensor(new float[NsfwClassifier.TensorLength - 3]));
    }

    [Fact]
    public void ClassifyFrames_AnimatedGif_ScoresEvenlySpreadFrames()
    {
        const int frameSize = 96;
        var frames = Enumerable.Range(0, 6).Select(Frame).ToArray();
        var path = Path.Combine(Path.GetTempPath(), $"imagebin-nsfw-{Guid.NewGuid():N}.gif");
        try
        {
            using (var strip = Image.Arrayjoin(frames, across: 1))
            using (var animated = strip.Mutate(m =>
                   {
                       m.Set(GValue.GIntType, "page-height", frameSize);
                       m.Set(GValue.ArrayIntType, "delay", Enumerable.Repeat(100, frames.Length).ToArray());
                   }))
            {
                animated.Gifsave(path);
            }

            var four = classifier.ClassifyFrames(path, maxFrames: 4);
            var all = classifier.ClassifyFrames(path, maxFrames: 10);

            Assert.Equal(4, four.Count);
            Assert.Equal(6, all.Count);
            // Frames 0, 2, 3, 5 of six (first and last included).
            Assert.Equal([all[0], all[2], all[3], all[5]], four);
            Assert.True(all.Distinct().Count() > 1, "different frames should not all score the same");
            using var lastFrame = Image.NewFromFile(path, kwargs: new VOption { { "page", 5 } });
            Assert.Equal(frameSize, lastFrame.Height);
            Assert.Equal(classifier.Classify(lastFrame), all[5]);
            using var everyPage = Image.NewFromFile(path, kwargs: new VOption { { "n", -1 } });
            Assert.Equal(frameSize * 6, everyPage.Height);
            Assert.Equal(all[0], classifier.Classify(everyPage));
        }
        finally
        {
            File.Delete(path);
            foreach (var frame in frames)
            {
                frame.Dispose();
            }
        }

        static Image Frame(int index)
        {
            using var xyz = Image.Xyz(frameSize, frameSize);
            using var x = xyz[0];
            using var y = xyz[1];
            using var checker = Squares(x, y, 4 + index * 4) * (40 * index + 40);
            using var half = checker * 0.5;
            using var inverse = checker.Linear([-1.0], [255.0]);
            using var rgb = checker.Bandjoin(half, inverse);
            return rgb.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        }
    }

    [Fact]
    public void ClassifyTensor_ConcurrentCalls_GiveTheSameScores()
    {
        var inputs = Enumerable.Range(1, 4).Select(seed => NsfwReferenceInputs.Tensor($"noise-seed-{(seed % 3) + 1}")).ToArray();
        var alone = inputs.Select(i => classifier.ClassifyTensor(i)).ToArray();
        var together = new NsfwScores[32];
        Parallel.For(0, together.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => together[i] = classifier.ClassifyTensor(inputs[i % inputs.Length]));
        for (var i = 0; i < together.Length; i++)
        {
            Assert.Equal(alone[i % inputs.Length], together[i]);
        }
    }

    [Fact]
    public async Task IdleModel_IsUnloaded_NotWhileInUse_AndComesBackWithTheSameScores()
    {
        using var idle = new NsfwClassifier { UnloadAfterIdle = TimeSpan.FromMilliseconds(200) };
        var input = NsfwReferenceInputs.Tensor("noise-seed-1");
        Assert.False(idle.IsLoaded);
        var first = idle.ClassifyTensor(input);
        Assert.True(idle.IsLoaded);

        // Not yet idle long enough; then idle; classifications running side by side never find it gone.
        idle.UnloadIfIdle();
        Assert.True(idle.IsLoaded);
        await Task.Delay(250);
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            Assert.Equal(first, idle.ClassifyTensor(input));
            idle.UnloadIfIdle();
        });
        await Task.Delay(250);
        idle.UnloadIfIdle();
        Assert.False(idle.IsLoaded);

        Assert.Equal(first, idle.ClassifyTensor(input));
        Assert.True(idle.IsLoaded);
        Assert.Equal(first, classifier.ClassifyTensor(input));
    }

    [Theory]
    [InlineData(4, 4, new[] { 0, 1, 2, 3 })]
    [InlineData(10, 4, new[] { 0, 3, 6, 9 })]
    [InlineData(100, 4, new[] { 0, 33, 66, 99 })]
    [InlineData(7, 1, new[] { 0 })]
    [InlineData(1, 4, new[] { 0 })]
    public void SampleFrames_SpreadsFromFirstToLast(int pages, int maxFrames, int[] expected)
    {
        Assert.Equal(expected, NsfwClassifier.SampleFrames(pages, maxFrames));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(8)]
    public void Classify_ExifOrientation_ScoresTheUprightImage(int orientation)
    {
        using var raw = Image.NewFromMemory(NsfwReferenceInputs.Image("rings-640x427", 640, 427), 640, 427, 3, Enums.BandFormat.Uchar);
        using var stored = raw.Copy(interpretation: Enums.Interpretation.Srgb).Mutate(m => m.Set(GValue.GIntType, "orientation", orientation));
        using var upright = stored.Autorot();

        var scores = classifier.Classify(stored);
        var expected = classifier.Classify(upright);

        AssertClose($"orientation {orientation}", [expected.Drawing, expected.Hentai, expected.Neutral, expected.Porn, expected.Sexy], scores, 1e-6f);
    }

    private static Image GoldenImage(string name)
    {
        switch (name)
        {
            case "gradient-1024x768.png":
            {
                using var xyz = Image.Xyz(1024, 768);
                using var x = xyz[0];
                using var y = xyz[1];
                using var r = x * (255.0 / 1023);
                using var g = y * (255.0 / 767);
                using var b = (x + y) * (255.0 / 1790);
                using var rgb = r.Bandjoin(g, b);
                return rgb.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            }

            case "flat-skin-800x600.jpg":
            {
                using var black = Image.Black(800, 600, bands: 3);
                using var skin = black + new double[] { 224, 172, 138 };
                return skin.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            }

            case "checkerboard-alpha-500x300.png":
            {
                // Half the squares transparent: the alpha flattening shows in the scores.
                using var xyz = Image.Xyz(500, 300);
                using var x = xyz[0];
                using var y = xyz[1];
                using var odd = Squares(x, y, 25);
                using var black = Image.Black(500, 300, bands: 3);
                using var rgb = black + new double[] { 230, 190, 160 };
                using var alpha = odd * 255;
                using var rgba = rgb.Bandjoin(alpha);
                return rgba.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            }

            case "grey16-ramp-400x400.png":
            {
                // 16-bit greyscale: converted to 8-bit sRGB before the resize.
                using var xyz = Image.Xyz(400, 400);
                using var x = xyz[0];
                using var ramp = x * (65535.0 / 399);
                return ramp.Cast(Enums.BandFormat.Ushort).Copy(interpretation: Enums.Interpretation.Grey16);
            }

            default:
                throw new ArgumentException(name);
        }
    }

    /// <summary>0 or 1 by square of a checkerboard.</summary>
    private static Image Squares(Image x, Image y, int square)
    {
        using var column = (x / square).Floor();
        using var row = (y / square).Floor();
        using var sum = column + row;
        return sum % 2;
    }

    private static float AssertClose(string name, IReadOnlyList<float> expected, NsfwScores actual, float tolerance)
    {
        float[] values = [actual.Drawing, actual.Hentai, actual.Neutral, actual.Porn, actual.Sexy];
        Assert.Equal(5, expected.Count);
        var max = 0f;
        for (var i = 0; i < 5; i++)
        {
            var diff = Math.Abs(values[i] - expected[i]);
            max = Math.Max(max, diff);
            Assert.True(diff <= tolerance, $"{name}: class {i} is {values[i]:R}, expected {expected[i]:R} ± {tolerance} (differs by {diff:E2})");
        }

        return max;
    }

    private static NsfwReference LoadReference() =>
        JsonSerializer.Deserialize<NsfwReference>(File.ReadAllText(Path.Combine(TestData, "reference-outputs.json")), JsonOptions)
        ?? throw new InvalidDataException("empty reference-outputs.json");

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private sealed record NsfwReference(
        [property: JsonRequired] string[] Classes,
        [property: JsonRequired] List<TensorCase> Tensors,
        [property: JsonRequired] List<ImageCase> Images);

    private sealed record TensorCase(string Name, string InputSha256, float[] Probabilities);

    private sealed record ImageCase(string Name, int Width, int Height, string InputSha256, float[] Probabilities);
}
