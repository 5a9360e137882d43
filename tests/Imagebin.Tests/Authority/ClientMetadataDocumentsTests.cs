using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Imagebin.Features.Authority;
using Imagebin.Infrastructure.Outbound;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Imagebin.Tests.Authority;

/// <summary>OAuth Client ID Metadata Documents: fetched from a real https server through the guarded client, validated, cached.</summary>
public sealed class ClientMetadataDocumentsTests
{
    private const string Refused = "the client metadata document was refused: ";

    private static ClientMetadataDocuments Documents(GuardedHttp http, IMemoryCache cache, ClientMetadataOptions? options = null) =>
        new(http, cache, Options.Create(options ?? new ClientMetadataOptions()), NullLogger<ClientMetadataDocuments>.Instance);

    private static MemoryCache NewCache() => new(new MemoryCacheOptions());

    private static JsonObject ValidDocument(string clientId) => new()
    {
        ["client_id"] = clientId,
        ["client_name"] = "Example Agent",
        ["client_uri"] = "https://agent.example/",
        ["logo_uri"] = "https://agent.example/logo.png",
        ["redirect_uris"] = new JsonArray("http://127.0.0.1/callback", "https://agent.example/callback", "com.example.agent:/callback"),
        ["grant_types"] = new JsonArray("authorization_code", "refresh_token"),
        ["response_types"] = new JsonArray("code"),
        ["token_endpoint_auth_method"] = "none",
    };

    [Fact]
    public async Task GetAsync_ValidDocument_IsParsed_AndTheSecondCallIsServedFromTheCache()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/oauth/client.json");
        server.MapJson("/oauth/client.json", ValidDocument(clientId).ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();
        var documents = Documents(http, cache);

        var first = await documents.GetAsync(clientId, default);
        var second = await documents.GetAsync(clientId, default);

        Assert.True(first.Succeeded, first.Error);
        var metadata = first.Metadata;
        Assert.Equal(clientId, metadata.ClientId);
        Assert.Equal("Example Agent", metadata.ClientName);
        Assert.Equal("https://agent.example/", metadata.ClientUri);
        Assert.Equal("https://agent.example/logo.png", metadata.LogoUri);
        Assert.Equal(["http://127.0.0.1/callback", "https://agent.example/callback", "com.example.agent:/callback"], metadata.RedirectUris);
        Assert.Equal(["authorization_code", "refresh_token"], metadata.GrantTypes);
        Assert.Equal(["code"], metadata.ResponseTypes);
        Assert.Equal("none", metadata.TokenEndpointAuthMethod);
        Assert.Same(first, second);
        Assert.Equal(1, server.Hits("/oauth/client.json"));
        Assert.Equal("application/json", Assert.Single(server.RequestHeaders)["Accept"]);
    }

