using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Storage;
using Imagebin.Tests.Moderation;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NetVips;

namespace Imagebin.Tests.Media;

/// <summary>
/// Where the site's own pages use variants (the dashboard, the view page, the admin pages and their file endpoint), the
/// limit on concurrent encodes, and the placeholder backfill of the maintenance sweep.
/// </summary>
public sealed partial class VariantPagesTests
{
    private static async Task<JsonElement> UploadPassedAsync(
        HttpClient owner, byte[] image, Action<HttpRequestMessage>? configure = null, string contentType = "image/jpeg")
    {
        var item = await owner.UploadAsync(image, contentType, configure);
        var scanned = await owner.WaitForScanAsync(item.GetProperty("id").GetString()!);
        Assert.Equal("passed", scanned.GetProperty("scan_state").GetString());
        return scanned;
    }

    /// <summary>The row of one item in the dashboard's HTML.</summary>
    private static string Row(string html, string id) =>
        Regex.Match(html, $"<li class=\"dash-item\" id=\"item-{id}\".*?</li></ul><dl", RegexOptions.Singleline).Value;

    private static string? Attribute(string html, string element, string name) =>
        Regex.Match(html, $"<{element} [^>]*?\\b{name}=\"([^\"]*)\"") is { Success: true } match ? WebUtility.HtmlDecode(match.Groups[1].Value) : null;

    private static string PathOf(string url) => new Uri(url).PathAndQuery;

