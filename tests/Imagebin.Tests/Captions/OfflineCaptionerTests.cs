using Imagebin.Features.Captions;
using Imagebin.Features.Moderation;
using Imagebin.Tests.Support;
using NetVips;

namespace Imagebin.Tests.Captions;

public sealed class OfflineCaptionerTests : IDisposable
{
    private static readonly string[] ColourWords = ["black", "white", "grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "beige"];

    private readonly string directory = Directory.CreateTempSubdirectory("offline-captioner-").FullName;
    private readonly OfflineCaptioner captioner = new();

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData(220, 30, 30, "red")]
    [InlineData(240, 140, 20, "orange")]
    [InlineData(250, 220, 40, "yellow")]
    [InlineData(30, 160, 60, "green")]
    [InlineData(0, 128, 128, "teal")]
    [InlineData(30, 60, 200, "blue")]
    [InlineData(120, 40, 150, "purple")]
    [InlineData(250, 170, 200, "pink")]
    [InlineData(120, 70, 30, "brown")]
    [InlineData(230, 210, 170, "beige")]
    [InlineData(128, 128, 128, "grey")]
    [InlineData(10, 10, 10, "black")]
    [InlineData(250, 250, 250, "white")]
    public async Task Caption_SolidColour_NamesThatColourAlone(int r, int g, int b, string name)
    {
        var result = await CaptionAsync(Save(Solid(320, 240, r, g, b), "solid.png"));

        Assert.Equal([name], result.Tags.Intersect(ColourWords));
        Assert.Contains($", mostly {name}", result.Caption);
    }

    [Fact]
    public async Task Caption_BlueOverWhite_NamesBothByShare()
    {
        var mostlyBlue = await CaptionAsync(Save(Split(400, 300, blueRows: 210), "blue.png"));
        var mostlyWhite = await CaptionAsync(Save(Split(400, 300, blueRows: 90), "white.png"));

        Assert.Equal(["blue", "white"], mostlyBlue.Tags.Intersect(ColourWords));
        Assert.Contains("mostly blue and white", mostlyBlue.Caption);
        Assert.Equal(["white", "blue"], mostlyWhite.Tags.Intersect(ColourWords));
        Assert.Contains("mostly white and blue", mostlyWhite.Caption);
    }

    [Fact]
    public async Task Caption_SmallShareOfAColour_LeavesItUnnamed()
    {
        var result = await CaptionAsync(Save(Split(400, 300, blueRows: 30), "sliver.png"));

        Assert.Equal(["white"], result.Tags.Intersect(ColourWords));
    }

    [Theory]
    [InlineData(400, 300, "landscape", "landscape")]
    [InlineData(300, 400, "portrait", "portrait")]
    [InlineData(400, 390, "square", "square")]
    [InlineData(390, 400, "square", "square")]
    [InlineData(800, 400, "panorama", "panoramic")]
    [InlineData(300, 600, "tall", "tall")]
    public async Task Caption_Shape_NamesTheOrientation(int width, int height, string tag, string adjective)
    {
        var result = await CaptionAsync(Save(Solid(width, height, 30, 60, 200), "shape.png"));

        Assert.Contains(tag, result.Tags);
        Assert.Contains($" {adjective} image", result.Caption);
        Assert.Single(result.Tags.Intersect(["landscape", "portrait", "square", "panorama", "tall"]));
    }

    [Fact]
    public async Task Caption_ExifOrientation6_DescribesThePictureAsShown()
    {
        // Stored 400 × 300 (what ingest records), shown turned by 90°: 300 × 400.
        using var stored = Solid(400, 300, 30, 60, 200).Mutate(m => m.Set(GValue.GIntType, "orientation", 6));
        var path = Path.Combine(directory, "rotated.jpg");
        stored.Jpegsave(path, keep: Enums.ForeignKeep.Exif);

        var result = await captioner.CaptionAsync(new CaptionInput(path, "image/jpeg", 400, 300, 1, null), CancellationToken.None);

        Assert.Contains("portrait", result.Tags);
    }

    [Theory]
    [InlineData(64, 64, "icon", "An icon-sized")]
    [InlineData(128, 100, "icon", "An icon-sized")]
    [InlineData(800, 600, "small", "A small")]
    [InlineData(1600, 1200, "medium", "A medium-sized")]
    [InlineData(2400, 1800, "large", "A large")]
    [InlineData(5000, 3500, "very large", "A very large")]
    public async Task Caption_PixelCount_NamesTheSizeClass(int width, int height, string tag, string opening)
    {
        var result = await CaptionAsync(Save(Solid(width, height, 30, 160, 60), "size.jpg"));

        Assert.Contains(tag, result.Tags);
        Assert.StartsWith(opening + " ", result.Caption);
    }

