using System.Net;
using System.Text.RegularExpressions;
using Imagebin.Features.Authority;
using Imagebin.Features.Web;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Docs;

/// <summary>
/// The page behind an anonymous upload's <c>delete_url</c>, over HTTP: on the layout, never indexed or cached, its one
/// script allowed by <c>script-src 'self'</c> and nothing inline; it tells nothing about the image.
/// </summary>
public sealed partial class DeletePageTests
{
    [Fact]
    public async Task DeletePage_IsNoindexNoStoreHtml_UnderTheScriptPolicy_WithOnlyItsOwnScript()
    {
        await using var app = new ImagebinApp();
        using var response = await app.Anonymous().GetAsync("/delete/abcdefghij12");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Equal(Html.ScriptContentSecurityPolicy, policy);
        Assert.Contains("script-src 'self';", policy);
        Assert.DoesNotContain("unsafe-inline", policy);
        Assert.Contains("<meta name=\"robots\" content=\"noindex\">", html);
        Assert.Contains("<title>Delete this image? · Imagebin</title>", html);
        Assert.Contains("<code>abcdefghij12</code>", html);
        Assert.Contains("<button type=\"button\" id=\"delete-button\"", html);
        Assert.Contains("aria-live=\"polite\"", html);

        // One script element, by the content-hashed URL, empty; no inline handlers or style.
        var scripts = ScriptElement().Matches(html);
        Assert.Equal([$"<script src=\"{SiteAssets.DeleteScriptPath}\" defer></script>"], scripts.Select(m => m.Value));
        Assert.DoesNotMatch(@"\son[a-z]+=", html);
        Assert.DoesNotContain(" style=", html);
        Assert.DoesNotContain("<img", html);
    }

    [Fact]
    public async Task DeletePage_ForAnExistingItem_ReadsTheSameAsForAnyId()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var item = await owner.UploadAsync(TestImages.Jpeg());
        var id = item.GetProperty("id").GetString()!;
        var client = app.Anonymous();

        var existing = await client.GetStringAsync($"/delete/{id}");
        var madeUp = await client.GetStringAsync("/delete/zzzzzzzzzzzz");

        Assert.Equal(madeUp.Replace("zzzzzzzzzzzz", id, StringComparison.Ordinal), existing);
    }

    [Fact]
    public async Task DeletePage_EncodesTheId()
    {
        await using var app = new ImagebinApp();
        var html = await app.Anonymous().GetStringAsync("/delete/%3Cb%3E%22x");

        Assert.Contains("<code>&lt;b&gt;&quot;x</code>", html);
        Assert.DoesNotContain("<b>", html);
    }

    [Fact]
    public async Task DeleteScript_IsJavaScript_CachedForAYear()
    {
        await using var app = new ImagebinApp();
        using var script = await app.Anonymous().GetAsync(SiteAssets.DeleteScriptPath);

        Assert.Matches(@"^/static/delete\.[0-9a-f]{16}\.js$", SiteAssets.DeleteScriptPath);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=31536000, immutable", script.Headers.CacheControl?.ToString());
        Assert.Equal("nosniff", script.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("x-delete-token", await script.Content.ReadAsStringAsync());
    }

    [GeneratedRegex(@"<script\b[^>]*>[\s\S]*?</script>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptElement();
}
