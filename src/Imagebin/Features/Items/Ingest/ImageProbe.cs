using Imagebin.Infrastructure;
using NetVips;

namespace Imagebin.Features.Items.Ingest;

/// <summary>What the header of an upload says, read without decoding pixels.</summary>
public sealed record ImageHeader(ImageFormat Format, int Width, int Height, int Frames, int Orientation);

/// <summary>
/// Identifies an upload from its bytes (magic numbers first, so SVG, HTML and scripts never reach a decoder), then reads
/// the header with libvips under sequential access and enforces the pixel and frame limits before anything is decoded.
/// </summary>
public static class ImageProbe
{
    public static ImageFormat? Sniff(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]))
        {
            return ImageFormat.Jpeg;
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]))
        {
            return ImageFormat.Png;
        }

        if (head.StartsWith("GIF87a"u8) || head.StartsWith("GIF89a"u8))
        {
            return ImageFormat.Gif;
        }

        if (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8))
        {
            return ImageFormat.WebP;
        }

        return IsAvif(head) ? ImageFormat.Avif : null;
    }

    /// <summary>An ISOBMFF <c>ftyp</c> box whose major or compatible brands name AVIF (HEIC alone is not accepted).</summary>
    private static bool IsAvif(ReadOnlySpan<byte> head)
    {
        if (head.Length < 16 || !head[4..8].SequenceEqual("ftyp"u8))
        {
            return false;
        }

        var boxSize = (head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3];
        var end = Math.Min(boxSize, head.Length);
        for (var offset = 8; offset + 4 <= end; offset += 4)
        {
            // Offset 12 is the minor version, not a brand.
            if (offset != 12 && (head[offset..(offset + 4)].SequenceEqual("avif"u8) || head[offset..(offset + 4)].SequenceEqual("avis"u8)))
            {
                return true;
            }
        }

        return false;
    }

    public static ImageHeader ReadHeader(string path, ImageFormat format, LimitsOptions limits)
    {
        ImageHeader header;
        try
        {
            using var image = Load(path, format);
            if (format == ImageFormat.Avif && image.GetTypeOf("heif-compression") != 0 && (string)image.Get("heif-compression") != "av1")
            {
                throw new ApiException(ErrorCodes.UnsupportedMediaType, "Only AV1-coded HEIF (AVIF) is accepted; HEIC is not.");
            }

            var frames = image.GetTypeOf("n-pages") != 0 ? Math.Max(1, (int)image.Get("n-pages")) : 1;
            var orientation = image.GetTypeOf("orientation") != 0 ? (int)image.Get("orientation") : 1;
            header = new ImageHeader(format, image.Width, image.Height, frames, orientation is >= 1 and <= 8 ? orientation : 1);
        }
        catch (VipsException exception)
        {
            throw new ApiException(ErrorCodes.InvalidImage, $"The {format.ToString().ToUpperInvariant()} header could not be read: {FirstLine(exception.Message)}");
        }

        var framePixels = (long)header.Width * header.Height;
        if (framePixels > limits.MaxPixels)
        {
            throw new ApiException(ErrorCodes.ImageTooLarge,
                $"{header.Width}×{header.Height} is {framePixels:N0} pixels; the limit is {limits.MaxPixels:N0} per frame.");
        }

        if (header.Frames > limits.MaxFrames)
        {
            throw new ApiException(ErrorCodes.ImageTooLarge, $"{header.Frames} frames; the limit is {limits.MaxFrames}.");
        }

        if (framePixels * header.Frames > limits.MaxTotalPixels)
        {
            throw new ApiException(ErrorCodes.ImageTooLarge,
                $"{framePixels * header.Frames:N0} pixels over all frames; the limit is {limits.MaxTotalPixels:N0}.");
        }

        return header;
    }

    private static Image Load(string path, ImageFormat format) => format switch
    {
        ImageFormat.Jpeg => Image.Jpegload(path, access: Enums.Access.Sequential),
        ImageFormat.Png => Image.Pngload(path, access: Enums.Access.Sequential),
        ImageFormat.Gif => Image.Gifload(path, access: Enums.Access.Sequential),
        ImageFormat.WebP => Image.Webpload(path, access: Enums.Access.Sequential),
        ImageFormat.Avif => Image.Heifload(path, access: Enums.Access.Sequential),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private static string FirstLine(string message) => message.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "unreadable";
}
