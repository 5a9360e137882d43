using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Tests.Support;

namespace Imagebin.Tests;

public sealed class UploadTests
{
    private static readonly string[] ContractFields =
        ["id", "kind", "content_type", "size_bytes", "width", "height", "created_at", "downloads", "private", "ai_caption", "ai_tags", "url", "view_url", "direct_url"];

    private static readonly string[] OwnerOnlyFields = ["classification", "scan_state", "ai_caption_state", "ai_optout", "dl_limit"];

    [Theory, Backends]
    public async Task RawUpload_WithEveryMetadataHeader_CreatesItemWithThoseFields(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(80, 60);
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(image) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        request.Headers.Add("x-title", "Sunset %C3%BCber Berlin");
        request.Headers.Add("x-description", "A test image");
        request.Headers.Add("x-tags", "sky, sunset ,berlin");
        request.Headers.Add("x-category", "travel");
        request.Headers.Add("x-private", "1");
        request.Headers.Add("x-dl-limit", "5");
        request.Headers.Add("x-ai-optout", "true");
        request.Headers.Add("x-expires-in", "3600");

        using var response = await owner.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var item = await response.JsonAsync();
        var id = item.GetProperty("id").GetString()!;
        Assert.Equal($"{ImagebinApp.BaseUrl}/api/v1/items/{id}", response.Headers.Location!.ToString());
        Assert.Matches("^[0-9A-Za-z]{10}$", id);
        Assert.Equal("image", item.GetProperty("kind").GetString());
        Assert.Equal("image/jpeg", item.GetProperty("content_type").GetString());
        Assert.Equal(80, item.GetProperty("width").GetInt32());
        Assert.Equal(60, item.GetProperty("height").GetInt32());
        Assert.InRange(item.GetProperty("created_at").GetInt64(), before - 1000, before + 60_000);
        Assert.Equal("Sunset über Berlin", item.GetProperty("title").GetString());
        Assert.Equal("A test image", item.GetProperty("description").GetString());
        Assert.Equal(["sky", "sunset", "berlin"], item.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("travel", item.GetProperty("category").GetString());
        Assert.True(item.GetProperty("private").GetBoolean());
        Assert.Equal(5, item.GetProperty("dl_limit").GetInt64());
        Assert.True(item.GetProperty("ai_optout").GetBoolean());
        Assert.Equal("opted_out", item.GetProperty("ai_caption_state").GetString());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("ai_caption").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, item.GetProperty("expires_at").ValueKind);
        var secret = new Uri(item.GetProperty("url").GetString()!).Query;
        Assert.StartsWith("?s=", secret);
        Assert.Equal($"{ImagebinApp.BaseUrl}/{id}{secret}", item.GetProperty("url").GetString());
        Assert.Equal($"{ImagebinApp.BaseUrl}/v/{id}{secret}", item.GetProperty("view_url").GetString());
        Assert.Equal($"{ImagebinApp.BaseUrl}/i/{id}.jpg{secret}", item.GetProperty("direct_url").GetString());
    }

