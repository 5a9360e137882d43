using Imagebin.Features.Authority;

namespace Imagebin.Features.Web;

/// <summary>
/// The markup side of the pages' image placeholders: an <c>&lt;img&gt;</c> carries its item's ThumbHash in
/// <c>data-placeholder</c>, and <c>placeholder.js</c> (in the page's scripts) draws it behind the image until it loads. The
/// pages only render items their viewer may see, so the attribute reveals nothing the image itself does not.
/// </summary>
internal static class ImagePlaceholders
{
    /// <summary>The <c>data-placeholder</c> attribute (with its leading space) for an item's placeholder, or nothing without one.</summary>
    public static string Attribute(string? placeholder) =>
        string.IsNullOrEmpty(placeholder) ? "" : $" data-placeholder=\"{Html.Encode(placeholder)}\"";
}
