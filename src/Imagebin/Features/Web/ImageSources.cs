using System.Globalization;
using Imagebin.Features.Authority;

namespace Imagebin.Features.Web;

/// <summary>The <c>src</c> and <c>srcset</c> of an image served as variants, which are never wider than the original.</summary>
internal static class ImageSources
{
    /// <summary>
    /// The candidates of <paramref name="widths"/> (ascending, from the fixed set) for an image <paramref name="width"/>
    /// pixels wide, each described by the width it really has, and none past the first that is the whole image (the wider
    /// ones would be the same picture under another URL). The <c>src</c> is <paramref name="preferred"/> pixels, or the
    /// whole image when it is smaller. With a single candidate there is no <c>srcset</c>: the image is simply shown at its
    /// own size (a width descriptor would make browsers scale its natural size by the <c>sizes</c> slot).
    /// </summary>
    public static (string Src, string? Srcset) For(Func<int, string> variantUrl, IReadOnlyList<int> widths, int preferred, int? width)
    {
        var candidates = new List<(int Asked, int Real)>();
        foreach (var asked in widths)
        {
            var real = width is { } original ? Math.Min(asked, original) : asked;
            candidates.Add((asked, real));
            if (real < asked)
            {
                break;
            }
        }

        var src = candidates.Any(c => c.Asked == preferred) ? preferred : candidates[^1].Asked;
        return candidates.Count == 1
            ? (variantUrl(src), null)
            : (variantUrl(src), string.Join(", ", candidates.Select(c => string.Create(CultureInfo.InvariantCulture, $"{variantUrl(c.Asked)} {c.Real}w"))));
    }

    /// <summary>The <c>src</c>, <c>srcset</c> and <c>sizes</c> attributes (each with its leading space) of <see cref="For"/>.</summary>
    public static string Attributes(Func<int, string> variantUrl, IReadOnlyList<int> widths, int preferred, int? width, string sizes)
    {
        var (src, srcset) = For(variantUrl, widths, preferred, width);
        return srcset is null
            ? $" src=\"{Html.Encode(src)}\""
            : $" src=\"{Html.Encode(src)}\" srcset=\"{Html.Encode(srcset)}\" sizes=\"{Html.Encode(sizes)}\"";
    }
}