    [Fact]
    public async Task Caption_AnimatedGif_SaysAnimated_StillGifDoesNot()
    {
        using var frames = Solid(120, 240, 220, 30, 30).Mutate(m => m.Set(GValue.GIntType, "page-height", 120));
        var animated = Path.Combine(directory, "animated.gif");
        frames.Gifsave(animated);
        var still = Save(Solid(120, 120, 220, 30, 30), "still.gif");

        var animatedResult = await captioner.CaptionAsync(new CaptionInput(animated, "image/gif", 120, 120, 2, null), CancellationToken.None);
        var stillResult = await CaptionAsync(still);

        Assert.Contains("animated", animatedResult.Tags);
        Assert.Equal("An icon-sized animated square image, mostly red.", animatedResult.Caption);
        Assert.DoesNotContain("animated", stillResult.Tags);
    }

    [Fact]
    public async Task Caption_PngWithTransparentPixels_SaysTransparent()
    {
        using var rgb = Solid(200, 200, 220, 30, 30);
        using var alpha = Alpha(200, 200, clearWidth: 200, clearHeight: 100);
        using var rgba = rgb.Bandjoin(alpha);

        var result = await CaptionAsync(Save(rgba, "transparent.png"));

        Assert.Contains("transparent", result.Tags);
        Assert.Contains("with transparency", result.Caption);
        // The transparent half stores black; it counts for nothing, so the colour is the visible red alone.
        Assert.Equal(["red"], result.Tags.Intersect(ColourWords));
    }

    [Fact]
    public async Task Caption_PngWithOpaqueAlpha_IsNotTransparent()
    {
        using var rgb = Solid(200, 200, 220, 30, 30);
        using var alpha = Alpha(200, 200, clearWidth: 0, clearHeight: 0);
        using var rgba = rgb.Bandjoin(alpha);

        var withAlpha = await CaptionAsync(Save(rgba, "opaque.png"));
        var withoutAlpha = await CaptionAsync(Save(Solid(200, 200, 220, 30, 30), "rgb.png"));

        Assert.DoesNotContain("transparent", withAlpha.Tags);
        Assert.DoesNotContain("transparent", withoutAlpha.Tags);
    }

    [Theory]
    [InlineData(0.9f, 0.02f, 0.05f, 0.02f, 0.01f, "drawing")]
    [InlineData(0.3f, 0.5f, 0.1f, 0.05f, 0.05f, "drawing")]
    [InlineData(0.05f, 0.0f, 0.9f, 0.03f, 0.02f, "photo")]
    [InlineData(0.02f, 0.03f, 0.05f, 0.8f, 0.1f, "photo")]
    [InlineData(0.02f, 0.03f, 0.05f, 0.1f, 0.8f, "photo")]
    public async Task Caption_ClassifierScores_GiveTheKindAndNoNsfwWords(float drawing, float hentai, float neutral, float porn, float sexy, string kind)
    {
        var path = Save(Solid(400, 300, 30, 60, 200), "kind.png");

        var result = await captioner.CaptionAsync(
            new CaptionInput(path, "image/png", 400, 300, 1, new NsfwScores(drawing, hentai, neutral, porn, sexy)), CancellationToken.None);

        Assert.Contains(kind, result.Tags);
        Assert.Contains($" {kind},", result.Caption);
        var words = string.Join(' ', result.Tags.Append(result.Caption)).ToLowerInvariant();
        foreach (var nsfw in new[] { "porn", "sexy", "hentai", "nsfw", "neutral", "explicit", "nud" })
        {
            Assert.DoesNotContain(nsfw, words);
        }
    }

    [Fact]
    public async Task Caption_EvenScoresOrNone_GiveNoKind()
    {
        var path = Save(Solid(400, 300, 30, 60, 200), "nokind.png");

        var even = await captioner.CaptionAsync(new CaptionInput(path, "image/png", 400, 300, 1, new NsfwScores(0.3f, 0.15f, 0.45f, 0.05f, 0.05f)), CancellationToken.None);
        var none = await CaptionAsync(path);

        Assert.Empty(even.Tags.Intersect(["photo", "drawing"]));
        Assert.Equal("A small landscape image, mostly blue.", none.Caption);
    }

