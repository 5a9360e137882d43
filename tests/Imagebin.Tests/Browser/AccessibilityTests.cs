using System.Net.Http.Headers;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
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
        var page = await context.NewPageAsync();
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });

        await page.GotoAsync(site.Url($"/v/{id}"), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.WaitForFunctionAsync("() => document.querySelector('main img')?.complete");

        await Accessibility.AssertNoSeriousViolationsAsync(page);
    }

    public static TheoryData<string, ColorScheme> SignedInPages()
    {
        var data = new TheoryData<string, ColorScheme>();
        foreach (var path in new[] { "/", "/view", "/dashboard", "/account", "/admin", "/admin/reports", "/admin/hashes", "/admin/accounts" })
        {
            data.Add(path, ColorScheme.Light);
            data.Add(path, ColorScheme.Dark);
        }

        return data;
    }

    /// <summary>
    /// The pages of a signed-in account, with content: an admin who owns two images (one public, one held for review, so
    /// the dashboard shows its badges and the queue its evidence), its view page, its keys, and the admin pages.
    /// </summary>
    [Theory]
    [MemberData(nameof(SignedInPages))]
    public async Task SignedInPage_HasNoSeriousAccessibilityViolations(string path, ColorScheme scheme)
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        await site.SignInAsync(context, "root", admin: true);
        using var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync("root"));
        var shown = (await api.UploadAsync(TestImages.Png(48, 32, seed: 7), "image/png", r => r.Headers.Add("x-title", "A pattern"))).GetProperty("id").GetString()!;
        var held = (await api.UploadAsync(TestImages.Jpeg(seed: 8), configure: r => r.Headers.Add("x-tags", "held,test"))).GetProperty("id").GetString()!;
        await api.WaitForScanAsync(shown);
        await api.WaitForScanAsync(held);
        await using (var scope = site.App.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.Where(i => i.Id == held).ExecuteUpdateAsync(set => set
                .SetProperty(i => i.ScanState, ScanState.Held).SetProperty(i => i.ReviewSince, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        }

        var page = await context.NewPageAsync();
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });
        await page.GotoAsync(site.Url(path == "/view" ? $"/v/{shown}" : path), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.Locator("h1").WaitForAsync();
        await page.WaitForFunctionAsync("() => [...document.images].every(i => i.complete)");

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
