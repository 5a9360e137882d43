using System.Security.Cryptography;
using System.Text;
using Imagebin.Features.Items.Ingest;
using Microsoft.Extensions.Primitives;

namespace Imagebin.Features.Media;

/// <summary>
/// What a variant request asks for: a width from the fixed set (or the original's), and the format to encode in.
/// <see cref="Negotiated"/> marks an answer that depends on the request's <c>Accept</c> header (<c>?auto</c>).
/// </summary>
public sealed record VariantSpec(int? Width, ImageFormat Format, bool Negotiated)
{
    /// <summary>The only widths made: a fixed set, so nobody can fill the cache with one encode per pixel.</summary>
    public static readonly int[] Widths = [64, 128, 256, 320, 480, 640, 960, 1280, 1920, 2560];

    public static readonly string[] Formats = ["webp", "avif", "jpeg", "png"];

    /// <summary>True when the query asks for a variant at all (<c>w</c>, <c>format</c> or <c>auto</c>).</summary>
    public static bool IsRequested(IQueryCollection query) =>
        query.ContainsKey("w") || query.ContainsKey("format") || query.ContainsKey("auto");

    /// <summary>Reads <c>w</c>, <c>format</c> and <c>auto</c>; null with an error message when one is not allowed.</summary>
    public static (VariantSpec? Spec, string? Error) Parse(IQueryCollection query, StringValues accept, ImageFormat original)
    {
        int? width = null;
        if (query.TryGetValue("w", out var w))
        {
            if (w.Count != 1 || !int.TryParse(w[0], System.Globalization.NumberStyles.None, null, out var parsed) || Array.IndexOf(Widths, parsed) < 0)
            {
                return (null, $"w must be one of {string.Join(", ", Widths)}.");
            }

            width = parsed;
        }

        var negotiated = query.ContainsKey("auto");
        ImageFormat format;
        if (query.TryGetValue("format", out var requested))
        {
            if (negotiated)
            {
                return (null, "Give either format or auto, not both.");
            }

            ImageFormat? named = requested.Count == 1 ? requested[0] switch
            {
                "webp" => ImageFormat.WebP,
                "avif" => ImageFormat.Avif,
                "jpeg" or "jpg" => ImageFormat.Jpeg,
                "png" => ImageFormat.Png,
                _ => null,
            } : null;
            if (named is null)
            {
                return (null, $"format must be one of {string.Join(", ", Formats)}.");
            }

            format = named.Value;
        }
        else
        {
            format = negotiated ? Negotiate(accept, original) : original;
        }

        return (new VariantSpec(width, format, negotiated), null);
    }

    /// <summary>AVIF when the client accepts it, else WebP, else the original's format.</summary>
    public static ImageFormat Negotiate(StringValues accept, ImageFormat original)
    {
        if (Accepts(accept, "image/avif"))
        {
            return ImageFormat.Avif;
        }

        return Accepts(accept, "image/webp") ? ImageFormat.WebP : original;
    }

    private static bool Accepts(StringValues accept, string type)
    {
        foreach (var header in accept)
        {
            if (header is null)
            {
                continue;
            }

            foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var semicolon = part.IndexOf(';');
                var media = semicolon < 0 ? part : part[..semicolon].Trim();
                if (!media.Equals(type, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                // An explicit q=0 refuses the type.
                var parameters = semicolon < 0 ? "" : part[(semicolon + 1)..].Replace(" ", "", StringComparison.Ordinal);
                return !parameters.Split(';').Any(p => p is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
            }
        }

        return false;
    }

    /// <summary>
    /// The variant's key in the blob store, derived from the source blob only, so every node finds the same object and
    /// the sweep can tell whose variant it is: <c>variants/ab/cd/&lt;sha256&gt;/320.webp</c> (<c>full</c> for the original width).
    /// </summary>
    public string KeyFor(string sha256) => VariantKeys.For(sha256, Width, Format);

    /// <summary>A strong validator of this variant: the source's hash and the variant's parameters.</summary>
    public string ETagFor(string sha256) =>
        $"\"{Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(KeyFor(sha256))))[..40]}\"";
}

public static class VariantKeys
{
    public const string Prefix = "variants/";

    private static readonly ImageFormat[] AllFormats = Enum.GetValues<ImageFormat>();

    public static string For(string sha256, int? width, ImageFormat format) =>
        $"{Prefix}{sha256[..2]}/{sha256[2..4]}/{sha256}/{(width is { } w ? w.ToString(System.Globalization.CultureInfo.InvariantCulture) : "full")}.{format.Extension()}";

    /// <summary>Every key a variant of the blob can have (the set is small and fixed, so no listing is needed to purge).</summary>
    public static IEnumerable<string> AllFor(string sha256) =>
        from width in VariantSpec.Widths.Cast<int?>().Append(null)
        from format in AllFormats
        select For(sha256, width, format);

    /// <summary>The source blob's sha256 when <paramref name="key"/> is a variant's key.</summary>
    public static string? SourceSha256(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = key.Split('/');
        // A staging file (<c>320.webp.&lt;guid&gt;.part</c>) is not a variant: the sweep removes it as a stray.
        return parts.Length == 5 && parts[3].Length == 64 && parts[3].All(char.IsAsciiHexDigitLower) && parts[4].Count(c => c == '.') == 1 ? parts[3] : null;
    }
}
