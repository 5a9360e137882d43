using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Imagebin.Features.Media;
using Imagebin.Storage;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using NetVips;

namespace Imagebin.Tests.Media;

public sealed class VariantTests
{
    private static async Task<(string Id, string Path)> UploadPassedAsync(HttpClient owner, byte[] image, string contentType = "image/jpeg", Action<HttpRequestMessage>? configure = null)
    {
        var item = await owner.UploadAsync(image, contentType, configure);
        var id = item.GetProperty("id").GetString()!;
        await owner.WaitForScanAsync(id);
        return (id, item.PathOf("direct_url"));
    }

    private static async Task<(HttpResponseMessage Response, Image Image)> GetVariantAsync(HttpClient client, string url, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        return (response, Image.NewFromBuffer(body, access: Enums.Access.Sequential));
    }

    private static string Loader(Image image) => (string)image.Get("vips-loader");

    private static List<string> VariantKeysIn(IEnumerable<string> keys) => keys.Where(k => k.StartsWith(VariantKeys.Prefix, StringComparison.Ordinal)).ToList();

    [Theory, Backends]
    public async Task Variant_HasTheAskedWidthAndFormat(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(1000, 500));

        foreach (var (width, format, type, loader) in new[]
                 {
                     (64, "webp", "image/webp", "webpload_buffer"),
                     (320, "avif", "image/avif", "heifload_buffer"),
                     (480, "jpeg", "image/jpeg", "jpegload_buffer"),
                     (960, "png", "image/png", "pngload_buffer"),
                 })
        {
            var (response, image) = await GetVariantAsync(anonymous, $"{path}?w={width}&format={format}");
            using (image)
            {
                Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
                Assert.Equal(loader, Loader(image));
                Assert.Equal(width, image.Width);
                Assert.Equal(width / 2, image.Height, tolerance: 1);
                Assert.Equal(Enums.BandFormat.Uchar, image.Format);
                Assert.Equal("public, max-age=31536000, immutable", response.Headers.CacheControl!.ToString());
                Assert.DoesNotContain("Accept", response.Headers.Vary);
            }
        }

