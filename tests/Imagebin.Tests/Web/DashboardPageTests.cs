using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Web;

/// <summary>
/// The owner's dashboard <c>/dashboard</c> over HTTP: signed-in only, the account's own items only (the same listing as
/// <c>GET /api/v1/account/items</c>, its filters and cursor), every value encoded; the sign-in page's new defaults.
/// </summary>
public sealed partial class DashboardPageTests
{
    private static async Task<string> UploadAsync(HttpClient owner, string? title = null, bool isPrivate = false, int seed = 1, bool aiOptOut = false)
    {
        var item = await owner.UploadAsync(TestImages.Jpeg(seed: seed), configure: request =>
        {
            if (title is not null)
            {
                request.Headers.Add("x-title", Uri.EscapeDataString(title));
            }

            if (isPrivate)
            {
                request.Headers.Add("x-private", "true");
            }

            if (aiOptOut)
            {
                request.Headers.Add("x-ai-optout", "true");
            }
        });
        return item.GetProperty("id").GetString()!;
    }

    private static async Task<string[]> ApiOrderAsync(HttpClient owner, string query) =>
        [.. (await owner.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/account/items{query}")).GetProperty("items")
            .EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];

    private static string[] ListedIds(string html) => [.. ItemRow().Matches(html).Select(m => m.Groups[1].Value)];

    [Fact]
    public async Task Dashboard_SignedOut_RedirectsToSignIn_AndBack()
    {
        await using var app = new ImagebinApp();

        using var response = await app.Anonymous().GetAsync("/dashboard?q=cat");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/account/signin?return_url=%2Fdashboard%3Fq%3Dcat", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Dashboard_ListsOnlyTheAccountsOwnItems_NewestFirst()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var bob = await app.OwnerAsync("bob");
        var aliceFirst = await UploadAsync(alice, "alice one", seed: 1, aiOptOut: true);
        var aliceSecond = await UploadAsync(alice, "alice two", isPrivate: true, seed: 2);
        var bobs = await UploadAsync(bob, "bob's own", seed: 3);
        // Checked, so that the rows show their pictures (an unchecked image's row says it is being checked instead).
        await alice.WaitForScanAsync(aliceFirst);
        await alice.WaitForScanAsync(aliceSecond);
        using var aliceBrowser = await SignedInBrowser.SignInAsync(app, "alice");
        using var bobBrowser = await SignedInBrowser.SignInAsync(app, "bob");

        var aliceHtml = await aliceBrowser.ReadPageAsync("/dashboard");
        var bobHtml = await bobBrowser.ReadPageAsync("/dashboard");

        // In the API's order (newest first; uploads in the same millisecond by id).
        Assert.Equal(await ApiOrderAsync(alice, ""), ListedIds(aliceHtml));
        Assert.Equal(new[] { aliceFirst, aliceSecond }.Order(), ListedIds(aliceHtml).Order());
        Assert.Equal([bobs], ListedIds(bobHtml));
        Assert.DoesNotContain(aliceFirst, bobHtml);
        Assert.DoesNotContain(aliceSecond, bobHtml);
        Assert.DoesNotContain("alice two", bobHtml);
        // Pipeline state as text, the private marker, the download count, and the picture scaled by the browser.
        Assert.Contains("Scan: ", aliceHtml);
        Assert.Contains("Classification: ", aliceHtml);
        Assert.Contains("Caption: ", aliceHtml);
        Assert.Matches($"id=\"item-{aliceSecond}\"[^§]*?<li class=\"badge badge-private\" data-field=\"private\">Private</li>", aliceHtml);
        Assert.Matches($"id=\"item-{aliceFirst}\"[^§]*?<li class=\"badge badge-private\" data-field=\"private\" hidden>", aliceHtml);
        Assert.Matches("<img [^>]*loading=\"lazy\"", aliceHtml);
        Assert.Matches("<img [^>]*width=\"\\d+\" height=\"\\d+\"", aliceHtml);
        // Without an AI caption (opted out), the alt text is the title.
        Assert.Contains("alt=\"alice one\"", aliceHtml);
    }

    [Fact]
    public async Task Dashboard_ShowsDownloadsAgainstTheLimit()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var id = await UploadAsync(alice, "limited");
        using (var patch = await alice.PatchAsJsonAsync($"/api/v1/items/{id}", new { dl_limit = 100 }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        using var browser = await SignedInBrowser.SignInAsync(app, "alice");
        var html = await browser.ReadPageAsync("/dashboard");

        Assert.Contains("<dd data-field-text=\"downloads\">0 / 100</dd>", html);
    }

    [Fact]
    public async Task Dashboard_Filters_AsTheApiDoes()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var cat = await UploadAsync(alice, "a grey cat", seed: 1);
        var dog = await UploadAsync(alice, "a brown dog", isPrivate: true, seed: 2);
        await alice.WaitForScanAsync(cat);
        await alice.WaitForScanAsync(dog);
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");

        Assert.Equal([cat], ListedIds(await browser.ReadPageAsync("/dashboard?q=CAT")));
        Assert.Equal([dog], ListedIds(await browser.ReadPageAsync("/dashboard?private=true")));
        Assert.Equal([cat], ListedIds(await browser.ReadPageAsync("/dashboard?private=false&classification=")));
        Assert.Empty(ListedIds(await browser.ReadPageAsync("/dashboard?classification=prohibited")));
        var filtered = await browser.ReadPageAsync("/dashboard?q=cat&private=false");
        // The form shows the filters in force.
        Assert.Contains("name=\"q\" maxlength=\"200\" value=\"cat\"", filtered);
        Assert.Contains("<option value=\"false\" selected>Public</option>", filtered);

        using var bad = await browser.Client.GetAsync("/dashboard?classification=weird");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("&#x27;classification&#x27; must be one of", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Dashboard_PagesByCursor_KeepingTheFilters()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await UploadAsync(alice, $"shot {i}", seed: i + 10));
        }

        await UploadAsync(alice, "other", seed: 99);
        Assert.Equal(ids.Order(), (await ApiOrderAsync(alice, "?q=shot")).Order());
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");

        var seen = new List<string>();
        var path = "/dashboard?q=shot&limit=2";
        for (var pages = 0; pages < 5 && path is not null; pages++)
        {
            var html = await browser.ReadPageAsync(path);
            seen.AddRange(ListedIds(html));
            path = NextLink().Match(html) is { Success: true } next ? WebUtility.HtmlDecode(next.Groups[1].Value) : null;
            if (path is not null)
            {
                Assert.Contains("q=shot", path);
                Assert.Contains("cursor=", path);
            }
        }

        Assert.Null(path);
        Assert.Equal(await ApiOrderAsync(alice, "?q=shot"), seen);
    }

