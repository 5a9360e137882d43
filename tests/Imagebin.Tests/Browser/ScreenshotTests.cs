using System.Net.Http.Headers;
using Imagebin.Tests.Support;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// Screenshots of the main pages at desktop and phone widths, written to <c>docs/screenshots/</c> for the README: the
/// test fails if a page does not render, and a reviewer sees the look change in the diff. The site gets a few images
/// first, so that the gallery, the view page, the dashboard and the review queue show something.
/// </summary>
public sealed class ScreenshotTests(Chromium chromium) : IClassFixture<Chromium>
{
    /// <summary>Each page's name, path, and who looks at it (nobody, the owner, or an admin).</summary>
    private static readonly (string Name, string Path, string? Account)[] Pages =
    [
        ("home", "/", null), ("view", "/view", null), ("dashboard", "/dashboard", "alice"), ("account", "/account", "alice"),
        ("admin", "/admin", "root"), ("report", "/abuse/report", null), ("docs", "/docs", null), ("guide", "/guide", null),
        ("signin", "/account/signin", null),
    ];

    public static TheoryData<string, string> Shots()
    {
        var data = new TheoryData<string, string>();
        foreach (var (name, _, _) in Pages)
        {
            data.Add(name, "desktop");
            data.Add(name, "phone");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shots))]
    public async Task Screenshot_OfPage_IsWrittenToDocs(string name, string device)
    {
        var (_, path, account) = Pages.Single(p => p.Name == name);
        var (width, height) = device == "desktop" ? (1280, 800) : (390, 844);
        await using var site = LiveSite.Start();
        var firstId = await SeedAsync(site);
        await using var context = await chromium.NewContextAsync(width, height);
        if (account is not null)
        {
            await site.SignInAsync(context, account, admin: account == "root");
        }

        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url(path == "/view" ? $"/v/{firstId}" : path), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.Locator("h1").WaitForAsync();
        await page.WaitForFunctionAsync("() => [...document.images].every(i => i.complete)");

        var file = Path.Combine(ScreenshotDirectory(), $"{name}-{device}.png");
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, Animations = ScreenshotAnimations.Disabled });

        Assert.True(bytes.Length > 1000, $"{file} is only {bytes.Length} bytes");
        Assert.True(File.Exists(file));
    }

    /// <summary>Three public images of alice's, with titles and tags, scanned; returns the first one's id.</summary>
    private static async Task<string> SeedAsync(LiveSite site)
    {
        using var api = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await site.App.CreateKeyAsync("alice"));
        var ids = new List<string>();
        foreach (var (title, seed) in new[] { ("Harbour at dusk", 11), ("Test pattern", 12), ("Noise study", 13) })
        {
            var item = await api.UploadAsync(TestImages.Jpeg(640, 427, seed: seed), configure: r =>
            {
                r.Headers.Add("x-title", title);
                r.Headers.Add("x-tags", "sample,screenshot");
            });
            ids.Add(item.GetProperty("id").GetString()!);
        }

        foreach (var id in ids)
        {
            await api.WaitForScanAsync(id);
        }

        return ids[0];
    }

    /// <summary><c>docs/screenshots/</c> of the repository the test binary was built in.</summary>
    private static string ScreenshotDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Imagebin.slnx")))
        {
            directory = directory.Parent;
        }

        var screenshots = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("Imagebin.slnx not found above the test binary."), "docs", "screenshots");
        Directory.CreateDirectory(screenshots);
        return screenshots;
    }
}
