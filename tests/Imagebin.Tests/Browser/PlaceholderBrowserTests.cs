using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// placeholder.js in Chromium: while an image's bytes are held back, the gallery, the dashboard and the view page show the
/// item's ThumbHash as the image's background (set through CSSOM, so no CSP report), and drop it once the image loaded.
/// </summary>
public sealed class PlaceholderBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task Pages_ShowThePlaceholder_UntilTheImageLoads_WithNoConsoleErrorsOrCspViolations()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var id = await owner.UploadAsync("slow picture", seed: 5);

        foreach (var (path, selector) in new[] { ("/", ".gallery img"), ("/dashboard", ".dash-thumb img"), ($"/v/{id}", ".view-image img") })
        {
            var page = await owner.Context.NewPageAsync();
            var problems = Problems.Watch(page);
            var release = new TaskCompletionSource();
            await page.RouteAsync($"**/i/{id}.*", async route =>
            {
                await release.Task;
                await route.ContinueAsync();
            });

            await page.GotoAsync(owner.Url(path), new() { WaitUntil = WaitUntilState.DOMContentLoaded });
            var image = page.Locator(selector).First;
            Assert.False(string.IsNullOrEmpty(await image.GetAttributeAsync("data-placeholder")), path);
            await page.WaitForFunctionAsync($"() => document.querySelector('{selector}').style.backgroundImage.startsWith('url(\"data:image/png')");
            Assert.True(await image.EvaluateAsync<bool>("img => img.classList.contains('has-placeholder') && !img.complete"), path);
            // Decoration only: the image keeps its own text, and nothing new is in the accessibility tree.
            Assert.False(string.IsNullOrWhiteSpace(await image.GetAttributeAsync("alt")), path);

            release.SetResult();
            await page.WaitForFunctionAsync($"() => {{ const img = document.querySelector('{selector}'); return img.complete && img.naturalWidth > 0; }}");
            await page.WaitForFunctionAsync($"() => document.querySelector('{selector}').style.backgroundImage === ''");
            Assert.False(await image.EvaluateAsync<bool>("img => img.classList.contains('has-placeholder')"), path);
            problems.AssertNone();
            await page.CloseAsync();
        }
    }
}
