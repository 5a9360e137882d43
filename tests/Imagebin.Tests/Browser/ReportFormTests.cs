using System.Net.Http.Headers;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// The report form in Chromium: reached and sent with the keyboard alone by a visitor without an account (the page's
/// script solves the challenge for real), and its refusals as a visitor sees them.
/// </summary>
public sealed class ReportFormTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task Report_ByKeyboardOnly_FromTheViewPage_WithoutAnAccount()
    {
        await using var site = LiveSite.Start();
        var id = await UploadPublicAsync(site);
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);
        await page.GotoAsync(site.Url($"/v/{id}"));
        await page.Locator("h1").WaitForAsync();

        // The first Tab shows the skip link; the next ones walk the header's navigation, each with a visible focus ring.
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("Skip to content", await FocusedTextAsync(page));
        Assert.True(await page.EvaluateAsync<bool>("() => document.activeElement.getBoundingClientRect().top >= 0"), "the focused skip link is off screen");
        await AssertFocusVisibleAsync(page);
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("Imagebin", await FocusedTextAsync(page));
        foreach (var label in new[] { "Home", "Docs", "Guide", "Sign in" })
        {
            await page.Keyboard.PressAsync("Tab");
            Assert.Equal(label, await FocusedTextAsync(page));
            Assert.True(await page.EvaluateAsync<bool>("() => !!document.activeElement.closest('header nav')"));
            await AssertFocusVisibleAsync(page);
        }

        // Back to the skip link, and through it to the page's content: the next Tab lands inside <main>.
        for (var presses = 0; presses < 5; presses++)
        {
            await page.Keyboard.PressAsync("Shift+Tab");
        }

        Assert.Equal("Skip to content", await FocusedTextAsync(page));
        await page.Keyboard.PressAsync("Enter");
        await page.Keyboard.PressAsync("Tab");
        Assert.True(await page.EvaluateAsync<bool>("() => !!document.activeElement.closest('main')"), "the skip link does not lead into <main>");

        await TabUntilAsync(page, "() => document.activeElement.textContent === 'Report this image'");
        await AssertFocusVisibleAsync(page);
        await Task.WhenAll(page.WaitForURLAsync(site.Url($"/abuse/report?item={id}")), page.Keyboard.PressAsync("Enter"));
        await page.Locator("#report-item").WaitForAsync();

        // The form: the image is already filled in; a reason by type-ahead, details typed, then Enter on the button.
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("Skip to content", await FocusedTextAsync(page));
        await page.Keyboard.PressAsync("Enter");
        await TabUntilAsync(page, "() => document.activeElement.id === 'report-item'");
        Assert.Equal(id, await page.Locator("#report-item").InputValueAsync());
        await AssertFocusVisibleAsync(page);
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("report-category", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        await page.Keyboard.TypeAsync("Spam");
        Assert.Equal("spam", await page.Locator("#report-category").InputValueAsync());
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("report-details", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        await page.Keyboard.TypeAsync("Posted in every thread of a forum.");
        await TabUntilAsync(page, "() => document.activeElement.id === 'report-submit'");
        await AssertFocusVisibleAsync(page);

        var post = await page.RunAndWaitForResponseAsync(
            () => page.Keyboard.PressAsync("Enter"),
            r => r.Request.Method == "POST" && r.Url == site.Url("/abuse/report"));

        Assert.Equal(200, post.Status);
        await page.Locator("h1", new() { HasText = "Report sent" }).WaitForAsync();
        Assert.Contains("the moderators have your report", await page.Locator("main").InnerTextAsync());
        var report = Assert.Single(await ReportsAsync(site));
        Assert.Equal((id, "spam", "Posted in every thread of a forum."), (report.ItemId, report.Category, report.Details));
        Assert.StartsWith("address:", report.Reporter);
        await Accessibility.AssertNoSeriousViolationsAsync(page);
        problems.AssertNone();
    }

    [Fact]
    public async Task UnknownImage_IsRefused_WithTheMessageAndTheFormFilledIn()
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url("/abuse/report"));

        await page.Locator("#report-item").FillAsync("zzzzzzzzzzzz");
        await page.Locator("#report-category").SelectOptionAsync("copyright");
        await page.Locator("#report-details").FillAsync("My photograph.");
        var post = await SubmitAsync(page, site);

        Assert.Equal(404, post.Status);
        var alert = page.GetByRole(AriaRole.Alert);
        Assert.Contains("No image has the link or ID", await alert.InnerTextAsync());
        Assert.Equal("zzzzzzzzzzzz", await page.Locator("#report-item").InputValueAsync());
        // The field to correct has the focus, and its description starts with the message.
        Assert.Equal("report-item", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        Assert.Equal("true", await page.Locator("#report-item").GetAttributeAsync("aria-invalid"));
        Assert.Equal("copyright", await page.Locator("#report-category").InputValueAsync());
        Assert.Equal("My photograph.", await page.Locator("#report-details").InputValueAsync());
        Assert.Empty(await ReportsAsync(site));
        await Accessibility.AssertNoSeriousViolationsAsync(page);

        // Corrected in place and sent again: the new challenge is solved too.
        var id = await UploadPublicAsync(site);
        await page.Locator("#report-item").FillAsync(id);
        Assert.Equal(200, (await SubmitAsync(page, site)).Status);
        Assert.Equal(id, Assert.Single(await ReportsAsync(site)).ItemId);
    }

    [Fact]
    public async Task ForgedCsrfToken_IsRefusedWith400_AndStoresNothing()
    {
        await using var site = LiveSite.Start();
        var id = await UploadPublicAsync(site);
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url($"/abuse/report?item={id}"));
        await page.Locator("#report-category").SelectOptionAsync("spam");

        await page.EvaluateAsync("() => { document.querySelector('input[name=csrf]').value = 'CfDJ8-forged'; }");
        var post = await SubmitAsync(page, site);

        Assert.Equal(400, post.Status);
        Assert.Contains("The form expired or came from another site.", await page.GetByRole(AriaRole.Alert).InnerTextAsync());
        Assert.Empty(await ReportsAsync(site));
    }

    [Fact]
    public async Task MissingReason_IsCaughtByTheBrowser_BeforeAnythingIsSent()
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var posts = 0;
        page.Request += (_, request) => posts += request.Method == "POST" ? 1 : 0;
        await page.GotoAsync(site.Url("/abuse/report?item=abcdefghij12"));

        await page.Locator("#report-submit").ClickAsync();

        Assert.True(await page.Locator("#report-category").EvaluateAsync<bool>("e => e.validity.valueMissing"));
        Assert.Equal("report-category", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        Assert.Equal(0, posts);
    }

    private static Task<IResponse> SubmitAsync(IPage page, LiveSite site) =>
        page.RunAndWaitForResponseAsync(
            () => page.Locator("#report-submit").ClickAsync(),
            r => r.Request.Method == "POST" && r.Url == site.Url("/abuse/report"));

    private static async Task<string> UploadPublicAsync(LiveSite site)
    {
        using var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync());
        var id = (await api.UploadAsync(TestImages.Png(40, 30, seed: 11), "image/png")).GetProperty("id").GetString()!;
        Assert.Equal("passed", (await api.WaitForScanAsync(id)).GetProperty("scan_state").GetString());
        return id;
    }

    private static async Task<List<Report>> ReportsAsync(LiveSite site)
    {
        await using var scope = site.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Reports.AsNoTracking().ToListAsync();
    }

    private static Task<string> FocusedTextAsync(IPage page) => page.EvaluateAsync<string>("() => document.activeElement.textContent.trim()");

    /// <summary>The focused element shows the site's focus ring (:focus-visible), at least 2 px of solid outline.</summary>
    private static async Task AssertFocusVisibleAsync(IPage page)
    {
        var (style, width) = (
            await page.EvaluateAsync<string>("() => getComputedStyle(document.activeElement).outlineStyle"),
            await page.EvaluateAsync<double>("() => parseFloat(getComputedStyle(document.activeElement).outlineWidth)"));
        Assert.True(style != "none" && width >= 2, $"{await FocusedTextAsync(page)}: outline {style} {width}px");
    }

    private static async Task TabUntilAsync(IPage page, string predicate)
    {
        for (var presses = 0; presses < 40; presses++)
        {
            if (await page.EvaluateAsync<bool>(predicate))
            {
                return;
            }

            await page.Keyboard.PressAsync("Tab");
        }

        Assert.Fail($"Tab never reached: {predicate}");
    }
}
