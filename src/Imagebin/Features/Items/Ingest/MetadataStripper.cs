using System.Buffers.Binary;
using System.Text;

namespace Imagebin.Features.Items.Ingest;

/// <summary>The upload's container is malformed (truncated, bad lengths, missing signature), so it cannot be stripped safely.</summary>
public sealed class InvalidImageException(string message) : Exception(message);

/// <summary>
/// Removes privacy-relevant metadata (EXIF with GPS, XMP, IPTC, comments, embedded previews, trailing data) by rewriting
/// the container only: pixel data is copied byte for byte, never decoded or re-encoded, so quality and size are untouched.
/// Everything is streamed with bounded buffers; the output is written strictly forwards because the caller hashes it.
/// </summary>
public static class MetadataStripper
{
    private const int BufferSize = 64 * 1024;

    /// <summary>
    /// Copies <paramref name="source"/> (seekable, at position 0) to <paramref name="destination"/> (write-only, not
    /// seekable) without its metadata. When <paramref name="orientation"/> is not 1 the output keeps a minimal EXIF block
    /// holding only that orientation (JPEG, PNG, and WebP files that have a VP8X chunk), so the image still displays upright.
    /// </summary>
    /// <exception cref="InvalidImageException">The container is malformed.</exception>
    public static void Strip(ImageFormat format, Stream source, Stream destination, int orientation)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfLessThan(orientation, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(orientation, 8);

        // Markers, chunk headers and GIF sub-block sizes are tiny writes; batch them before they reach the hashing stream.
        // Not disposed: that would close the caller's stream.
        var output = new BufferedStream(destination, BufferSize);
        switch (format)
        {
            case ImageFormat.Jpeg:
                Jpeg.Strip(new Reader(source), output, orientation);
                break;
            case ImageFormat.Png:
                Png.Strip(new Reader(source), output, orientation);
                break;
            case ImageFormat.Gif:
                Gif.Strip(new Reader(source), output);
                break;
            case ImageFormat.WebP:
                WebP.Strip(source, output, orientation);
                break;
            case ImageFormat.Avif:
                Avif.Strip(source, output);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format));
        }

        output.Flush();
    }

    /// <summary>
    /// A big-endian TIFF block whose IFD0 holds only the Orientation tag (0x0112, SHORT, count 1), the smallest EXIF a
    /// viewer will honour. JPEG prefixes it with "Exif\0\0"; PNG eXIf and WebP EXIF chunks carry it bare.
    /// </summary>
    internal static byte[] OrientationTiff(int orientation)
    {
        var tiff = new byte[26];
        Span<byte> span = tiff;
        "MM"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], 42);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], 8); // IFD0 follows the header
        BinaryPrimitives.WriteUInt16BigEndian(span[8..], 1); // one entry
        BinaryPrimitives.WriteUInt16BigEndian(span[10..], 0x0112);
        BinaryPrimitives.WriteUInt16BigEndian(span[12..], 3);
        BinaryPrimitives.WriteUInt32BigEndian(span[14..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(span[18..], (ushort)orientation); // values shorter than 4 bytes are left-justified
        // Bytes 20..21 pad the value field; 22..25 are the next-IFD offset, 0 = none.
        return tiff;
    }

    /// <summary>A four-character code as a number, so chunk and box types can be compared and put in sets without strings.</summary>
    private static uint FourCc(string code) => BinaryPrimitives.ReadUInt32BigEndian(Encoding.ASCII.GetBytes(code));

    private static uint FourCc(ReadOnlySpan<byte> code) => BinaryPrimitives.ReadUInt32BigEndian(code);

    private static string FourCcName(ReadOnlySpan<byte> code) => Encoding.ASCII.GetString(code).Replace('\0', ' ');

    private static void WriteZeros(Stream output, long count)
    {
        ReadOnlySpan<byte> zeros = stackalloc byte[1024];
        for (; count > 0; count -= zeros.Length)
        {
            output.Write(zeros[..(int)Math.Min(count, zeros.Length)]);
        }
    }

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes at an absolute offset, for the formats that are walked before copying.</summary>
    private static void ReadAt(Stream source, long offset, Span<byte> buffer, string what)
    {
        source.Position = offset;
        if (source.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
        {
            throw new InvalidImageException($"The file ends inside the {what} at byte {offset}.");
        }
    }

    /// <summary>
    /// A forward reader with its own 64 KB buffer: single bytes and short headers come from memory, and scans can search
    /// the buffered bytes instead of calling the stream per byte. Every read that runs out of data throws, so a truncated
    /// file can never produce a silently shortened output.
    /// </summary>
    private sealed class Reader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[BufferSize];
        private int _start;
        private int _end;
        private long _bufferOffset = stream.CanSeek ? stream.Position : 0;

        /// <summary>The offset of the next unread byte, for error messages.</summary>
        public long Position => _bufferOffset + _start;

        /// <summary>The bytes read from the stream but not consumed yet.</summary>
        public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

        /// <summary>Buffers at least <paramref name="count"/> bytes (at most 64 KB) unless the stream ends; returns how many are buffered.</summary>
        public int Fill(int count)
        {
            if (_end - _start >= count)
            {
                return _end - _start;
            }

            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferOffset += _start;
            _end -= _start;
            _start = 0;
            while (_end < count)
            {
                var read = stream.Read(_buffer, _end, _buffer.Length - _end);
                if (read == 0)
                {
                    break;
                }

                _end += read;
            }

            return _end - _start;
        }

        public void Advance(int count) => _start += count;

        public byte ReadByte()
        {
            if (Fill(1) == 0)
            {
                throw Truncated();
            }

            return _buffer[_start++];
        }

        public ushort ReadUInt16BigEndian() => (ushort)((ReadByte() << 8) | ReadByte());

        public void ReadExactly(Span<byte> destination)
        {
            while (!destination.IsEmpty)
            {
                if (Fill(1) == 0)
                {
                    throw Truncated();
                }

                var take = Math.Min(destination.Length, _end - _start);
                _buffer.AsSpan(_start, take).CopyTo(destination);
                _start += take;
                destination = destination[take..];
            }
        }

        public void CopyTo(Stream destination, long count)
        {
            while (count > 0)
            {
                if (Fill(1) == 0)
                {
                    throw Truncated();
                }

                var take = (int)Math.Min(count, _end - _start);
                destination.Write(_buffer, _start, take);
                _start += take;
                count -= take;
            }
        }

        /// <summary>Skips dropped data; seeks past it rather than reading it when the stream allows.</summary>
        public void Skip(long count)
        {
            var buffered = _end - _start;
            if (count <= buffered)
            {
                _start += (int)count;
                return;
            }

            if (!stream.CanSeek)
            {
                CopyTo(Stream.Null, count);
                return;
            }

            var target = Position + count;
            if (target > stream.Length)
            {
                _bufferOffset = stream.Length;
                _start = _end = 0;
                throw Truncated();
            }

            stream.Position = target;
            _bufferOffset = target;
            _start = _end = 0;
        }

        private InvalidImageException Truncated() => new($"The file is truncated: it ends at byte {Position} in the middle of a block.");
    }

    /// <summary>
    /// JPEG: walks every marker, including those between the scans of a progressive file, and keeps only what decoding
    /// needs (tables, frame and scan headers, entropy-coded data, JFIF, ICC profile, Adobe colour transform).
    /// </summary>
    private static class Jpeg
    {
        private const byte Soi = 0xD8;
        private const byte Eoi = 0xD9;
        private const byte Sos = 0xDA;
        private const byte Tem = 0x01;
        private const byte App0 = 0xE0;
        private const byte App1 = 0xE1;
        private const byte App2 = 0xE2;
        private const byte App14 = 0xEE;
        private const byte App15 = 0xEF;
        private const byte Com = 0xFE;

        /// <summary>"JFIF\0", version, units, X/Y density, thumbnail width and height: the JFIF APP0 without its thumbnail.</summary>
        private const int JfifHeaderLength = 14;

        public static void Strip(Reader input, Stream output, int orientation)
        {
            if (input.Fill(2) < 2 || input.Buffered[0] != 0xFF || input.Buffered[1] != Soi)
            {
                throw new InvalidImageException("Not a JPEG: the SOI marker is missing.");
            }

            input.Advance(2);
            output.Write([0xFF, Soi]);

            var orientationPending = orientation != 1;
            var payload = new byte[ushort.MaxValue];
            while (true)
            {
                var marker = ReadMarker(input);
                if (orientationPending && marker != App0)
                {
                    // EXIF goes right after SOI, or after JFIF when there is one (the order both specs expect).
                    WriteSegment(output, App1, [.. "Exif\0\0"u8, .. OrientationTiff(orientation)]);
                    orientationPending = false;
                }

                switch (marker)
                {
                    case Eoi:
                        // Anything after EOI (an MPF preview with its own EXIF and GPS, appended files) is dropped.
                        output.Write([0xFF, Eoi]);
                        return;
                    case Soi:
                        throw new InvalidImageException($"A second SOI marker at byte {input.Position - 2}.");
                    case Tem or (>= 0xD0 and <= 0xD7):
                        // Stand-alone markers without a length; harmless, so kept as they are.
                        output.Write([0xFF, marker]);
                        continue;
                }

                var start = input.Position - 2;
                var length = input.ReadUInt16BigEndian();
                if (length < 2)
                {
                    throw new InvalidImageException($"The JPEG segment 0xFF{marker:X2} at byte {start} has an invalid length of {length}.");
                }

                var segment = payload.AsSpan(0, length - 2);
                input.ReadExactly(segment);

                switch (marker)
                {
                    case App0:
                        WriteJfif(output, segment);
                        break;
                    case App2 when segment.StartsWith("ICC_PROFILE\0"u8):
                    case App14 when segment.StartsWith("Adobe"u8):
                        WriteSegment(output, marker, segment);
                        break;
                    case >= App0 and <= App15 or Com:
                        // EXIF, XMP, MPF, Photoshop/IPTC, FlashPix, maker data and comments: nothing a decoder needs.
                        break;
                    case Sos:
                        WriteSegment(output, marker, segment);
                        CopyEntropyCodedData(input, output);
                        break;
                    default:
                        WriteSegment(output, marker, segment);
                        break;
                }
            }
        }

        /// <summary>Reads "FF xx", allowing the FF fill bytes the standard permits before any marker.</summary>
        private static byte ReadMarker(Reader input)
        {
            var start = input.Position;
            if (input.ReadByte() != 0xFF)
            {
                throw new InvalidImageException($"Expected a JPEG marker at byte {start}.");
            }

            byte marker;
            do
            {
                marker = input.ReadByte();
            }
            while (marker == 0xFF);

            if (marker == 0x00)
            {
                throw new InvalidImageException($"A stuffed 0xFF00 outside scan data at byte {start}.");
            }

            return marker;
        }

        /// <summary>
        /// Keeps the JFIF header (density matters to some viewers) but drops its embedded thumbnail, which shows the
        /// original picture and may not match an edited or cropped one. JFXX and other APP0 data are only thumbnails or
        /// foreign data, so they go.
        /// </summary>
        private static void WriteJfif(Stream output, Span<byte> segment)
        {
            if (segment.Length < JfifHeaderLength || !segment.StartsWith("JFIF\0"u8))
            {
                return;
            }

            var header = segment[..JfifHeaderLength];
            header[12] = 0;
            header[13] = 0;
            WriteSegment(output, App0, header);
        }

        /// <summary>
        /// Copies a scan's entropy-coded data up to the next marker. Inside a scan FF00 is a stuffed data byte and
        /// FFD0–FFD7 are restart markers; any other FFxx (or fill FFs) starts the next marker, which is left unread.
        /// </summary>
        private static void CopyEntropyCodedData(Reader input, Stream output)
        {
            while (true)
            {
                // Two bytes at least, so an FF's successor can always be inspected; a file cannot end inside a scan.
                if (input.Fill(2) < 2)
                {
                    throw new InvalidImageException($"The JPEG ends inside scan data at byte {input.Position}, before its EOI marker.");
                }

                var data = input.Buffered;
                var end = 0;
                while (end < data.Length - 1)
                {
                    var found = data[end..^1].IndexOf((byte)0xFF);
                    if (found < 0)
                    {
                        end = data.Length - 1;
                        break;
                    }

                    end += found;
                    var next = data[end + 1];
                    if (next != 0x00 && next is < 0xD0 or > 0xD7)
                    {
                        output.Write(data[..end]);
                        input.Advance(end);
                        return;
                    }

                    end += 2;
                }

                output.Write(data[..end]);
                input.Advance(end);
            }
        }

        private static void WriteSegment(Stream output, byte marker, ReadOnlySpan<byte> payload)
        {
            Span<byte> header = [0xFF, marker, 0, 0];
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(payload.Length + 2));
            output.Write(header);
            output.Write(payload);
        }
    }

    /// <summary>PNG: keeps critical chunks and a whitelist of ancillary chunks that only affect how pixels are shown.</summary>
    private static class Png
    {
        private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

        private static readonly uint Idat = FourCc("IDAT");
        private static readonly uint Iend = FourCc("IEND");

        /// <summary>
        /// Colour, transparency, physical size and animation (APNG). Everything else goes: eXIf, tEXt/zTXt/iTXt (where XMP
        /// and free-form text live), tIME, and any private or unknown chunk, whose contents cannot be vetted.
        /// </summary>
        private static readonly HashSet<uint> Kept =
        [
            .. new[]
            {
                "IHDR", "PLTE", "IDAT", "IEND", "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB", "cICP", "mDCv", "cLLi",
                "bKGD", "hIST", "pHYs", "acTL", "fcTL", "fdAT",
            }.Select(FourCc),
        ];

        private static readonly uint[] CrcTable = BuildCrcTable();

        public static void Strip(Reader input, Stream output, int orientation)
        {
            if (input.Fill(Signature.Length) < Signature.Length || !input.Buffered.StartsWith(Signature))
            {
                throw new InvalidImageException("Not a PNG: the signature is wrong.");
            }

            input.Advance(Signature.Length);
            output.Write(Signature);

            var orientationPending = orientation != 1;
            var sawImageData = false;
            Span<byte> header = stackalloc byte[8];
            while (true)
            {
                var start = input.Position;
                if (input.Fill(header.Length) < header.Length)
                {
                    throw new InvalidImageException($"The PNG ends at byte {input.Position + input.Buffered.Length} before its IEND chunk.");
                }

                input.ReadExactly(header);
                var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                var typeBytes = header[4..];
                var type = FourCc(typeBytes);
                if (length > int.MaxValue || !IsChunkType(typeBytes))
                {
                    throw new InvalidImageException($"The PNG chunk at byte {start} has an invalid type or length.");
                }

                if (type == Idat)
                {
                    sawImageData = true;
                    if (orientationPending)
                    {
                        // eXIf must come before the image data for decoders to take it into account.
                        WriteChunk(output, "eXIf"u8, OrientationTiff(orientation));
                        orientationPending = false;
                    }
                }

                if (Kept.Contains(type))
                {
                    // Data and CRC are copied unchecked: a corrupt chunk is the decoder's problem, not a privacy one.
                    output.Write(header);
                    input.CopyTo(output, length + 4L);
                }
                else
                {
                    input.Skip(length + 4L);
                }

                if (type == Iend)
                {
                    if (!sawImageData)
                    {
                        throw new InvalidImageException("The PNG has no IDAT chunk.");
                    }

                    // Whatever follows IEND is not part of the image and may be anything.
                    return;
                }
            }
        }

        private static bool IsChunkType(ReadOnlySpan<byte> type)
        {
            foreach (var b in type)
            {
                if (b is not ((>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z')))
                {
                    return false;
                }
            }

            return true;
        }

        private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
        {
            Span<byte> word = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
            output.Write(word);
            output.Write(type);
            output.Write(data);
            BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(type, data));
            output.Write(word);
        }

        /// <summary>CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320) over the chunk type and data, as PNG defines it.</summary>
        private static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var b in type)
            {
                crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            foreach (var b in data)
            {
                crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            return ~crc;
        }

        private static uint[] BuildCrcTable()
        {
            var table = new uint[256];
            for (var n = 0u; n < 256; n++)
            {
                var c = n;
                for (var bit = 0; bit < 8; bit++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                }

                table[n] = c;
            }

            return table;
        }
    }

    /// <summary>GIF: keeps image data, graphic control, plain text and loop-control extensions; drops comments and other application data.</summary>
    private static class Gif
    {
        private const byte ExtensionIntroducer = 0x21;
        private const byte ImageSeparator = 0x2C;
        private const byte Trailer = 0x3B;
        private const byte PlainTextLabel = 0x01;
        private const byte GraphicControlLabel = 0xF9;
        private const byte ApplicationLabel = 0xFF;

        public static void Strip(Reader input, Stream output)
        {
            if (input.Fill(6) < 6 || !(input.Buffered.StartsWith("GIF87a"u8) || input.Buffered.StartsWith("GIF89a"u8)))
            {
                throw new InvalidImageException("Not a GIF: the signature is wrong.");
            }

            // Header and logical screen descriptor, then the global colour table if the descriptor announces one.
            Span<byte> screen = stackalloc byte[13];
            input.ReadExactly(screen);
            output.Write(screen);
            CopyColourTable(input, output, screen[10]);

            Span<byte> descriptor = stackalloc byte[9];
            Span<byte> applicationId = stackalloc byte[255];
            while (true)
            {
                if (input.Fill(1) == 0)
                {
                    // Many encoders omit the trailer and decoders accept that; every block before it was complete.
                    output.WriteByte(Trailer);
                    return;
                }

                var start = input.Position;
                var introducer = input.ReadByte();
                switch (introducer)
                {
                    case Trailer:
                        // Whatever follows the trailer is not part of the image.
                        output.WriteByte(Trailer);
                        return;

                    case ImageSeparator:
                        output.WriteByte(ImageSeparator);
                        input.ReadExactly(descriptor);
                        output.Write(descriptor);
                        CopyColourTable(input, output, descriptor[8]);
                        output.WriteByte(input.ReadByte()); // LZW minimum code size
                        CopySubBlocks(input, output);
                        break;

                    case ExtensionIntroducer:
                        var label = input.ReadByte();
                        if (label is GraphicControlLabel or PlainTextLabel)
                        {
                            output.Write([ExtensionIntroducer, label]);
                            CopySubBlocks(input, output);
                        }
                        else if (label == ApplicationLabel)
                        {
                            // The first sub-block names the application; only loop control is needed to play the image.
                            var size = input.ReadByte();
                            var id = applicationId[..size];
                            input.ReadExactly(id);
                            if (size == 0)
                            {
                                break;
                            }

                            if (id.SequenceEqual("NETSCAPE2.0"u8) || id.SequenceEqual("ANIMEXTS1.0"u8))
                            {
                                output.Write([ExtensionIntroducer, label, size]);
                                output.Write(id);
                                CopySubBlocks(input, output);
                            }
                            else
                            {
                                // XMP ("XMP DataXMP"), ICC profiles, editor data.
                                CopySubBlocks(input, Stream.Null);
                            }
                        }
                        else
                        {
                            // Comments, and extensions nobody defined: their contents cannot be vetted.
                            CopySubBlocks(input, Stream.Null);
                        }

                        break;

                    default:
                        throw new InvalidImageException($"Unexpected GIF block 0x{introducer:X2} at byte {start}.");
                }
            }
        }

        private static void CopyColourTable(Reader input, Stream output, byte packedFields)
        {
            if ((packedFields & 0x80) != 0)
            {
                input.CopyTo(output, 3 << ((packedFields & 0x07) + 1));
            }
        }

        /// <summary>Copies a chain of sub-blocks (size byte, then that many bytes) through its zero-length terminator.</summary>
        private static void CopySubBlocks(Reader input, Stream output)
        {
            while (true)
            {
                var size = input.ReadByte();
                output.WriteByte(size);
                if (size == 0)
                {
                    return;
                }

                input.CopyTo(output, size);
            }
        }
    }

    /// <summary>
    /// WebP: keeps image, animation and ICC chunks and drops EXIF, XMP and unknown chunks. The chunk list is walked first
    /// (headers only) because the RIFF size at the front must be known before anything is written.
    /// </summary>
    private static class WebP
    {
        private const byte ExifFlag = 0x08;
        private const byte XmpFlag = 0x04;

        private static readonly uint Vp8X = FourCc("VP8X");

        private static readonly HashSet<uint> Kept = [.. new[] { "VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP" }.Select(FourCc)];

        private readonly record struct Chunk(long Offset, uint Type, long TotalSize);

        public static void Strip(Stream source, Stream output, int orientation)
        {
            Span<byte> header = stackalloc byte[12];
            if (source.Length < header.Length)
            {
                throw new InvalidImageException("Not a WebP: the file is shorter than a RIFF header.");
            }

            ReadAt(source, 0, header, "RIFF header");
            if (!header.StartsWith("RIFF"u8) || !header[8..].SequenceEqual("WEBP"u8))
            {
                throw new InvalidImageException("Not a WebP: the RIFF/WEBP header is missing.");
            }

            var riffEnd = 8 + (long)BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (riffEnd > source.Length)
            {
                throw new InvalidImageException($"The RIFF size says {riffEnd} bytes but the file has {source.Length}.");
            }

            var chunks = new List<Chunk>();
            var hasVp8X = false;
            Span<byte> chunkHeader = stackalloc byte[8];
            for (var offset = 12L; offset < riffEnd;)
            {
                if (riffEnd - offset < chunkHeader.Length)
                {
                    throw new InvalidImageException($"A truncated WebP chunk header at byte {offset}.");
                }

                ReadAt(source, offset, chunkHeader, "WebP chunk header");
                var type = FourCc(chunkHeader);
                var size = BinaryPrimitives.ReadUInt32LittleEndian(chunkHeader[4..]);
                var total = 8 + (long)size + (size & 1); // odd payloads are padded to an even length
                if (total > riffEnd - offset)
                {
                    throw new InvalidImageException($"The WebP chunk '{FourCcName(chunkHeader[..4])}' at byte {offset} runs past the end of the file.");
                }

                if (type == Vp8X)
                {
                    if (offset != 12 || size < 10)
                    {
                        throw new InvalidImageException("The WebP VP8X chunk is misplaced or too short.");
                    }

                    hasVp8X = true;
                }

                if (Kept.Contains(type))
                {
                    chunks.Add(new Chunk(offset, type, total));
                }

                offset += total;
            }

            // A simple (VP8/VP8L-only) file cannot carry EXIF without gaining a VP8X chunk, whose canvas size would have to
            // be read from the bitstream; browsers ignore WebP EXIF orientation anyway, so such files go without it.
            var orientationTiff = hasVp8X && orientation != 1 ? OrientationTiff(orientation) : null;
            var riffSize = 4 + chunks.Sum(chunk => chunk.TotalSize) + (orientationTiff is null ? 0 : 8 + orientationTiff.Length);
            if (riffSize > uint.MaxValue)
            {
                throw new InvalidImageException("The WebP is too large for a RIFF file.");
            }

            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)riffSize);
            output.Write(header);

            source.Position = 0;
            var input = new Reader(source);
            Span<byte> vp8X = stackalloc byte[18];
            foreach (var chunk in chunks)
            {
                input.Skip(chunk.Offset - input.Position);
                if (chunk.Type == Vp8X)
                {
                    // The flags must not announce EXIF or XMP that is gone, and must announce the EXIF added back.
                    input.ReadExactly(vp8X);
                    vp8X[8] &= unchecked((byte)~(ExifFlag | XmpFlag));
                    if (orientationTiff is not null)
                    {
                        vp8X[8] |= ExifFlag;
                    }

                    output.Write(vp8X);
                    input.CopyTo(output, chunk.TotalSize - vp8X.Length);
                }
                else
                {
                    input.CopyTo(output, chunk.TotalSize);
                }
            }

            if (orientationTiff is not null)
            {
                // EXIF goes after the image data, where the container spec places it; 26 bytes need no padding.
                output.Write("EXIF"u8);
                Span<byte> size = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(size, (uint)orientationTiff.Length);
                output.Write(size);
                output.Write(orientationTiff);
            }
        }
    }

    /// <summary>
    /// AVIF (HEIF): rewriting item locations would mean rewriting the whole box structure, so the file is copied with
    /// the same layout and the payloads of EXIF and XMP items overwritten with zeros. The structure stays valid; the
    /// metadata items remain but say nothing.
    /// </summary>
    private static class Avif
    {
        /// <summary>iinf and iloc are read into memory; real ones are a few KB even for grid images with many tiles.</summary>
        private const int MaxMetaBoxSize = 1024 * 1024;

        private static readonly uint Meta = FourCc("meta");
        private static readonly uint Iinf = FourCc("iinf");
        private static readonly uint Infe = FourCc("infe");
        private static readonly uint Iloc = FourCc("iloc");
        private static readonly uint Idat = FourCc("idat");
        private static readonly uint Exif = FourCc("Exif");
        private static readonly uint Mime = FourCc("mime");

        private readonly record struct Box(uint Type, long PayloadStart, long End);

        public static void Strip(Stream source, Stream output)
        {
            var ranges = FindMetadataRanges(source);

            source.Position = 0;
            var input = new Reader(source);
            foreach (var (start, length) in ranges)
            {
                input.CopyTo(output, start - input.Position);
                input.Skip(length);
                WriteZeros(output, length);
            }

            input.CopyTo(output, source.Length - input.Position);
        }

        /// <summary>The file ranges holding EXIF and XMP item payloads, sorted and without overlaps.</summary>
        private static List<(long Start, long Length)> FindMetadataRanges(Stream source)
        {
            // Every top-level box is walked, not just up to meta, so a truncated mdat is caught as well.
            var fileLength = source.Length;
            Box? meta = null;
            for (var offset = 0L; offset < fileLength;)
            {
                var box = ReadBox(source, offset, fileLength);
                if (box.Type == Meta)
                {
                    meta ??= box;
                }

                offset = box.End;
            }

            if (meta is not { } metaBox)
            {
                throw new InvalidImageException("The AVIF has no meta box.");
            }

            Box? iinf = null, iloc = null, idat = null;
            for (var offset = metaBox.PayloadStart + 4; offset < metaBox.End;) // meta is a FullBox: version and flags first
            {
                var box = ReadBox(source, offset, metaBox.End);
                if (box.Type == Iinf)
                {
                    iinf = box;
                }
                else if (box.Type == Iloc)
                {
                    iloc = box;
                }
                else if (box.Type == Idat)
                {
                    idat = box;
                }

                offset = box.End;
            }

            if (iinf is null || iloc is null)
            {
                throw new InvalidImageException("The AVIF meta box has no iinf or iloc box.");
            }

            var items = FindMetadataItems(ReadPayload(source, iinf.Value));
            var ranges = items.Count == 0 ? [] : LocateItems(ReadPayload(source, iloc.Value), items, fileLength, idat);

            // Sorted and merged so the copy can walk forwards once.
            ranges.Sort();
            var merged = new List<(long Start, long Length)>();
            foreach (var (start, length) in ranges)
            {
                if (merged.Count > 0 && start <= merged[^1].Start + merged[^1].Length)
                {
                    var last = merged[^1];
                    merged[^1] = (last.Start, Math.Max(last.Start + last.Length, start + length) - last.Start);
                }
                else
                {
                    merged.Add((start, length));
                }
            }

            return merged;
        }

        /// <summary>Item IDs of EXIF items and of MIME items holding XMP (application/rdf+xml).</summary>
        private static HashSet<uint> FindMetadataItems(byte[] iinf)
        {
            var parser = new BoxParser(iinf);
            var version = parser.FullBoxVersion();
            var count = version == 0 ? parser.U16() : parser.U32();
            var items = new HashSet<uint>();
            for (var i = 0u; i < count; i++)
            {
                var payload = parser.ChildBox(out var type);
                if (type != Infe)
                {
                    continue;
                }

                var infe = new BoxParser(payload);
                var infeVersion = infe.FullBoxVersion();
                if (infeVersion >= 2)
                {
                    var id = infeVersion == 2 ? infe.U16() : infe.U32();
                    infe.U16(); // item_protection_index
                    var itemType = infe.U32();
                    infe.CString(); // item_name
                    if (itemType == Exif || (itemType == Mime && infe.CString() == "application/rdf+xml"))
                    {
                        items.Add(id);
                    }
                }
                else
                {
                    // Versions 0 and 1 have no item type, only a content type.
                    var id = infe.U16();
                    infe.U16();
                    infe.CString();
                    if (infe.CString() == "application/rdf+xml")
                    {
                        items.Add(id);
                    }
                }
            }

            return items;
        }

        /// <summary>The absolute file ranges of <paramref name="items"/>' extents, from iloc versions 0, 1 and 2.</summary>
        private static List<(long Start, long Length)> LocateItems(byte[] iloc, HashSet<uint> items, long fileLength, Box? idat)
        {
            var parser = new BoxParser(iloc);
            var version = parser.FullBoxVersion();
            var sizes = parser.U8();
            int offsetSize = sizes >> 4, lengthSize = sizes & 0x0F;
            sizes = parser.U8();
            int baseOffsetSize = sizes >> 4, indexSize = version is 1 or 2 ? sizes & 0x0F : 0;
            var count = version < 2 ? parser.U16() : parser.U32();

            var ranges = new List<(long Start, long Length)>();
            for (var i = 0u; i < count; i++)
            {
                var id = version < 2 ? parser.U16() : parser.U32();
                var constructionMethod = version is 1 or 2 ? parser.U16() & 0x0F : 0;
                var dataReferenceIndex = parser.U16();
                var baseOffset = parser.Sized(baseOffsetSize);
                var extentCount = parser.U16();
                for (var e = 0; e < extentCount; e++)
                {
                    parser.Sized(indexSize);
                    var extentOffset = parser.Sized(offsetSize);
                    var extentLength = parser.Sized(lengthSize);

                    // Data in another file (a non-zero data reference) is not in this one to erase.
                    if (!items.Contains(id) || dataReferenceIndex != 0)
                    {
                        continue;
                    }

                    // Method 0: offsets into the file. Method 1: offsets into the meta box's idat payload.
                    var (areaStart, areaEnd) = constructionMethod switch
                    {
                        0 => (0L, fileLength),
                        1 when idat is { } box => (box.PayloadStart, box.End),
                        _ => throw new InvalidImageException(
                            $"The AVIF metadata item {id} uses construction method {constructionMethod}, which cannot be erased in place."),
                    };

                    var areaLength = (ulong)(areaEnd - areaStart);
                    var offset = baseOffset + extentOffset;
                    if (offset < baseOffset || offset > areaLength)
                    {
                        throw new InvalidImageException($"The AVIF metadata item {id} points outside the file.");
                    }

                    // A zero length means "up to the end of the referenced data".
                    var length = extentLength == 0 ? areaLength - offset : extentLength;
                    if (length > areaLength - offset)
                    {
                        throw new InvalidImageException($"The AVIF metadata item {id} runs past the end of the file.");
                    }

                    ranges.Add((areaStart + (long)offset, (long)length));
                }
            }

            return ranges;
        }

        /// <summary>Reads a box header at <paramref name="offset"/> (32-bit, 64-bit or to-the-end size) and checks it fits its parent.</summary>
        private static Box ReadBox(Stream source, long offset, long parentEnd)
        {
            if (parentEnd - offset < 8)
            {
                throw new InvalidImageException($"A truncated AVIF box header at byte {offset}.");
            }

            Span<byte> header = stackalloc byte[16];
            ReadAt(source, offset, header[..8], "AVIF box header");
            var type = FourCc(header[4..8]);
            var size = (ulong)BinaryPrimitives.ReadUInt32BigEndian(header);
            var headerLength = 8L;
            if (size == 1)
            {
                if (parentEnd - offset < 16)
                {
                    throw new InvalidImageException($"A truncated AVIF box header at byte {offset}.");
                }

                ReadAt(source, offset + 8, header[8..], "AVIF box header");
                size = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
                headerLength = 16;
            }
            else if (size == 0)
            {
                size = (ulong)(parentEnd - offset); // the box extends to the end of its parent
            }

            if (size < (ulong)headerLength || size > (ulong)(parentEnd - offset))
            {
                throw new InvalidImageException($"The AVIF box '{FourCcName(header[4..8])}' at byte {offset} has an invalid size.");
            }

            return new Box(type, offset + headerLength, offset + (long)size);
        }

        private static byte[] ReadPayload(Stream source, Box box)
        {
            var length = box.End - box.PayloadStart;
            if (length > MaxMetaBoxSize)
            {
                throw new InvalidImageException("The AVIF item tables are implausibly large.");
            }

            var payload = new byte[length];
            ReadAt(source, box.PayloadStart, payload, "AVIF box");
            return payload;
        }

        /// <summary>Reads big-endian fields from an in-memory box payload; every read is bounds-checked.</summary>
        private ref struct BoxParser(ReadOnlySpan<byte> data)
        {
            private readonly ReadOnlySpan<byte> _data = data;
            private int _position;

            public int FullBoxVersion()
            {
                var version = U8();
                Take(3); // flags
                return version;
            }

            public byte U8() => Take(1)[0];

            public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

            public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

            /// <summary>An iloc field whose width (0, 4 or 8 bytes) is declared in the box header.</summary>
            public ulong Sized(int size) => size switch
            {
                0 => 0,
                4 => U32(),
                8 => BinaryPrimitives.ReadUInt64BigEndian(Take(8)),
                _ => throw new InvalidImageException($"The AVIF iloc box declares an invalid field size of {size} bytes."),
            };

            /// <summary>A NUL-terminated UTF-8 string; a missing terminator at the end of the box is tolerated.</summary>
            public string CString()
            {
                var rest = _data[_position..];
                var end = rest.IndexOf((byte)0);
                var text = Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
                _position += end < 0 ? rest.Length : end + 1;
                return text;
            }

            /// <summary>A child box (32-bit size only, as item entries always are): its payload, and its type.</summary>
            public ReadOnlySpan<byte> ChildBox(out uint type)
            {
                var size = U32();
                type = U32();
                if (size < 8)
                {
                    throw new InvalidImageException("An AVIF item entry box has an invalid size.");
                }

                return Take((long)size - 8);
            }

            private ReadOnlySpan<byte> Take(long count)
            {
                if (count > _data.Length - _position)
                {
                    throw new InvalidImageException("An AVIF item table is truncated.");
                }

                var slice = _data.Slice(_position, (int)count);
                _position += (int)count;
                return slice;
            }
        }
    }
}
