using System.Net.Http.Headers;
using Imagebin.Tests.Support;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// axe-core on the server-rendered pages in Chromium, in the light and the dark colour scheme: no serious or critical
/// violation (labels, names, contrast, landmarks, document language and title, ARIA).
/// </summary>
public sealed class AccessibilityTests(Chromium chromium) : IClassFixture<Chromium>
{
    public static TheoryData<string, ColorScheme> Pages()
    {
        var data = new TheoryData<string, ColorScheme>();
        foreach (var path in new[] { "/", "/docs", "/guide", "/account/signin", "/account/signup", "/abuse", "/abuse/report", "/delete/abcdefghij12#token=abc" })
        {
            data.Add(path, ColorScheme.Light);
            data.Add(path, ColorScheme.Dark);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Page_HasNoSeriousAccessibilityViolations(string path, ColorScheme scheme)
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });

        await page.GotoAsync(site.Url(path), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.Locator("h1").WaitForAsync();

        await Accessibility.AssertNoSeriousViolationsAsync(page);
    }

    [Theory]
    [InlineData(ColorScheme.Light)]
    [InlineData(ColorScheme.Dark)]
    public async Task ViewPage_OfAPublicImage_HasNoSeriousAccessibilityViolations(ColorScheme scheme)
    {
        await using var site = LiveSite.Start();
        using var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync());
        var item = await api.UploadAsync(TestImages.Png(48, 32, seed: 7), "image/png", r => r.Headers.Add("x-tags", "pattern,test"));
        var id = item.GetProperty("id").GetString()!;
        Assert.Equal("passed", (await api.WaitForScanAsync(id)).GetProperty("scan_state").GetString());

        await using var context = await chromium.NewContextAsync();
        // The page's links name the configured origin (ImagebinApp.BaseUrl); the live site answers for it.
        await context.RouteAsync(ImagebinApp.BaseUrl + "/**", async route =>
        {
            var response = await route.FetchAsync(new RouteFetchOptions { Url = site.Url(new Uri(route.Request.Url).PathAndQuery) });
            await route.FulfillAsync(new RouteFulfillOptions { Response = response });
        });
        var page = await context.NewPageAsync();
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });

        await page.GotoAsync(site.Url($"/v/{id}"), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.WaitForFunctionAsync("() => document.querySelector('main img')?.complete");

        await Accessibility.AssertNoSeriousViolationsAsync(page);
    }

    [Fact]
    public async Task Check_FindsViolations_WhenAPageHasThem()
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url("/docs"));
        await page.Locator("h1").WaitForAsync();

        // An image without a text alternative and a field without a label, added after the page loaded.
        await page.EvaluateAsync("""
            () => {
              const main = document.querySelector('main');
              main.append(Object.assign(document.createElement('img'), { src: 'data:,' }));
              main.append(Object.assign(document.createElement('input'), { type: 'text' }));
            }
            """);
        var violations = await Accessibility.SeriousViolationsAsync(page);

        Assert.Contains(violations, v => v.StartsWith("image-alt (critical", StringComparison.Ordinal) && v.Contains("img", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith("label (critical", StringComparison.Ordinal) && v.Contains("input", StringComparison.Ordinal));
        await Assert.ThrowsAnyAsync<Exception>(() => Accessibility.AssertNoSeriousViolationsAsync(page));
    }
}
