using System.Net.Http.Headers;
using System.Net.Http.Json;
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
        // A variant, so that viewing counts no download; the original is a link away. For an image this small, the
        // smallest variant that holds it whole (never enlarged), and no srcset: there is nothing to choose from.
        Assert.Equal(item.GetProperty("direct_url").GetString() + "?w=640", await image.GetAttributeAsync("src"));
        Assert.Null(await image.GetAttributeAsync("srcset"));
        Assert.Equal(item.GetProperty("direct_url").GetString(), await page.GetByRole(AriaRole.Link, new() { Name = "Original image" }).GetAttributeAsync("href"));
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

    /// <summary>Looking at an image with a download limit of 1 does not use it up: the page shows a variant.</summary>
    [Fact]
    public async Task ViewPage_OfAnImageWithADownloadLimit_ShowsIt_WithoutCountingADownload()
    {
        await using var site = LiveSite.Start();
        using var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync());
        var item = await api.UploadAsync(TestImages.Jpeg(1600, 900, seed: 8), configure: r => r.Headers.Add("x-title", "Once only"));
        var id = item.GetProperty("id").GetString()!;
        Assert.Equal("passed", (await api.WaitForScanAsync(id)).GetProperty("scan_state").GetString());
        using (var patch = await api.PatchAsJsonAsync($"/api/v1/items/{id}", new { dl_limit = 1 }))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, patch.StatusCode);
        }

        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        await page.GotoAsync(site.Url($"/v/{id}"), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.WaitForFunctionAsync("() => { const img = document.querySelector('main img'); return img.complete && img.naturalWidth > 0; }");
        await page.ReloadAsync(new PageReloadOptions { WaitUntil = WaitUntilState.Load });
        await page.WaitForFunctionAsync("() => { const img = document.querySelector('main img'); return img.complete && img.naturalWidth > 0; }");

        var current = new Uri(await page.Locator("main img").EvaluateAsync<string>("img => img.currentSrc"));
        Assert.StartsWith("w=", current.Query.TrimStart('?'));
        Assert.Equal(0, (await api.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/v1/items/{id}")).GetProperty("downloads").GetInt64());
        Assert.Contains("counts as a download", await page.Locator(".view-original").InnerTextAsync());
        problems.AssertNone();
    }
}
