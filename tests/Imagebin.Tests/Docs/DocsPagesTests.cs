using System.Net;
using System.Reflection;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Docs;

/// <summary>The developer guide, the error reference, the user guide and the policy pages.</summary>
public sealed class DocsPagesTests
{
    public static TheoryData<string> ErrorCodeConstants() =>
        [.. typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!)];

    private static async Task<string> PageAsync(HttpClient client, string path, string title)
    {
        using var response = await client.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {html}");
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"<title>{title} · Imagebin</title>", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("noindex", html);
        return html;
    }

    [Theory]
    [InlineData("/docs", "Developer guide")]
    [InlineData("/docs/errors", "Error codes")]
    [InlineData("/guide", "User guide")]
    [InlineData("/privacy", "Privacy")]
    [InlineData("/terms", "Terms of use")]
    [InlineData("/abuse", "Abuse and reporting")]
    public async Task Page_IsHtml_WithItsTitle(string path, string title)
    {
        await using var app = new ImagebinApp();
        await PageAsync(app.Anonymous(), path, title);
    }

    [Fact]
    public void InvalidDpopProof_IsAnErrorCode()
    {
        Assert.Contains(ErrorCodes.InvalidDpopProof, ErrorCodeConstants().Select(row => row.Data));
    }

    [Theory]
    [MemberData(nameof(ErrorCodeConstants))]
    public async Task ErrorPage_ExistsForEveryCode_WithItsStatus(string code)
    {
        await using var app = new ImagebinApp();
        var html = await PageAsync(app.Anonymous(), $"/docs/errors/{code}", code);
        Assert.Contains($"HTTP {ErrorCodes.Status(code)}", html);
        Assert.Contains("What to do", html);
        var index = await PageAsync(app.Anonymous(), "/docs/errors", "Error codes");
        Assert.Contains($"href=\"/docs/errors/{code}\"", index);
    }

    [Theory]
    [InlineData("no_such_code")]
    [InlineData("NOT_FOUND")]
    public async Task ErrorPage_ForAnUnknownCode_IsNotFound(string code)
    {
        await using var app = new ImagebinApp();
        await (await app.Anonymous().GetAsync($"/docs/errors/{code}")).AssertErrorAsync(404, "not_found");
    }

    [Fact]
    public async Task ProblemType_OfAnError_ResolvesToItsPage()
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();
        using var error = await client.GetAsync("/api/v1/account/items");
        var type = (await error.JsonAsync()).GetProperty("type").GetString()!;

        Assert.Equal(ImagebinApp.BaseUrl + "/docs/errors/auth_required", type);
        await PageAsync(client, new Uri(type).AbsolutePath, "auth_required");
    }

    [Fact]
    public async Task DeveloperGuide_HasACurlExampleForEachEndpoint_AndMcpConfiguration()
    {
        await using var app = new ImagebinApp(settings: new() { ["Imagebin:PublicBaseUrl"] = "https://img.example.com" });
        var html = await PageAsync(app.Anonymous(), "/docs", "Developer guide");

        foreach (var expected in new[]
        {
            "curl -sS -X POST $B/api/v1/items", "curl -sS $B/api/v1/items/ID", "$B/api/v1/account/items?", "-X PATCH $B/api/v1/items/ID",
            "-X DELETE $B/api/v1/items/ID", "$B/api/v1/account/keys", "$B/api/v1/reports", "$B/api/v1/auth/pow/challenge",
            "mcpServers", "&quot;Authorization&quot;: &quot;Bearer pbca_live_", "${input:imagebin-key}", "https://img.example.com/mcp",
            "invalid_dpop_proof", "26,214,400 bytes",
        })
        {
            Assert.Contains(expected, html.Replace("\"", "&quot;"));
        }
    }

    [Fact]
    public async Task PolicyPages_NameTheConfiguredOperator_Encoded()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Site:OperatorName"] = "Example <Hosting> & Co",
            ["Site:ContactEmail"] = "privacy@example.com",
            ["Site:AbuseEmail"] = "abuse@example.com",
            ["Site:Jurisdiction"] = "the Province of Ontario, Canada",
        });
        var client = app.Anonymous();

        var privacy = await PageAsync(client, "/privacy", "Privacy");
        var terms = await PageAsync(client, "/terms", "Terms of use");
        var abuse = await PageAsync(client, "/abuse", "Abuse and reporting");

        Assert.Contains("Example &lt;Hosting&gt; &amp; Co", privacy);
        Assert.DoesNotContain("<Hosting>", privacy + terms + abuse);
        Assert.Contains("mailto:privacy@example.com", privacy);
        Assert.Contains("the Province of Ontario, Canada", terms);
        Assert.Contains("mailto:abuse@example.com", abuse);
    }

    [Fact]
    public async Task PolicyFile_ReplacesTheDefaultText()
    {
        var dir = Directory.CreateTempSubdirectory("imagebin-policy-").FullName;
        var terms = Path.Combine(dir, "terms.md");
        var privacy = Path.Combine(dir, "privacy.html");
        await File.WriteAllTextAsync(terms, "## Our rules\n\nBe **kind** to <everyone>.\n\n- one\n- [two](https://example.com/x)\n");
        await File.WriteAllTextAsync(privacy, "<p id=\"own\">Our own privacy text.</p>");
        try
        {
            await using var app = new ImagebinApp(settings: new() { ["Site:TermsFile"] = terms, ["Site:PrivacyFile"] = privacy });
            var client = app.Anonymous();

            var termsHtml = await PageAsync(client, "/terms", "Terms of use");
            Assert.Contains("<h3>Our rules</h3><p>Be <strong>kind</strong> to &lt;everyone&gt;.</p><ul><li>one</li><li><a href=\"https://example.com/x\">two</a></li></ul>", termsHtml);
            Assert.DoesNotContain("Your content", termsHtml);
            Assert.Contains("<p id=\"own\">Our own privacy text.</p>", await PageAsync(client, "/privacy", "Privacy"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("Site:TermsFile", "/nonexistent/terms.md")]
    [InlineData("Site:AbuseEmail", "not an address")]
    [InlineData("Site:OperatorName", "")]
    public async Task BadSiteOption_StopsStartUp_NamingTheKey(string key, string value)
    {
        await using var app = new ImagebinApp(settings: new() { [key] = value });

        var failure = Assert.ThrowsAny<Exception>(() => app.CreateClient());

        Assert.Contains(key.Split(':')[1], failure.ToString());
    }
}
