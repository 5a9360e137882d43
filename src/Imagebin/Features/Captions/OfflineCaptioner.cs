using NetVips;

namespace Imagebin.Features.Captions;

/// <summary>
/// The built-in captioner (DESIGN.md §9; docs/captions.md, "The offline captioner"): no network, no model of its own. It
/// describes only what the project can measure — the classifier's photo-vs-drawing signal, dominant colour names,
/// orientation, size class, animation, transparency, whether the image looks like a screenshot, brightness and
/// saturation — and never names objects, people, places or text, which it cannot see. The same file and input always give
/// the same result; <see cref="Version"/> changes whenever the output for some image would.
/// </summary>
public sealed class OfflineCaptioner : ICaptioner
{
    /// <summary>Recorded as the model; bump it when any rule or threshold below changes what an image gets.</summary>
    public const string Version = "offline-1";

    /// <summary>The longest side the image is decoded at: enough for colour shares and a screen's repeated colours, cheap with shrink-on-load.</summary>
    internal const int AnalysisSide = 256;

    public string Name => "offline";

    public string Model => Version;

    public Task<CaptionResult> CaptionAsync(CaptionInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Describe(Analyse(input)));
    }

    /// <summary>Measures the image; <see cref="Describe"/> turns the facts into words.</summary>
    internal static ImageFacts Analyse(CaptionInput input)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(input.Width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(input.Height, 1);
        var pixels = Decode(input.ImagePath);

        // The stored file keeps its EXIF orientation and ingest records the stored (unrotated) size; the thumbnail is
        // upright, so its shape says whether the picture is seen turned by 90°. Near-square pictures are square either way.
        var turned = (pixels.Width > pixels.Height && input.Width < input.Height) || (pixels.Width < pixels.Height && input.Width > input.Height);
        var (width, height) = turned ? (input.Height, input.Width) : (input.Width, input.Height);

        var colours = ColourStatistics.Measure(pixels);
        var screenshot = input.Frames <= 1 && IsScreenSized(width, height) && ScreenStatistics.Measure(pixels).LooksLikeScreenshot;
        return new ImageFacts(
            Kind: screenshot ? ImageKind.Screenshot : KindFromScores(input.Scores),
            Colours: colours.Dominant,
            Orientation: OrientationOf(width, height),
            Size: SizeOf(width, height),
            Animated: input.Frames > 1,
            Transparent: pixels.HasTransparency,
            Brightness: colours.Brightness,
            Monochrome: colours.Monochrome,
            Colourful: colours.Colourful);
    }

    internal static CaptionResult Describe(ImageFacts facts)
    {
        var tags = new List<string>();
        if (facts.Kind is { } kind)
        {
            tags.Add(kind switch { ImageKind.Photo => "photo", ImageKind.Drawing => "drawing", _ => "screenshot" });
        }

        tags.AddRange(facts.Colours.Select(Palette.Word));
        tags.Add(facts.Orientation switch
        {
            ImageOrientation.Landscape => "landscape",
            ImageOrientation.Portrait => "portrait",
            ImageOrientation.Square => "square",
            ImageOrientation.Panorama => "panorama",
            _ => "tall",
        });
        tags.Add(facts.Size switch
        {
            SizeClass.Icon => "icon",
            SizeClass.Small => "small",
            SizeClass.Medium => "medium",
            SizeClass.Large => "large",
            _ => "very large",
        });
        AddIf(tags, facts.Animated, "animated");
        AddIf(tags, facts.Transparent, "transparent");
        AddIf(tags, facts.Brightness == Brightness.Dark, "dark");
        AddIf(tags, facts.Brightness == Brightness.Bright, "bright");
        AddIf(tags, facts.Monochrome, "monochrome");
        AddIf(tags, facts.Colourful, "colourful");

        return CaptionLimits.Normalize(Sentence(facts), tags);
    }

    /// <summary>"A large landscape photo, mostly blue and white, bright." — one template, every part optional but the noun.</summary>
    private static string Sentence(ImageFacts facts)
    {
        var words = new List<string>
        {
            facts.Size switch
            {
                SizeClass.Icon => "icon-sized",
                SizeClass.Small => "small",
                SizeClass.Medium => "medium-sized",
                SizeClass.Large => "large",
                _ => "very large",
            },
        };
        AddIf(words, facts.Animated, "animated");
        words.Add(facts.Orientation switch
        {
            ImageOrientation.Landscape => "landscape",
            ImageOrientation.Portrait => "portrait",
            ImageOrientation.Square => "square",
            ImageOrientation.Panorama => "panoramic",
            _ => "tall",
        });
        words.Add(facts.Kind switch
        {
            ImageKind.Photo => "photo",
            ImageKind.Drawing => "drawing",
            ImageKind.Screenshot => "screenshot-like image",
            _ => "image",
        });

        var sentence = (words[0][0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "An " : "A ") + string.Join(' ', words);
        if (facts.Transparent)
        {
            sentence += " with transparency";
        }

        if (facts.Colours.Count > 0)
        {
            var names = facts.Colours.Select(Palette.Word).ToArray();
            sentence += ", mostly " + (names.Length == 1 ? names[0] : string.Join(", ", names[..^1]) + " and " + names[^1]);
        }

        var tone = new List<string>();
        AddIf(tone, facts.Brightness == Brightness.Dark, "dark");
        AddIf(tone, facts.Brightness == Brightness.Bright, "bright");
        AddIf(tone, facts.Monochrome, "monochrome");
        AddIf(tone, facts.Colourful, "colourful");
        if (tone.Count > 0)
        {
            sentence += ", " + string.Join(" and ", tone);
        }

        return sentence + ".";
    }

    private static void AddIf(List<string> list, bool condition, string word)
    {
        if (condition)
        {
            list.Add(word);
        }
    }

    /// <summary>
    /// nsfwjs's classes used only as a drawn-vs-photographed signal: Drawing + Hentai against Neutral + Porn + Sexy, with a
    /// margin (one side ≥ 0.6), else no kind. Without scores (classifier off) there is no kind: flat colours alone cannot
    /// tell a drawing from a photo of a wall, so the captioner says "image".
    /// </summary>
    internal static ImageKind? KindFromScores(Moderation.NsfwScores? scores)
    {
        if (scores is null)
        {
            return null;
        }

        var drawn = scores.Drawing + scores.Hentai;
        var photographed = scores.Neutral + scores.Porn + scores.Sexy;
        return drawn >= 0.6f && drawn > photographed ? ImageKind.Drawing
            : photographed >= 0.6f && photographed > drawn ? ImageKind.Photo
            : null;
    }

    /// <summary>Square within 5 %; panorama from 2:1, tall from 1:2.</summary>
    internal static ImageOrientation OrientationOf(int width, int height)
    {
        var ratio = width / (double)height;
        return ratio >= 2 ? ImageOrientation.Panorama
            : ratio <= 0.5 ? ImageOrientation.Tall
            : Math.Max(width, height) <= Math.Min(width, height) * 1.05 ? ImageOrientation.Square
            : width > height ? ImageOrientation.Landscape
            : ImageOrientation.Portrait;
    }

    /// <summary>Icon: both sides ≤ 128 px; then by pixels per frame: small &lt; 0.5 MP ≤ medium &lt; 4 MP ≤ large &lt; 16 MP ≤ very large.</summary>
    internal static SizeClass SizeOf(int width, int height)
    {
        var pixels = (long)width * height;
        return Math.Max(width, height) <= 128 ? SizeClass.Icon
            : pixels < 500_000 ? SizeClass.Small
            : pixels < 4_000_000 ? SizeClass.Medium
            : pixels < 16_000_000 ? SizeClass.Large
            : SizeClass.VeryLarge;
    }

    /// <summary>
    /// Whole-screen captures only: the short side at least 600 px and the aspect ratio within 1.5 % of a display's —
    /// 4:3, 5:4, 16:10, 16:9, MacBook notch screens (~1.54), 2:1 and the phones' 19.5:9 and 20:9, ultra-wide 21:9 — in either
    /// orientation. 3:2 is left out on purpose: it is the common camera ratio. Window captures of arbitrary size are missed.
    /// </summary>
    internal static bool IsScreenSized(int width, int height)
    {
        var shorter = Math.Min(width, height);
        if (shorter < 600)
        {
            return false;
        }

        var ratio = Math.Max(width, height) / (double)shorter;
        ReadOnlySpan<double> screens = [4.0 / 3, 5.0 / 4, 16.0 / 10, 16.0 / 9, 1.54, 2.0, 19.5 / 9, 20.0 / 9, 2.37];
        foreach (var screen in screens)
        {
            if (Math.Abs(ratio / screen - 1) <= 0.015)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Decodes at most <see cref="AnalysisSide"/> px on the longer side (shrink-on-load for JPEG, WebP, AVIF; the first
    /// frame of an animation; the EXIF orientation applied), to 8-bit sRGB with the alpha band kept when there is one.
    /// </summary>
    private static AnalysisPixels Decode(string path)
    {
        try
        {
            using var thumbnail = Image.Thumbnail(path, AnalysisSide, height: AnalysisSide, size: Enums.Size.Down, failOn: Enums.FailOn.Error);
            using var srgb = ToSrgb8(thumbnail);
            return new AnalysisPixels(srgb.Width, srgb.Height, srgb.Bands, srgb.WriteToMemory<byte>());
        }
        catch (VipsException exception)
        {
            var reason = exception.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "unreadable";
            throw new CaptionException($"The image could not be decoded: {reason}", exception);
        }
    }

    /// <summary>Three bands (RGB) or four (RGB + alpha), 8 bits each, from any colour space and depth libvips reads.</summary>
    private static Image ToSrgb8(Image image)
    {
        var current = image.Interpretation switch
        {
            Enums.Interpretation.Multiband or Enums.Interpretation.Matrix or Enums.Interpretation.Histogram or Enums.Interpretation.Fourier
                => image.Copy(interpretation: image.Bands >= 3 ? Enums.Interpretation.Srgb : Enums.Interpretation.Bw),
            _ => image.Copy(),
        };

        Replace(ref current, current.Colourspace(Enums.Interpretation.Srgb));
        var bands = current.Bands >= 4 ? 4 : 3;
        if (current.Bands != bands)
        {
            Replace(ref current, current.ExtractBand(0, n: bands));
        }

        if (current.Format != Enums.BandFormat.Uchar)
        {
            Replace(ref current, current.Cast(Enums.BandFormat.Uchar));
        }

        return current;
    }

    private static void Replace(ref Image current, Image next)
    {
        current.Dispose();
        current = next;
    }
}

internal enum ImageKind
{
    Photo,
    Drawing,
    Screenshot,
}

internal enum ImageOrientation
{
    Landscape,
    Portrait,
    Square,
    Panorama,
    Tall,
}

internal enum SizeClass
{
    Icon,
    Small,
    Medium,
    Large,
    VeryLarge,
}

internal enum Brightness
{
    Neither,
    Dark,
    Bright,
}

/// <summary>Everything the offline captioner says about an image, before it becomes words.</summary>
internal sealed record ImageFacts(
    ImageKind? Kind,
    IReadOnlyList<PaletteColour> Colours,
    ImageOrientation Orientation,
    SizeClass Size,
    bool Animated,
    bool Transparent,
    Brightness Brightness,
    bool Monochrome,
    bool Colourful);

/// <summary>8-bit sRGB pixels, row-major, 3 or 4 (with alpha) bands.</summary>
internal sealed class AnalysisPixels(int width, int height, int bands, byte[] data)
{
    public int Width { get; } = width;

    public int Height { get; } = height;

    public int Bands { get; } = bands;

    public byte[] Data { get; } = data;

    public int Count => Width * Height;

    public bool HasTransparency
    {
        get
        {
            if (Bands < 4)
            {
                return false;
            }

            for (var i = 3; i < Data.Length; i += 4)
            {
                if (Data[i] < 255)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public byte Alpha(int pixel) => Bands == 4 ? Data[pixel * 4 + 3] : (byte)255;

    /// <summary>The colour of one pixel composited onto white, for measures that look at the picture as shown.</summary>
    public (int R, int G, int B) OnWhite(int pixel)
    {
        var offset = pixel * Bands;
        int r = Data[offset], g = Data[offset + 1], b = Data[offset + 2];
        if (Bands == 4 && Data[offset + 3] < 255)
        {
            int a = Data[offset + 3];
            r = (r * a + 255 * (255 - a) + 127) / 255;
            g = (g * a + 255 * (255 - a) + 127) / 255;
            b = (b * a + 255 * (255 - a) + 127) / 255;
        }

        return (r, g, b);
    }
}

/// <summary>The named colours, in the order that breaks ties between equal shares.</summary>
internal enum PaletteColour : byte
{
    Black,
    White,
    Grey,
    Red,
    Orange,
    Yellow,
    Green,
    Teal,
    Blue,
    Purple,
    Pink,
    Brown,
    Beige,
}

/// <summary>
/// Names colours in OKLab/OKLCh (perceptual: equal steps look equal, hue stays put as lightness changes). sRGB is
/// quantised to 5 bits per channel and the names, lightness and chroma of all 32 768 cells are computed once, so a
/// pixel costs one table lookup and the same pixel always gets the same name.
/// </summary>
internal static class Palette
{
    /// <summary>Chroma under which a colour counts as a grey (white, grey, black).</summary>
    public const float NeutralChroma = 0.035f;

    private static readonly PaletteColour[] Names = new PaletteColour[32768];
    private static readonly float[] LightnessTable = new float[32768];
    private static readonly float[] ChromaTable = new float[32768];

    static Palette()
    {
        for (var cell = 0; cell < Names.Length; cell++)
        {
            var (l, c, h) = OkLch(((cell >> 10) << 3) | 4, (((cell >> 5) & 31) << 3) | 4, ((cell & 31) << 3) | 4);
            Names[cell] = Name(l, c, h);
            LightnessTable[cell] = (float)l;
            ChromaTable[cell] = (float)c;
        }
    }

    public static int Cell(int r, int g, int b) => ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);

    public static PaletteColour NameOf(int cell) => Names[cell];

    public static float LightnessOf(int cell) => LightnessTable[cell];

    public static float ChromaOf(int cell) => ChromaTable[cell];

    public static string Word(PaletteColour colour) => colour switch
    {
        PaletteColour.Black => "black",
        PaletteColour.White => "white",
        PaletteColour.Grey => "grey",
        PaletteColour.Red => "red",
        PaletteColour.Orange => "orange",
        PaletteColour.Yellow => "yellow",
        PaletteColour.Green => "green",
        PaletteColour.Teal => "teal",
        PaletteColour.Blue => "blue",
        PaletteColour.Purple => "purple",
        PaletteColour.Pink => "pink",
        PaletteColour.Brown => "brown",
        _ => "beige",
    };

    /// <summary>
    /// The naming rules (L 0–1, chroma C, hue h in degrees). Very dark is black; low chroma is black, grey or white by
    /// lightness; otherwise the hue picks a family, and lightness and chroma split off pink (light reds and magentas),
    /// brown (dark oranges, yellows and low-chroma reds) and beige (pale, low-chroma oranges and yellows).
    /// </summary>
    internal static PaletteColour Name(double l, double c, double h)
    {
        if (l < 0.25)
        {
            return PaletteColour.Black;
        }

        if (c < NeutralChroma)
        {
            return l < 0.32 ? PaletteColour.Black : l >= 0.9 ? PaletteColour.White : PaletteColour.Grey;
        }

        if (h < 45 || h >= 345)
        {
            if (h >= 345 ? l >= 0.65 : l >= 0.72)
            {
                return PaletteColour.Pink;
            }

            return h < 345 && l < 0.6 && c < 0.13 ? PaletteColour.Brown : PaletteColour.Red;
        }

        if (h < 80)
        {
            return l < 0.6 ? PaletteColour.Brown : l >= 0.7 && c < 0.12 ? PaletteColour.Beige : PaletteColour.Orange;
        }

        if (h < 125)
        {
            return l < 0.65 ? PaletteColour.Brown : l >= 0.75 && c < 0.12 ? PaletteColour.Beige : PaletteColour.Yellow;
        }

        return h < 175 ? PaletteColour.Green
            : h < 220 ? PaletteColour.Teal
            : h < 290 ? PaletteColour.Blue
            : h < 320 || l < 0.65 ? PaletteColour.Purple
            : PaletteColour.Pink;
    }

    /// <summary>sRGB (0–255) to OKLCh (Björn Ottosson's OKLab, 2020).</summary>
    internal static (double L, double C, double H) OkLch(int red, int green, int blue)
    {
        var r = Linear(red);
        var g = Linear(green);
        var b = Linear(blue);
        var l = Math.Cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
        var m = Math.Cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
        var s = Math.Cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
        var lightness = 0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s;
        var a = 1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s;
        var bb = 0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s;
        var hue = Math.Atan2(bb, a) * (180 / Math.PI);
        return (lightness, Math.Sqrt(a * a + bb * bb), hue < 0 ? hue + 360 : hue);
    }

    private static double Linear(int channel)
    {
        var v = channel / 255.0;
        return v <= 0.04045 ? v / 12.92 : Math.Pow((v + 0.055) / 1.055, 2.4);
    }
}

/// <summary>
/// Colour shares weighted by alpha (a fully transparent pixel counts for nothing, whatever colour it stores), mean
/// lightness and chroma.
/// </summary>
internal sealed record ColourStatistics(IReadOnlyList<PaletteColour> Dominant, Brightness Brightness, bool Monochrome, bool Colourful)
{
    /// <summary>A second or third colour is named when it covers at least this share; the first always is.</summary>
    public const double NamedShare = 0.15;

    /// <summary>Mean OKLab lightness under which the image is dark, and over which it is bright.</summary>
    public const double DarkBelow = 0.38;
    public const double BrightAbove = 0.8;

    /// <summary>Monochrome: under 1 % of the weight has any chroma (≥ <see cref="Palette.NeutralChroma"/>).</summary>
    public const double MonochromeShare = 0.01;

    /// <summary>Colourful: mean chroma at least this, and two or more hue names of ≥ 10 % each.</summary>
    public const double ColourfulChroma = 0.1;

    public static ColourStatistics Measure(AnalysisPixels pixels)
    {
        var byName = new long[Enum.GetValues<PaletteColour>().Length];
        long total = 0, chromatic = 0;
        double lightness = 0, chroma = 0;
        var data = pixels.Data;
        for (var i = 0; i < pixels.Count; i++)
        {
            var offset = i * pixels.Bands;
            long weight = pixels.Alpha(i);
            if (weight == 0)
            {
                continue;
            }

            var cell = Palette.Cell(data[offset], data[offset + 1], data[offset + 2]);
            byName[(int)Palette.NameOf(cell)] += weight;
            total += weight;
            lightness += Palette.LightnessOf(cell) * weight;
            chroma += Palette.ChromaOf(cell) * weight;
            if (Palette.ChromaOf(cell) >= Palette.NeutralChroma)
            {
                chromatic += weight;
            }
        }

        if (total == 0)
        {
            return new ColourStatistics([], Brightness.Neither, Monochrome: false, Colourful: false);
        }

        var ranked = Enumerable.Range(0, byName.Length)
            .Select(i => (Colour: (PaletteColour)i, Share: byName[i] / (double)total))
            .Where(x => x.Share > 0)
            .OrderByDescending(x => x.Share)
            .ThenBy(x => x.Colour)
            .ToList();
        var dominant = ranked.Take(3).Where((x, i) => i == 0 || x.Share >= NamedShare).Select(x => x.Colour).ToList();

        var meanLightness = lightness / total;
        var brightness = meanLightness < DarkBelow ? Brightness.Dark : meanLightness > BrightAbove ? Brightness.Bright : Brightness.Neither;
        var monochrome = chromatic / (double)total < MonochromeShare;
        var hues = ranked.Count(x => x.Colour is not (PaletteColour.Black or PaletteColour.White or PaletteColour.Grey or PaletteColour.Beige) && x.Share >= 0.1);
        var colourful = chroma / total >= ColourfulChroma && hues >= 2;
        return new ColourStatistics(dominant, brightness, monochrome, colourful);
    }
}

/// <summary>
/// The measures behind "screenshot-like", taken on the picture composited onto white at the analysis size. Colours are
/// compared nearly exactly (7 bits per channel, which absorbs JPEG's ±1 in flat areas): a screen's background and widgets
/// repeat one colour exactly, while a photo's sky or wall, however smooth, spreads over many neighbouring values.
/// Flatness between neighbours is not a measure: shrinking to the analysis size averages a photo's grain away until it
/// looks as flat as a screen, while a page of text stops looking flat at all.
/// </summary>
internal sealed record ScreenStatistics(double TopColours, double Background, double Edges)
{
    /// <summary>
    /// Few colours (the 8 commonest cover ≥ 50 %), one of them a uniform background (≥ 20 %), and hard edges between
    /// neighbours (≥ 0.3 % of pixels step by ≥ 32 levels), so that a blank or smoothly shaded picture is not a screenshot.
    /// Measured on a few photos, the background share stays under 15 % (a black-and-white photo, at most 256 colours,
    /// comes nearest); on screenshots and diagrams it is 20–75 %.
    /// </summary>
    public bool LooksLikeScreenshot => TopColours >= 0.5 && Background >= 0.2 && Edges >= 0.003;

    public static ScreenStatistics Measure(AnalysisPixels pixels)
    {
        int width = pixels.Width, height = pixels.Height;
        if (width < 16 || height < 16)
        {
            return new ScreenStatistics(0, 0, 0);
        }

        var colours = new Dictionary<int, int>();
        int edges = 0, compared = 0;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var pixel = y * width + x;
                var (r, g, b) = pixels.OnWhite(pixel);
                var key = ((r >> 1) << 14) | ((g >> 1) << 7) | (b >> 1);
                colours[key] = colours.GetValueOrDefault(key) + 1;
                if (x == width - 1 || y == height - 1)
                {
                    continue;
                }

                var (rr, gr, br) = pixels.OnWhite(pixel + 1);
                var (rd, gd, bd) = pixels.OnWhite(pixel + width);
                var step = Math.Max(
                    Math.Max(Math.Abs(r - rr), Math.Max(Math.Abs(g - gr), Math.Abs(b - br))),
                    Math.Max(Math.Abs(r - rd), Math.Max(Math.Abs(g - gd), Math.Abs(b - bd))));
                compared++;
                if (step >= 32)
                {
                    edges++;
                }
            }
        }

        var commonest = colours.Values.OrderDescending().Take(8).ToList();
        return new ScreenStatistics(commonest.Sum() / (double)pixels.Count, commonest[0] / (double)pixels.Count, edges / (double)compared);
    }
}
