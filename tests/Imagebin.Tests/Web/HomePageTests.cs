using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Imagebin.Data;
using Imagebin.Features.Authority;
using Imagebin.Features.Items;
using Imagebin.Features.Web;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Web;

/// <summary>
/// The home page over HTTP: the upload form for visitors and accounts (the script's part is in Browser/UploadPageTests),
/// and the server-rendered gallery: what it shows, its paging, its caching and its encoding.
/// </summary>
public sealed partial class HomePageTests
{
    private const long Hour = 3600_000;

    [Fact]
    public async Task Gallery_ShowsOnlyPublicPassedUnexpiredItems_NewestFirst()
    {
        await using var app = new ImagebinApp();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await AddItemsAsync(app,
            Row("shownOlder1", now - 3 * Hour),
            Row("shownNewer1", now - Hour, expiresAt: now + Hour),
            Row("privateIt01", now, isPrivate: true),
            Row("pendingIt01", now, scanState: ScanState.Pending),
            Row("scanningIt1", now, scanState: ScanState.Scanning),
            Row("heldItem001", now, scanState: ScanState.Held),
            Row("failedItem1", now, scanState: ScanState.Failed),
            Row("removedIt01", now, scanState: ScanState.Removed),
            Row("blockedIt01", now, scanState: ScanState.Blocked),
            Row("rejectedIt1", now, scanState: ScanState.Rejected),
            Row("expiredIt01", now, expiresAt: now - 1),
            Row("dlLimited01", now, dlLimit: 5));

        using var response = await app.Anonymous().GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["shownNewer1", "shownOlder1"], GalleryIds(html));
        Assert.DoesNotContain("rel=\"next\"", html);
    }

    [Fact]
    public async Task Gallery_LinksEachImageToItsViewPage_WithDimensionsLazyLoadingAndAltText()
    {
        await using var app = new ImagebinApp();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var captioned = Row("captioned01", now - 1);
        captioned.AiCaption = "A red bicycle";
        captioned.AiCaptionState = AiCaptionState.Ready;
        var titled = Row("titledItem1", now - 2);
        titled.Title = "My bike";
        var optedOut = Row("optedOut001", now - 3);
        optedOut.AiCaption = "hidden caption";
        optedOut.AiCaptionState = AiCaptionState.Ready;
        optedOut.AiOptOut = true;
        await AddItemsAsync(app, captioned, titled, optedOut);

        var html = await app.Anonymous().GetStringAsync("/");

        Assert.Contains(
            "<li><a href=\"/v/captioned01\"><img src=\"http://localhost/i/captioned01.jpg?w=480\" "
            + "srcset=\"http://localhost/i/captioned01.jpg?w=320 320w, http://localhost/i/captioned01.jpg?w=480 480w, http://localhost/i/captioned01.jpg?w=960 960w\" "
            + "sizes=\"14rem\" alt=\"A red bicycle\" width=\"64\" height=\"48\" loading=\"lazy\"></a></li>", html);
        Assert.Contains("alt=\"My bike\"", html);
        Assert.Contains("alt=\"Image optedOut001\"", html);
        Assert.DoesNotContain("hidden caption", html);
    }

    [Fact]
    public async Task Gallery_PagesBy24_WithAnOlderLink_UntilTheLastItem()
    {
        await using var app = new ImagebinApp();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // Two items share a created_at at the page boundary: the cursor's id breaks the tie, so neither is lost or repeated.
        var rows = Enumerable.Range(0, 30).Select(i => Row($"pagedItem{i:00}", now - (i <= 24 ? i : i + 100) * 1000 - (i == 24 ? -1000 : 0))).ToArray();
        await AddItemsAsync(app, rows);
        var expected = rows.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id, StringComparer.Ordinal).Select(r => r.Id).ToList();
        var client = app.Anonymous();

        var first = await client.GetStringAsync("/");
        Assert.Equal(expected[..24], GalleryIds(first));
        var older = OlderLink().Match(first);
        Assert.True(older.Success, "the first page has no link to older images");
        Assert.DoesNotContain(">Newest<", first);

        var second = await client.GetStringAsync(WebUtility.HtmlDecode(older.Groups[1].Value));
        Assert.Equal(expected[24..], GalleryIds(second));
        Assert.DoesNotMatch(OlderLink(), second);
        Assert.Contains("<a href=\"/\">Newest</a>", second);
    }

    [Theory]
    [InlineData("not-a-cursor")]
    [InlineData("MTIzNDU")] // base64url of "12345": no id
    [InlineData("")]
    public async Task Gallery_WithABadCursor_Answers400_WithALinkToTheNewest(string cursor)
    {
        await using var app = new ImagebinApp();

        using var response = await app.Anonymous().GetAsync($"/?before={Uri.EscapeDataString(cursor)}");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("This gallery link is not valid", html);
        Assert.Contains("<a href=\"/\">See the newest images</a>", html);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Gallery_EncodesTitlesAndCaptions()
    {
        await using var app = new ImagebinApp();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var row = Row("encodedIt01", now);
        row.Title = "\"><script>alert(1)</script>&";
        await AddItemsAsync(app, row);

        var html = await app.Anonymous().GetStringAsync("/");

        Assert.DoesNotContain("<script>alert(1)", html);
        Assert.Contains("alt=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;\"", html);
    }

    [Fact]
    public async Task HomePage_ForAVisitor_IsCachedBriefly_RunsOnlyTheSiteScripts_AndStatesTheAnonymousLimits()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Uploads:Anonymous:MaxBytes"] = (3 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Uploads:Anonymous:ExpiryDays"] = "7",
        });

        using var response = await app.Anonymous().GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("public, max-age=30", response.Headers.CacheControl?.ToString());
        Assert.Equal(Html.ScriptContentSecurityPolicyWithImagesFrom($"{ImagebinApp.BaseUrl}/i/"), response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains($"<script src=\"{SiteAssets.PathOf("home.js")}\" defer></script>", html);
        Assert.Contains($"<script src=\"{SiteAssets.PathOf("pow.js")}\" defer></script>", html);
        Assert.DoesNotContain(" style=", html);
        Assert.Contains("up to 3 MB per image", html);
        Assert.Contains("deleted after 7 days", html);
        Assert.Contains("data-max-bytes=\"3145728\"", html);
        Assert.Contains("data-anonymous=\"true\"", html);
        Assert.Contains("<noscript><p class=\"error\">Uploading from this page needs JavaScript", html);
        Assert.Contains("href=\"/account/signin?return_url=%2F\">Sign in</a>", html);
        Assert.Contains("<input type=\"file\" id=\"upload-files\" multiple accept=\"image/*\"", html);
        Assert.DoesNotContain("upload-ai-optout", html);
    }

    [Fact]
    public async Task HomePage_WithAnonymousUploadsOff_SaysSo_AndShowsNoUploadForm()
    {
        await using var app = new ImagebinApp(settings: new() { ["Uploads:Anonymous:Enabled"] = "false" });

        var html = await app.Anonymous().GetStringAsync("/");

        Assert.Contains("Uploading without an account is switched off on this site.", html);
        Assert.Contains("href=\"/account/signin?return_url=%2F\">Sign in</a> to upload", html);
        Assert.DoesNotContain("upload-form", html);
        Assert.DoesNotContain("drop-zone", html);
        Assert.Contains("Recent images", html);
    }

    [Fact]
    public async Task HomePage_ForAnAccount_OffersTheAccountLimit_AndItsAiOptOut_AndIsNotCached()
    {
        await using var app = new ImagebinApp(settings: new() { ["Uploads:Anonymous:Enabled"] = "false" });
        using var browser = await SignedInBrowser.SignInAsync(app, "olga");
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Accounts.Where(a => a.Name == "olga")
                .ExecuteUpdateAsync(a => a.SetProperty(x => x.AiOptOut, true));
        }

        using var response = await browser.Client.GetAsync("/");
        var html = await response.Content.ReadAsStringAsync();

        Assert.True(response.Headers.CacheControl is { Private: true, NoStore: true }, response.Headers.CacheControl?.ToString());
        Assert.Contains("data-anonymous=\"false\"", html);
        Assert.Contains($"data-max-bytes=\"{25 * 1024 * 1024}\"", html);
        Assert.Contains("Up to 25 MB per image", html);
        Assert.Contains("<input type=\"checkbox\" id=\"upload-ai-optout\" name=\"ai_optout\" checked>", html);
        Assert.DoesNotContain("anonymous-terms", html);
        Assert.DoesNotContain("switched off", html);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GalleryQuery_OnSqlite_ReadsThePartialIndex_NotEveryItem(bool withCursor)
    {
        await using var app = new ImagebinApp();
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        var query = HomePage.GalleryQuery(db, withCursor ? new ListCursor.Position(1000, "abcdefghij") : null, now: 500);
        // ToQueryString writes SQLite's parameters as ".param set @name value" lines before the statement.
        var lines = query.ToQueryString().Split('\n');
        await db.Database.OpenConnectionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + string.Join('\n', lines.Where(l => !l.StartsWith(".param", StringComparison.Ordinal)));
        foreach (var line in lines.Where(l => l.StartsWith(".param set ", StringComparison.Ordinal)))
        {
            var parts = line.Split(' ', 4);
            var parameter = command.CreateParameter();
            parameter.ParameterName = parts[2];
            parameter.Value = parts[3].Trim('\'');
            command.Parameters.Add(parameter);
        }

        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Contains(plan, step => step.Contains("USING INDEX ix_items_gallery", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, step => step.Contains("TEMP B-TREE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UploadFromThePage_OfAPdf_IsRefused_AndStoresNothing()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "pat");
        await browser.ReadPageAsync("/");
        using var form = new MultipartFormDataContent
        {
            { new StringContent("A PDF"), "title" },
            { new ByteArrayContent("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"u8.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/pdf") } }, "file", "doc.pdf" },
        };

        using var response = await browser.Client.SendAsync(browser.Request(HttpMethod.Post, "/api/v1/items", form));

        Assert.False(response.IsSuccessStatusCode);
        var code = (await response.JsonAsync()).GetProperty("error").GetString();
        Assert.Contains(code, new[] { "unsupported_media_type", "invalid_image" });
        await using var scope = app.Services.CreateAsyncScope();
        Assert.Equal(0, await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.CountAsync());
        Assert.Empty(app.BlobFiles());
        Assert.Empty(app.TempFiles());
    }

    private static Item Row(string id, long createdAt, bool isPrivate = false, string scanState = ScanState.Passed, long? expiresAt = null, long? dlLimit = null) => new()
    {
        Id = id,
        BlobSha256 = new string('a', 64),
        ContentType = "image/jpeg",
        Extension = "jpg",
        SizeBytes = 1000,
        Width = 64,
        Height = 48,
        CreatedAt = createdAt,
        Private = isPrivate,
        ShareSecret = isPrivate ? "secret" : null,
        ScanState = scanState,
        ExpiresAt = expiresAt,
        DlLimit = dlLimit,
    };

    private static async Task AddItemsAsync(ImagebinApp app, params Item[] items)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        db.Items.AddRange(items);
        await db.SaveChangesAsync();
    }

    private static List<string> GalleryIds(string html)
    {
        var gallery = html[html.IndexOf("id=\"gallery-heading\"", StringComparison.Ordinal)..];
        return GalleryLink().Matches(gallery).Select(m => m.Groups[1].Value).ToList();
    }

    [GeneratedRegex("<li><a href=\"/v/([0-9A-Za-z]+)\"><img ")]
    private static partial Regex GalleryLink();

    [GeneratedRegex("<a href=\"(/\\?before=[^\"]+)\" rel=\"next\">Older</a>")]
    private static partial Regex OlderLink();
}
