using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace Imagebin.Tests.Accounts;

/// <summary>Protected-resource metadata (RFC 9728) and the challenges that point clients at it.</summary>
public sealed class ProtectedResourceTests
{
    private const string Metadata = "/.well-known/oauth-protected-resource";

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    [Theory]
    [InlineData(Metadata, ImagebinApp.BaseUrl)]
    [InlineData(Metadata + "/mcp", ImagebinApp.BaseUrl + "/mcp")]
    public async Task Document_DescribesTheResource_FromConfiguration(string path, string resource)
    {
        await using var app = new ImagebinApp();
        using var response = await app.Anonymous().GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("public, max-age=3600", response.Headers.CacheControl?.ToString());
        Assert.NotNull(response.Headers.ETag);
        var json = await response.JsonAsync();
        Assert.Equal(
            ["resource", "authorization_servers", "scopes_supported", "bearer_methods_supported", "dpop_signing_alg_values_supported", "resource_name", "resource_documentation"],
            json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(resource, json.GetProperty("resource").GetString());
        Assert.Equal([ImagebinApp.BaseUrl + "/"], Strings(json.GetProperty("authorization_servers")));
        Assert.Equal(["image:create", "image:read", "image:delete"], Strings(json.GetProperty("scopes_supported")));
        Assert.Equal(["header"], Strings(json.GetProperty("bearer_methods_supported")));
        Assert.Equal(["ES256", "ES384", "RS256", "PS256"], Strings(json.GetProperty("dpop_signing_alg_values_supported")));
        Assert.Equal("Imagebin", json.GetProperty("resource_name").GetString());
        Assert.Equal(ImagebinApp.BaseUrl + "/docs", json.GetProperty("resource_documentation").GetString());
    }

    [Fact]
    public async Task Document_NamesTheConfiguredIssuer_AndPublicBaseUrl()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Imagebin:PublicBaseUrl"] = "https://img.example.com/",
            ["Imagebin:Roles"] = "api",
            ["Authority:Mode"] = "External",
            ["Authority:Issuer"] = "https://accounts.example.com",
            ["Authority:IntrospectionClientId"] = "api",
            ["Authority:IntrospectionClientSecret"] = "secret",
        });

        var json = await (await app.Anonymous().GetAsync(Metadata + "/mcp")).JsonAsync();

        Assert.Equal("https://img.example.com/mcp", json.GetProperty("resource").GetString());
        Assert.Equal(["https://accounts.example.com"], Strings(json.GetProperty("authorization_servers")));
        Assert.Equal("https://img.example.com/docs", json.GetProperty("resource_documentation").GetString());
    }

    [Theory]
    [InlineData(Metadata, ImagebinApp.BaseUrl)]
    [InlineData(Metadata + "/mcp", ImagebinApp.BaseUrl + "/mcp")]
    public async Task Document_IgnoresASpoofedHost(string path, string resource)
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://evil.example" + path);
        request.Headers.Host = "evil.example";
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Forwarded-Proto", "https");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("evil", body);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(resource, json.GetProperty("resource").GetString());
        Assert.Equal([ImagebinApp.BaseUrl + "/"], Strings(json.GetProperty("authorization_servers")));
    }

    [Fact]
    public async Task Document_WithMatchingIfNoneMatch_IsNotModified()
    {
        await using var app = new ImagebinApp();
        var client = app.Anonymous();
        using var first = await client.GetAsync(Metadata);
        var etag = first.Headers.ETag!;
        using var mcp = await client.GetAsync(Metadata + "/mcp");
        Assert.NotEqual(etag, mcp.Headers.ETag);

        using var again = new HttpRequestMessage(HttpMethod.Get, Metadata);
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await client.SendAsync(again);

        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, notModified.Headers.ETag);
        Assert.Equal("public, max-age=3600", notModified.Headers.CacheControl?.ToString());

        using var stale = new HttpRequestMessage(HttpMethod.Get, Metadata);
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        using var modified = await client.SendAsync(stale);
        Assert.Equal(HttpStatusCode.OK, modified.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await modified.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(Metadata + "/other")]
    [InlineData(Metadata + "/mcp/other")]
    [InlineData(Metadata + "/api")]
    [InlineData("/.well-known/oauth-protected-resources")]
    public async Task UnknownWellKnownSuffix_IsNotFound(string path)
    {
        await using var app = new ImagebinApp();
        await (await app.Anonymous().GetAsync(path)).AssertErrorAsync(404, "not_found");
    }

    [Theory, Backends]
    public async Task Unauthorized_ChallengeNamesTheMetadata(Backend backend)
    {
        await using var app = new ImagebinApp(backend);

        using var anonymous = await app.Anonymous().GetAsync("/api/v1/account/items");
        await anonymous.AssertErrorAsync(401, "auth_required");
        Assert.Equal($"Bearer resource_metadata=\"{ImagebinApp.BaseUrl}{Metadata}\"", anonymous.Headers.WwwAuthenticate.ToString());

        using var wrongKey = await app.ClientWithKey("pbca_live_notarealkey").GetAsync("/api/v1/account/items");
        await wrongKey.AssertErrorAsync(401, "invalid_token");
        Assert.Equal($"Bearer resource_metadata=\"{ImagebinApp.BaseUrl}{Metadata}\", error=\"invalid_token\"", wrongKey.Headers.WwwAuthenticate.ToString());
    }

    [Theory, Backends]
    public async Task Unauthorized_UnderMcp_NamesTheMcpMetadata(Backend backend)
    {
        // A refused credential is answered before routing, so this holds before /mcp itself is mapped.
        await using var app = new ImagebinApp(backend);

        using var response = await app.ClientWithKey("pbca_live_notarealkey").PostAsync("/mcp", new StringContent("{}"));

        await response.AssertErrorAsync(401, "invalid_token");
        Assert.Equal($"Bearer resource_metadata=\"{ImagebinApp.BaseUrl}{Metadata}/mcp\", error=\"invalid_token\"", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory, Backends]
    public async Task InsufficientScope_ChallengeNamesScopeAndMetadata(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var reader = app.ClientWithKey(await app.CreateKeyAsync(scopes: "image:read"));

        using var response = await reader.PatchAsync("/api/v1/account", new StringContent("""{"ai_optout":true}""", System.Text.Encoding.UTF8, "application/json"));

        await response.AssertErrorAsync(403, "insufficient_scope");
        Assert.Equal(
            $"Bearer error=\"insufficient_scope\", scope=\"image:create\", resource_metadata=\"{ImagebinApp.BaseUrl}{Metadata}\"",
            response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("/mcp", true)]
    [InlineData("/mcp/", true)]
    [InlineData("/mcp/anything", true)]
    [InlineData("/MCP", true)]
    [InlineData("/mcpx", false)]
    [InlineData("/api/v1/mcp", false)]
    [InlineData("/api/v1/items", false)]
    [InlineData("/", false)]
    [InlineData("", false)]
    public void ChallengeHeaders_PointMcpRequestsAtTheMcpMetadata(string path, bool mcp)
    {
        const string site = "https://img.example.com";
        var metadata = site + Metadata + (mcp ? "/mcp" : "");

        Assert.Equal(metadata, BearerChallenge.MetadataUrl(site, new PathString(path)));
        Assert.Equal($"Bearer resource_metadata=\"{metadata}\"", BearerChallenge.Unauthorized(site, new PathString(path), invalidToken: false));
        Assert.Equal($"Bearer resource_metadata=\"{metadata}\", error=\"invalid_token\"", BearerChallenge.Unauthorized(site, new PathString(path), invalidToken: true));
        Assert.Equal(
            $"Bearer error=\"insufficient_scope\", scope=\"image:create image:delete\", resource_metadata=\"{metadata}\"",
            BearerChallenge.InsufficientScope(site, new PathString(path), "image:create image:delete"));
    }
}
