using Imagebin.Features.Accounts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>The server-rendered pages in Debian's Chromium: they load cleanly under their Content-Security-Policy, fit a phone, and work by keyboard.</summary>
public sealed class PageTests(Chromium chromium) : IClassFixture<Chromium>
{
    public static TheoryData<string, string> Pages() => new()
    {
        { "/", "Upload an image" },
        { "/docs", "Developer guide" },
        { "/guide", "User guide" },
        { "/account/signin", "Sign in" },
        { "/account/signup", "Create an account" },
        { "/docs/api", "API reference" },
        { "/docs/errors", "Error codes" },
        { "/docs/errors/invalid_dpop_proof", "invalid_dpop_proof" },
        { "/privacy", "Privacy" },
        { "/terms", "Terms of use" },
        { "/abuse", "Abuse and reporting" },
        { "/abuse/report", "Report an image" },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Page_LoadsWithTheSiteStylesheet_AndNoConsoleErrorsOrCspViolations(string path, string title)
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        var response = await page.GotoAsync(site.Url(path), new PageGotoOptions { WaitUntil = WaitUntilState.Load });

        Assert.Equal(200, response!.Status);
        Assert.Equal($"{title} · Imagebin", await page.TitleAsync());
        await page.Locator("h1").WaitForAsync();
        // The stylesheet applied (it is the only source of style the policy allows): the header is a flex row.
        Assert.Equal("flex", await page.Locator(".site-header-inner").EvaluateAsync<string>("e => getComputedStyle(e).display"));
        Assert.Equal(4, await page.Locator("header nav a").CountAsync());
        problems.AssertNone();
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Page_HasNoHorizontalScroll_OnA360PixelPhone(string path, string title)
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync(width: 360, height: 740);
        var page = await context.NewPageAsync();

        await page.GotoAsync(site.Url(path));
        await page.Locator("h1", new() { HasText = title }).WaitForAsync();

        var (scrollWidth, clientWidth) = (
            await page.EvaluateAsync<int>("document.documentElement.scrollWidth"),
            await page.EvaluateAsync<int>("document.documentElement.clientWidth"));
        Assert.True(scrollWidth <= clientWidth, $"{path} is {scrollWidth} px wide in a {clientWidth} px viewport");
    }

    [Fact]
    public async Task SignIn_ByKeyboardOnly_StartsASession()
    {
        await using var site = LiveSite.Start();
        await using (var scope = site.App.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AccountService>()
                .CreateAsync("keyboard-kim", admin: false, "a long enough password", CancellationToken.None);
        }

        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);
        await page.GotoAsync(site.Url("/account/signin?return_url=%2Fguide"));
        await page.Locator("#name").WaitForAsync();

        // The account name field has the focus on arrival (autofocus); the rest is Tab, typing and Enter.
        await TabUntilFocusedAsync(page, "name");
        await page.Keyboard.TypeAsync("keyboard-kim");
        await TabUntilFocusedAsync(page, "password");
        await page.Keyboard.TypeAsync("a long enough password");

        var post = await page.RunAndWaitForResponseAsync(
            () => page.Keyboard.PressAsync("Enter"),
            r => r.Request.Method == "POST" && r.Url == site.Url("/account/signin"));
        await page.WaitForURLAsync(site.Url("/guide"));

        Assert.Equal(302, post.Status);
        var cookies = await context.CookiesAsync([site.BaseUrl]);
        Assert.Contains(cookies, c => c.Name == "imagebin_session" && c.HttpOnly);
        problems.AssertNone();
    }

    [Theory]
    [InlineData(ColorScheme.Light)]
    [InlineData(ColorScheme.Dark)]
    public async Task ColourScheme_FollowsTheSystem_WithAaContrastForTextAndLinks(ColorScheme scheme)
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.EmulateMediaAsync(new PageEmulateMediaOptions { ColorScheme = scheme });
        await page.GotoAsync(site.Url("/docs"));
        await page.Locator("main a").First.WaitForAsync();

        // WCAG 2 relative luminance and contrast ratio of computed colours (all opaque rgb() here).
        var ratios = await page.EvaluateAsync<double[]>("""
            () => {
              const rgb = e => getComputedStyle(e).color.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
              const bg = e => getComputedStyle(e).backgroundColor.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
              const lum = c => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
              const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
              const page = bg(document.body);
              return [lum(page), ratio(rgb(document.body), page), ratio(rgb(document.querySelector('main a')), page),
                      ratio(rgb(document.querySelector('.site-nav a')), bg(document.querySelector('.site-header')))];
            }
            """);

        var (background, text, link, navigation) = (ratios[0], ratios[1], ratios[2], ratios[3]);
        Assert.True(scheme == ColorScheme.Dark ? background < 0.05 : background > 0.9, $"background luminance {background} in {scheme}");
        Assert.True(text >= 4.5, $"text contrast {text:F2}");
        Assert.True(link >= 4.5, $"link contrast {link:F2}");
        Assert.True(navigation >= 4.5, $"navigation contrast {navigation:F2}");
    }

    [Fact]
    public async Task SkipLink_IsTheFirstTabStop_AndLeadsPastTheNavigation()
    {
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url("/docs"));
        await page.Locator("h1").WaitForAsync();

        await page.Keyboard.PressAsync("Tab");
        var skip = page.Locator(".skip-link");
        Assert.True(await skip.EvaluateAsync<bool>("e => e === document.activeElement"), "the first Tab stop is not the skip link");
        Assert.True((await skip.BoundingBoxAsync())!.Y >= 0, "the focused skip link is off screen");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync(site.Url("/docs#content"));
        await page.Keyboard.PressAsync("Tab");

        Assert.True(await page.EvaluateAsync<bool>("document.activeElement.closest('main') !== null"), "Tab after the skip link left the page's content");
    }

    /// <summary>Presses Tab (at most 20 times) until the element with this id has the focus.</summary>
    private static async Task TabUntilFocusedAsync(IPage page, string id)
    {
        for (var presses = 0; presses < 20; presses++)
        {
            if (await page.EvaluateAsync<string>("document.activeElement?.id ?? ''") == id)
            {
                return;
            }

            await page.Keyboard.PressAsync("Tab");
        }

        Assert.Fail($"#{id} cannot be reached with the Tab key");
    }
}
