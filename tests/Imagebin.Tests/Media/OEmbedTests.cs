using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Media;

/// <summary>
/// <c>GET /oembed</c> (oEmbed 1.0, DESIGN.md §6): a <c>photo</c> for the three links of a public, passed image, scaled to the
/// consumer's bounds; nothing for private, unchecked, unknown or foreign links; discoverable from public view pages only.
/// </summary>
public sealed partial class OEmbedTests
{
    private static async Task<JsonElement> UploadPassedAsync(HttpClient owner, byte[] image, Action<HttpRequestMessage>? configure = null)
    {
        var item = await owner.UploadAsync(image, configure: configure);
        var scanned = await owner.WaitForScanAsync(item.GetProperty("id").GetString()!);
        Assert.Equal("passed", scanned.GetProperty("scan_state").GetString());
        return item;
    }

    private static Task<HttpResponseMessage> OEmbedAsync(HttpClient client, string url, string query = "&format=json") =>
        client.GetAsync($"/oembed?url={Uri.EscapeDataString(url)}{query}");

    private static async Task SetScanStateAsync(ImagebinApp app, string id, string state)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        await db.Items.Where(i => i.Id == id).ExecuteUpdateAsync(s => s.SetProperty(i => i.ScanState, state));
        scope.ServiceProvider.GetRequiredService<MediaCatalog>().Invalidate(id);
    }

    [Fact]
    public async Task EachLinkForm_AnswersAPhoto_WhoseUrlIsTheDirectUrl()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var item = await UploadPassedAsync(owner, TestImages.Jpeg(80, 60), r => r.Headers.Add("x-title", "Sunset"));
        var direct = item.GetProperty("direct_url").GetString()!;

        foreach (var property in new[] { "url", "view_url", "direct_url" })
        {
            using var response = await OEmbedAsync(anonymous, item.GetProperty(property).GetString()!);

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{property}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal("public, max-age=300", response.Headers.CacheControl!.ToString());
            var answer = await response.JsonAsync();
            Assert.Equal("1.0", answer.GetProperty("version").GetString());
            Assert.Equal("photo", answer.GetProperty("type").GetString());
            Assert.Equal("Sunset", answer.GetProperty("title").GetString());
            Assert.Equal(direct, answer.GetProperty("url").GetString());
            Assert.Equal(80, answer.GetProperty("width").GetInt32());
            Assert.Equal(60, answer.GetProperty("height").GetInt32());
            Assert.Equal("Imagebin", answer.GetProperty("provider_name").GetString());
            Assert.Equal(ImagebinApp.BaseUrl, answer.GetProperty("provider_url").GetString());
            Assert.Equal(OEmbed.CacheAgeSeconds, answer.GetProperty("cache_age").GetInt64());
        }

        // The url the answer names is one anyone can fetch; format may be left out.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri(direct).PathAndQuery)).StatusCode);
        using var withoutFormat = await OEmbedAsync(anonymous, direct, query: "");
        Assert.Equal(HttpStatusCode.OK, withoutFormat.StatusCode);
    }

    [Theory]
    [InlineData("", 800, 600)]
    [InlineData("&maxwidth=400", 400, 300)]
    [InlineData("&maxheight=150", 200, 150)]
    [InlineData("&maxwidth=400&maxheight=100", 133, 100)]
    [InlineData("&maxwidth=300&maxheight=1000", 300, 225)]
    [InlineData("&maxwidth=2000&maxheight=2000", 800, 600)]
    public async Task MaxWidthAndMaxHeight_ScaleTheSizeDown_KeepingTheAspect(string bounds, int width, int height)
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var item = await UploadPassedAsync(owner, TestImages.Jpeg(800, 600));

        using var response = await OEmbedAsync(app.Anonymous(), item.GetProperty("view_url").GetString()!, "&format=json" + bounds);

        var answer = await response.JsonAsync();
        Assert.Equal(width, answer.GetProperty("width").GetInt32());
        Assert.Equal(height, answer.GetProperty("height").GetInt32());
        Assert.InRange(Math.Abs((double)width / height - 800.0 / 600), 0, 0.01);
        Assert.Equal(item.GetProperty("direct_url").GetString(), answer.GetProperty("url").GetString());
    }

    [Fact]
    public async Task PrivateHeldUnknownAndForeignLinks_AreNotFound()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var hidden = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 1), r => r.Headers.Add("x-private", "true"));
        var held = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 2));
        var heldId = held.GetProperty("id").GetString()!;
        await SetScanStateAsync(app, heldId, ScanState.Held);
        var limited = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 3), r => r.Headers.Add("x-dl-limit", "5"));
        var shown = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 4));
        var shownId = shown.GetProperty("id").GetString()!;

        // A private image is never embedded, not even with the secret its links carry.
        foreach (var property in new[] { "url", "view_url", "direct_url" })
        {
            Assert.Contains("?s=", hidden.GetProperty(property).GetString());
            await (await OEmbedAsync(anonymous, hidden.GetProperty(property).GetString()!)).AssertErrorAsync(404, "not_found");
            await (await OEmbedAsync(owner, hidden.GetProperty(property).GetString()!)).AssertErrorAsync(404, "not_found");
        }

        await (await OEmbedAsync(anonymous, held.GetProperty("view_url").GetString()!)).AssertErrorAsync(404, "not_found");
        await (await OEmbedAsync(anonymous, limited.GetProperty("view_url").GetString()!)).AssertErrorAsync(404, "not_found");
        foreach (var url in new[]
        {
            $"{ImagebinApp.BaseUrl}/v/AAAAAAAAAAAA",
            $"https://elsewhere.example/v/{shownId}",
            $"http://localhost:8080/v/{shownId}",
            $"{ImagebinApp.BaseUrl}/docs/{shownId}",
            $"{ImagebinApp.BaseUrl}/v/{shownId}/more",
            "not a url",
            $"ftp://localhost/v/{shownId}",
        })
        {
            await (await OEmbedAsync(anonymous, url)).AssertErrorAsync(404, "not_found");
        }

        // The same image on this site's own links is found, so the refusals above are about the links.
        Assert.Equal(HttpStatusCode.OK, (await OEmbedAsync(anonymous, $"{ImagebinApp.BaseUrl}/v/{shownId}")).StatusCode);
        await SetScanStateAsync(app, shownId, ScanState.Removed);
        await (await OEmbedAsync(anonymous, $"{ImagebinApp.BaseUrl}/v/{shownId}")).AssertErrorAsync(410, "gone");
    }

    [Fact]
    public async Task XmlIsNotImplemented_AndAMissingOrBadParameterIsInvalid()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var view = (await UploadPassedAsync(owner, TestImages.Jpeg())).GetProperty("view_url").GetString()!;

        await (await OEmbedAsync(anonymous, view, "&format=xml")).AssertErrorAsync(501, "not_implemented");
        await (await anonymous.GetAsync("/oembed?format=json")).AssertErrorAsync(400, "invalid_request");
        await (await anonymous.GetAsync("/oembed?url=&format=json")).AssertErrorAsync(400, "invalid_request");
        await (await OEmbedAsync(anonymous, view, "&format=json&maxwidth=0")).AssertErrorAsync(400, "invalid_request");
        await (await OEmbedAsync(anonymous, view, "&format=json&maxheight=wide")).AssertErrorAsync(400, "invalid_request");
    }

    [Fact]
    public async Task ViewPage_LinksTheOEmbedAnswer_ForPublicImagesOnly()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var shown = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 1), r => r.Headers.Add("x-title", "A <b>cat</b>"));
        var hidden = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 2), r => r.Headers.Add("x-private", "true"));

        var page = await anonymous.GetStringAsync(shown.PathOf("view_url"));
        var link = OEmbedLink().Match(page);
        Assert.True(link.Success, page);
        Assert.Equal("A &lt;b&gt;cat&lt;/b&gt;", link.Groups["title"].Value);
        var href = System.Net.WebUtility.HtmlDecode(link.Groups["href"].Value);
        Assert.Equal($"{ImagebinApp.BaseUrl}/oembed?url={Uri.EscapeDataString(shown.GetProperty("view_url").GetString()!)}&format=json", href);
        var answer = await (await anonymous.GetAsync(new Uri(href).PathAndQuery)).JsonAsync();
        Assert.Equal(shown.GetProperty("direct_url").GetString(), answer.GetProperty("url").GetString());

        var privatePage = await anonymous.GetStringAsync(hidden.PathOf("view_url"));
        Assert.Contains("<h1", privatePage);
        Assert.DoesNotContain("json+oembed", privatePage);
        Assert.DoesNotContain("/oembed", privatePage);
    }

    [Fact]
    public async Task OpenApi_DocumentsTheOperation_WithItsParametersAndErrors()
    {
        await using var app = new ImagebinApp();
        var document = JsonNode.Parse(await app.Anonymous().GetStringAsync("/api/v1/openapi.json"))!;

        var operation = document["paths"]![OEmbed.Path]!["get"]!;
        Assert.Equal("Media", (string)operation["tags"]![0]!);
        var parameters = operation["parameters"]!.AsArray().ToDictionary(p => (string)p!["name"]!, p => p!);
        Assert.Equal(["format", "maxheight", "maxwidth", "url"], parameters.Keys.Order());
        Assert.True((bool)parameters["url"]["required"]!);
        Assert.Equal("#/components/schemas/OEmbed", (string)operation["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!);
        foreach (var (status, code) in new[] { ("400", "invalid_request"), ("404", "not_found"), ("410", "gone"), ("501", "not_implemented") })
        {
            Assert.Contains(code, (string)operation["responses"]![status]!["description"]!);
        }
    }

    [GeneratedRegex("<link rel=\"alternate\" type=\"application/json\\+oembed\" href=\"(?<href>[^\"]+)\" title=\"(?<title>[^\"]*)\">")]
    private static partial Regex OEmbedLink();
}
