using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Infrastructure.Outbound;
using Imagebin.Tests.Authority;
using Imagebin.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Imagebin.Tests.Mcp;

public sealed class McpTests
{
    private const string McpAudience = ImagebinApp.BaseUrl + "/mcp";

    private static async Task<McpClient> ConnectAsync(ImagebinApp app, string token)
    {
        var http = new HttpClient(app.Server.CreateHandler()) { BaseAddress = new Uri(ImagebinApp.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = new Uri(McpAudience), TransportMode = HttpTransportMode.StreamableHttp },
            http, loggerFactory: null, ownsHttpClient: true);
        return await McpClient.CreateAsync(transport);
    }

    private static Task<CallToolResult> CallAsync(McpClient client, string tool, Dictionary<string, object?> arguments) =>
        client.CallToolAsync(tool, arguments).AsTask();

    private static JsonElement Structured(CallToolResult result)
    {
        Assert.True(result.IsError != true, $"Tool error: {string.Join(" ", result.Content.OfType<TextContentBlock>().Select(t => t.Text))}");
        return Assert.IsType<JsonElement>(result.StructuredContent);
    }

    private static void AssertToolError(CallToolResult result, string code)
    {
        var text = string.Join(" ", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
        Assert.True(result.IsError == true, $"Expected the tool error {code}, got: {text}");
        Assert.Equal(code, result.StructuredContent!.Value.GetProperty("error").GetString());
        Assert.StartsWith(code + ": ", text);
        Assert.DoesNotContain("   at ", text);
    }

    private static async Task<int> CountItemsAsync(ImagebinApp app)
    {
        using var owner = app.ClientWithKey(await app.CreateKeyAsync());
        var list = await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items");
        return list.GetProperty("items").GetArrayLength();
    }

    /// <summary>A JSON-RPC message posted by hand, to see the HTTP answer a client library would hide.</summary>
    private static async Task<HttpResponseMessage> PostRawAsync(
        ImagebinApp app, string? token, string json, Action<HttpRequestMessage>? configure = null, HttpMethod? method = null)
    {
        using var http = app.Anonymous();
        var request = new HttpRequestMessage(method ?? HttpMethod.Post, "/mcp");
        if (method is null || method == HttpMethod.Post)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        configure?.Invoke(request);
        return await http.SendAsync(request);
    }

    private static string ToolCall(string tool, object arguments) => JsonSerializer.Serialize(new
    {
        jsonrpc = "2.0",
        id = 1,
        method = "tools/call",
        @params = new { name = tool, arguments },
    });

    [Fact]
    public async Task ApiKeyClient_UploadsGetsListsUpdatesAndDeletes_LikeRest()
    {
        await using var app = new ImagebinApp();
        await using var client = await ConnectAsync(app, await app.CreateKeyAsync(audience: McpAudience));
        using var rest = app.ClientWithKey(await app.CreateKeyAsync());

        var tools = await client.ListToolsAsync();
        Assert.Equal(["delete_image", "get_image", "list_my_images", "update_image", "upload_image"], tools.Select(t => t.Name).Order());
        var upload = tools.Single(t => t.Name == "upload_image").ProtocolTool;
        Assert.False(string.IsNullOrEmpty(upload.Title));
        Assert.False(string.IsNullOrEmpty(upload.Description));
        Assert.True(upload.InputSchema.GetProperty("properties").TryGetProperty("mime_type", out _));
        Assert.True(upload.OutputSchema!.Value.GetProperty("properties").TryGetProperty("direct_url", out _));
        Assert.Equal(true, upload.Annotations!.OpenWorldHint);
        var delete = tools.Single(t => t.Name == "delete_image").ProtocolTool;
        Assert.Equal(true, delete.Annotations!.DestructiveHint);
        Assert.Equal(true, tools.Single(t => t.Name == "get_image").ProtocolTool.Annotations!.ReadOnlyHint);

        var png = TestImages.Png(seed: 7);
        var uploaded = await CallAsync(client, "upload_image", new()
        {
            ["data"] = Convert.ToBase64String(png),
            ["mime_type"] = "image/png",
            ["title"] = "Sunset over MCP",
            ["tags"] = new[] { "sky", "test" },
        });
        var item = Structured(uploaded);
        var id = item.GetProperty("id").GetString()!;
        Assert.Equal("image/png", item.GetProperty("content_type").GetString());
        Assert.Equal("Sunset over MCP", item.GetProperty("title").GetString());
        var links = uploaded.Content.OfType<ResourceLinkBlock>().Select(l => l.Uri).ToList();
        Assert.Contains(item.GetProperty("view_url").GetString(), links);
        Assert.Contains(item.GetProperty("direct_url").GetString(), links);
        Assert.Contains(item.GetProperty("direct_url").GetString() + "?w=640&format=webp", links);

        // The same item through REST: the tool wrote what an upload writes.
        var scanned = await rest.WaitForScanAsync(id);
        Assert.Equal("passed", scanned.GetProperty("scan_state").GetString());
        var stored = await app.Anonymous().GetByteArrayAsync(scanned.PathOf("direct_url"));
        using (var preview = await app.Anonymous().GetAsync(scanned.PathOf("direct_url") + "?w=640&format=webp"))
        {
            Assert.Equal("image/webp", preview.Content.Headers.ContentType!.MediaType);
        }

        var got = await CallAsync(client, "get_image", new() { ["id"] = id, ["include_bytes"] = true });
        Assert.Equal(id, Structured(got).GetProperty("id").GetString());
        // The pipeline's placeholder is in the tool's result as in the REST Item.
        Assert.Equal(scanned.GetProperty("placeholder").GetString(), Structured(got).GetProperty("placeholder").GetString());
        Assert.False(string.IsNullOrEmpty(Structured(got).GetProperty("placeholder").GetString()));
        var image = Assert.Single(got.Content.OfType<ImageContentBlock>());
        Assert.Equal("image/png", image.MimeType);
        Assert.Equal(stored, image.DecodedData.ToArray());

        await CallAsync(client, "upload_image", new() { ["data"] = Convert.ToBase64String(TestImages.Jpeg(seed: 8)), ["mime_type"] = "image/jpeg", ["private"] = true });
        var all = Structured(await CallAsync(client, "list_my_images", new()));
        Assert.Equal(2, all.GetProperty("items").GetArrayLength());
        var found = Structured(await CallAsync(client, "list_my_images", new() { ["q"] = "sunset" }));
        Assert.Equal(id, Assert.Single(found.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        var privateOnly = Structured(await CallAsync(client, "list_my_images", new() { ["private"] = true, ["limit"] = 1 }));
        Assert.True(Assert.Single(privateOnly.GetProperty("items").EnumerateArray()).GetProperty("private").GetBoolean());
        AssertToolError(await CallAsync(client, "list_my_images", new() { ["classification"] = "nice" }), "invalid_request");

        var updated = Structured(await CallAsync(client, "update_image", new() { ["id"] = id, ["title"] = null, ["tags"] = new[] { "dusk" }, ["dl_limit"] = 5 }));
        Assert.Equal(JsonValueKind.Null, updated.GetProperty("title").ValueKind);
        Assert.Equal(["dusk"], updated.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(5, updated.GetProperty("dl_limit").GetInt64());
        var viaRest = await rest.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal(5, viaRest.GetProperty("dl_limit").GetInt64());
        AssertToolError(await CallAsync(client, "update_image", new() { ["id"] = id, ["dl_limit"] = 0 }), "invalid_request");

        var deleted = await CallAsync(client, "delete_image", new() { ["id"] = id });
        Assert.True(Structured(deleted).GetProperty("deleted").GetBoolean());
        using var gone = await rest.GetAsync($"/api/v1/items/{id}");
        await gone.AssertErrorAsync(404, "not_found");
        AssertToolError(await CallAsync(client, "get_image", new() { ["id"] = id }), "not_found");
        AssertToolError(await CallAsync(client, "delete_image", new() { ["id"] = id }), "not_found");
    }

    [Fact]
    public async Task OAuthClient_ConnectsAndUploads_AndSeesOnlyItsOwnImages()
    {
        await using var app = new ImagebinApp();
        await app.CreateKeyAsync("alice");
        var (_, tokens) = await OAuthFlow.For(app).FullAsync(resource: McpAudience);
        await using var client = await ConnectAsync(app, tokens.GetProperty("access_token").GetString()!);
        Assert.Equal(5, (await client.ListToolsAsync()).Count);

        var item = Structured(await CallAsync(client, "upload_image", new() { ["data"] = Convert.ToBase64String(TestImages.Png()), ["mime_type"] = "image/png" }));
        var mine = Structured(await CallAsync(client, "list_my_images", new()));
        Assert.Equal(item.GetProperty("id").GetString(), Assert.Single(mine.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());

        // Someone else's private image does not exist for this caller, whichever tool asks.
        using var bob = app.ClientWithKey(await app.CreateKeyAsync("bob"));
        var theirs = await bob.UploadAsync(TestImages.Png(seed: 3), "image/png", request => request.Headers.Add("x-private", "true"));
        var theirId = theirs.GetProperty("id").GetString()!;
        AssertToolError(await CallAsync(client, "get_image", new() { ["id"] = theirId }), "not_found");
        AssertToolError(await CallAsync(client, "update_image", new() { ["id"] = theirId, ["title"] = "mine now" }), "not_found");
        AssertToolError(await CallAsync(client, "delete_image", new() { ["id"] = theirId }), "not_found");
        using var stillThere = await bob.GetAsync($"/api/v1/items/{theirId}");
        Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
    }

    [Fact]
    public async Task ReadOnlyKey_ListsOnlyReadTools_AndCallingUpload_Is403WithInsufficientScopeChallenge()
    {
        await using var app = new ImagebinApp();
        var readOnly = await app.CreateKeyAsync(scopes: "image:read", audience: McpAudience);
        await using (var client = await ConnectAsync(app, readOnly))
        {
            Assert.Equal(["get_image", "list_my_images"], (await client.ListToolsAsync()).Select(t => t.Name).Order());
        }

        var call = ToolCall("upload_image", new { data = Convert.ToBase64String(TestImages.Png()), mime_type = "image/png" });
        using var refused = await PostRawAsync(app, readOnly, call);
        await refused.AssertErrorAsync(403, "insufficient_scope");
        var challenge = refused.Headers.WwwAuthenticate.ToString();
        Assert.Contains("error=\"insufficient_scope\"", challenge);
        Assert.Contains("scope=\"image:create\"", challenge);
        Assert.Contains("resource_metadata=\"http://localhost/.well-known/oauth-protected-resource/mcp\"", challenge);

        using var deleteRefused = await PostRawAsync(app, readOnly, ToolCall("delete_image", new { id = "abc" }));
        await deleteRefused.AssertErrorAsync(403, "insufficient_scope");

        // The same message with the scope goes through to the tool.
        using var accepted = await PostRawAsync(app, await app.CreateKeyAsync(scopes: "image:create", audience: McpAudience), call);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Contains("\"content_type\":\"image/png\"", await accepted.Content.ReadAsStringAsync());
        Assert.Equal(1, await CountItemsAsync(app));
    }

    [Fact]
    public async Task NoCredentials_Is401WithMcpMetadata_AndARestAudienceKey_Is401()
    {
        await using var app = new ImagebinApp();
        var list = """{"jsonrpc":"2.0","id":1,"method":"tools/list"}""";
        using var anonymous = await PostRawAsync(app, null, list);
        await anonymous.AssertErrorAsync(401, "auth_required");
        Assert.Equal("Bearer resource_metadata=\"http://localhost/.well-known/oauth-protected-resource/mcp\"", anonymous.Headers.WwwAuthenticate.ToString());

        using var restKey = await PostRawAsync(app, await app.CreateKeyAsync(), list);
        await restKey.AssertErrorAsync(401, "invalid_token");

        using var mcpKey = await PostRawAsync(app, await app.CreateKeyAsync(audience: McpAudience), list);
        Assert.Equal(HttpStatusCode.OK, mcpKey.StatusCode);
    }

    [Fact]
    public async Task Get_Is405_ForeignOrigin_Is403_AndAnUnsupportedProtocolVersion_Is400()
    {
        await using var app = new ImagebinApp();
        var key = await app.CreateKeyAsync(audience: McpAudience);
        var list = """{"jsonrpc":"2.0","id":1,"method":"tools/list"}""";

        using var get = await PostRawAsync(app, key, "", method: HttpMethod.Get);
        await get.AssertErrorAsync(405, "method_not_allowed");

        using var foreign = await PostRawAsync(app, key, list, request => request.Headers.Add("Origin", "https://evil.example"));
        await foreign.AssertErrorAsync(403, "forbidden");
        using var sameOrigin = await PostRawAsync(app, key, list, request => request.Headers.Add("Origin", "http://localhost"));
        Assert.Equal(HttpStatusCode.OK, sameOrigin.StatusCode);

        using var badVersion = await PostRawAsync(app, key, list, request => request.Headers.Add("MCP-Protocol-Version", "1999-01-01"));
        await badVersion.AssertErrorAsync(400, "invalid_request");
        using var goodVersion = await PostRawAsync(app, key, list, request => request.Headers.Add("MCP-Protocol-Version", "2025-11-25"));
        Assert.Equal(HttpStatusCode.OK, goodVersion.StatusCode);
    }

    [Fact]
    public async Task BadUploads_AreToolErrorsWithRestCodes_AndStoreNothing()
    {
        await using var app = new ImagebinApp();
        await using var client = await ConnectAsync(app, await app.CreateKeyAsync(audience: McpAudience));

        AssertToolError(await CallAsync(client, "upload_image", new() { ["data"] = "not base64!!", ["mime_type"] = "image/png" }), "invalid_request");
        AssertToolError(await CallAsync(client, "upload_image", new() { ["data"] = Convert.ToBase64String("hello"u8.ToArray()), ["mime_type"] = "image/png" }), "unsupported_media_type");
        var truncated = TestImages.Png()[..40];
        AssertToolError(await CallAsync(client, "upload_image", new() { ["data"] = Convert.ToBase64String(truncated), ["mime_type"] = "image/png" }), "invalid_image");
        AssertToolError(await CallAsync(client, "upload_image", new() { ["data"] = Convert.ToBase64String(TestImages.Png()), ["mime_type"] = "text/html" }), "unsupported_media_type");
        AssertToolError(await CallAsync(client, "upload_image", new()), "invalid_request");
        AssertToolError(await CallAsync(client, "upload_image", new() { ["data"] = Convert.ToBase64String(TestImages.Png()), ["url"] = "https://example.com/a.png" }), "invalid_request");

        var http = await CallAsync(client, "upload_image", new() { ["url"] = "http://example.com/a.png" });
        AssertToolError(http, "invalid_request");
        Assert.Contains("only https", http.Content.OfType<TextContentBlock>().Single().Text);
        foreach (var host in new[] { "127.0.0.1", "169.254.169.254", "[::1]", "10.0.0.1" })
        {
            var local = await CallAsync(client, "upload_image", new() { ["url"] = $"https://{host}/latest/meta-data/" });
            AssertToolError(local, "invalid_request");
            Assert.Contains("is not public", local.Content.OfType<TextContentBlock>().Single().Text);
        }

        Assert.Equal(0, await CountItemsAsync(app));
        Assert.Empty(app.TempFiles());
    }

    [Fact]
    public async Task UrlImport_StoresTheImage_AndA100MegabyteClaim_IsRefusedBeforeReading()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var png = TestImages.Png(seed: 11);
        server.Map("/cat.png", async context =>
        {
            context.Response.ContentType = "image/png";
            await context.Response.Body.WriteAsync(png);
        });
        server.Map("/huge.png", async context =>
        {
            context.Response.ContentType = "image/png";
            context.Response.ContentLength = 100L * 1024 * 1024;
            await context.Response.Body.WriteAsync(png);
        });
        // Test servers listen on loopback; this client trusts their certificate and allows private addresses.
        await using var app = new ImagebinApp { ExtraServices = services => services.AddSingleton(TestHttpsServer.Client()) };
        await using var client = await ConnectAsync(app, await app.CreateKeyAsync(audience: McpAudience));

        var huge = await CallAsync(client, "upload_image", new() { ["url"] = server.Url("/huge.png") });
        AssertToolError(huge, "request_too_large");
        Assert.Contains("larger than", huge.Content.OfType<TextContentBlock>().Single().Text);
        Assert.Equal(0, await CountItemsAsync(app));

        var imported = Structured(await CallAsync(client, "upload_image", new() { ["url"] = server.Url("/cat.png"), ["title"] = "Imported" }));
        Assert.Equal("image/png", imported.GetProperty("content_type").GetString());
        Assert.Equal("Imported", imported.GetProperty("title").GetString());
        Assert.Equal(1, await CountItemsAsync(app));
    }
}
