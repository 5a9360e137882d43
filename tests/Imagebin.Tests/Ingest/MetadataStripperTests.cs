using System.Buffers.Binary;
using System.Text;
using Imagebin.Features.Items.Ingest;
using Imagebin.Tests.Support;
using NetVips;

namespace Imagebin.Tests.Ingest;

/// <summary>
/// Fixtures are encoded by libvips and the metadata is spliced in by hand, so each test knows exactly which bytes must
/// vanish. Where the stripped file is fully predictable it is compared byte for byte; it is always decoded strictly and
/// its pixels compared with the input's.
/// </summary>
public sealed class MetadataStripperTests
{
    private static readonly byte[] MinimalOrientationTiff =
        [(byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];

    private const string XmpPacket =
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">" +
        "<rdf:Description xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"51,30.0N\"/></rdf:RDF></x:xmpmeta>";

    // ---------------------------------------------------------------- JPEG

    [Fact]
    public void Jpeg_WithGpsExif_LosesExifButKeepsPixelsAndOrientation()
    {
        var plain = TestImages.Jpeg();
        // TestImages.JpegWithGps adds EXIF (make, orientation 6, GPS), XMP and a comment; add IPTC and an MPF index too.
        var input = InsertAt(TestImages.JpegWithGps(), 2,
            JpegSegment(0xED, [.. "Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0c"u8, .. "SecretIptc!!"u8]),
            JpegSegment(0xE2, [.. "MPF\0MM\0*\0\0\0\x08"u8, .. "SecretMpf"u8]));
        var orientation = TestImages.Orientation(input);
        Assert.Equal(6, orientation);

        var output = Strip(ImageFormat.Jpeg, input, orientation);

        // The minimal EXIF follows SOI, and everything else is the untouched plain file.
        byte[] expected = [.. plain[..2], .. JpegSegment(0xE1, [.. "Exif\0\0"u8, .. MinimalOrientationTiff]), .. plain[2..]];
        Assert.Equal(expected, output);

        AssertNoMetadata(output);
        Assert.Equal(6, TestImages.Orientation(output));
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void Jpeg_WithOrientationOne_GetsNoExifAtAll()
    {
        var output = Strip(ImageFormat.Jpeg, TestImages.JpegWithGps(), orientation: 1);

        Assert.Equal(TestImages.Jpeg(), output);
        Assert.DoesNotContain("exif-data", TestImages.Fields(output));
        Assert.Equal(1, TestImages.Orientation(output));
    }

    [Fact]
    public void Jpeg_WithIccProfile_KeepsProfile()
    {
        using var picture = TestImages.Picture();
        var input = picture.JpegsaveBuffer(profile: "srgb", keep: Enums.ForeignKeep.Icc);
        input = InsertAt(input, 2, JpegSegment(0xE1, [.. "Exif\0\0"u8, .. GpsTiff()]));

        var output = Strip(ImageFormat.Jpeg, input, orientation: 1);

        AssertNoMetadata(output);
        Assert.Equal(IccProfile(input), IccProfile(output));
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void Jpeg_Progressive_LosesSegmentsBetweenScans()
    {
        using var picture = TestImages.Picture();
        var plain = picture.JpegsaveBuffer(interlace: true, keep: Enums.ForeignKeep.None);
        // FF DA cannot occur inside entropy-coded data (FF is always stuffed there), so this finds the second scan header.
        var secondScan = IndexOf(plain, [0xFF, 0xDA], occurrence: 2);
        Assert.True(secondScan > 0);
        var input = InsertAt(plain, secondScan,
            JpegSegment(0xFE, "SecretComment between scans"u8.ToArray()),
            JpegSegment(0xE1, Encoding.ASCII.GetBytes("http://ns.adobe.com/xap/1.0/\0" + XmpPacket)),
            JpegSegment(0xED, "Photoshop 3.0\0SecretIptc"u8.ToArray()));
        Assert.Equal(TestImages.Pixels(plain), TestImages.Pixels(input));

        var output = Strip(ImageFormat.Jpeg, input, orientation: 1);

        Assert.Equal(plain, output);
        AssertNoMetadata(output);
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void Jpeg_WithRestartMarkers_IsCopiedUnchanged()
    {
        using var picture = TestImages.Picture(width: 256, height: 64);
        var input = picture.JpegsaveBuffer(restartInterval: 1, keep: Enums.ForeignKeep.None);
        Assert.True(IndexOf(input, [0xFF, 0xD1]) > 0);

        Assert.Equal(input, Strip(ImageFormat.Jpeg, input, orientation: 1));
    }

    [Fact]
    public void Jpeg_TrailingDataAfterEoi_IsRemoved()
    {
        var plain = TestImages.Jpeg();
        // An appended preview image (as MPF files carry) with its own EXIF and GPS, then junk.
        byte[] input = [.. plain, .. TestImages.JpegWithGps(seed: 1), .. "SecretTrailer"u8];

        var output = Strip(ImageFormat.Jpeg, input, orientation: 1);

        Assert.Equal(plain, output);
    }

    [Fact]
    public void Jpeg_WithJfif_KeepsItWithoutThumbnailAndPutsOrientationAfterIt()
    {
        var plain = TestImages.Jpeg();
        Assert.Equal(0xDB, plain[3]); // libvips writes no JFIF segment when asked to keep nothing
        byte[] jfif = [.. "JFIF\0"u8, 1, 2, 1, 0, 72, 0, 72];
        byte[] input =
        [
            .. plain[..2],
            .. JpegSegment(0xE0, [.. jfif, 2, 1, .. "THUMB!"u8]), // a 2×1 RGB thumbnail
            .. JpegSegment(0xE0, [.. "JFXX\0\x10"u8, .. "SecretThumbnail"u8]),
            .. JpegSegment(0xE1, [.. "Exif\0\0"u8, .. GpsTiff()]),
            .. plain[2..],
        ];

        var output = Strip(ImageFormat.Jpeg, input, orientation: 6);

        byte[] expected =
        [
            .. plain[..2],
            .. JpegSegment(0xE0, [.. jfif, 0, 0]),
            .. JpegSegment(0xE1, [.. "Exif\0\0"u8, .. MinimalOrientationTiff]),
            .. plain[2..],
        ];
        Assert.Equal(expected, output);
        AssertNoMetadata(output);
        Assert.Equal(6, TestImages.Orientation(output));
    }

    [Fact]
    public void Jpeg_Malformed_Throws()
    {
        var plain = TestImages.Jpeg();

        // A segment whose length runs past the end of the file.
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Jpeg, [0xFF, 0xD8, 0xFF, 0xE1, 0x10, 0x00, .. "Exif\0\0MM\0*"u8]));
        // A length smaller than the length field itself.
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Jpeg, [0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x01, .. plain[2..]]));
        // No SOI.
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Jpeg, plain[2..]));
        // Cut inside the scan data, before EOI.
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Jpeg, plain[..^40]));
    }

    // ---------------------------------------------------------------- PNG

    [Fact]
    public void Png_WithTextExifAndPrivateChunks_LosesThemButKeepsPixelsAndOrientation()
    {
        var plain = TestImages.Png();
        const int afterIhdr = 8 + 25;
        var input = InsertAt(plain, afterIhdr,
            PngChunk("eXIf", GpsTiff()),
            PngChunk("tEXt", "Comment\0SecretComment at home"u8.ToArray()),
            PngChunk("iTXt", Encoding.ASCII.GetBytes("XML:com.adobe.xmp\0\0\0\0\0" + XmpPacket)),
            PngChunk("tIME", [0x07, 0xE9, 1, 2, 3, 4, 5]),
            PngChunk("prVt", "SecretPrivate"u8.ToArray()));
        Assert.Equal(6, TestImages.Orientation(input));

        // Trailing bytes after IEND must go too.
        var output = Strip(ImageFormat.Png, [.. input, .. "SecretTrailer"u8], orientation: 6);

        var expected = PngChunks(plain).ToList();
        expected.Insert(expected.FindIndex(chunk => chunk.Type == "IDAT"), ("eXIf", Convert.ToHexString(MinimalOrientationTiff)));
        Assert.Equal(expected, PngChunks(output));

        AssertNoMetadata(output);
        Assert.Equal(6, TestImages.Orientation(output));
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void Png_WithIccProfile_KeepsProfile()
    {
        using var picture = TestImages.Picture();
        var input = picture.PngsaveBuffer(profile: "srgb", keep: Enums.ForeignKeep.Icc);
        input = InsertAt(input, 8 + 25, PngChunk("tEXt", "Author\0SecretAuthor"u8.ToArray()));

        var output = Strip(ImageFormat.Png, input, orientation: 1);

        AssertNoMetadata(output);
        Assert.Contains(PngChunks(output), chunk => chunk.Type == "iCCP");
        Assert.Equal(IccProfile(input), IccProfile(output));
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void Png_TrailingDataAfterIend_IsRemoved()
    {
        var plain = TestImages.Png();

        Assert.Equal(plain, Strip(ImageFormat.Png, [.. plain, .. TestImages.Png(seed: 1)], orientation: 1));
    }

    [Fact]
    public void Png_Malformed_Throws()
    {
        var plain = TestImages.Png();
        var badSignature = plain.ToArray();
        badSignature[1] = (byte)'Q';

        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Png, badSignature));
        // Cut inside the IDAT chunk, and cut before IEND.
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Png, plain[..^20]));
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Png, plain[..^12]));
    }

    // ---------------------------------------------------------------- WebP

    [Fact]
    public void WebP_WithExifAndXmp_LosesThemButKeepsPixelsAndOrientation()
    {
        var plain = TestImages.WebP();
        var imageChunk = plain[12..];
        // VP8X flags EXIF | XMP, canvas 64×48 stored as width-1 and height-1.
        byte[] vp8X = [0x08 | 0x04, 0, 0, 0, 63, 0, 0, 47, 0, 0];
        // Odd sizes exercise the padding byte.
        var input = Riff(
            RiffChunk("VP8X", vp8X),
            imageChunk,
            RiffChunk("EXIF", [.. GpsTiff(), 0]),
            RiffChunk("XMP ", Encoding.ASCII.GetBytes(XmpPacket + " ")),
            RiffChunk("Secr", "SecretPrivate"u8.ToArray()));
        Assert.Equal(6, TestImages.Orientation(input));

        var output = Strip(ImageFormat.WebP, [.. input, .. "SecretTrailer"u8], orientation: 6);

        var expected = Riff(RiffChunk("VP8X", [0x08, .. vp8X[1..]]), imageChunk, RiffChunk("EXIF", MinimalOrientationTiff));
        Assert.Equal(expected, output);
        AssertNoMetadata(output);
        Assert.Equal(6, TestImages.Orientation(output));
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void WebP_Simple_StaysSimpleWithoutOrientation()
    {
        var plain = TestImages.WebP();
        Assert.Equal("VP8 ", Encoding.ASCII.GetString(plain, 12, 4));

        Assert.Equal(plain, Strip(ImageFormat.WebP, plain, orientation: 6));
    }

    [Fact]
    public void WebP_AnimatedWithIccAndXmp_KeepsFramesAndProfile()
    {
        using var frames = TestImages.Picture(width: 64, height: 96);
        using var animated = frames.Mutate(image =>
        {
            image.Set(GValue.GIntType, "page-height", 48);
            image.Set(GValue.ArrayIntType, "delay", new[] { 100, 100 });
            image.Set(GValue.BlobType, "xmp-data", Encoding.ASCII.GetBytes(XmpPacket));
        });
        var input = animated.WebpsaveBuffer(profile: "srgb", keep: Enums.ForeignKeep.Icc | Enums.ForeignKeep.Xmp);
        Assert.Contains("xmp-data", TestImages.Fields(input));

        var output = Strip(ImageFormat.WebP, input, orientation: 1);

        Assert.Equal(output.Length - 8, BinaryPrimitives.ReadInt32LittleEndian(output.AsSpan(4)));
        Assert.Equal(0, output[20] & 0x0C); // VP8X no longer announces EXIF or XMP
        AssertNoMetadata(output);
        Assert.Equal(IccProfile(input), IccProfile(output));
        Assert.Equal(AllPages(input), AllPages(output));
    }

    [Fact]
    public void WebP_Malformed_Throws()
    {
        var plain = TestImages.WebP();
        var chunkPastEnd = plain.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(chunkPastEnd.AsSpan(16), (uint)plain.Length);
        var riffPastEnd = plain.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(riffPastEnd.AsSpan(4), (uint)plain.Length + 100);

        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.WebP, chunkPastEnd));
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.WebP, riffPastEnd));
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.WebP, [.. "RIFF"u8, 4, 0, 0, 0, .. "WAVE"u8]));
    }

    // ---------------------------------------------------------------- GIF

    [Fact]
    public void Gif_WithCommentAndXmp_LosesThemButKeepsFramesAndLoop()
    {
        using var frames = TestImages.Picture(width: 64, height: 96);
        using var animated = frames.Mutate(image =>
        {
            image.Set(GValue.GIntType, "page-height", 48);
            image.Set(GValue.ArrayIntType, "delay", new[] { 100, 100 });
            image.Set(GValue.GIntType, "loop", 0);
        });
        var plain = animated.GifsaveBuffer(keep: Enums.ForeignKeep.None);
        Assert.True(IndexOf(plain, "NETSCAPE2.0"u8) > 0);

        var afterGlobalColourTable = 13 + ((plain[10] & 0x80) != 0 ? 3 << ((plain[10] & 7) + 1) : 0);
        var input = InsertAt(plain, afterGlobalColourTable,
            GifExtension(0xFE, "SecretComment at home"u8.ToArray()),
            GifExtension(0xFF, [.. "XMP DataXMP"u8], Encoding.ASCII.GetBytes(XmpPacket)),
            GifExtension(0xFF, [.. "SECRETAP1.0"u8], "SecretAppData"u8.ToArray()),
            GifExtension(0x99, "SecretUnknown"u8.ToArray()));

        var output = Strip(ImageFormat.Gif, [.. input, .. "SecretTrailer"u8], orientation: 1);

        Assert.Equal(plain, output);
        AssertNoMetadata(output);
        Assert.Equal(AllPages(input), AllPages(output));
    }

    [Fact]
    public void Gif_WithoutTrailer_GetsOne()
    {
        var plain = TestImages.Gif();
        Assert.Equal(0x3B, plain[^1]);

        Assert.Equal(plain, Strip(ImageFormat.Gif, plain[..^1], orientation: 1));
    }

    [Fact]
    public void Gif_Malformed_Throws()
    {
        var plain = TestImages.Gif();

        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Gif, [.. "GIF88a"u8, .. plain[6..]]));
        // Cut inside the image data's sub-blocks.
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Gif, plain[..^5]));
    }

    // ---------------------------------------------------------------- AVIF

    [Fact]
    public void Avif_WithExifAndXmp_ZeroesThemButKeepsPixels()
    {
        using var picture = TestImages.Picture();
        using var tagged = picture.Mutate(image =>
        {
            image.Set(GValue.BlobType, "exif-data", (byte[])[.. "Exif\0\0"u8, .. GpsTiff()]);
            image.Set(GValue.BlobType, "xmp-data", Encoding.ASCII.GetBytes(XmpPacket));
        });
        var input = tagged.HeifsaveBuffer(compression: Enums.ForeignHeifCompression.Av1, keep: Enums.ForeignKeep.Exif | Enums.ForeignKeep.Xmp);
        Assert.Contains(TestImages.Fields(input), field => field.StartsWith("exif-ifd3-", StringComparison.Ordinal));
        Assert.True(IndexOf(input, "xmpmeta"u8) > 0);

        var output = Strip(ImageFormat.Avif, input, orientation: 1);

        // Same layout; only bytes inside the metadata items changed, and only to zero.
        Assert.Equal(input.Length, output.Length);
        Assert.All(Enumerable.Range(0, input.Length).Where(i => input[i] != output[i]), i => Assert.Equal(0, output[i]));
        AssertNoMetadata(output, zeroedBlobsAllowed: true);
        Assert.Equal(TestImages.Pixels(input), TestImages.Pixels(output));
    }

    [Fact]
    public void Avif_HandBuiltWithExifInIdatAndXmpInMdat_ZeroesOnlyThoseItems()
    {
        // What libvips writes covers iloc version 0 and file offsets; this covers iloc version 1, 64-bit base offsets,
        // an Exif item stored in the meta box's idat (construction method 1), and an image item that must stay intact.
        var exif = (byte[])[0, 0, 0, 0, .. GpsTiff()]; // a HEIF Exif item starts with the offset of the TIFF header
        var xmp = Encoding.ASCII.GetBytes(XmpPacket);
        var pixels = "AV1 image data stays"u8.ToArray();
        byte[] ftyp = IsoBox("ftyp", [.. "avif"u8, 0, 0, 0, 0, .. "avifmif1"u8]);

        byte[] Meta(long mdatPayload) => IsoFullBox("meta", 0,
            IsoFullBox("iinf", 0, U16(3),
                IsoFullBox("infe", 2, U16(1), U16(0), "av01"u8.ToArray(), [0]),
                IsoFullBox("infe", 2, U16(2), U16(0), "Exif"u8.ToArray(), [0]),
                IsoFullBox("infe", 2, U16(3), U16(0), "mime"u8.ToArray(), "XMP\0application/rdf+xml\0"u8.ToArray())),
            IsoFullBox("iloc", 1, [0x44, 0x80], U16(3),
                IlocItem(1, constructionMethod: 0, baseOffset: mdatPayload, extentOffset: 0, pixels.Length),
                IlocItem(2, constructionMethod: 1, baseOffset: 0, extentOffset: 0, exif.Length),
                IlocItem(3, constructionMethod: 0, baseOffset: mdatPayload, extentOffset: pixels.Length, xmp.Length)),
            IsoBox("idat", exif));

        var mdatPayload = ftyp.Length + Meta(0).Length + 8;
        byte[] input = [.. ftyp, .. Meta(mdatPayload), .. IsoBox("mdat", [.. pixels, .. xmp])];

        var output = Strip(ImageFormat.Avif, input, orientation: 1);

        var expected = input.ToArray();
        var idatPayload = IndexOf(input, "idat"u8) + 4;
        expected.AsSpan(idatPayload, exif.Length).Clear();
        expected.AsSpan(mdatPayload + pixels.Length, xmp.Length).Clear();
        Assert.Equal(expected, output);
    }

    [Fact]
    public void Avif_Malformed_Throws()
    {
        using var picture = TestImages.Picture();
        var plain = picture.HeifsaveBuffer(compression: Enums.ForeignHeifCompression.Av1, keep: Enums.ForeignKeep.None);
        byte[] ftypOnly = [0, 0, 0, 20, .. "ftypavif"u8, 0, 0, 0, 0, .. "avif"u8];

        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Avif, ftypOnly));
        Assert.Throws<InvalidImageException>(() => Strip(ImageFormat.Avif, plain[..^10]));
    }

    // ---------------------------------------------------------------- all formats

    [Fact]
    public void EmptyStream_Throws()
    {
        foreach (var format in Enum.GetValues<ImageFormat>())
        {
            Assert.Throws<InvalidImageException>(() => Strip(format, []));
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Strips into the same kind of write-only, non-seekable hashing stream the upload path uses.</summary>
    private static byte[] Strip(ImageFormat format, byte[] input, int orientation = 1)
    {
        using var source = new MemoryStream(input, writable: false);
        using var target = new MemoryStream();
        using (var hashing = new HashingWriteStream(target))
        {
            MetadataStripper.Strip(format, source, hashing, orientation);
        }

        return target.ToArray();
    }

    /// <summary>No EXIF GPS or camera data, XMP, IPTC or comment survives, neither as bytes nor as libvips fields.</summary>
    private static void AssertNoMetadata(byte[] output, bool zeroedBlobsAllowed = false)
    {
        foreach (var secret in new[] { "Secret", "xmpmeta", "GPSLatitude", "Photoshop", "MPF\0" })
        {
            Assert.True(IndexOf(output, Encoding.ASCII.GetBytes(secret)) < 0, $"'{secret}' survived stripping.");
        }

        using var image = Image.NewFromBuffer(output, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error);
        var fields = image.GetFields();
        Assert.DoesNotContain(fields, field => field.StartsWith("exif-ifd3-", StringComparison.Ordinal)); // GPS IFD
        Assert.DoesNotContain("exif-ifd0-Make", fields);
        Assert.DoesNotContain("iptc-data", fields);
        if (fields.Contains("xmp-data"))
        {
            // AVIF keeps its (zeroed) XMP item, so libvips still reports the blob; it must say nothing.
            Assert.True(zeroedBlobsAllowed, "xmp-data survived stripping.");
            Assert.All((byte[])image.Get("xmp-data"), b => Assert.Equal(0, b));
        }

        Assert.True(image.Avg() > 0);
    }

    private static byte[] IccProfile(byte[] encoded)
    {
        using var image = Image.NewFromBuffer(encoded);
        Assert.Contains("icc-profile-data", image.GetFields());
        return (byte[])image.Get("icc-profile-data");
    }

    private static byte[] AllPages(byte[] encoded)
    {
        using var image = Image.NewFromBuffer(encoded, "", Enums.Access.Sequential, Enums.FailOn.Error, new VOption { { "n", -1 } });
        Assert.Equal(96, image.Height);
        return image.WriteToMemory<byte>();
    }

    /// <summary>The big-endian TIFF block (IFD0 with make and orientation 6, GPS IFD) from <see cref="TestImages.JpegWithGps"/>.</summary>
    private static byte[] GpsTiff()
    {
        var jpeg = TestImages.JpegWithGps();
        var exif = IndexOf(jpeg, "Exif\0\0"u8);
        var segmentEnd = exif - 2 + BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(exif - 2));
        return jpeg[(exif + 6)..segmentEnd];
    }

    private static byte[] JpegSegment(byte marker, byte[] payload) => TestImages.Segment(marker, payload);

    private static byte[] PngChunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), TestImages.Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    /// <summary>The chunks (type, hex data) of a PNG that must end exactly at IEND, each checked against its CRC.</summary>
    private static List<(string Type, string Data)> PngChunks(byte[] png)
    {
        var chunks = new List<(string Type, string Data)>();
        for (var offset = 8; offset < png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset));
            var type = Encoding.ASCII.GetString(png, offset + 4, 4);
            Assert.Equal(TestImages.Crc32(png.AsSpan(offset + 4, 4 + length)), BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + length)));
            chunks.Add((type, Convert.ToHexString(png, offset + 8, length)));
            offset += 12 + length;
            Assert.True(type != "IEND" || offset == png.Length, "Bytes follow IEND.");
        }

        return chunks;
    }

    private static byte[] RiffChunk(string fourCc, byte[] data)
    {
        var chunk = new byte[8 + data.Length + (data.Length & 1)];
        Encoding.ASCII.GetBytes(fourCc).CopyTo(chunk, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), (uint)data.Length);
        data.CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Riff(params byte[][] chunks)
    {
        byte[] body = [.. "WEBP"u8, .. chunks.SelectMany(chunk => chunk)];
        var size = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, (uint)body.Length);
        return [.. "RIFF"u8, .. size, .. body];
    }

    /// <summary>A GIF extension: introducer, label, then the data blocks cut into sub-blocks of at most 255 bytes.</summary>
    private static byte[] GifExtension(byte label, params byte[][] blocks)
    {
        var bytes = new List<byte> { 0x21, label };
        foreach (var block in blocks)
        {
            foreach (var piece in block.Chunk(255))
            {
                bytes.Add((byte)piece.Length);
                bytes.AddRange(piece);
            }
        }

        bytes.Add(0);
        return [.. bytes];
    }

    private static byte[] IsoBox(string type, params byte[][] parts)
    {
        byte[] body = [.. Encoding.ASCII.GetBytes(type), .. parts.SelectMany(part => part)];
        var size = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(size, (uint)body.Length + 4);
        return [.. size, .. body];
    }

    private static byte[] IsoFullBox(string type, byte version, params byte[][] parts) => IsoBox(type, [[version, 0, 0, 0], .. parts]);

    /// <summary>An iloc version 1 item with 64-bit base offset and 32-bit extent fields, one extent.</summary>
    private static byte[] IlocItem(ushort id, ushort constructionMethod, long baseOffset, int extentOffset, int extentLength)
    {
        var item = new byte[2 + 2 + 2 + 8 + 2 + 4 + 4];
        BinaryPrimitives.WriteUInt16BigEndian(item, id);
        BinaryPrimitives.WriteUInt16BigEndian(item.AsSpan(2), constructionMethod);
        BinaryPrimitives.WriteUInt64BigEndian(item.AsSpan(6), (ulong)baseOffset);
        BinaryPrimitives.WriteUInt16BigEndian(item.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt32BigEndian(item.AsSpan(16), (uint)extentOffset);
        BinaryPrimitives.WriteUInt32BigEndian(item.AsSpan(20), (uint)extentLength);
        return item;
    }

    private static byte[] U16(ushort value) => [(byte)(value >> 8), (byte)value];

    private static byte[] InsertAt(byte[] data, int offset, params byte[][] inserts) =>
        [.. data[..offset], .. inserts.SelectMany(insert => insert), .. data[offset..]];

    private static int IndexOf(byte[] data, ReadOnlySpan<byte> pattern, int occurrence = 1)
    {
        var from = 0;
        for (var found = 0; ; found++)
        {
            var index = data.AsSpan(from).IndexOf(pattern);
            if (index < 0)
            {
                return -1;
            }

            if (found + 1 == occurrence)
            {
                return from + index;
            }

            from += index + 1;
        }
    }
}
