using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Accounts;

/// <summary>
/// The site's pages call <c>/api/v1</c> on the session cookie (<see cref="BrowserSessions"/>): reads as the account,
/// writes only with the page's anti-forgery token from this site's origin, refused with 403 <c>bad_origin</c> otherwise.
/// </summary>
public sealed class BrowserSessionTests
{
    private static ByteArrayContent Jpeg()
    {
        var content = new ByteArrayContent(TestImages.Jpeg(seed: Random.Shared.Next()));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        return content;
    }

    private static async Task<int> ItemCountAsync(ImagebinApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.CountAsync();
    }

    [Fact]
    public async Task Upload_WithTheSessionAndItsToken_BelongsToTheAccount()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app);

        using var response = await browser.Client.SendAsync(browser.Request(HttpMethod.Post, "/api/v1/items", Jpeg()));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.JsonAsync()).GetProperty("id").GetString();

        // Reads need no token, and show the owner's fields.
        using var list = await browser.Client.GetAsync("/api/v1/account/items");
        var items = (await list.JsonAsync()).GetProperty("items");
        Assert.Equal(id, Assert.Single(items.EnumerateArray()).GetProperty("id").GetString());
        Assert.True(items[0].TryGetProperty("scan_state", out _));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("wrong")]
    [InlineData("foreign-origin")]
    [InlineData("cross-site")]
    public async Task Upload_WithoutTheTokenOrFromElsewhere_IsBadOrigin_AndStoresNothing(string variant)
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = Jpeg() };
        switch (variant)
        {
            case "wrong":
                request.Headers.Add(BrowserSessions.CsrfHeader, "CfDJ8-not-a-token");
                break;
            case "foreign-origin":
                request.Headers.Add(BrowserSessions.CsrfHeader, browser.CsrfToken);
                request.Headers.Add("Origin", "https://evil.example");
                break;
            case "cross-site":
                request.Headers.Add(BrowserSessions.CsrfHeader, browser.CsrfToken);
                request.Headers.Add("Sec-Fetch-Site", "cross-site");
                break;
        }

        using var response = await browser.Client.SendAsync(request);

        await response.AssertErrorAsync(403, ErrorCodes.BadOrigin);
        Assert.Equal(0, await ItemCountAsync(app));
        Assert.Empty(app.TempFiles());
    }

    [Fact]
    public async Task SameOrigin_IsAccepted()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app);
        using var request = browser.Request(HttpMethod.Post, "/api/v1/items", Jpeg());
        request.Headers.Add("Origin", ImagebinApp.BaseUrl);

        using var response = await browser.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task EndedSession_IsAnonymous()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app);
        var html = await browser.ReadPageAsync("/docs");
        using var signOut = await browser.Client.PostAsync("/account/signout", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = OAuthFlow.Csrf(html),
        }));
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);

        using var list = await browser.Client.GetAsync("/api/v1/account/items");
        await list.AssertErrorAsync(401, ErrorCodes.AuthRequired);
        using var upload = await browser.Client.SendAsync(browser.Request(HttpMethod.Post, "/api/v1/items", Jpeg()));
        await upload.AssertErrorAsync(403, ErrorCodes.TurnstileFailed);
    }

    [Fact]
    public async Task Session_CannotTouchAnotherOwnersItem()
    {
        await using var app = new ImagebinApp();
        using var alice = await app.OwnerAsync("alice");
        var item = await alice.UploadAsync(TestImages.Jpeg());
        var id = item.GetProperty("id").GetString();
        using var bob = await SignedInBrowser.SignInAsync(app, "bob");

        using var patch = await bob.Client.SendAsync(bob.Request(HttpMethod.Patch, $"/api/v1/items/{id}", JsonContent.Create(new { title = "mine now" })));
        using var delete = await bob.Client.SendAsync(bob.Request(HttpMethod.Delete, $"/api/v1/items/{id}"));

        // The item is public, so its existence is no secret: a plain refusal.
        await patch.AssertErrorAsync(403, ErrorCodes.Forbidden);
        await delete.AssertErrorAsync(403, ErrorCodes.Forbidden);
        Assert.Equal(1, await ItemCountAsync(app));
    }

    [Fact]
    public async Task AdminApi_NeedsAnAdminAccount()
    {
        await using var app = new ImagebinApp();
        using var user = await SignedInBrowser.SignInAsync(app, "carol");
        using var admin = await SignedInBrowser.SignInAsync(app, "root", admin: true);

        using var refused = await user.Client.GetAsync("/api/v1/admin/reviews");
        using var allowed = await admin.Client.GetAsync("/api/v1/admin/reviews");

        await refused.AssertErrorAsync(403, ErrorCodes.InsufficientScope);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task Pages_ShowTheAccount_AndAreNotCachedPublicly()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "dora");
        using var anonymous = app.Anonymous();

        using var signedIn = await browser.Client.GetAsync("/docs");
        using var plain = await anonymous.GetAsync("/docs");
        var html = await signedIn.Content.ReadAsStringAsync();
        var plainHtml = await plain.Content.ReadAsStringAsync();

        Assert.Contains("Sign out", html);
        Assert.Contains(">dora<", html);
        Assert.Contains("href=\"/dashboard\"", html);
        Assert.True(signedIn.Headers.CacheControl is { Private: true, NoStore: true });
        Assert.DoesNotContain("csrf-token", plainHtml);
        Assert.Contains("Sign in", plainHtml);
        Assert.Contains("Cookie", plain.Headers.Vary);
        Assert.True(plain.Headers.CacheControl!.Public);
    }

    [Fact]
    public async Task ViewPage_OfAPrivateItem_OpensForItsOwnerOnTheSession()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "erin");
        using var upload = browser.Request(HttpMethod.Post, "/api/v1/items", Jpeg());
        upload.Headers.Add("x-private", "1");
        using var created = await browser.Client.SendAsync(upload);
        var id = (await created.JsonAsync()).GetProperty("id").GetString();

        using var owner = await browser.Client.GetAsync($"/v/{id}");
        using var stranger = await app.Anonymous().GetAsync($"/v/{id}");

        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, stranger.StatusCode);
    }

    [Fact]
    public async Task DirectPath_NeverReadsTheSession()
    {
        await using var app = new ImagebinApp();
        using var browser = await SignedInBrowser.SignInAsync(app, "frank");
        using var upload = browser.Request(HttpMethod.Post, "/api/v1/items", Jpeg());
        upload.Headers.Add("x-private", "1");
        using var created = await browser.Client.SendAsync(upload);
        var item = await created.JsonAsync();
        var id = item.GetProperty("id").GetString()!;
        await browser.Client.WaitForScanAsync(id);
        var direct = item.PathOf("direct_url");
        var bare = direct[..direct.IndexOf('?', StringComparison.Ordinal)];

        // The session opens the owner's pages and API, but the direct path is cookieless (DESIGN §6): without the share
        // secret, the owner's own browser gets what everyone gets, and nothing is set.
        using var withCookie = await browser.Client.GetAsync(bare);
        await withCookie.AssertErrorAsync(404, "not_found");
        using var variant = await browser.Client.GetAsync($"{bare}?w=64");
        await variant.AssertErrorAsync(404, "not_found");
        using var shared = await browser.Client.GetAsync(direct);
        Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
        Assert.False(shared.Headers.Contains("Set-Cookie"));
        Assert.False(shared.Headers.Contains("Vary"));
    }
}