    [Fact]
    public async Task Caption_ScreenSizedFlatPng_IsScreenshotLike()
    {
        var result = await CaptionAsync(Save(Screenshot(1920, 1080), "screen.png"), new NsfwScores(0.6f, 0, 0.4f, 0, 0));

        Assert.Contains("screenshot", result.Tags);
        Assert.DoesNotContain("drawing", result.Tags);
        Assert.Contains("screenshot-like image", result.Caption);
    }

    [Fact]
    public async Task Caption_ScreenSizedFlatJpeg_IsScreenshotLike()
    {
        using var screen = Screenshot(1920, 1080);
        var path = Path.Combine(directory, "screen.jpg");
        screen.Jpegsave(path, q: 85);

        var result = await CaptionAsync(path);

        Assert.Contains("screenshot", result.Tags);
    }

    [Fact]
    public async Task Caption_NoisyPhotoLikeJpegAtScreenSize_IsNotScreenshot()
    {
        var path = Path.Combine(directory, "photo.jpg");
        await File.WriteAllBytesAsync(path, TestImages.Jpeg(1920, 1080));

        var result = await CaptionAsync(path, new NsfwScores(0.05f, 0, 0.9f, 0.03f, 0.02f));

        Assert.DoesNotContain("screenshot", result.Tags);
        Assert.Contains("photo", result.Tags);
    }

    [Fact]
    public async Task Caption_SmoothSkyOverGrainyGroundAtScreenSize_IsNotScreenshot()
    {
        // A smooth gradient is flat between neighbours and the horizon is a hard edge, but no colour repeats exactly.
        using var xyz = Image.Xyz(1920, 1080);
        using var y = xyz[1];
        using var sky = (y * new[] { 0.12, 0.10, 0.03 } + new[] { 60.0, 110.0, 200.0 }).Cast(Enums.BandFormat.Uchar);
        using var noise = Image.Gaussnoise(1920, 1080, sigma: 12, mean: 90, seed: 3);
        using var ground = noise.Bandjoin(noise * 0.9, noise * 0.5).Cast(Enums.BandFormat.Uchar);
        using var mask = (y > 650).Ifthenelse(255, 0).Cast(Enums.BandFormat.Uchar);
        using var picture = mask.Ifthenelse(ground, sky).Copy(interpretation: Enums.Interpretation.Srgb);
        var path = Path.Combine(directory, "landscape.png");
        picture.Pngsave(path);

        var result = await CaptionAsync(path);

        Assert.DoesNotContain("screenshot", result.Tags);
    }

    [Fact]
    public async Task Caption_FlatPictureOfNoScreenSize_IsNotScreenshot()
    {
        var result = await CaptionAsync(Save(Screenshot(1000, 700), "window.png"));

        Assert.DoesNotContain("screenshot", result.Tags);
    }

    [Fact]
    public async Task Caption_BlankScreenSizedPng_IsNotScreenshot()
    {
        var result = await CaptionAsync(Save(Solid(1920, 1080, 250, 250, 250), "blank.png"));

        Assert.DoesNotContain("screenshot", result.Tags);
    }

    [Fact]
    public async Task Caption_SameFileTwice_GivesTheSameResult()
    {
        var path = Path.Combine(directory, "noisy.jpg");
        await File.WriteAllBytesAsync(path, TestImages.Jpeg(1200, 800, seed: 7));

        var first = await CaptionAsync(path);
        var second = await CaptionAsync(path);

        Assert.Equal(first.Caption, second.Caption);
        Assert.Equal(first.Tags, second.Tags);
    }

    [Fact]
    public async Task Caption_SamePixelsAsJpegAndPng_GiveTheSameColours()
    {
        var jpegPath = Path.Combine(directory, "quadrants.jpg");
        var pngPath = Path.Combine(directory, "quadrants.png");
        using (var quadrants = Quadrants(600, 400))
        {
            quadrants.Jpegsave(jpegPath, q: 80);
            quadrants.Pngsave(pngPath);
        }

        var jpeg = await CaptionAsync(jpegPath);
        var png = await CaptionAsync(pngPath);

        Assert.Equal(["white", "green", "blue"], png.Tags.Intersect(ColourWords));
        Assert.Equal(png.Tags.Intersect(ColourWords), jpeg.Tags.Intersect(ColourWords));
        Assert.Equal(png.Caption, jpeg.Caption);
    }

