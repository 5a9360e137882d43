using Imagebin.Features.Items.Ingest;
using NetVips;

namespace Imagebin.Features.Media;

/// <summary>
/// Makes a variant with libvips' thumbnailer, which shrinks on load (a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that
/// is enough) and applies the EXIF orientation. The result is upright 8-bit sRGB with no metadata, never larger than
/// the original. Animated GIF and WebP stay animated when the target is GIF or WebP; AVIF, JPEG and PNG get the first frame.
/// </summary>
public sealed class VariantEncoder
{
    /// <summary>libvips' largest coordinate: a bounding height that never constrains, so only the width does.</summary>
    private const int Unbounded = 10_000_000;

    private int _encodes;
    private int _inFlight;
    private int _maxInFlight;

    /// <summary>Variants this node has encoded since start (tests count them to check single-flight).</summary>
    public int Encodes => Volatile.Read(ref _encodes);

    /// <summary>The most encodes this node has had running at the same time (tests check <c>Media:MaxConcurrentEncodes</c>).</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public static bool CanAnimate(ImageFormat format) => format is ImageFormat.Gif or ImageFormat.WebP;

    /// <summary>Encodes <paramref name="source"/> (an image of <paramref name="sourceFormat"/>) into <paramref name="target"/>.</summary>
    public void Encode(string source, ImageFormat sourceFormat, VariantSpec spec, string target)
    {
        Interlocked.Increment(ref _encodes);
        var inFlight = Interlocked.Increment(ref _inFlight);
        for (var max = Volatile.Read(ref _maxInFlight); inFlight > max; max = Volatile.Read(ref _maxInFlight))
        {
            if (Interlocked.CompareExchange(ref _maxInFlight, inFlight, max) == max)
            {
                break;
            }
        }

        try
        {
            EncodeOne(source, sourceFormat, spec, target);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static void EncodeOne(string source, ImageFormat sourceFormat, VariantSpec spec, string target)
    {
        var allPages = CanAnimate(sourceFormat) && CanAnimate(spec.Format);
        using var thumbnail = Image.Thumbnail(
            allPages ? $"{source}[n=-1]" : source,
            spec.Width ?? Unbounded,
            height: Unbounded,
            size: Enums.Size.Down,
            outputProfile: "srgb",
            failOn: Enums.FailOn.None);
        using var image = ToSrgb8(thumbnail, spec.Format);
        switch (spec.Format)
        {
            case ImageFormat.Jpeg:
                image.Jpegsave(target, q: 82, optimizeCoding: true, interlace: true, keep: Enums.ForeignKeep.None);
                break;
            case ImageFormat.Png:
                image.Pngsave(target, compression: 6, keep: Enums.ForeignKeep.None);
                break;
            case ImageFormat.Gif:
                image.Gifsave(target, keep: Enums.ForeignKeep.None);
                break;
            case ImageFormat.WebP:
                image.Webpsave(target, q: 80, effort: 4, keep: Enums.ForeignKeep.None);
                break;
            case ImageFormat.Avif:
                image.Heifsave(target, q: 55, compression: Enums.ForeignHeifCompression.Av1, effort: 2, keep: Enums.ForeignKeep.None);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(spec), spec.Format, "No encoder for this format.");
        }
    }

    /// <summary>
    /// CMYK without an embedded profile, 16-bit and other colour spaces end as 8-bit sRGB (or 8-bit grey); JPEG has no
    /// alpha, so a transparent image is flattened onto white.
    /// </summary>
    private static Image ToSrgb8(Image image, ImageFormat format)
    {
        var result = image.Interpretation is Enums.Interpretation.Srgb or Enums.Interpretation.Bw && image.Format == Enums.BandFormat.Uchar
            ? image.Copy()
            : image.Interpretation is Enums.Interpretation.Bw or Enums.Interpretation.Grey16
                ? image.Colourspace(Enums.Interpretation.Bw)
                : image.Colourspace(Enums.Interpretation.Srgb);
        if (result.Format != Enums.BandFormat.Uchar)
        {
            using var wide = result;
            result = wide.Cast(Enums.BandFormat.Uchar);
        }

        if (format == ImageFormat.Jpeg && result.HasAlpha())
        {
            using var transparent = result;
            result = transparent.Flatten(background: [255]);
        }

        return result;
    }
}