    [Theory, Backends]
    public async Task MultipartUpload_WithEveryField_CreatesItem(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(TestImages.Png(40, 30)), "file", "picture.png" },
            { new StringContent("Form title"), "title" },
            { new StringContent("Form description"), "description" },
            { new StringContent("a,b"), "tags" },
            { new StringContent("misc"), "category" },
            { new StringContent("false"), "private" },
            { new StringContent("3"), "dl_limit" },
            { new StringContent("0"), "ai_optout" },
            { new StringContent("600"), "expires_in" },
        };

        using var response = await owner.PostAsync("/api/v1/items", form);

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var item = await response.JsonAsync();
        Assert.Equal("image/png", item.GetProperty("content_type").GetString());
        Assert.Equal("Form title", item.GetProperty("title").GetString());
        Assert.Equal(["a", "b"], item.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.False(item.GetProperty("private").GetBoolean());
        Assert.Equal(3, item.GetProperty("dl_limit").GetInt64());
        Assert.False(item.GetProperty("ai_optout").GetBoolean());
        Assert.Equal("pending", item.GetProperty("ai_caption_state").GetString());
        Assert.EndsWith(".png", item.GetProperty("direct_url").GetString());
    }

    [Theory, Backends]
    public async Task Get_ShowsOwnerOnlyFieldsToTheOwnerAndNotToOthers(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var created = await owner.UploadAsync(TestImages.Jpeg());
        var id = created.GetProperty("id").GetString()!;
        await owner.WaitForScanAsync(id);

        var mine = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        var anonymous = await app.Anonymous().GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        var stranger = await (await app.OwnerAsync("mallory")).GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");

        foreach (var field in ContractFields.Concat(OwnerOnlyFields))
        {
            Assert.True(mine.TryGetProperty(field, out _), $"owner view lacks {field}");
        }

        Assert.Equal("passed", mine.GetProperty("scan_state").GetString());
        Assert.Equal(JsonValueKind.Null, mine.GetProperty("dl_limit").ValueKind);
        foreach (var other in new[] { anonymous, stranger })
        {
            foreach (var field in ContractFields)
            {
                Assert.True(other.TryGetProperty(field, out _), $"public view lacks {field}");
            }

            foreach (var field in OwnerOnlyFields)
            {
                Assert.False(other.TryGetProperty(field, out _), $"public view shows owner-only {field}");
            }

            Assert.False(other.TryGetProperty("scan_reason", out _));
        }

        Assert.Equal(JsonValueKind.Number, anonymous.GetProperty("created_at").ValueKind);
        Assert.Equal(JsonValueKind.Array, anonymous.GetProperty("ai_tags").ValueKind);
    }

    [Theory, Backends]
    public async Task DirectUrl_ReturnsTheStoredBytesByteForByte(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(50, 50, seed: 7);
        var item = await owner.UploadAsync(image);
        var id = item.GetProperty("id").GetString()!;
        await owner.WaitForScanAsync(id);

        var served = await app.Anonymous().GetByteArrayAsync(item.PathOf("direct_url"));

        Assert.Equal(item.GetProperty("size_bytes").GetInt64(), served.Length);
        var stored = await app.ReadBlobAsync(Assert.Single(await app.BlobKeysAsync()));
        Assert.Equal(stored, served);
        Assert.Equal(TestImages.Pixels(image), TestImages.Pixels(served));
    }

    [Theory, Backends]
    public async Task Upload_WithGpsExif_StoresImageWithoutMetadataButSamePixelsAndOrientation(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var original = TestImages.JpegWithGps(64, 48, seed: 3);
        Assert.Contains(TestImages.Fields(original), f => f.StartsWith("exif-ifd3-", StringComparison.Ordinal));

        var item = await owner.UploadAsync(original);
        var id = item.GetProperty("id").GetString()!;
        var served = await owner.GetByteArrayAsync(item.PathOf("direct_url"));

        var fields = TestImages.Fields(served);
        // libexif fills in mandatory tags (ExifVersion, resolution) when it parses the minimal orientation block; GPS it cannot invent.
        Assert.DoesNotContain(fields, f => f.StartsWith("exif-ifd3-", StringComparison.Ordinal));
        Assert.DoesNotContain("xmp-data", fields);
        Assert.DoesNotContain("jpeg-comment", fields);
        var text = Encoding.Latin1.GetString(served);
        Assert.DoesNotContain(TestImages.CameraMake, text);
        Assert.DoesNotContain("GPSLatitude", text);
        Assert.DoesNotContain("SecretComment", text);
        Assert.Equal(6, TestImages.Orientation(served));
        Assert.Equal(TestImages.Pixels(original), TestImages.Pixels(served));
        Assert.True(served.Length < original.Length);
        Assert.Equal(served.Length, item.GetProperty("size_bytes").GetInt64());
        Assert.Equal("passed", (await owner.WaitForScanAsync(id)).GetProperty("scan_state").GetString());
    }

    [Theory]
    [BackendsInlineData("gif")]
    [BackendsInlineData("webp")]
    [BackendsInlineData("png")]
    [BackendsInlineData("avif")]
    public async Task Upload_OfEachAllowedFormat_IsIdentifiedFromTheBytes(Backend backend, string format)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var image = format switch { "gif" => TestImages.Gif(), "webp" => TestImages.WebP(), "avif" => TestImages.Avif(), _ => TestImages.Png() };

        // Declared as octet-stream: the type comes from the bytes.
        var item = await owner.UploadAsync(image, "application/octet-stream");

        Assert.Equal($"image/{format}", item.GetProperty("content_type").GetString());
        Assert.EndsWith($".{format}", item.GetProperty("direct_url").GetString());
        Assert.Equal("passed", (await owner.WaitForScanAsync(item.GetProperty("id").GetString()!)).GetProperty("scan_state").GetString());
    }

    public static IEnumerable<ITheoryDataRow> BadUploads() => BackendRows.Times(BadUploadCases());

    private static TheoryData<string, byte[], string, int, string> BadUploadCases()
    {
        var jpeg = TestImages.Jpeg(64, 64);
        return new TheoryData<string, byte[], string, int, string>
        {
            { "empty body", [], "image/jpeg", 400, "invalid_request" },
            { "random bytes", Random(4096), "application/octet-stream", 415, "unsupported_media_type" },
            { "svg", Encoding.UTF8.GetBytes("<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"), "image/svg+xml", 415, "unsupported_media_type" },
            { "html named png", Encoding.UTF8.GetBytes("<!doctype html><html><body>hi</body></html>"), "image/png", 415, "unsupported_media_type" },
            { "json body", Encoding.UTF8.GetBytes("{\"image\":\"x\"}"), "application/json", 415, "unsupported_media_type" },
            { "truncated jpeg", jpeg[..(jpeg.Length / 2)], "image/jpeg", 422, "invalid_image" },
            { "jpeg header only", jpeg[..20], "image/jpeg", 422, "invalid_image" },
            { "huge png", PngDeclaring(100_000, 100_000), "image/png", 422, "image_too_large" },
            { "heic brand only", [0, 0, 0, 24, .. "ftypheic"u8, 0, 0, 0, 0, .. "mif1heic"u8, .. new byte[64]], "image/heic", 415, "unsupported_media_type" },
            { "jpeg magic then garbage", [0xFF, 0xD8, 0xFF, 0xE0, .. Random(2000)], "image/jpeg", 422, "invalid_image" },
        };
    }

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task BadUpload_GetsItsErrorCodeAndLeavesNothingBehind(Backend backend, string name, byte[] body, string contentType, int status, string code)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);

        using var response = await owner.PostAsync("/api/v1/items", content);

        await response.AssertErrorAsync(status, code);
        await AssertNothingStoredAsync(app, owner, name);
    }

    [Theory]
    [BackendsInlineData("x-private", "maybe")]
    [BackendsInlineData("x-dl-limit", "-1")]
    [BackendsInlineData("x-dl-limit", "lots")]
    [BackendsInlineData("x-expires-in", "5")]
    [BackendsInlineData("x-ai-optout", "perhaps")]
    public async Task BadHeaderValue_IsInvalidRequest(Backend backend, string header, string value)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await owner.SendAsync(request);

        await response.AssertErrorAsync(400, "invalid_request");
        await AssertNothingStoredAsync(app, owner, header);
    }

    [Theory, Backends]
    public async Task TitleOfTenKilobytes_IsInvalidRequest(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        request.Headers.Add("x-title", new string('t', 10 * 1024));

        using var response = await owner.SendAsync(request);

        await response.AssertErrorAsync(400, "invalid_request");
        await AssertNothingStoredAsync(app, owner, "long title");
    }

    [Theory, Backends]
    public async Task Multipart_WithUnknownPart_IsInvalidRequest(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(TestImages.Jpeg()), "file", "a.jpg" },
            { new StringContent("x"), "owner_id" },
        };

        using var response = await owner.PostAsync("/api/v1/items", form);

        await response.AssertErrorAsync(400, "invalid_request");
        await AssertNothingStoredAsync(app, owner, "unknown part");
    }

    [Theory, Backends]
    public async Task Multipart_WithEmptyFile_IsInvalidRequest(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var form = new MultipartFormDataContent { { new ByteArrayContent([]), "file", "empty.jpg" } };

        using var response = await owner.PostAsync("/api/v1/items", form);

        await response.AssertErrorAsync(400, "invalid_request");
        await AssertNothingStoredAsync(app, owner, "zero-byte file");
    }

    [Theory, Backends]
    public async Task Multipart_WithoutFile_IsInvalidRequest(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var form = new MultipartFormDataContent { { new StringContent("t"), "title" } };

        using var response = await owner.PostAsync("/api/v1/items", form);

        await response.AssertErrorAsync(400, "invalid_request");
    }

    [Theory, Backends]
    public async Task ServerKeepsServing_AfterBadInput(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var bad = new ByteArrayContent(Random(100));
        bad.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        (await owner.PostAsync("/api/v1/items", bad)).Dispose();

        var item = await owner.UploadAsync(TestImages.Jpeg());

        Assert.Equal(10, item.GetProperty("id").GetString()!.Length);
    }

    private static async Task AssertNothingStoredAsync(ImagebinApp app, HttpClient owner, string what)
    {
        var list = await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items");
        Assert.True(list.GetProperty("items").GetArrayLength() == 0, $"{what}: an item was created");
        var blobs = await app.BlobKeysAsync();
        Assert.True(blobs.Count == 0, $"{what}: a blob was left: {string.Join(", ", blobs)}");
        Assert.True(app.TempFiles().Length == 0, $"{what}: a temp file was left: {string.Join(", ", app.TempFiles())}");
    }

    private static byte[] Random(int length)
    {
        var bytes = new byte[length];
        new Random(42).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A PNG whose header declares the given size; the pixel data never exists.</summary>
    private static byte[] PngDeclaring(int width, int height)
    {
        var png = TestImages.Png(8, 8);
        // IHDR data starts at byte 16: width, height (big-endian); then fix the chunk CRC.
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        var crc = TestImages.Crc32(png.AsSpan(12, 17));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), crc);
        return png;
    }

    public sealed class OverTheSizeLimit
    {
        private static readonly Dictionary<string, string?> Limit = new() { ["Limits:MaxUploadBytes"] = "100000" };

        [Theory, Backends]
        public async Task DeclaredLength_OverTheLimit_Is413BeforeTheBodyIsRead(Backend backend)
        {
            await using var app = new ImagebinApp(backend, settings: Limit);
            var owner = await app.OwnerAsync();
            var body = new TrackingStream(new byte[1_000_000]);
            using var content = new StreamContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            content.Headers.ContentLength = 1_000_000;

            using var response = await owner.PostAsync("/api/v1/items", content);

            await response.AssertErrorAsync(413, "request_too_large");
            // The in-memory server buffers 128 KiB ahead of the app; reading up to the limit would pull ~230 KB.
            Assert.True(body.BytesRead <= 128 * 1024, $"read {body.BytesRead} bytes of a body refused by its length");
            Assert.Empty(app.TempFiles());
            Assert.Empty(await app.BlobKeysAsync());
        }

        [Theory, Backends]
        public async Task ChunkedBody_OverTheLimit_Is413AndLeavesNothingBehind(Backend backend)
        {
            await using var app = new ImagebinApp(backend, settings: Limit);
            var owner = await app.OwnerAsync();
            var image = TestImages.Jpeg(64, 64);
            var body = new TrackingStream([.. image, .. new byte[400_000]]);
            using var content = new StreamContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");

            using var response = await owner.PostAsync("/api/v1/items", content);

            await response.AssertErrorAsync(413, "request_too_large");
            Assert.Empty(app.TempFiles());
            Assert.Empty(await app.BlobKeysAsync());
            Assert.Equal(0, (await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items")).GetProperty("items").GetArrayLength());
        }

        [Theory, Backends]
        public async Task MultipartFile_OverTheLimit_Is413(Backend backend)
        {
            await using var app = new ImagebinApp(backend, settings: Limit);
            var owner = await app.OwnerAsync();
            using var form = new MultipartFormDataContent { { new ByteArrayContent(new byte[150_000]), "file", "big.jpg" } };

            using var response = await owner.PostAsync("/api/v1/items", form);

            await response.AssertErrorAsync(413, "request_too_large");
            Assert.Empty(app.TempFiles());
        }
    }

    /// <summary>A body that counts how much of it the server read.</summary>
    private sealed class TrackingStream(byte[] data) : MemoryStream(data)
    {
        public long BytesRead { get; private set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = base.Read(buffer, offset, count);
            BytesRead += read;
            return read;
        }

        public override int Read(Span<byte> buffer)
        {
            var read = base.Read(buffer);
            BytesRead += read;
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await base.ReadAsync(buffer, cancellationToken);
            BytesRead += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // Hide the length so HttpClient sends it chunked unless the test sets Content-Length itself.
        public override bool CanSeek => false;
    }
}