    [Fact]
    public async Task Caption_ManyFacts_StaysWithinTheLimits()
    {
        // Animated, transparent, colourful, with a kind: as many tags as the captioner ever gives.
        using var colours = Quadrants(2000, 1000);
        using var alpha = Alpha(2000, 1000, clearWidth: 100, clearHeight: 100);
        using var rgba = colours.Bandjoin(alpha);
        var path = Path.Combine(directory, "busy.webp");
        rgba.Webpsave(path, lossless: true);

        var result = await captioner.CaptionAsync(
            new CaptionInput(path, "image/webp", 2000, 1000, 3, new NsfwScores(0.9f, 0.05f, 0.05f, 0, 0)), CancellationToken.None);

        Assert.InRange(result.Caption.Length, 1, CaptionLimits.MaxCaptionLength);
        Assert.InRange(result.Tags.Count, 1, CaptionLimits.MaxTags);
        Assert.All(result.Tags, t => Assert.Equal(t.ToLowerInvariant(), t));
        Assert.All(result.Tags, t => Assert.InRange(t.Length, 1, CaptionLimits.MaxTagLength));
        Assert.EndsWith(".", result.Caption);
        Assert.Equal(
            "A medium-sized animated panoramic drawing with transparency, mostly white, green and blue, colourful.",
            result.Caption);
        Assert.Equal(["drawing", "white", "green", "blue", "panorama", "medium", "animated", "transparent", "colourful"], result.Tags);
    }

    [Fact]
    public async Task Caption_BrightDarkAndMonochrome_AreNamed()
    {
        var white = await CaptionAsync(Save(Solid(300, 200, 250, 250, 250), "white.png"));
        var black = await CaptionAsync(Save(Solid(300, 200, 10, 10, 10), "black.png"));
        var blue = await CaptionAsync(Save(Solid(300, 200, 30, 60, 200), "blue.png"));

        Assert.Equal(["white", "landscape", "small", "bright", "monochrome"], white.Tags);
        Assert.Equal(["black", "landscape", "small", "dark", "monochrome"], black.Tags);
        Assert.Equal("A small landscape image, mostly black, dark and monochrome.", black.Caption);
        Assert.Empty(blue.Tags.Intersect(["bright", "dark", "monochrome", "colourful"]));
    }

    [Fact]
    public async Task Caption_GreyscaleJpeg_Works()
    {
        using var grey = Image.Black(300, 200).NewFromImage(128).Cast(Enums.BandFormat.Uchar);
        var path = Path.Combine(directory, "grey.jpg");
        grey.Jpegsave(path);

        var result = await CaptionAsync(path);

        Assert.Equal(["grey"], result.Tags.Intersect(ColourWords));
        Assert.Contains("monochrome", result.Tags);
    }

    [Fact]
    public async Task Caption_CmykJpeg_IsConvertedToSrgb()
    {
        using var cmyk = Solid(300, 200, 220, 30, 30).Colourspace(Enums.Interpretation.Cmyk);
        var path = Path.Combine(directory, "cmyk.jpg");
        cmyk.Jpegsave(path);
        using (var check = Image.NewFromFile(path))
        {
            Assert.Equal(Enums.Interpretation.Cmyk, check.Interpretation);
        }

        var result = await CaptionAsync(path);

        Assert.Equal(["red"], result.Tags.Intersect(ColourWords));
    }

    [Fact]
    public async Task Caption_SixteenBitPngWithAlpha_Works()
    {
        using var rgb = Solid(300, 200, 30, 60, 200);
        using var alpha = Alpha(300, 200, clearWidth: 10, clearHeight: 10);
        using var rgba = rgb.Bandjoin(alpha);
        using var wide = (rgba.Cast(Enums.BandFormat.Ushort) * 257).Cast(Enums.BandFormat.Ushort).Copy(interpretation: Enums.Interpretation.Rgb16);
        var path = Path.Combine(directory, "deep.png");
        wide.Pngsave(path, bitdepth: 16);
        using (var check = Image.NewFromFile(path))
        {
            Assert.Equal(Enums.BandFormat.Ushort, check.Format);
        }

        var result = await CaptionAsync(path);

        Assert.Equal(["blue"], result.Tags.Intersect(ColourWords));
        Assert.Contains("transparent", result.Tags);
    }

    [Theory]
    [InlineData("webp")]
    [InlineData("avif")]
    [InlineData("gif")]
    public async Task Caption_OtherFormats_Work(string format)
    {
        var bytes = format switch
        {
            "webp" => TestImages.WebP(640, 480),
            "avif" => TestImages.Avif(640, 480),
            _ => TestImages.Gif(640, 480),
        };
        var path = Path.Combine(directory, "picture." + format);
        await File.WriteAllBytesAsync(path, bytes);

        var result = await CaptionAsync(path);

        Assert.Contains("landscape", result.Tags);
        Assert.NotEmpty(result.Tags.Intersect(ColourWords));
    }

