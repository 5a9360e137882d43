using System.Net;
using System.Text.Json;
using Imagebin.Tests.Support;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// An anonymous upload's <c>delete_url</c> in Debian's Chromium: the page's script takes the token out of the address bar,
/// deletes with it, and says what happened, under the page's Content-Security-Policy.
/// </summary>
public sealed class DeleteLinkTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static readonly Dictionary<string, string?> Settings = new() { ["Uploads:Anonymous:DifficultyBits"] = "8" };

    [Fact]
    public async Task DeleteLink_HidesTheToken_AndDeletesTheImage()
    {
        await using var site = LiveSite.Start(Settings);
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        var item = await UploadAnonymouslyAsync(http);
        var id = item.GetProperty("id").GetString()!;
        var deleteUrl = item.GetProperty("delete_url").GetString()!;
        Assert.StartsWith($"{site.BaseUrl}/delete/{id}#token=", deleteUrl);
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        await page.GotoAsync(OnSite(site, deleteUrl));
        var button = page.Locator("#delete-button:enabled");
        await button.WaitForAsync();
        Assert.Equal(site.Url($"/delete/{id}"), page.Url);
        Assert.Equal("Delete this image? · Imagebin", await page.TitleAsync());
        Assert.Equal(0, await page.Locator("main img").CountAsync());
        await button.ClickAsync();

        await page.Locator("#delete-status", new() { HasText = "Deleted" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/v1/items/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(item.PathOf("direct_url"))).StatusCode);
        Assert.DoesNotContain(item.GetProperty("delete_token").GetString()!, await page.ContentAsync());
        problems.AssertNone();
    }

    [Fact]
    public async Task DeleteLink_WithAWrongToken_SaysSo_AndKeepsTheImage()
    {
        await using var site = LiveSite.Start(Settings);
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        var item = await UploadAnonymouslyAsync(http);
        var id = item.GetProperty("id").GetString()!;
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        await page.GotoAsync(site.Url($"/delete/{id}#token=not-the-token"));
        await page.Locator("#delete-button:enabled").ClickAsync();

        await page.Locator("#delete-status", new() { HasText = "Wrong link or already deleted" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(item.PathOf("direct_url"))).StatusCode);
        // Chromium reports the API's 404 itself as a console error; nothing else may appear.
        problems.AssertNone(failedRequestTo: $"{site.BaseUrl}/api/v1/items/{id}", status: 404);
    }

    [Fact]
    public async Task DeleteLink_WithoutTheFragment_SaysItIsIncomplete()
    {
        await using var site = LiveSite.Start(Settings);
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        await page.GotoAsync(site.Url("/delete/abcdefghij12"));

        await page.Locator("#delete-status", new() { HasText = "This link is incomplete" }).WaitForAsync();
        Assert.True(await page.Locator("#delete-button").IsDisabledAsync());
        problems.AssertNone();
    }

    /// <summary>The delete link made for the test app's public base, on the live site's origin.</summary>
    private static string OnSite(LiveSite site, string url)
    {
        var uri = new Uri(url);
        return site.Url(uri.PathAndQuery + uri.Fragment);
    }

    /// <summary>An upload without a key, with the upload challenge solved here, once it is served.</summary>
    private static async Task<JsonElement> UploadAnonymouslyAsync(HttpClient http)
    {
        var challenge = JsonDocument.Parse(await http.GetStringAsync("/api/v1/uploads/challenge")).RootElement.Clone();
        var item = await http.UploadAsync(TestImages.Jpeg(), configure: request =>
        {
            request.Headers.Add("x-challenge-id", challenge.GetProperty("challenge_id").GetString());
            request.Headers.Add("x-challenge-nonce", PowSolver.Solve(challenge));
        });

        var deadline = DateTime.UtcNow + Chromium.Timeout;
        while ((await http.GetAsync(item.PathOf("direct_url"))).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "the anonymous upload was not served in time");
            await Task.Delay(100);
        }

        return item;
    }
}
