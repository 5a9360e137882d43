using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// Screenshots of the main pages at desktop and phone widths, written to <c>docs/screenshots/</c> for the README: the
/// test fails if a page does not render, and a reviewer sees the look change in the diff.
/// </summary>
public sealed class ScreenshotTests(Chromium chromium) : IClassFixture<Chromium>
{
    public static TheoryData<string, string, string> Shots()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (path, name) in new[] { ("/docs", "docs"), ("/guide", "guide"), ("/account/signin", "signin") })
        {
            data.Add(path, name, "desktop");
            data.Add(path, name, "phone");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shots))]
    public async Task Screenshot_OfPage_IsWrittenToDocs(string path, string name, string device)
    {
        var (width, height) = device == "desktop" ? (1280, 800) : (390, 844);
        await using var site = LiveSite.Start();
        await using var context = await chromium.NewContextAsync(width, height);
        var page = await context.NewPageAsync();
        await page.GotoAsync(site.Url(path), new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        await page.Locator("h1").WaitForAsync();

        var file = Path.Combine(ScreenshotDirectory(), $"{name}-{device}.png");
        var bytes = await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, Animations = ScreenshotAnimations.Disabled });

        Assert.True(bytes.Length > 1000, $"{file} is only {bytes.Length} bytes");
        Assert.True(File.Exists(file));
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