    [Fact]
    public async Task GetAsync_MinimalDocument_GetsTheDefaults()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", new JsonObject { ["client_id"] = clientId, ["redirect_uris"] = new JsonArray("https://agent.example/cb") }.ToJsonString(),
            contentType: "application/json; charset=utf-8");
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Null(result.Metadata.ClientName);
        Assert.Null(result.Metadata.ClientUri);
        Assert.Null(result.Metadata.LogoUri);
        Assert.Equal(["authorization_code"], result.Metadata.GrantTypes);
        Assert.Equal(["code"], result.Metadata.ResponseTypes);
        Assert.Equal("none", result.Metadata.TokenEndpointAuthMethod);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("?")]
    [InlineData("?v=2")]
    [InlineData("%20")]
    public async Task GetAsync_ClientIdNotExactlyTheUrl_IsRefused(string suffix)
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", ValidDocument(clientId + suffix).ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "its client_id is not exactly the URL it was fetched from", result.Error);
        Assert.Equal(1, server.TotalHits);
    }

    [Fact]
    public async Task GetAsync_ClientIdWithAnotherHostSpelling_IsRefused()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", ValidDocument($"https://localhost:{server.Port}/client.json").ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "its client_id is not exactly the URL it was fetched from", result.Error);
    }

    [Fact]
    public async Task GetAsync_Redirect_IsRefused_AndTheLocationIsNotFetched()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.Map("/client.json", context =>
        {
            context.Response.StatusCode = StatusCodes.Status302Found;
            context.Response.Headers.Location = server.Url("/elsewhere.json");
            return Task.CompletedTask;
        });
        server.MapJson("/elsewhere.json", ValidDocument(clientId).ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "redirects are not followed", result.Error);
        Assert.Equal(1, server.Hits("/client.json"));
        Assert.Equal(0, server.Hits("/elsewhere.json"));
    }

    [Theory]
    [InlineData(StatusCodes.Status404NotFound)]
    [InlineData(StatusCodes.Status204NoContent)]
    [InlineData(StatusCodes.Status500InternalServerError)]
    public async Task GetAsync_StatusOtherThan200_IsRefused(int status)
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.Map("/client.json", context =>
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        });
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + $"its URL answered HTTP {status}", result.Error);
    }

    [Fact]
    public async Task GetAsync_DocumentOverTheLimit_IsRefused()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        var document = ValidDocument(clientId);
        document["padding"] = new string('x', 5 * 1024);
        server.MapJson("/client.json", document.ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "larger than 5 KiB", result.Error);
    }

    [Fact]
    public async Task GetAsync_ChunkedDocumentOverTheLimit_IsRefused()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.Map("/client.json", async context =>
        {
            // Flushed pieces, so Kestrel sends them chunked, without Content-Length.
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("{\"client_id\": \"" + clientId + "\", \"padding\": \"");
            for (var i = 0; i < 8; i++)
            {
                await context.Response.WriteAsync(new string('x', 1024));
                await context.Response.Body.FlushAsync();
            }

            await context.Response.WriteAsync("\"}");
        });
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "larger than 5 KiB", result.Error);
    }

    [Fact]
    public async Task GetAsync_ConfiguredLimit_IsTheOneApplied()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        var document = ValidDocument(clientId);
        document["padding"] = new string('x', 600);
        server.MapJson("/client.json", document.ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache, new ClientMetadataOptions { MaxBytes = 512 }).GetAsync(clientId, default);

        Assert.Equal(Refused + "larger than 512 bytes", result.Error);
    }

    [Fact]
    public async Task GetAsync_SlowServer_IsRefused_AfterTheTimeout()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.Map("/client.json", async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            await context.Response.WriteAsync(ValidDocument(clientId).ToJsonString());
        });
        using var http = TestHttpsServer.Client(timeoutSeconds: 1);
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "timed out after 1 s", result.Error);
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("text/plain")]
    [InlineData("application/octet-stream")]
    [InlineData("application/jsonp")]
    [InlineData("")]
    public async Task GetAsync_ContentTypeOtherThanJson_IsRefused(string contentType)
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", ValidDocument(clientId).ToJsonString(), contentType);
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "it is not served as application/json", result.Error);
    }

    [Theory]
    [InlineData("client_secret", "\"s3cret\"", "it has client_secret, and only public clients may use a metadata document")]
    [InlineData("client_secret_expires_at", "0", "it has client_secret_expires_at, and only public clients may use a metadata document")]
    [InlineData("token_endpoint_auth_method", "\"client_secret_basic\"", "token_endpoint_auth_method must be none (absent) for a public client")]
    [InlineData("token_endpoint_auth_method", "\"client_secret_post\"", "token_endpoint_auth_method must be none (absent) for a public client")]
    [InlineData("token_endpoint_auth_method", "\"private_key_jwt\"", "token_endpoint_auth_method must be none (absent) for a public client")]
    [InlineData("token_endpoint_auth_method", "null", "token_endpoint_auth_method must be none (absent) for a public client")]
    [InlineData("redirect_uris", "[\"javascript:alert(document.cookie)\"]", "redirect_uris[0] is not an acceptable redirect URI")]
    [InlineData("redirect_uris", "[\"https://agent.example/cb\", \"http://evil.example/cb\"]", "redirect_uris[1] is not an acceptable redirect URI")]
    [InlineData("redirect_uris", "[\"https://agent.example/cb#frag\"]", "redirect_uris[0] is not an acceptable redirect URI")]
    [InlineData("redirect_uris", "[\"data:text/html,hi\"]", "redirect_uris[0] is not an acceptable redirect URI")]
    [InlineData("redirect_uris", "[\"/callback\"]", "redirect_uris[0] is not an acceptable redirect URI")]
    [InlineData("redirect_uris", "[]", "redirect_uris must be a non-empty array of strings")]
    [InlineData("redirect_uris", "\"https://agent.example/cb\"", "redirect_uris must be a non-empty array of strings")]
    [InlineData("redirect_uris", "[\"https://agent.example/cb\", 7]", "redirect_uris must be a non-empty array of strings")]
    [InlineData("grant_types", "[\"authorization_code\", \"implicit\"]", "grant_types must include authorization_code and may add only refresh_token")]
    [InlineData("grant_types", "[\"authorization_code\", \"password\"]", "grant_types must include authorization_code and may add only refresh_token")]
    [InlineData("grant_types", "[\"client_credentials\"]", "grant_types must include authorization_code and may add only refresh_token")]
    [InlineData("grant_types", "[\"refresh_token\"]", "grant_types must include authorization_code and may add only refresh_token")]
    [InlineData("response_types", "[\"token\"]", "response_types may only be [\"code\"]")]
    [InlineData("response_types", "[\"code\", \"id_token\"]", "response_types may only be [\"code\"]")]
    [InlineData("response_types", "[]", "response_types may only be [\"code\"]")]
    [InlineData("client_id", "42", "client_id is missing or not a string")]
    [InlineData("client_name", "{\"en\": \"Agent\"}", "client_name must be a string of at most 200 characters")]
    [InlineData("client_uri", "\"javascript:alert(1)\"", "client_uri must be an https URL")]
    [InlineData("logo_uri", "\"data:image/svg+xml,<svg/>\"", "logo_uri must be an https URL")]
    [InlineData("logo_uri", "\"http://agent.example/logo.png\"", "logo_uri must be an https URL")]
    public async Task GetAsync_UnacceptableDocument_IsRefused(string member, string valueJson, string reason)
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        var document = ValidDocument(clientId);
        document[member] = JsonNode.Parse(valueJson);
        server.MapJson("/client.json", document.ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + reason, result.Error);
    }

    [Theory]
    [InlineData("redirect_uris", "redirect_uris must be a non-empty array of strings")]
    [InlineData("client_id", "client_id is missing or not a string")]
    public async Task GetAsync_DocumentWithoutARequiredMember_IsRefused(string member, string reason)
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        var document = ValidDocument(clientId);
        document.Remove(member);
        server.MapJson("/client.json", document.ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + reason, result.Error);
    }

    [Theory]
    [InlineData("""{"client_id": "{url}", "client_id": "https://other.example/client.json", "redirect_uris": ["https://a.example/cb"]}""", "it is not valid JSON")]
    [InlineData("""{"client_id": "{url}", "redirect_uris": ["https://a.example/cb"]""", "it is not valid JSON")]
    [InlineData("""["{url}"]""", "it is not a JSON object")]
    [InlineData("", "it is not valid JSON")]
    public async Task GetAsync_MalformedDocument_IsRefused(string body, string reason)
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", body.Replace("{url}", clientId));
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + reason, result.Error);
    }

    [Fact]
    public async Task GetAsync_PrivateAddress_IsRefusedBeforeConnecting_WhenPrivateAddressesAreNotAllowed()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", ValidDocument(clientId).ToJsonString());
        using var http = TestHttpsServer.Client(allowPrivateAddresses: false);
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(Refused + "the address 127.0.0.1 is not public", result.Error);
        Assert.Equal(0, server.TotalHits);
    }

    [Fact]
    public async Task GetAsync_Refusal_IsCachedToo_SoTheUrlIsNotFetchedAgainAtOnce()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        var document = ValidDocument(clientId);
        document["client_secret"] = "s3cret";
        server.MapJson("/client.json", document.ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();
        var documents = Documents(http, cache);

        var first = await documents.GetAsync(clientId, default);
        server.MapJson("/client.json", ValidDocument(clientId).ToJsonString());
        var second = await documents.GetAsync(clientId, default);

        Assert.False(first.Succeeded);
        Assert.Same(first, second);
        Assert.Equal(1, server.TotalHits);
    }

    [Fact]
    public async Task GetAsync_CancelledByTheCaller_Throws_AndCachesNothing()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        var slow = true;
        server.Map("/client.json", async context =>
        {
            if (slow)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(ValidDocument(clientId).ToJsonString());
        });
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();
        var documents = Documents(http, cache);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => documents.GetAsync(clientId, cancel.Token));
        slow = false;
        var result = await documents.GetAsync(clientId, default);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(2, server.TotalHits);
    }

    [Fact]
    public async Task GetAsync_WhenDisabled_RefusesWithoutFetching()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/client.json");
        server.MapJson("/client.json", ValidDocument(clientId).ToJsonString());
        using var http = TestHttpsServer.Client();
        using var cache = NewCache();

        var result = await Documents(http, cache, new ClientMetadataOptions { Enabled = false }).GetAsync(clientId, default);

        Assert.Equal("client metadata documents are not accepted here", result.Error);
        Assert.Equal(0, server.TotalHits);
    }

    [Theory]
    [InlineData("http://agent.example/client.json", "the client_id is not an https URL")]
    [InlineData("HTTPS://agent.example/client.json", "the client_id is not an https URL")]
    [InlineData("agent.example/client.json", "the client_id is not an https URL")]
    [InlineData("https://agent.example", "the client_id URL has no path")]
    [InlineData("https://agent.example/", "the client_id URL has no path")]
    [InlineData("https://agent.example?client=1", "the client_id URL has no path")]
    [InlineData("https://agent.example/client.json#main", "the client_id URL has a fragment")]
    [InlineData("https://agent.example/client.json#", "the client_id URL has a fragment")]
    [InlineData("https://user@agent.example/client.json", "the client_id URL has a user name or password")]
    [InlineData("https://user:pass@agent.example/client.json", "the client_id URL has a user name or password")]
    [InlineData("https://agent.example/a/../client.json", "the client_id URL has a dot segment")]
    [InlineData("https://agent.example/./client.json", "the client_id URL has a dot segment")]
    [InlineData("https://agent.example/a/%2e%2E/client.json", "the client_id URL has a dot segment")]
    [InlineData("https://agent.example/a/..", "the client_id URL has a dot segment")]
    [InlineData("https://Agent.Example/client.json", "the client_id URL is not in normal form (https://agent.example/client.json)")]
    [InlineData("https://agent.example:443/client.json", "the client_id URL is not in normal form (https://agent.example/client.json)")]
    [InlineData("https://agent.example/client json", "the client_id URL is not in normal form (https://agent.example/client%20json)")]
    [InlineData("https://127.0.0.1/client.json", Refused + "the address 127.0.0.1 is not public")]
    [InlineData("https://[::1]/client.json", Refused + "the address [::1] is not public")]
    [InlineData("https://169.254.169.254/latest/meta-data", Refused + "the address 169.254.169.254 is not public")]
    [InlineData("https://10.0.0.1/client.json", Refused + "the address 10.0.0.1 is not public")]
    public async Task GetAsync_ClientIdThatCannotBeADocumentUrl_IsRefusedWithoutTheNetwork(string clientId, string reason)
    {
        using var http = new GuardedHttp(Options.Create(new OutboundOptions()));
        using var cache = NewCache();

        var result = await Documents(http, cache).GetAsync(clientId, default);

        Assert.Equal(reason, result.Error);
    }

    [Theory]
    [InlineData("https://agent.example/client.json")]
    [InlineData("https://agent.example:8443/oauth/client-metadata.json")]
    [InlineData("https://agent.example/clients/42?version=2")]
    [InlineData("https://agent.example/a/.well-known/client")]
    public void RefuseClientId_AcceptsHttpsUrlsWithAPath(string clientId) =>
        Assert.Null(ClientMetadataDocuments.RefuseClientId(clientId));

    [Theory]
    [InlineData(null, 300)]
    [InlineData("max-age=3600", 3600)]
    [InlineData("public, max-age=600", 600)]
    [InlineData("max-age=5", 60)]
    [InlineData("max-age=0", 60)]
    [InlineData("no-store", 60)]
    [InlineData("no-cache, max-age=3600", 60)]
    [InlineData("max-age=31536000", 86400)]
    [InlineData("public", 300)]
    public void CacheTime_HonoursMaxAge_WithinAMinuteAndADay(string? cacheControl, int seconds)
    {
        var header = cacheControl is null ? null : CacheControlHeaderValue.Parse(cacheControl);

        Assert.Equal(TimeSpan.FromSeconds(seconds), ClientMetadataDocuments.CacheTime(header, new ClientMetadataOptions()));
    }

    [Fact]
    public void CacheTime_UsesTheConfiguredDefaultAndMaximum()
    {
        var options = new ClientMetadataOptions { DefaultCacheSeconds = 120, MaxCacheSeconds = 900 };

        Assert.Equal(TimeSpan.FromSeconds(120), ClientMetadataDocuments.CacheTime(null, options));
        Assert.Equal(TimeSpan.FromSeconds(900), ClientMetadataDocuments.CacheTime(CacheControlHeaderValue.Parse("max-age=3600"), options));
    }

    [Theory]
    [InlineData("https://agent.example/callback", true)]
    [InlineData("https://agent.example:8443/callback?x=1", true)]
    [InlineData("https://agent.example", true)]
    [InlineData("http://127.0.0.1/callback", true)]
    [InlineData("http://127.0.0.1:51004/callback", true)]
    [InlineData("http://[::1]:51004/callback", true)]
    [InlineData("http://localhost:3000/callback", true)]
    [InlineData("com.example.app:/callback", true)]
    [InlineData("com.example.app://callback", true)]
    [InlineData("https://agent.example/callback#fragment", false)]
    [InlineData("https://agent.example/callback#", false)]
    [InlineData("http://agent.example/callback", false)]
    [InlineData("http://127.0.0.2/callback", false)]
    [InlineData("http://127.0.0.1.agent.example/callback", false)]
    [InlineData("http://localhost.agent.example/callback", false)]
    [InlineData("http://127.0.0.1@agent.example/callback", false)]
    [InlineData("https://user:pass@agent.example/callback", false)]
    [InlineData("javascript:alert(1)", false)]
    [InlineData("JavaScript:alert(1)", false)]
    [InlineData("data:text/html,<script>alert(1)</script>", false)]
    [InlineData("file:///etc/passwd", false)]
    [InlineData("vbscript:msgbox", false)]
    [InlineData("myapp:/callback", false)]
    [InlineData("ftp://agent.example/callback", false)]
    [InlineData("/callback", false)]
    [InlineData("callback", false)]
    [InlineData("", false)]
    [InlineData(" https://agent.example/callback", false)]
    [InlineData("https://agent.example/call back", false)]
    [InlineData("https://agent.example/callback\n", false)]
    public void RedirectUriRules_IsAcceptable(string uri, bool acceptable) =>
        Assert.Equal(acceptable, RedirectUriRules.IsAcceptable(uri));

    [Theory]
    [InlineData("https://agent.example/callback", "https://agent.example/callback", true)]
    [InlineData("https://agent.example/callback", "https://agent.example/callback/", false)]
    [InlineData("https://agent.example/callback", "https://agent.example:8443/callback", false)]
    [InlineData("https://agent.example/callback", "https://Agent.example/callback", false)]
    [InlineData("https://agent.example/callback", "https://agent.example/callback?x=1", false)]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:51004/callback", true)]
    [InlineData("http://127.0.0.1:8080/callback", "http://127.0.0.1:51004/callback", true)]
    [InlineData("http://[::1]/callback", "http://[::1]:51004/callback", true)]
    [InlineData("http://127.0.0.1/callback", "http://[::1]:51004/callback", false)]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:51004/other", false)]
    [InlineData("http://127.0.0.1/callback", "http://127.0.0.1:99999/callback", false)]
    [InlineData("http://localhost/callback", "http://localhost:51004/callback", false)]
    [InlineData("com.example.app:/callback", "com.example.app:/callback", true)]
    public void RedirectUriRules_Matches_ExactlyOrWithAnyLoopbackPort(string registered, string requested, bool matches) =>
        Assert.Equal(matches, RedirectUriRules.Matches(registered, requested));

    [Fact]
    public void AllowsRedirectUri_ChecksEveryRegisteredUri()
    {
        var metadata = new ClientMetadata("https://agent.example/client.json", null, null, null,
            ["https://agent.example/callback", "http://127.0.0.1/callback"], ["authorization_code"], ["code"], "none");

        Assert.True(metadata.AllowsRedirectUri("https://agent.example/callback"));
        Assert.True(metadata.AllowsRedirectUri("http://127.0.0.1:49152/callback"));
        Assert.False(metadata.AllowsRedirectUri("https://evil.example/callback"));
        Assert.False(metadata.AllowsRedirectUri("https://agent.example/callback/../evil"));
    }

    [Fact]
    public void AddClientMetadata_BindsItsSections_AndResolves()
    {
        using var provider = Services(new()
        {
            ["Authority:ClientMetadata:MaxBytes"] = "2048",
            ["Authority:ClientMetadata:DefaultCacheSeconds"] = "120",
            ["Outbound:TimeoutSeconds"] = "3",
        });

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.NotNull(provider.GetRequiredService<ClientMetadataDocuments>());
        Assert.Equal(2048, provider.GetRequiredService<IOptions<ClientMetadataOptions>>().Value.MaxBytes);
        Assert.Equal(120, provider.GetRequiredService<IOptions<ClientMetadataOptions>>().Value.DefaultCacheSeconds);
        var outbound = provider.GetRequiredService<IOptions<OutboundOptions>>().Value;
        Assert.Equal(3, outbound.TimeoutSeconds);
        Assert.False(outbound.AllowPrivateAddresses);
        Assert.False(outbound.AllowHttp);
        Assert.Equal(TimeSpan.FromSeconds(3), provider.GetRequiredService<GuardedHttp>().Timeout);
    }

    [Theory]
    [InlineData("Authority:ClientMetadata:DefaultCacheSeconds", "100000")]
    [InlineData("Authority:ClientMetadata:MaxCacheSeconds", "30")]
    [InlineData("Authority:ClientMetadata:MaxBytes", "10")]
    [InlineData("Outbound:TimeoutSeconds", "0")]
    public void AddClientMetadata_RefusesUnusableOptions_AtStartUp(string key, string value)
    {
        using var provider = Services(new() { [key] = value });

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains(key.Split(':')[^1], failure.Message);
    }

    [Fact]
    public void AddClientMetadata_RefusesADefaultCacheTimeAboveTheMaximum_AtStartUp()
    {
        using var provider = Services(new()
        {
            ["Authority:ClientMetadata:DefaultCacheSeconds"] = "3600",
            ["Authority:ClientMetadata:MaxCacheSeconds"] = "600",
        });

        var failure = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("must not exceed", failure.Message);
    }

    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging();
        services.AddClientMetadata();
        return services.BuildServiceProvider();
    }
}
