using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Features.Media;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class MediaTests
{
    private static async Task<JsonElement> UploadPassedAsync(HttpClient owner, byte[]? image = null, Action<HttpRequestMessage>? configure = null)
    {
        var item = await owner.UploadAsync(image ?? TestImages.Jpeg(40, 40), configure: configure);
        await owner.WaitForScanAsync(item.GetProperty("id").GetString()!);
        return item;
    }

    [Theory, Backends]
    public async Task DirectGet_OfPublicImage_HasCachingAndSafetyHeaders(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner);

        using var response = await anonymous.GetAsync(item.PathOf("direct_url"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(body));
        Assert.Equal($"\"{sha}\"", response.Headers.ETag!.ToString());
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.NotNull(response.Content.Headers.LastModified);
        Assert.Equal("bytes", response.Headers.AcceptRanges.Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("public, max-age=31536000, immutable", response.Headers.CacheControl!.ToString());
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Theory, Backends]
    public async Task Head_ConditionalGet_AndRanges_FollowHttpSemantics(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner);
        var path = item.PathOf("direct_url");
        var full = await anonymous.GetByteArrayAsync(path);
        var etag = (await anonymous.GetAsync(path)).Headers.ETag!;

        using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(full.Length, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, path);
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await anonymous.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(etag, notModified.Headers.ETag);

        using var ranged = new HttpRequestMessage(HttpMethod.Get, path);
        ranged.Headers.Range = new RangeHeaderValue(10, 19);
        using var partial = await anonymous.SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal($"bytes 10-19/{full.Length}", partial.Content.Headers.ContentRange!.ToString());
        Assert.Equal(full[10..20], await partial.Content.ReadAsByteArrayAsync());

        using var suffix = new HttpRequestMessage(HttpMethod.Get, path);
        suffix.Headers.Range = new RangeHeaderValue(null, 5);
        Assert.Equal(full[^5..], await (await anonymous.SendAsync(suffix)).Content.ReadAsByteArrayAsync());

        using var beyond = new HttpRequestMessage(HttpMethod.Get, path);
        beyond.Headers.Range = new RangeHeaderValue(full.Length + 10, null);
        using var unsatisfiable = await anonymous.SendAsync(beyond);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        Assert.Equal($"bytes */{full.Length}", unsatisfiable.Content.Headers.ContentRange!.ToString());

        using var stale = new HttpRequestMessage(HttpMethod.Get, path);
        stale.Headers.Range = new RangeHeaderValue(0, 9);
        stale.Headers.IfRange = new RangeConditionHeaderValue(new EntityTagHeaderValue("\"stale\""));
        using var whole = await anonymous.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(full, await whole.Content.ReadAsByteArrayAsync());
    }

    [Theory, Backends]
    public async Task Downloads_CountEveryFullGetButNotHeadRangeOr304(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner);
        var path = item.PathOf("direct_url");
        var id = item.GetProperty("id").GetString()!;

        for (var i = 0; i < 3; i++)
        {
            await anonymous.GetByteArrayAsync(path);
        }

        await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        var ranged = new HttpRequestMessage(HttpMethod.Get, path);
        ranged.Headers.Range = new RangeHeaderValue(0, 1);
        await anonymous.SendAsync(ranged);

        Assert.Equal(3, (await anonymous.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("downloads").GetInt64());
    }

    [Theory, Backends]
    public async Task WrongExtension_RedirectsPermanentlyToTheRightOne(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner);
        var id = item.GetProperty("id").GetString()!;

        using var response = await anonymous.GetAsync($"/i/{id}.png");

        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.Equal(item.GetProperty("direct_url").GetString(), response.Headers.Location!.ToString());
    }

    [Theory, Backends]
    public async Task PrivateImage_IsServedOnlyWithItsSecret_AndNeverCachedPublicly(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner, configure: r => r.Headers.Add("x-private", "true"));
        var id = item.GetProperty("id").GetString()!;

        await (await anonymous.GetAsync($"/i/{id}.jpg")).AssertErrorAsync(404, "not_found");
        await (await anonymous.GetAsync($"/i/{id}.jpg?s=AAAAAAAAAAAAAAAA")).AssertErrorAsync(404, "not_found");
        await (await anonymous.GetAsync($"/i/{id}.png")).AssertErrorAsync(404, "not_found");
        using var response = await anonymous.GetAsync(item.PathOf("direct_url"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        response.AssertNotCacheable();
        Assert.Equal("noindex", response.Headers.GetValues("X-Robots-Tag").Single());
    }

    [Theory, Backends]
    public async Task MissingImage_IsNotFound(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var anonymous = app.Anonymous();
        await (await anonymous.GetAsync("/i/AAAAAAAAAA.jpg")).AssertErrorAsync(404, "not_found");
        await (await anonymous.GetAsync("/i/..%2f..%2fetc%2fpasswd")).AssertErrorAsync(404, "not_found");
        await (await anonymous.GetAsync("/v/AAAAAAAAAA")).AssertErrorAsync(404, "not_found");
    }

    [Theory, Backends]
    public async Task ColdItem_ConcurrentRequests_ShareOneLookup(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner);
        var id = item.GetProperty("id").GetString()!;
        var catalog = app.Services.GetRequiredService<MediaCatalog>();
        catalog.Invalidate(id);
        var before = catalog.Reads;

        var statuses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var response = await anonymous.GetAsync(item.PathOf("direct_url"));
            return response.StatusCode;
        }));

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(1, catalog.Reads - before);
    }

    [Theory, Backends]
    public async Task DownloadLimit_IsExactUnderParallelRequests(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner, configure: r => r.Headers.Add("x-dl-limit", "5"));
        var path = item.PathOf("direct_url");
        var id = item.GetProperty("id").GetString()!;

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => anonymous.GetAsync(path)));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            await refused.AssertErrorAsync(410, "download_limit_reached");
        }

        Assert.Equal(5, (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("downloads").GetInt64());
        responses.First(r => r.IsSuccessStatusCode).AssertNotCacheable();
        await (await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, path))).AssertErrorAsync(410, "download_limit_reached");
    }

    [Theory, Backends]
    public async Task ExpiredImage_IsGone(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner, configure: r => r.Headers.Add("x-expires-in", "60"));
        var id = item.GetProperty("id").GetString()!;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Imagebin.Data.ImagebinDb>();
            await db.Items.Where(i => i.Id == id).ExecuteUpdateAsync(s => s.SetProperty(i => i.ExpiresAt, 1L));
            scope.ServiceProvider.GetRequiredService<Imagebin.Features.Media.MediaCatalog>().Invalidate(id);
        }

        await (await anonymous.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(410, "gone");
        await (await anonymous.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(410, "gone");
    }

    [Theory, Backends]
    public async Task UndecodablePixels_AreRejected_NeverServed_AndTheOwnerSeesWhy(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await owner.UploadAsync(PngWithCorruptPixels());
        var id = item.GetProperty("id").GetString()!;

        var scanned = await owner.WaitForScanAsync(id);

        Assert.Equal("rejected", scanned.GetProperty("scan_state").GetString());
        Assert.False(string.IsNullOrEmpty(scanned.GetProperty("scan_reason").GetString()));
        Assert.Equal(JsonValueKind.Null, scanned.GetProperty("placeholder").ValueKind);
        await (await anonymous.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(410, "gone");
        await (await owner.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(410, "gone");
    }

    [Theory, Backends]
    public async Task ViewPage_HasOpenGraphTagsAndShareSnippets_AndPrivateOnesAreNoindex(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner, configure: r => r.Headers.Add("x-title", "<b>Bold</b> cat"));
        using var publicPage = await anonymous.GetAsync(item.PathOf("view_url"));
        var html = await publicPage.Content.ReadAsStringAsync();
        var directUrl = item.GetProperty("direct_url").GetString()!;

        Assert.Contains($"<meta property=\"og:image\" content=\"{directUrl}?w=1280\">", html);
        using var preview = await anonymous.GetAsync($"{item.PathOf("direct_url")}?w=1280");
        Assert.Equal(HttpStatusCode.OK, preview.StatusCode);
        Assert.Equal("image/jpeg", preview.Content.Headers.ContentType!.MediaType);
        Assert.Contains($"<meta property=\"og:url\" content=\"{item.GetProperty("view_url").GetString()}\">", html);
        Assert.Contains("<meta property=\"og:title\" content=\"&lt;b&gt;Bold&lt;/b&gt; cat\">", html);
        Assert.Contains("<meta name=\"twitter:card\" content=\"summary_large_image\">", html);
        // The page shows a variant (no download counted); the original is a link.
        Assert.Contains($"<img src=\"{directUrl}?w=", html);
        Assert.Contains($"<a href=\"{directUrl}\">Original image</a>", html);
        Assert.Contains("&lt;b&gt;Bold&lt;/b&gt; cat", html);
        Assert.DoesNotContain("<b>Bold</b>", html);
        Assert.Contains("[img]", html);
        Assert.Contains($"href=\"/abuse/report?item={item.GetProperty("id").GetString()}\"", html);
        Assert.DoesNotContain("noindex", html);
        Assert.True(publicPage.Headers.CacheControl is { Public: true, MaxAge.TotalSeconds: 60 }, publicPage.Headers.CacheControl?.ToString());
        AssertOnTheSiteLayout(publicPage, html);

        var hidden = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 5), r => r.Headers.Add("x-private", "true"));
        using var privatePage = await anonymous.GetAsync(hidden.PathOf("view_url"));
        var privateHtml = await privatePage.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, privatePage.StatusCode);
        Assert.Contains("<meta name=\"robots\" content=\"noindex\">", privateHtml);
        Assert.DoesNotContain("og:", privateHtml);
        Assert.DoesNotContain("twitter:", privateHtml);
        Assert.Contains(hidden.GetProperty("direct_url").GetString()!, privateHtml);
        privatePage.AssertNotCacheable();
        AssertOnTheSiteLayout(privatePage, privateHtml);
    }

    /// <summary>
    /// The shared layout's stylesheet and a policy that runs no inline style or script, and no inline style or script in
    /// the markup: scripts, where a page has them, are this site's own files.
    /// </summary>
    private static void AssertOnTheSiteLayout(HttpResponseMessage response, string html)
    {
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.StartsWith("default-src 'none';", policy);
        Assert.DoesNotContain("unsafe-inline", policy);
        Assert.DoesNotContain("unsafe-eval", policy);
        Assert.Matches("(^|; )style-src 'self';", policy);
        Assert.DoesNotMatch("script-src (?!'self';)", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
        Assert.Contains($"<link rel=\"stylesheet\" href=\"{Imagebin.Features.Web.SiteAssets.StylesheetPath}\">", html);
        Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.All(System.Text.RegularExpressions.Regex.Matches(html, "<script[^>]*>", System.Text.RegularExpressions.RegexOptions.IgnoreCase),
            script => Assert.Matches("^<script src=\"/static/[a-z]+\\.[0-9a-f]{16}\\.js\" defer>$", script.Value));
    }

    [Theory, Backends]
    public async Task ShortLink_ServesThePageToBrowsersAndRedirectsImageClients(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner);
        var path = item.PathOf("url");

        using var page = new HttpRequestMessage(HttpMethod.Get, path);
        page.Headers.Accept.ParseAdd("text/html,application/xhtml+xml,image/avif,image/webp,*/*;q=0.8");
        using var html = await anonymous.SendAsync(page);
        Assert.Equal(HttpStatusCode.OK, html.StatusCode);
        Assert.Equal("text/html", html.Content.Headers.ContentType!.MediaType);

        using var image = new HttpRequestMessage(HttpMethod.Get, path);
        image.Headers.Accept.ParseAdd("image/*");
        using var redirect = await anonymous.SendAsync(image);
        Assert.Equal(HttpStatusCode.Found, redirect.StatusCode);
        Assert.Equal(item.GetProperty("direct_url").GetString(), redirect.Headers.Location!.ToString());
    }

    public sealed class BeforeTheScan
    {
        [Theory, Backends]
        public async Task PendingImage_IsScanPendingForOthersButServedToItsOwner(Backend backend)
        {
            // No worker role: nothing is scanned, so every item stays pending.
            await using var app = new ImagebinApp(backend, settings: new() { ["Imagebin:Roles"] = "api,authority" });
            var owner = await app.OwnerAsync();
            var item = await owner.UploadAsync(TestImages.Jpeg());
            Assert.Equal("pending", item.GetProperty("scan_state").GetString());

            using var response = await app.Anonymous().GetAsync(item.PathOf("direct_url"));
            await response.AssertErrorAsync(503, "scan_pending");
            Assert.NotNull(response.Headers.RetryAfter);
            await (await (await app.OwnerAsync("mallory")).GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(503, "scan_pending");

            using var own = await owner.GetAsync(item.PathOf("direct_url"));
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
            own.AssertNotCacheable();
        }
    }

    /// <summary>A PNG whose header is fine but whose compressed pixel data is garbage (with valid chunk CRCs).</summary>
    private static byte[] PngWithCorruptPixels()
    {
        var png = TestImages.Png(64, 64, seed: 4);
        var offset = 8;
        while (offset < png.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            var type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            if (type == "IDAT")
            {
                var data = png.AsSpan(offset + 8, length);
                for (var i = 2; i < data.Length; i++)
                {
                    data[i] = (byte)(data[i] ^ 0x5A);
                }

                BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(offset + 8 + length), TestImages.Crc32(png.AsSpan(offset + 4, length + 4)));
                return png;
            }

            offset += 12 + length;
        }

        throw new InvalidOperationException("no IDAT");
    }
}
