using System.Net;
using Imagebin.Features.Authority;
using Imagebin.Features.Web;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Docs;

/// <summary>The layout every server-rendered page shares: one stylesheet by a content-hashed URL, the strict policy, the navigation.</summary>
public sealed class SiteLayoutTests
{
    [Theory]
    [InlineData("/docs")]
    [InlineData("/guide")]
    [InlineData("/privacy")]
    [InlineData("/account/signin")]
    [InlineData("/account/signup")]
    public async Task Page_LinksTheStylesheet_UnderTheStrictPolicy_WithNoInlineStyle(string path)
    {
        await using var app = new ImagebinApp();
        using var response = await app.Anonymous().GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Html.ContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains($"<link rel=\"stylesheet\" href=\"{SiteAssets.StylesheetPath}\">", html);
        Assert.DoesNotContain("<style", html);
        Assert.DoesNotContain(" style=", html);
        Assert.Contains("<html lang=\"en\">", html);
        Assert.Contains("<a class=\"skip-link\" href=\"#content\">", html);
        Assert.Contains("<main id=\"content\"", html);
        foreach (var (href, _) in Html.Navigation)
        {
            Assert.Contains($"href=\"{href}\"", html);
        }
    }

    [Fact]
    public async Task Stylesheet_IsCss_CachedForAYear_AndOtherNamesAre404()
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();

        using var css = await client.GetAsync(SiteAssets.StylesheetPath);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=31536000, immutable", css.Headers.CacheControl?.ToString());
        Assert.Contains("prefers-color-scheme: dark", await css.Content.ReadAsStringAsync());

        Assert.Matches(@"^/static/site\.[0-9a-f]{16}\.css$", SiteAssets.StylesheetPath);
        using var stale = await client.GetAsync("/static/site.0000000000000000.css");
        Assert.Equal(HttpStatusCode.NotFound, stale.StatusCode);
    }
}