    [Fact]
    public async Task Dashboard_EncodesTitlesAndTags()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        const string title = "<script>alert(1)</script> & \"quotes\"";
        var id = await UploadAsync(alice, title);
        using (var patch = await alice.PatchAsJsonAsync($"/api/v1/items/{id}", new { tags = new[] { "<b>bold</b>" }, description = "</textarea><img src=x>" }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        using var browser = await SignedInBrowser.SignInAsync(app, "alice");
        var html = await browser.ReadPageAsync("/dashboard");

        Assert.DoesNotContain("<script>alert(1)", html);
        Assert.DoesNotContain("<b>bold</b>", html);
        Assert.DoesNotContain("</textarea><img", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;", html);
    }

    [Fact]
    public async Task ApiOnTheSession_RefusesToChangeAnotherOwnersItem()
    {
        await using var app = new ImagebinApp();
        var alice = await app.OwnerAsync("alice");
        var publicId = await UploadAsync(alice, "alice public", seed: 1);
        var privateId = await UploadAsync(alice, "alice private", isPrivate: true, seed: 2);
        using var bob = await SignedInBrowser.SignInAsync(app, "bob");
        await bob.ReadPageAsync("/dashboard");

        using (var patch = await bob.Client.SendAsync(bob.Request(HttpMethod.Patch, $"/api/v1/items/{publicId}", JsonContent.Create(new { title = "bob was here" }))))
        {
            await patch.AssertErrorAsync(403, ErrorCodes.Forbidden);
        }

        using (var delete = await bob.Client.SendAsync(bob.Request(HttpMethod.Delete, $"/api/v1/items/{privateId}")))
        {
            await delete.AssertErrorAsync(404, ErrorCodes.NotFound);
        }

        using (var delete = await bob.Client.SendAsync(bob.Request(HttpMethod.Delete, $"/api/v1/items/{publicId}")))
        {
            await delete.AssertErrorAsync(403, ErrorCodes.Forbidden);
        }

        var stillThere = await alice.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/items/{publicId}");
        Assert.Equal("alice public", stillThere.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/api/v1/items/{privateId}")).StatusCode);
    }

    [Fact]
    public async Task SignIn_WhenAlreadySignedIn_GoesOn_AndByDefaultToTheDashboard()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "alice");

        using (var plain = await browser.Client.GetAsync("/account/signin"))
        {
            Assert.Equal(HttpStatusCode.Redirect, plain.StatusCode);
            Assert.Equal("/dashboard", plain.Headers.Location!.OriginalString);
        }

        using (var back = await browser.Client.GetAsync("/account/signin?return_url=%2Faccount"))
        {
            Assert.Equal("/account", back.Headers.Location!.OriginalString);
        }

        using (var away = await browser.Client.GetAsync("/account/signin?return_url=%2F%2Fevil.example"))
        {
            Assert.Equal("/dashboard", away.Headers.Location!.OriginalString);
        }
    }

    [Fact]
    public async Task SignIn_WithoutAReturnUrl_LeadsToTheDashboard()
    {
        await using var app = new ImagebinApp();
        await app.CreateKeyAsync("alice");
        using var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var form = await client.GetStringAsync("/account/signin");
        Assert.Contains("name=\"return_url\" value=\"/dashboard\"", form);

        using var response = await client.PostAsync("/account/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = OAuthFlow.Csrf(form),
            ["name"] = "alice",
            ["password"] = "correct horse battery",
        }));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/dashboard", response.Headers.Location!.OriginalString);
    }

    [GeneratedRegex("<li class=\"dash-item\" id=\"item-([A-Za-z0-9]+)\"")]
    private static partial Regex ItemRow();

    [GeneratedRegex("<a rel=\"next\" href=\"([^\"]+)\">Next page</a>")]
    private static partial Regex NextLink();
}
