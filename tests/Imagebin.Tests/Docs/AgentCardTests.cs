using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Docs;

/// <summary>The agent card, llms.txt and robots.txt.</summary>
public sealed class AgentCardTests
{
    private const string Card = "/.well-known/agent.json";
    private const string Site = "https://img.example.com";

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    private static IEnumerable<string> AllStrings(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => [element.GetString()!],
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => AllStrings(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().SelectMany(AllStrings),
        _ => [],
    };

    [Fact]
    public async Task AgentCard_HasTheAgentCardShape_WithEveryUrlFromConfiguration_WhateverTheHost()
    {
        await using var app = new ImagebinApp(settings: new() { ["Imagebin:PublicBaseUrl"] = Site + "/" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://evil.example" + Card);
        request.Headers.Host = "evil.example";
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Forwarded-Proto", "http");

        using var response = await app.Anonymous().SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=3600", response.Headers.CacheControl?.ToString());
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil", body);
        var card = JsonDocument.Parse(body).RootElement;

        Assert.Equal("Imagebin", card.GetProperty("name").GetString());
        Assert.False(string.IsNullOrWhiteSpace(card.GetProperty("description").GetString()));
        Assert.Matches(@"^\d+\.\d+", card.GetProperty("version").GetString());
        Assert.Equal("Imagebin", card.GetProperty("provider").GetProperty("organization").GetString());
        Assert.Equal(Site + "/", card.GetProperty("provider").GetProperty("url").GetString());
        Assert.Equal(Site + "/", card.GetProperty("url").GetString());
        Assert.Equal(Site + "/docs", card.GetProperty("documentationUrl").GetString());
        Assert.Equal(JsonValueKind.Object, card.GetProperty("capabilities").ValueKind);
        Assert.Contains("application/json", Strings(card.GetProperty("defaultInputModes")));
        Assert.Contains("image/png", Strings(card.GetProperty("defaultInputModes")));
        Assert.Equal(["application/json"], Strings(card.GetProperty("defaultOutputModes")));

        var schemes = card.GetProperty("securitySchemes");
        Assert.Equal("http", schemes.GetProperty("apiKey").GetProperty("type").GetString());
        Assert.Equal("bearer", schemes.GetProperty("apiKey").GetProperty("scheme").GetString());
        var oauth = schemes.GetProperty("oauth2");
        Assert.Equal("oauth2", oauth.GetProperty("type").GetString());
        var code = oauth.GetProperty("flows").GetProperty("authorizationCode");
        Assert.Equal(Site + "/oauth/authorize", code.GetProperty("authorizationUrl").GetString());
        Assert.Equal(Site + "/oauth/token", code.GetProperty("tokenUrl").GetString());
        Assert.Equal(["image:create", "image:read", "image:delete"], code.GetProperty("scopes").EnumerateObject().Select(p => p.Name));
        var security = card.GetProperty("security").EnumerateArray().SelectMany(s => s.EnumerateObject().Select(p => p.Name)).ToArray();
        Assert.Equal(["apiKey", "oauth2"], security);

        Assert.Equal(
            ["upload_image", "get_image", "list_my_images", "update_image", "delete_image"],
            card.GetProperty("skills").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        foreach (var skill in card.GetProperty("skills").EnumerateArray())
        {
            Assert.False(string.IsNullOrWhiteSpace(skill.GetProperty("name").GetString()));
            Assert.False(string.IsNullOrWhiteSpace(skill.GetProperty("description").GetString()));
            Assert.NotEmpty(Strings(skill.GetProperty("tags")));
        }

        var links = card.GetProperty("links").EnumerateArray().Select(l => l.GetProperty("href").GetString()).ToArray();
        Assert.Contains(Site + "/api/v1/openapi.json", links);
        Assert.Contains(Site + "/mcp", links);
        Assert.Contains(Site + "/.well-known/oauth-protected-resource", links);
        Assert.Contains(Site + "/.well-known/oauth-protected-resource/mcp", links);

        var urls = AllStrings(card).SelectMany(s => System.Text.RegularExpressions.Regex.Matches(s, @"\w+://[^\s'""]+").Select(m => m.Value)).ToArray();
        Assert.NotEmpty(urls);
        Assert.All(urls, url => Assert.True(url == Site || url.StartsWith(Site + "/", StringComparison.Ordinal), url));
    }

    [Fact]
    public async Task AgentCard_NamesTheConfiguredIssuer_ForOAuth()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Imagebin:PublicBaseUrl"] = Site,
            ["Imagebin:Roles"] = "api",
            ["Authority:Mode"] = "External",
            ["Authority:Issuer"] = "https://accounts.example.com",
            ["Authority:IntrospectionClientId"] = "api",
            ["Authority:IntrospectionClientSecret"] = "secret",
        });

        var card = await (await app.Anonymous().GetAsync(Card)).JsonAsync();

        var code = card.GetProperty("securitySchemes").GetProperty("oauth2").GetProperty("flows").GetProperty("authorizationCode");
        Assert.Equal("https://accounts.example.com/oauth/authorize", code.GetProperty("authorizationUrl").GetString());
        Assert.Equal("https://accounts.example.com/oauth/token", code.GetProperty("tokenUrl").GetString());
        Assert.Equal(Site + "/docs", card.GetProperty("documentationUrl").GetString());
    }

    [Theory]
    [InlineData(Card)]
    [InlineData("/llms.txt")]
    [InlineData("/robots.txt")]
    public async Task Document_WithMatchingIfNoneMatch_IsNotModified(string path)
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();
        using var first = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var etag = first.Headers.ETag!;

        using var again = new HttpRequestMessage(HttpMethod.Get, path);
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(again);

        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal("public, max-age=3600", notModified.Headers.CacheControl?.ToString());

        using var stale = new HttpRequestMessage(HttpMethod.Get, path);
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"other\""));
        using var modified = await client.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
    }

    [Fact]
    public async Task LlmsTxt_IsMarkdownText_WithAbsoluteLinksFromConfiguration()
    {
        await using var app = new ImagebinApp(settings: new() { ["Imagebin:PublicBaseUrl"] = Site });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/llms.txt");
        request.Headers.Host = "evil.example";

        using var response = await app.Anonymous().SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        var text = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("# Imagebin\n", text);
        Assert.DoesNotContain("evil", text);
        foreach (var expected in new[] { "POST /api/v1/items", "GET /api/v1/items/{id}", "GET /api/v1/account/items", "PATCH /api/v1/items/{id}", "DELETE /api/v1/items/{id}",
            Site + "/mcp", Site + "/docs", Site + "/docs/errors", Site + "/.well-known/agent.json", "Authorization: Bearer pbca_live_" })
        {
            Assert.Contains(expected, text);
        }
    }

    [Fact]
    public async Task RobotsTxt_AllowsPublicPages_AndKeepsCrawlersOffTheApi()
    {
        await using var app = new ImagebinApp();

        using var response = await app.Anonymous().GetAsync("/robots.txt");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.TrimEntries);
        Assert.Equal("User-agent: *", lines[0]);
        Assert.Contains("Allow: /", lines);
        foreach (var path in new[] { "/api/", "/account/", "/oauth/", "/mcp" })
        {
            Assert.Contains("Disallow: " + path, lines);
        }

        Assert.DoesNotContain("Disallow: /", lines);
    }
}