        // Without a format, the variant keeps the original's.
        var (jpeg, same) = await GetVariantAsync(anonymous, $"{path}?w=128");
        using (same)
        {
            Assert.Equal("image/jpeg", jpeg.Content.Headers.ContentType!.MediaType);
            Assert.Equal(128, same.Width);
        }
    }

    [Theory, Backends]
    public async Task Variant_IsNeverUpscaled_ButStillReencoded(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Png(100, 80), "image/png");

        var (response, image) = await GetVariantAsync(app.Anonymous(), $"{path}?w=2560&format=webp");
        using (image)
        {
            Assert.Equal("image/webp", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal((100, 80), (image.Width, image.Height));
        }
    }

    [Fact]
    public async Task Widths_OutsideTheSet_AreRefused()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(100, 80));

        foreach (var query in new[] { "w=100", "w=0", "w=-64", "w=abc", "w=", "w=64&w=128", "w=+64", "w=64.0", "format=gif", "format=bmp", "w=64&format=webp&auto" })
        {
            await (await anonymous.GetAsync($"{path}?{query}")).AssertErrorAsync(400, "invalid_request");
        }

        Assert.Equal(0, app.Services.GetRequiredService<VariantEncoder>().Encodes);
    }

    [Theory, Backends]
    public async Task Auto_NegotiatesFromAccept_AndVariesOnIt(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(700, 350));

        foreach (var (accept, type, loader) in new[]
                 {
                     ("image/avif,image/webp,image/*,*/*;q=0.8", "image/avif", "heifload_buffer"),
                     ("image/webp,*/*", "image/webp", "webpload_buffer"),
                     ("image/avif;q=0,image/webp", "image/webp", "webpload_buffer"),
                     ("image/png,image/*;q=0.8", "image/jpeg", "jpegload_buffer"),
                 })
        {
            var (response, image) = await GetVariantAsync(anonymous, $"{path}?auto&w=640", accept);
            using (image)
            {
                Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
                Assert.Equal(loader, Loader(image));
                Assert.Equal(640, image.Width);
                Assert.Contains("Accept", response.Headers.Vary);
            }
        }

        // Without w, the original's width; when nothing better is accepted, the original itself.
        var (webp, full) = await GetVariantAsync(anonymous, $"{path}?auto", "image/webp");
        using (full)
        {
            Assert.Equal("image/webp", webp.Content.Headers.ContentType!.MediaType);
            Assert.Equal(700, full.Width);
        }

        using var original = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"{path}?auto") { Headers = { Accept = { new MediaTypeWithQualityHeaderValue("image/jpeg") } } });
        Assert.Equal(HttpStatusCode.OK, original.StatusCode);
        Assert.Equal(await anonymous.GetByteArrayAsync(path), await original.Content.ReadAsByteArrayAsync());
        Assert.Contains("Accept", original.Headers.Vary);
    }

    [Theory, Backends]
    public async Task Variant_HasItsOwnValidator_AndAnswers304AndHead(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(300, 200));
        var url = $"{path}?w=256&format=webp";

        using var first = await anonymous.GetAsync(url);
        var body = await first.Content.ReadAsByteArrayAsync();
        var etag = first.Headers.ETag!;
        Assert.NotEqual((await anonymous.GetAsync(path)).Headers.ETag, etag);
        Assert.NotEqual((await anonymous.GetAsync($"{path}?w=128&format=webp")).Headers.ETag, etag);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, url);
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await anonymous.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(etag, notModified.Headers.ETag);

        using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(body.Length, head.Content.Headers.ContentLength);
        Assert.Equal("image/webp", head.Content.Headers.ContentType!.MediaType);
        Assert.Equal(2, app.Services.GetRequiredService<VariantEncoder>().Encodes);
    }

    [Theory, Backends]
    public async Task RotatedJpeg_GivesAnUprightVariant(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        // 640×480 stored with orientation 6: shown 480 wide and 640 tall.
        using var picture = TestImages.Picture(640, 480);
        using var rotated = picture.Mutate(m => m.Set(GValue.GIntType, "orientation", 6));
        var (_, path) = await UploadPassedAsync(owner, rotated.JpegsaveBuffer(q: 90));

        foreach (var format in new[] { "jpeg", "webp" })
        {
            var (response, image) = await GetVariantAsync(app.Anonymous(), $"{path}?w=320&format={format}");
            using (image)
            {
                Assert.Equal((320, 427), (image.Width, image.Height));
                Assert.Equal(0, image.GetTypeOf("orientation"));
                Assert.Equal(0, image.GetTypeOf("exif-data"));
            }
        }
    }

    [Theory, Backends]
    public async Task CmykJpeg_And16BitPng_GiveEightBitSrgbVariants(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var picture = TestImages.Picture(400, 300);
        using var cmyk = picture.Colourspace(Enums.Interpretation.Cmyk);
        using var wide = picture.Cast(Enums.BandFormat.Ushort) * 256;
        using var sixteen = wide.Cast(Enums.BandFormat.Ushort).Copy(interpretation: Enums.Interpretation.Rgb16);
        var (_, cmykPath) = await UploadPassedAsync(owner, cmyk.JpegsaveBuffer(q: 90));
        var (_, widePath) = await UploadPassedAsync(owner, sixteen.PngsaveBuffer(), "image/png");

        foreach (var url in new[] { $"{cmykPath}?w=256", $"{cmykPath}?w=256&format=webp", $"{widePath}?w=256", $"{widePath}?w=256&format=jpeg" })
        {
            var (_, image) = await GetVariantAsync(app.Anonymous(), url);
            using (image)
            {
                Assert.Equal(256, image.Width);
                Assert.Equal(3, image.Bands);
                Assert.Equal(Enums.BandFormat.Uchar, image.Format);
                Assert.Equal(Enums.Interpretation.Srgb, image.Interpretation);
                // The colours survive: the top-left is dark, the bottom-right bright in red and green.
                using var pixels = image.Colourspace(Enums.Interpretation.Srgb);
                Assert.True(pixels.Getpoint(250, 180)[0] > pixels.Getpoint(4, 4)[0] + 100, url);
            }
        }
    }

    [Theory, Backends]
    public async Task AnimatedGif_StaysAnimatedInGifAndWebp_AndIsTheFirstFrameElsewhere(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        using var frames = Image.Arrayjoin(Enumerable.Range(0, 3).Select(i => TestImages.Picture(200, 100, seed: i)).ToArray(), across: 1);
        using var animation = frames.Mutate(m =>
        {
            m.Set(GValue.GIntType, "page-height", 100);
            m.Set(GValue.ArrayIntType, "delay", new[] { 100, 100, 100 });
        });
        var (_, path) = await UploadPassedAsync(owner, animation.GifsaveBuffer(), "image/gif");

        foreach (var (query, pages) in new[] { ("w=128", 3), ("w=128&format=webp", 3), ("w=128&format=png", 1), ("w=128&format=jpeg", 1) })
        {
            using var response = await app.Anonymous().GetAsync($"{path}?{query}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var image = Image.NewFromBuffer(await response.Content.ReadAsByteArrayAsync());
            var nPages = image.GetTypeOf("n-pages") != 0 ? (int)image.Get("n-pages") : 1;
            Assert.Equal(pages, nPages);
            Assert.Equal((128, 64), (image.Width, image.Height));
        }
    }

    [Theory, Backends]
    public async Task ConcurrentFirstRequests_EncodeOnce(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(1200, 900));

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => anonymous.GetAsync($"{path}?w=320&format=webp")));
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsByteArrayAsync()));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Single(bodies.Select(Convert.ToBase64String).Distinct());
        Assert.Equal(1, app.Services.GetRequiredService<VariantEncoder>().Encodes);
        Assert.Single(VariantKeysIn(await app.BlobKeysAsync()));
    }

    [Theory, Backends]
    public async Task DeletedCachedVariant_IsMadeAgain(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (id, path) = await UploadPassedAsync(owner, TestImages.Jpeg(600, 400));
        var first = await anonymous.GetByteArrayAsync($"{path}?w=480&format=png");
        var key = Assert.Single(VariantKeysIn(await app.BlobKeysAsync()));

        await app.Services.GetRequiredService<IBlobStore>().DeleteAsync(key, CancellationToken.None);
        Assert.Empty(VariantKeysIn(await app.BlobKeysAsync()));
        // A node keeps a variant it opened for as long as it keeps the item (Media:CacheSeconds); this is that time passing.
        app.Services.GetRequiredService<MediaCatalog>().Invalidate(id);
        var again = await anonymous.GetByteArrayAsync($"{path}?w=480&format=png");

        Assert.Equal(first, again);
        Assert.Equal(2, app.Services.GetRequiredService<VariantEncoder>().Encodes);
        Assert.Equal([key], VariantKeysIn(await app.BlobKeysAsync()));
    }

    [Fact]
    public async Task CachedVariant_IsServedFromTheFileTheNodeHoldsOpen()
    {
        await using var app = new ImagebinApp(settings: new() { ["Media:CacheSeconds"] = "600" });
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(600, 400));
        var first = await anonymous.GetAsync($"{path}?w=320&format=webp");
        var bytes = await first.Content.ReadAsByteArrayAsync();
        var key = Assert.Single(VariantKeysIn(await app.BlobKeysAsync()));

        // Without the store: the open file answers, with the same validator, and nothing is encoded again.
        await app.Services.GetRequiredService<IBlobStore>().DeleteAsync(key, CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            var again = await anonymous.GetAsync($"{path}?w=320&format=webp");
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(bytes, await again.Content.ReadAsByteArrayAsync());
            Assert.Equal(first.Headers.ETag, again.Headers.ETag);
            Assert.Equal(bytes.Length, again.Content.Headers.ContentLength);
        }

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"{path}?w=320&format=webp");
        conditional.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await anonymous.SendAsync(conditional)).StatusCode);
        Assert.Equal(1, app.Services.GetRequiredService<VariantEncoder>().Encodes);
    }

    [Theory, Backends]
    public async Task PrivateItemVariant_NeedsTheSecret_AndIsNotCacheable(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (id, path) = await UploadPassedAsync(owner, TestImages.Jpeg(300, 200), configure: r => r.Headers.Add("x-private", "true"));

        await (await anonymous.GetAsync($"/i/{id}.jpg?w=128")).AssertErrorAsync(404, "not_found");
        await (await anonymous.GetAsync($"/i/{id}.jpg?w=128&s=AAAAAAAAAAAAAAAA")).AssertErrorAsync(404, "not_found");
        var (response, image) = await GetVariantAsync(anonymous, $"{path}&w=128&format=webp");
        using (image)
        {
            Assert.Equal(128, image.Width);
            response.AssertNotCacheable();
            Assert.Equal("noindex", response.Headers.GetValues("X-Robots-Tag").Single());
        }

        // A wrong extension keeps the variant's parameters and the secret.
        using var redirect = await anonymous.GetAsync($"{path.Replace(".jpg", ".png", StringComparison.Ordinal)}&w=128");
        Assert.Equal(HttpStatusCode.MovedPermanently, redirect.StatusCode);
        Assert.EndsWith($"{path}&w=128", redirect.Headers.Location!.ToString());
    }

    [Theory, Backends]
    public async Task Variants_DoNotConsumeTheDownloadLimit(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (id, path) = await UploadPassedAsync(owner, TestImages.Jpeg(300, 200), configure: r => r.Headers.Add("x-dl-limit", "1"));

        for (var i = 0; i < 5; i++)
        {
            using var variant = await anonymous.GetAsync($"{path}?w=128");
            Assert.Equal(HttpStatusCode.OK, variant.StatusCode);
            variant.AssertNotCacheable();
        }

        using var full = await anonymous.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        await (await anonymous.GetAsync(path)).AssertErrorAsync(410, "download_limit_reached");
        // Once the limit is reached, the variants are gone with the original.
        await (await anonymous.GetAsync($"{path}?w=128")).AssertErrorAsync(410, "download_limit_reached");
        var item = await (await owner.GetAsync($"/api/v1/items/{id}")).JsonAsync();
        Assert.Equal(1, item.GetProperty("downloads").GetInt64());
    }

    [Theory, Backends]
    public async Task DeletedItem_HasNoVariants_AndItsCachedVariantsAreDeleted(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (id, path) = await UploadPassedAsync(owner, TestImages.Jpeg(300, 200));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"{path}?w=128")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"{path}?w=64&format=avif")).StatusCode);
        Assert.Equal(2, VariantKeysIn(await app.BlobKeysAsync()).Count);

        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/v1/items/{id}")).StatusCode);

        await (await anonymous.GetAsync($"{path}?w=128")).AssertErrorAsync(404, "not_found");
        Assert.Empty(VariantKeysIn(await app.BlobKeysAsync()));
    }

    [Theory, Backends]
    public async Task VariantOfAnItemWhoseBlobIsMissing_IsNotFound(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var (id, path) = await UploadPassedAsync(owner, TestImages.Jpeg(300, 200));
        var store = app.Services.GetRequiredService<IBlobStore>();
        foreach (var key in (await app.BlobKeysAsync()).Where(k => BlobKeys.Sha256Of(k) is not null))
        {
            await store.DeleteAsync(key, CancellationToken.None);
        }

        app.Services.GetRequiredService<MediaCatalog>().Invalidate(id);
        await (await app.Anonymous().GetAsync($"{path}?w=128&format=webp")).AssertErrorAsync(404, "not_found");
    }

    [Fact]
    public async Task Sweep_RemovesVariantsWhoseSourceIsGone_AndKeepsTheOthers()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var (_, path) = await UploadPassedAsync(owner, TestImages.Jpeg(300, 200));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"{path}?w=128")).StatusCode);
        var kept = Assert.Single(VariantKeysIn(await app.BlobKeysAsync()));
        var orphan = VariantKeys.For(new string('a', 64), 64, Imagebin.Features.Items.Ingest.ImageFormat.WebP);
        foreach (var key in new[] { kept, orphan })
        {
            var file = Path.Combine(app.BlobDir, key);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            if (!File.Exists(file))
            {
                await File.WriteAllBytesAsync(file, [1, 2, 3]);
            }

            File.SetLastWriteTimeUtc(file, DateTime.UtcNow - Maintenance.Grace - TimeSpan.FromMinutes(1));
        }

        await app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Maintenance>().Single().RunOnceAsync(CancellationToken.None);

        Assert.Equal([kept], VariantKeysIn(await app.BlobKeysAsync()));
    }
}
