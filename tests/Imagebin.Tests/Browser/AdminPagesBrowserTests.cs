using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using Imagebin.Features.Accounts;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// The admin pages in Debian's Chromium, on a live site: a moderator imports a hash list, approves one held image and
/// removes another, bans and unbans an account, all through the API with the session; a tampered anti-forgery token
/// changes nothing and says so. No console errors, no CSP violations.
/// </summary>
public sealed class AdminPagesBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    private const string Password = "correct horse battery";

    private static async Task<HttpClient> KeyClientAsync(LiveSite site, string account)
    {
        var client = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync(account));
        return client;
    }

    private static async Task<IPage> SignInAsAdminAsync(LiveSite site, IBrowserContext context, string returnUrl)
    {
        await using (var scope = site.App.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AccountService>().CreateAsync("moderator", admin: true, Password, CancellationToken.None);
        }

        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url($"/account/signin?return_url={Uri.EscapeDataString(returnUrl)}"));
        await page.Locator("#name").FillAsync("moderator");
        await page.Locator("#password").FillAsync(Password);
        await page.Locator("#password").PressAsync("Enter");
        await page.WaitForURLAsync(site.Url(returnUrl), new() { WaitUntil = WaitUntilState.DOMContentLoaded });
        return page;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [Fact]
    public async Task Moderator_ImportsAHoldList_ApprovesOneHeldImage_AndRemovesAnother()
    {
        await using var site = LiveSite.Start();
        using var owner = await KeyClientAsync(site, "alice");
        using var anonymous = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        var first = TestImages.Jpeg(64, 48, seed: 41);
        var second = TestImages.Jpeg(64, 48, seed: 42);
        await using var context = await chromium.NewContextAsync();
        var page = await SignInAsAdminAsync(site, context, "/admin/hashes");
        var problems = Problems.Watch(page);

        await page.Locator("#hash-csv").FillAsync("kind,hash,action,reason\nsha256,not-a-hash,hold,typo\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Import" }).ClickAsync();
        await page.Locator("#hash-status", new() { HasText = "Not imported: Line 2" }).WaitForAsync();

        var spare = Sha256([1, 2, 3]);
        await page.Locator("#hash-csv").FillAsync($"kind,hash,action,reason\nsha256,{Sha256(first)},hold,check first\nsha256,{Sha256(second)},hold,check second\nsha256,{spare},block,by mistake\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Import" }).ClickAsync();
        await page.Locator("#hash-status", new() { HasText = "Imported 3 entries." }).WaitForAsync();
        Assert.Equal(1, await page.Locator("#hash-entries tr", new() { HasText = Sha256(first) }).CountAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = $"Delete sha256 {spare}" }).ClickAsync();
        await page.Locator("#hash-status", new() { HasText = $"Deleted the sha256 entry {spare}." }).WaitForAsync();
        Assert.Equal(0, await page.Locator("#hash-entries tr", new() { HasText = spare }).CountAsync());
        await page.ReloadAsync();
        Assert.Equal(0, await page.Locator("#hash-entries tr", new() { HasText = spare }).CountAsync());
        Assert.Equal(1, await page.Locator("#hash-entries tr", new() { HasText = Sha256(second) }).CountAsync());

        var firstItem = await owner.WaitForScanAsync((await owner.UploadAsync(first)).GetProperty("id").GetString()!);
        var secondItem = await owner.WaitForScanAsync((await owner.UploadAsync(second)).GetProperty("id").GetString()!);
        Assert.Equal("held", firstItem.GetProperty("scan_state").GetString());
        Assert.Equal("held", secondItem.GetProperty("scan_state").GetString());
        var (firstId, secondId) = (firstItem.GetProperty("id").GetString()!, secondItem.GetProperty("id").GetString()!);
        Assert.Equal((HttpStatusCode)503, (await anonymous.GetAsync(firstItem.PathOf("direct_url"))).StatusCode);

        await page.GotoAsync(site.Url("/admin"));
        var firstCard = page.Locator($"#item-{firstId}");
        var secondCard = page.Locator($"#item-{secondId}");
        // A thumbnail (a variant) may still be in the making when the card appears: wait for it to load or fail.
        await page.WaitForFunctionAsync($"() => document.querySelector('#item-{firstId} img')?.complete === true");
        Assert.True(await firstCard.Locator("img").EvaluateAsync<bool>("img => img.naturalWidth === 64"), "the held image shows to the admin");
        Assert.Contains("check first", await firstCard.InnerTextAsync());

        await firstCard.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await firstCard.Locator(".review-status", new() { HasText = "Approved" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(firstItem.PathOf("direct_url"))).StatusCode);

        await secondCard.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await secondCard.Locator(".review-status", new() { HasText = "Give a reason" }).WaitForAsync();
        Assert.Equal((HttpStatusCode)503, (await anonymous.GetAsync(secondItem.PathOf("direct_url"))).StatusCode);
        await secondCard.GetByLabel("Reason").FillAsync("spam campaign");
        await secondCard.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await secondCard.Locator(".review-status", new() { HasText = "Removed" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.Gone, (await anonymous.GetAsync(secondItem.PathOf("direct_url"))).StatusCode);

        await page.ReloadAsync();
        await page.Locator(".admin-empty", new() { HasText = "The queue is empty." }).WaitForAsync();
        problems.AssertNone(failedRequestTo: "/api/v1/admin/hashes", status: 400);
    }

    [Fact]
    public async Task Moderator_BansAnAccount_ItsKeyIsRefused_ThenUnbansIt()
    {
        await using var site = LiveSite.Start();
        using var mallory = await KeyClientAsync(site, "mallory");
        await using var context = await chromium.NewContextAsync(360, 740);
        var page = await SignInAsAdminAsync(site, context, "/admin/accounts");
        var problems = Problems.Watch(page);

        await page.GetByLabel("Name contains").FillAsync("mall");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var row = page.Locator("tr", new() { HasText = "mallory" });
        await row.WaitForAsync();
        Assert.Equal(1, await page.Locator("tbody tr").CountAsync());
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "no horizontal scroll at 360 px");

        await row.GetByLabel("Reason for mallory").FillAsync("spam uploads");
        await row.GetByRole(AriaRole.Button, new() { Name = "Ban" }).ClickAsync();
        await row.Locator(".ban-status", new() { HasText = "Banned" }).WaitForAsync();
        Assert.Equal("yes", await row.Locator(".account-banned").InnerTextAsync());
        using (var refused = await mallory.GetAsync("/api/v1/account/items"))
        {
            await refused.AssertErrorAsync(403, "account_banned");
        }

        await row.GetByLabel("Reason for mallory").FillAsync("appeal accepted");
        await row.GetByRole(AriaRole.Button, new() { Name = "Unban" }).ClickAsync();
        await row.Locator(".ban-status", new() { HasText = "Unbanned" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.OK, (await mallory.GetAsync("/api/v1/account/items")).StatusCode);
        problems.AssertNone();
    }

    [Fact]
    public async Task TamperedAntiForgeryToken_IsRefusedAsBadOrigin_AndChangesNothing()
    {
        await using var site = LiveSite.Start();
        using var mallory = await KeyClientAsync(site, "mallory");
        await using var context = await chromium.NewContextAsync();
        var page = await SignInAsAdminAsync(site, context, "/admin/accounts?q=mallory");
        var problems = Problems.Watch(page);

        await page.EvaluateAsync("() => { document.querySelector('meta[name=\"csrf-token\"]').content = 'tampered'; }");
        var row = page.Locator("tr", new() { HasText = "mallory" });
        await row.GetByLabel("Reason for mallory").FillAsync("spam uploads");
        await row.GetByRole(AriaRole.Button, new() { Name = "Ban" }).ClickAsync();

        await row.Locator(".ban-status", new() { HasText = "did not come from this site's pages" }).WaitForAsync();
        Assert.Equal("no", await row.Locator(".account-banned").InnerTextAsync());
        Assert.Equal(HttpStatusCode.OK, (await mallory.GetAsync("/api/v1/account/items")).StatusCode);
        problems.AssertNone(failedRequestTo: "/ban", status: 403);
    }
}
