using System.Net.Http.Headers;
using Imagebin.Tests.Support;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>The view page <c>/v/{id}</c> in Chromium: the image it shows really loads under the page's policy.</summary>
public sealed class ViewPageTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task ViewPage_OfAnUploadedPng_ShowsTheImage_WithNoConsoleErrorsOrCspViolations()
    {
        await using var site = LiveSite.Start();
        using var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync());
        var item = await api.UploadAsync(TestImages.Png(48, 32, seed: 7), "image/png", r => r.Headers.Add("x-title", "A test pattern"));
        var id = item.GetProperty("id").GetString()!;
        Assert.Equal("passed", (await api.WaitForScanAsync(id)).GetProperty("scan_state").GetString());

        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        var view = await page.GotoAsync(site.Url($"/v/{id}"), new PageGotoOptions { WaitUntil = WaitUntilState.Load });

        Assert.Equal(200, view!.Status);
        Assert.Equal("A test pattern · Imagebin", await page.TitleAsync());
        var image = page.Locator("main img");
        Assert.Equal(item.GetProperty("direct_url").GetString(), await image.GetAttributeAsync("src"));
        // The AI caption when it is ready by now, else the title: never empty.
        Assert.False(string.IsNullOrWhiteSpace(await image.GetAttributeAsync("alt")));
        await page.WaitForFunctionAsync("() => document.querySelector('main img').complete");
        Assert.Equal(48, await image.EvaluateAsync<int>("img => img.naturalWidth"));
        Assert.Equal(item.GetProperty("direct_url").GetString(), await page.Locator("#share-direct").InputValueAsync());
        Assert.Equal("flex", await page.Locator(".site-header-inner").EvaluateAsync<string>("e => getComputedStyle(e).display"));

        // The copy buttons the page's script shows put the field's text on the clipboard.
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new BrowserContextGrantPermissionsOptions { Origin = site.BaseUrl });
        await page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Copy Markdown" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new PageGetByRoleOptions { Name = "Copied Markdown" })).ToBeVisibleAsync();
        Assert.Equal(await page.Locator("#share-markdown").InputValueAsync(), await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));
        Assert.StartsWith("![", await page.Locator("#share-markdown").InputValueAsync());
        problems.AssertNone();
    }
}