    private static async Task<Image> GetImageAsync(HttpClient client, string url, string contentType = "image/jpeg")
    {
        using var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType!.MediaType);
        return Image.NewFromBuffer(await response.Content.ReadAsByteArrayAsync());
    }

    private static async Task<long> DownloadsAsync(HttpClient owner, string id) =>
        (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("downloads").GetInt64();

    private static async Task<string> HoldNextUploadAsync(HttpClient admin, byte[] image)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(image));
        using var import = await admin.PostAsync("/api/v1/admin/hashes", new StringContent($"kind,hash,action,reason\nsha256,{sha},hold,check\n", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.OK, import.StatusCode);
        return sha;
    }

    [Fact]
    public async Task Dashboard_Thumbnails_AreVariants_CarryingThePrivateItemsSecret_AndCountNoDownload()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var open = await UploadPassedAsync(alice, TestImages.Jpeg(1000, 500, seed: 1));
        var hidden = await UploadPassedAsync(alice, TestImages.Jpeg(1000, 500, seed: 2), r => r.Headers.Add("x-private", "true"));
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");

        var html = await browser.ReadPageAsync("/dashboard");

        foreach (var item in new[] { open, hidden })
        {
            var row = Row(html, item.GetProperty("id").GetString()!);
            var direct = item.GetProperty("direct_url").GetString()!;
            var separator = direct.Contains('?') ? '&' : '?';
            Assert.Equal($"{direct}{separator}w=320", Attribute(row, "img", "src"));
            Assert.Equal($"{direct}{separator}w=320 320w, {direct}{separator}w=640 640w", Attribute(row, "img", "srcset"));
            Assert.Equal("10rem", Attribute(row, "img", "sizes"));
            using var thumbnail = await GetImageAsync(app.Anonymous(), PathOf(Attribute(row, "img", "src")!));
            Assert.Equal((320, 160), (thumbnail.Width, thumbnail.Height));
        }

        Assert.Contains("?s=", Attribute(Row(html, hidden.GetProperty("id").GetString()!), "img", "src"));
        Assert.Equal(0, await DownloadsAsync(alice, open.GetProperty("id").GetString()!));
        Assert.Equal(0, await DownloadsAsync(alice, hidden.GetProperty("id").GetString()!));
    }

    /// <summary>
    /// The direct path reads no cookies, so to the dashboard's browser a held image or one past its download limit would be
    /// a broken picture: the row says why there is none instead.
    /// </summary>
    [Fact]
    public async Task Dashboard_ItemsTheDirectPathWillNotServe_ShowWhyInsteadOfABrokenPicture()
    {
        await using var app = new ImagebinApp();
        var (admin, _) = await AdminAccountsApiTests.AdminAsync(app);
        var alice = await app.OwnerAsync("alice");
        var heldImage = TestImages.Jpeg(200, 100, seed: 41);
        await HoldNextUploadAsync(admin, heldImage);
        var held = await alice.WaitForScanAsync((await alice.UploadAsync(heldImage)).GetProperty("id").GetString()!);
        Assert.Equal("held", held.GetProperty("scan_state").GetString());
        var limited = await UploadPassedAsync(alice, TestImages.Jpeg(200, 100, seed: 42));
        var limitedId = limited.GetProperty("id").GetString()!;
        using (var patch = await alice.PatchAsJsonAsync($"/api/v1/items/{limitedId}", new { dl_limit = 1 }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await app.Anonymous().GetAsync(limited.PathOf("direct_url"))).StatusCode);
        var shown = await UploadPassedAsync(alice, TestImages.Jpeg(200, 100, seed: 43));
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");

        var html = await browser.ReadPageAsync("/dashboard");

        var heldRow = Row(html, held.GetProperty("id").GetString()!);
        Assert.DoesNotContain("<img", heldRow);
        Assert.Contains("<span class=\"dash-thumb-note\">Held for review</span>", heldRow);
        var limitedRow = Row(html, limitedId);
        Assert.DoesNotContain("<img", limitedRow);
        Assert.Contains("<span class=\"dash-thumb-note\">Download limit reached</span>", limitedRow);
        Assert.Contains("<img", Row(html, shown.GetProperty("id").GetString()!));
    }

    [Fact]
    public async Task ViewPage_ShowsVariants_TheOriginalIsALink_AndViewingCountsNoDownload()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var large = await UploadPassedAsync(alice, TestImages.Jpeg(1500, 1000, seed: 3), r => r.Headers.Add("x-private", "true"));
        var small = await UploadPassedAsync(alice, TestImages.Jpeg(800, 400, seed: 4));
        var smallId = small.GetProperty("id").GetString()!;
        using (var patch = await alice.PatchAsJsonAsync($"/api/v1/items/{smallId}", new { dl_limit = 1 }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var anonymous = app.Anonymous();
        var largeHtml = await anonymous.GetStringAsync(large.PathOf("view_url"));
        var smallHtml = await anonymous.GetStringAsync(small.PathOf("view_url"));

        // A private item's variants carry its secret; the candidates stop at the first that is the whole picture.
        var largeDirect = large.GetProperty("direct_url").GetString()!;
        var image = Regex.Match(largeHtml, "<p class=\"view-image\">.*?</p>").Value;
        Assert.Equal($"{largeDirect}&w=1280", Attribute(image, "img", "src"));
        Assert.Equal($"{largeDirect}&w=640 640w, {largeDirect}&w=1280 1280w, {largeDirect}&w=1920 1500w", Attribute(image, "img", "srcset"));
        Assert.Contains($"<a href=\"{WebUtility.HtmlEncode(largeDirect)}\">Original image</a>", largeHtml);
        var smallDirect = small.GetProperty("direct_url").GetString()!;
        Assert.Equal($"{smallDirect}?w=640 640w, {smallDirect}?w=1280 800w", Attribute(Regex.Match(smallHtml, "<p class=\"view-image\">.*?</p>").Value, "img", "srcset"));
        Assert.Contains("Original image</a> (opening it counts as a download)", smallHtml);
        Assert.Matches("<img [^>]*alt=\"[^\"]+\"[^>]* width=\"800\" height=\"400\"[^>]*data-placeholder=", smallHtml);

        using (var variant = await GetImageAsync(anonymous, PathOf(Attribute(smallHtml, "img", "src")!)))
        {
            Assert.Equal((800, 400), (variant.Width, variant.Height));
        }

        Assert.Equal(0, await DownloadsAsync(alice, smallId));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(small.PathOf("direct_url"))).StatusCode);
        Assert.Equal(1, await DownloadsAsync(alice, smallId));
    }

    [Theory, Backends]
    public async Task AdminFile_ServesVariants_ToAdminsOnly_NeverCached(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var (admin, _) = await AdminAccountsApiTests.AdminAsync(app);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(800, 600, seed: 22);
        await HoldNextUploadAsync(admin, image);
        var id = (await owner.WaitForScanAsync((await owner.UploadAsync(image)).GetProperty("id").GetString()!)).GetProperty("id").GetString()!;
        var file = $"/api/v1/admin/items/{id}/file";

        using (var response = await admin.GetAsync($"{file}?w=320"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType!.MediaType);
            response.AssertNotCacheable();
            using var variant = Image.NewFromBuffer(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal((320, 240), (variant.Width, variant.Height));
        }

        using (var webp = await GetImageAsync(admin, $"{file}?w=128&format=webp", "image/webp"))
        {
            Assert.Equal((128, 96), (webp.Width, webp.Height));
        }

        Assert.Equal(image, await admin.GetByteArrayAsync($"{file}?format=jpeg"));
        await (await admin.GetAsync($"{file}?w=333")).AssertErrorAsync(400, "invalid_request");
        await (await owner.GetAsync($"{file}?w=320")).AssertErrorAsync(403, "insufficient_scope");
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous().GetAsync($"{file}?w=320")).StatusCode);
        // Held: the direct path still refuses the variant to everyone but the owner.
        Assert.Equal((HttpStatusCode)503, (await app.Anonymous().GetAsync($"/i/{id}.jpg?w=320")).StatusCode);

        using var browser = await SignedInBrowser.SignInAsync(app, "moderator", admin: true);
        var queue = await browser.ReadPageAsync("/admin");
        Assert.Contains($"src=\"{file}?w=320\" srcset=\"{file}?w=320 320w, {file}?w=640 640w\"", queue);
        var detail = await browser.ReadPageAsync($"/admin/items/{id}");
        Assert.Contains($"src=\"{file}?w=1280\"", detail);
        Assert.Contains($"<a href=\"{file}\">Original file</a>", detail);
    }

    [Theory, Backends]
    public async Task EncodeLimitOfOne_ServesEveryVariant_EncodingOneAtATime(Backend backend)
    {
        await using var app = new ImagebinApp(backend, new() { ["Media:MaxConcurrentEncodes"] = "1" });
        var owner = await app.OwnerAsync();
        var item = await UploadPassedAsync(owner, TestImages.Jpeg(1200, 600, seed: 5));
        var path = item.PathOf("direct_url");
        var asked = new[] { (64, "jpeg"), (128, "webp"), (256, "png"), (320, "jpeg"), (480, "webp"), (640, "avif") };
        var anonymous = app.Anonymous();

        var responses = await Task.WhenAll(asked.SelectMany(a => Enumerable.Range(0, 3).Select(_ => anonymous.GetAsync($"{path}?w={a.Item1}&format={a.Item2}"))));

        for (var i = 0; i < responses.Length; i++)
        {
            var (width, format) = asked[i / 3];
            Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            Assert.Equal($"image/{format}", responses[i].Content.Headers.ContentType!.MediaType);
            using var variant = Image.NewFromBuffer(await responses[i].Content.ReadAsByteArrayAsync());
            Assert.Equal((width, width / 2), (variant.Width, variant.Height));
            responses[i].Dispose();
        }

        var encoder = app.Services.GetRequiredService<VariantEncoder>();
        Assert.Equal(asked.Length, encoder.Encodes);
        Assert.Equal(1, encoder.MaxInFlight);
    }

    [Fact]
    public async Task EncodeLimit_OutsideOneTo64_RefusesToStart()
    {
        await using var app = new ImagebinApp(settings: new() { ["Media:MaxConcurrentEncodes"] = "0" });

        var failure = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains("MaxConcurrentEncodes", failure.ToString());
    }

    [Theory, Backends]
    public async Task Sweep_GivesPlaceholdersToImagesScannedWithoutOne_AndSkipsThoseThatDoNotDecode(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var items = new[]
        {
            await UploadPassedAsync(owner, TestImages.Jpeg(300, 100, seed: 6)),
            await UploadPassedAsync(owner, TestImages.Png(100, 300, seed: 7), contentType: "image/png"),
            await UploadPassedAsync(owner, TestImages.Jpeg(200, 200, seed: 8)),
        };
        var ids = items.Select(i => i.GetProperty("id").GetString()!).ToArray();
        var placeholders = items.Select(i => i.GetProperty("placeholder").GetString()).ToArray();
        Assert.All(placeholders, p => Assert.False(string.IsNullOrEmpty(p)));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            Assert.Equal(3, await db.Items.Where(i => ids.Contains(i.Id)).ExecuteUpdateAsync(s => s.SetProperty(i => i.Placeholder, (string?)null)));
        }

        // The third item's blob is one that does not decode: it is skipped (and remembered), the others still get theirs.
        var garbageSha = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes("not an image at all")));
        var garbage = Path.Combine(app.DataDir, "garbage");
        await File.WriteAllTextAsync(garbage, "not an image at all");
        await app.Services.GetRequiredService<IBlobStore>().PutAsync(BlobKeys.ForSha256(garbageSha), garbage, CancellationToken.None);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            await db.Items.Where(i => i.Id == ids[2]).ExecuteUpdateAsync(s => s.SetProperty(i => i.BlobSha256, garbageSha));
        }

        var maintenance = app.Services.GetServices<IHostedService>().OfType<Maintenance>().Single();
        await maintenance.RunOnceAsync(CancellationToken.None);
        await maintenance.RunOnceAsync(CancellationToken.None);

        for (var i = 0; i < 2; i++)
        {
            var item = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{ids[i]}");
            Assert.Equal(placeholders[i], item.GetProperty("placeholder").GetString());
        }

        var broken = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{ids[2]}");
        Assert.Equal(JsonValueKind.Null, broken.GetProperty("placeholder").ValueKind);
        Assert.Equal(1, app.Services.GetRequiredService<PlaceholderBackfill>().Skipped);
    }

    [Theory, Backends]
    public async Task BackfillCommand_GivesEveryImageWithoutAPlaceholderOne(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var items = new[] { await UploadPassedAsync(owner, TestImages.Jpeg(120, 80, seed: 9)), await UploadPassedAsync(owner, TestImages.Gif(80, 120, seed: 10), contentType: "image/gif") };
        var ids = items.Select(i => i.GetProperty("id").GetString()!).ToArray();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            await db.Items.Where(i => ids.Contains(i.Id)).ExecuteUpdateAsync(s => s.SetProperty(i => i.Placeholder, (string?)null));
        }

        var output = new StringWriter();
        var code = await Imagebin.Features.Admin.AdminCommands.RunAsync(app.Services, ["placeholders", "backfill"], output, new StringWriter());

        Assert.Equal(0, code);
        Assert.Equal("Made 2 placeholders; 0 images could not be read or decoded.", output.ToString().Trim());
        foreach (var item in items)
        {
            var now = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{item.GetProperty("id").GetString()}");
            Assert.Equal(item.GetProperty("placeholder").GetString(), now.GetProperty("placeholder").GetString());
        }
    }
}
