namespace Imagebin.Features.Items.Ingest;

/// <summary>The image formats Imagebin accepts, identified from the bytes, never from the declared type.</summary>
public enum ImageFormat
{
    Jpeg,
    Png,
    Gif,
    WebP,
    Avif,
}

public static class ImageFormats
{
    public static string ContentType(this ImageFormat format) => format switch
    {
        ImageFormat.Jpeg => "image/jpeg",
        ImageFormat.Png => "image/png",
        ImageFormat.Gif => "image/gif",
        ImageFormat.WebP => "image/webp",
        ImageFormat.Avif => "image/avif",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    public static string Extension(this ImageFormat format) => format switch
    {
        ImageFormat.Jpeg => "jpg",
        ImageFormat.Png => "png",
        ImageFormat.Gif => "gif",
        ImageFormat.WebP => "webp",
        ImageFormat.Avif => "avif",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>The format a stored item's extension names.</summary>
    public static ImageFormat FromExtension(string extension) => extension switch
    {
        "jpg" => ImageFormat.Jpeg,
        "png" => ImageFormat.Png,
        "gif" => ImageFormat.Gif,
        "webp" => ImageFormat.WebP,
        "avif" => ImageFormat.Avif,
        _ => throw new ArgumentOutOfRangeException(nameof(extension), extension, "Not an extension Imagebin stores."),
    };
}