    [Fact]
    public async Task Caption_CorruptFile_ThrowsCaptionException()
    {
        var garbage = Path.Combine(directory, "garbage.jpg");
        await File.WriteAllBytesAsync(garbage, [0xFF, 0xD8, 0xFF, 0xE0, .. new byte[500]]);
        var truncated = Path.Combine(directory, "truncated.jpg");
        var jpeg = TestImages.Jpeg(640, 480);
        await File.WriteAllBytesAsync(truncated, jpeg[..(jpeg.Length / 2)]);

        var garbageError = await Assert.ThrowsAsync<CaptionException>(() => CaptionAsync(garbage, width: 640, height: 480));
        await Assert.ThrowsAsync<CaptionException>(() => CaptionAsync(truncated, width: 640, height: 480));

        Assert.IsType<VipsException>(garbageError.InnerException);
    }

    [Fact]
    public void NameAndModel_AreRecordedValues()
    {
        Assert.Equal("offline", captioner.Name);
        Assert.Equal(OfflineCaptioner.Version, captioner.Model);
    }

    private async Task<CaptionResult> CaptionAsync(string path, NsfwScores? scores = null, int? width = null, int? height = null)
    {
        if (width is null || height is null)
        {
            using var header = Image.NewFromFile(path);
            (width, height) = (header.Width, header.Height);
        }

        return await captioner.CaptionAsync(new CaptionInput(path, "image/" + Path.GetExtension(path).TrimStart('.'), width.Value, height.Value, 1, scores), CancellationToken.None);
    }

    private string Save(Image image, string name)
    {
        using (image)
        {
            var path = Path.Combine(directory, name);
            image.WriteToFile(path);
            return path;
        }
    }

    private static Image Solid(int width, int height, int r, int g, int b)
    {
        using var black = Image.Black(width, height);
        using var colour = black.NewFromImage(r, g, b);
        return colour.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
    }

    /// <summary>An opaque alpha band with a fully transparent rectangle in the top left corner.</summary>
    private static Image Alpha(int width, int height, int clearWidth, int clearHeight)
    {
        using var black = Image.Black(width, height);
        using var opaque = black.NewFromImage(255).Cast(Enums.BandFormat.Uchar);
        return clearWidth == 0 ? opaque.Copy() : opaque.Mutate(m => m.DrawRect([0], 0, 0, clearWidth, clearHeight, fill: true));
    }

    /// <summary>Blue rows on top, white below.</summary>
    private static Image Split(int width, int height, int blueRows)
    {
        using var white = Solid(width, height, 250, 250, 250);
        return white.Mutate(m => m.DrawRect([30, 60, 200], 0, 0, width, blueRows, fill: true));
    }

    /// <summary>Four unequal rectangles: white 36 %, green 29 %, blue 19 %, red 16 % (split at 35 % across, 45 % down).</summary>
    private static Image Quadrants(int width, int height)
    {
        int left = width * 35 / 100, top = height * 45 / 100;
        using var canvas = Solid(width, height, 250, 250, 250);
        return canvas.Mutate(m =>
        {
            m.DrawRect([220, 30, 30], 0, 0, left, top, fill: true);
            m.DrawRect([30, 160, 60], left, 0, width - left, top, fill: true);
            m.DrawRect([30, 60, 200], 0, top, left, height - top, fill: true);
        });
    }

    /// <summary>A desktop-like picture: white page, dark title bar, grey sidebar, a blue button, and rows of thin dark "text" lines.</summary>
    private static Image Screenshot(int width, int height)
    {
        using var page = Solid(width, height, 255, 255, 255);
        var random = new Random(1);
        return page.Mutate(m =>
        {
            m.DrawRect([40, 44, 52], 0, 0, width, 40, fill: true);
            m.DrawRect([238, 240, 243], 0, 40, width / 6, height - 40, fill: true);
            m.DrawRect([37, 99, 235], width - 260, 60, 200, 44, fill: true);
            for (var y = 140; y < height - 40; y += 22)
            {
                for (var x = width / 6 + 40; x < width - 200;)
                {
                    var word = random.Next(20, 90);
                    m.DrawRect([30, 30, 30], x, y, word, 2, fill: true);
                    m.DrawRect([30, 30, 30], x, y + 8, word, 1, fill: true);
                    x += word + 12;
                }
            }
        });
    }
}
