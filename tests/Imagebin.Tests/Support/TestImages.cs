using System.Buffers.Binary;
using System.Text;
using NetVips;

namespace Imagebin.Tests.Support;

/// <summary>Images made by libvips for the tests, plus hand-built metadata to strip.</summary>
public static class TestImages
{
    /// <summary>A noisy gradient, so encoders cannot shrink it to nothing and every upload differs by <paramref name="seed"/>.</summary>
    public static Image Picture(int width = 64, int height = 48, int seed = 0)
    {
        using var x = Image.Xyz(width, height);
        using var noise = Image.Gaussnoise(width, height, sigma: 20, mean: 128, seed: seed);
        using var red = x[0] * (255.0 / Math.Max(1, width - 1));
        using var green = x[1] * (255.0 / Math.Max(1, height - 1));
        using var bands = red.Bandjoin(green, noise);
        return bands.Cast(Enums.BandFormat.Uchar);
    }

    public static byte[] Jpeg(int width = 64, int height = 48, int seed = 0, int quality = 90)
    {
        using var image = Picture(width, height, seed);
        return image.JpegsaveBuffer(q: quality, keep: Enums.ForeignKeep.None);
    }

    public static byte[] Png(int width = 64, int height = 48, int seed = 0)
    {
        using var image = Picture(width, height, seed);
        return image.PngsaveBuffer(keep: Enums.ForeignKeep.None);
    }

    public static byte[] Gif(int width = 64, int height = 48, int seed = 0)
    {
        using var image = Picture(width, height, seed);
        return image.GifsaveBuffer(keep: Enums.ForeignKeep.None);
    }

    public static byte[] WebP(int width = 64, int height = 48, int seed = 0)
    {
        using var image = Picture(width, height, seed);
        return image.WebpsaveBuffer(keep: Enums.ForeignKeep.None);
    }

    public static byte[] Avif(int width = 64, int height = 48, int seed = 0)
    {
        using var image = Picture(width, height, seed);
        return image.HeifsaveBuffer(compression: Enums.ForeignHeifCompression.Av1, keep: Enums.ForeignKeep.None);
    }

    /// <summary>A JPEG carrying EXIF (camera make, orientation 6, GPS position), XMP with GPS, and a comment.</summary>
    public static byte[] JpegWithGps(int width = 64, int height = 48, int seed = 0)
    {
        var plain = Jpeg(width, height, seed);
        var exif = Segment(0xE1, [.. "Exif\0\0"u8, .. ExifWithGps()]);
        var xmp = Segment(0xE1, Encoding.ASCII.GetBytes(
            "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">" +
            "<rdf:Description xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"51,30.0N\" exif:GPSLongitude=\"0,7.5W\"/></rdf:RDF></x:xmpmeta>"));
        var comment = Segment(0xFE, "SecretComment at home"u8.ToArray());
        return [.. plain[..2], .. exif, .. xmp, .. comment, .. plain[2..]];
    }

    public const string CameraMake = "SecretCam";

    public static byte[] Segment(byte marker, byte[] payload)
    {
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF;
        segment[1] = marker;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(payload.Length + 2));
        payload.CopyTo(segment, 4);
        return segment;
    }

    /// <summary>A big-endian TIFF block: IFD0 (Make, Orientation=6, GPS pointer) and a GPS IFD (51°30'N 0°7.5'W).</summary>
    private static byte[] ExifWithGps()
    {
        var tiff = new byte[162];
        Span<byte> span = tiff;
        "MM"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], 42);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], 8);

        var offset = 8;
        void Entry(ushort tag, ushort type, uint count, uint value, bool isShort = false)
        {
            var span = tiff.AsSpan();
            BinaryPrimitives.WriteUInt16BigEndian(span[offset..], tag);
            BinaryPrimitives.WriteUInt16BigEndian(span[(offset + 2)..], type);
            BinaryPrimitives.WriteUInt32BigEndian(span[(offset + 4)..], count);
            if (isShort)
            {
                BinaryPrimitives.WriteUInt16BigEndian(span[(offset + 8)..], (ushort)value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(span[(offset + 8)..], value);
            }

            offset += 12;
        }

        // IFD0 at 8: 3 entries → ends at 50; Make string at 50; GPS IFD at 60.
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], 3);
        offset += 2;
        Entry(0x010F, 2, (uint)CameraMake.Length + 1, 50);
        Entry(0x0112, 3, 1, 6, isShort: true);
        Entry(0x8825, 4, 1, 60);
        BinaryPrimitives.WriteUInt32BigEndian(span[offset..], 0);
        Encoding.ASCII.GetBytes(CameraMake).CopyTo(span[50..]);

        // GPS IFD at 60: 4 entries → ends at 114; latitude rationals at 114, longitude at 138.
        offset = 60;
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], 4);
        offset += 2;
        Entry(0x0001, 2, 2, 0x4E000000);
        Entry(0x0002, 5, 3, 114);
        Entry(0x0003, 2, 2, 0x57000000);
        Entry(0x0004, 5, 3, 138);
        BinaryPrimitives.WriteUInt32BigEndian(span[offset..], 0);
        uint[] latitude = [51, 1, 30, 1, 0, 1];
        uint[] longitude = [0, 1, 7, 1, 30, 1];
        for (var i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(span[(114 + i * 4)..], latitude[i]);
            BinaryPrimitives.WriteUInt32BigEndian(span[(138 + i * 4)..], longitude[i]);
        }

        return tiff;
    }

    /// <summary>The decoded pixels, for comparing two encodings of the same image.</summary>
    public static byte[] Pixels(byte[] encoded)
    {
        using var image = Image.NewFromBuffer(encoded, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error);
        return image.WriteToMemory<byte>();
    }

    public static string[] Fields(byte[] encoded)
    {
        using var image = Image.NewFromBuffer(encoded);
        return image.GetFields();
    }

    public static int Orientation(byte[] encoded)
    {
        using var image = Image.NewFromBuffer(encoded);
        return image.GetTypeOf("orientation") != 0 ? (int)image.Get("orientation") : 1;
    }

    /// <summary>CRC-32 as PNG chunks use it, for building malformed PNGs whose chunks still check out.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
