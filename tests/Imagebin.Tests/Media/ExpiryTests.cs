using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Storage;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Imagebin.Tests.Media;

/// <summary>
/// Expiry (issue 9), with the site's clock moved past <c>expires_at</c>: the item answers <c>gone</c> on every path (the
/// bytes, the pages, the short link, REST, MCP, oEmbed) and leaves every list; the purge then deletes its row and its bytes,
/// after which its links answer <c>not_found</c> like a deleted item's. Anonymous uploads, which always expire, go the same way.
/// </summary>
public sealed class ExpiryTests
{
    private const string McpAudience = ImagebinApp.BaseUrl + "/mcp";

    private sealed class TestClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    private static ImagebinApp Start(Backend backend, TestClock clock, Dictionary<string, string?>? settings = null) =>
        new(backend, settings) { ExtraServices = services => services.AddSingleton<TimeProvider>(clock) };

    /// <summary>Uploads with captions off (no caption job outlives the item) and waits until the scan passed.</summary>
    private static async Task<JsonElement> UploadPassedAsync(HttpClient owner, byte[] image, Action<HttpRequestMessage>? configure = null)
    {
        var item = await owner.UploadAsync(image, configure: request =>
        {
            request.Headers.Add("x-ai-optout", "true");
            configure?.Invoke(request);
        });
        Assert.Equal("passed", (await owner.WaitForScanAsync(Id(item))).GetProperty("scan_state").GetString());
        return item;
    }

    private static async Task<JsonElement> UploadFormPassedAsync(HttpClient owner, byte[] image, string expiresIn)
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(image) { Headers = { ContentType = new MediaTypeHeaderValue("image/jpeg") } }, "file", "photo.jpg" },
            { new StringContent("true"), "ai_optout" },
            { new StringContent(expiresIn), "expires_in" },
        };
        using var response = await owner.PostAsync("/api/v1/items", form);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var item = await response.JsonAsync();
        Assert.Equal("passed", (await owner.WaitForScanAsync(Id(item))).GetProperty("scan_state").GetString());
        return item;
    }

    private static string Id(JsonElement item) => item.GetProperty("id").GetString()!;

    /// <summary>The blob's sha256, as the direct path's strong ETag names it.</summary>
    private static async Task<string> BlobShaAsync(HttpClient client, JsonElement item)
    {
        using var response = await client.GetAsync(item.PathOf("direct_url"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.ETag!.Tag.Trim('"');
    }

    private static async Task<HashSet<string>> StoredShasAsync(ImagebinApp app) =>
        [.. (await app.BlobKeysAsync()).Select(BlobKeys.Sha256Of).OfType<string>()];

    private static Task PurgeAsync(ImagebinApp app) =>
        app.Services.GetServices<IHostedService>().OfType<Maintenance>().Single().RunOnceAsync(CancellationToken.None);

    private static async Task<McpClient> ConnectMcpAsync(ImagebinApp app)
    {
        var http = new HttpClient(app.Server.CreateHandler()) { BaseAddress = new Uri(ImagebinApp.BaseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await app.CreateKeyAsync(audience: McpAudience));
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = new Uri(McpAudience), TransportMode = HttpTransportMode.StreamableHttp },
            http, loggerFactory: null, ownsHttpClient: true);
        return await McpClient.CreateAsync(transport);
    }

    private static void AssertToolError(CallToolResult result, string code)
    {
        var text = string.Join(" ", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
        Assert.True(result.IsError == true, $"Expected the tool error {code}, got: {text}");
        Assert.Equal(code, result.StructuredContent!.Value.GetProperty("error").GetString());
    }

    private static async Task<List<string>> ListedIdsAsync(HttpClient owner) =>
        [.. (await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items")).GetProperty("items").EnumerateArray().Select(Id)];

    private static async Task<List<string>> McpListedIdsAsync(McpClient mcp)
    {
        var result = await mcp.CallToolAsync("list_my_images", new Dictionary<string, object?>());
        Assert.True(result.IsError != true);
        return [.. result.StructuredContent!.Value.GetProperty("items").EnumerateArray().Select(Id)];
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string? accept = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return request;
    }

    [Theory, Backends]
    public async Task ExpiredItem_IsGoneOnEveryPath_AndFromEveryList_ThenThePurgeDeletesItsBytes(Backend backend)
    {
        var clock = new TestClock();
        await using var app = Start(backend, clock);
        var owner = await app.OwnerAsync();
        var anonymous = app.Anonymous();
        var uploadedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var byHeader = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 1), r => r.Headers.Add("x-expires-in", "3600"));
        var byForm = await UploadFormPassedAsync(owner, TestImages.Jpeg(seed: 2), "7200");
        var kept = await UploadPassedAsync(owner, TestImages.Jpeg(seed: 3));
        var id = Id(byHeader);

        // expires_at is in the Item; the bytes may be cached only until then, never as immutable.
        Assert.InRange(byHeader.GetProperty("expires_at").GetInt64(), uploadedAt + 3_600_000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_600_000);
        Assert.InRange(byForm.GetProperty("expires_at").GetInt64(), uploadedAt + 7_200_000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 7_200_000);
        Assert.Equal(JsonValueKind.Null, kept.GetProperty("expires_at").ValueKind);
        using (var fresh = await anonymous.GetAsync(byHeader.PathOf("direct_url")))
        {
            var cacheControl = fresh.Headers.CacheControl!;
            Assert.True(cacheControl.Public, cacheControl.ToString());
            Assert.InRange(cacheControl.MaxAge!.Value.TotalSeconds, 3500, 3600);
            Assert.DoesNotContain("immutable", cacheControl.ToString());
        }

        var expiringShas = new[] { await BlobShaAsync(anonymous, byHeader), await BlobShaAsync(anonymous, byForm) };
        var keptSha = await BlobShaAsync(anonymous, kept);
        Assert.Superset(expiringShas.Append(keptSha).ToHashSet(), await StoredShasAsync(app));
        Assert.Contains(id, await ListedIdsAsync(owner));
        Assert.Contains($"/v/{id}\"", await anonymous.GetStringAsync("/"));

        clock.Offset = TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1);
        await using var mcp = await ConnectMcpAsync(app);

        foreach (var item in new[] { byHeader, byForm })
        {
            var path = item.PathOf("direct_url");
            foreach (var client in new[] { anonymous, owner })
            {
                await (await client.GetAsync(path)).AssertErrorAsync(410, "gone");
                using var head = await client.SendAsync(Request(HttpMethod.Head, path));
                Assert.Equal(HttpStatusCode.Gone, head.StatusCode);
                await (await client.GetAsync($"/v/{Id(item)}")).AssertErrorAsync(410, "gone");
                await (await client.SendAsync(Request(HttpMethod.Get, $"/{Id(item)}", "text/html"))).AssertErrorAsync(410, "gone");
                await (await client.SendAsync(Request(HttpMethod.Get, $"/{Id(item)}", "image/*"))).AssertErrorAsync(410, "gone");
                await (await client.GetAsync($"/api/v1/items/{Id(item)}")).AssertErrorAsync(410, "gone");
                await (await client.GetAsync($"/oembed?url={Uri.EscapeDataString(item.GetProperty("view_url").GetString()!)}")).AssertErrorAsync(410, "gone");
            }

            await (await owner.PatchAsJsonAsync($"/api/v1/items/{Id(item)}", new { title = "late" })).AssertErrorAsync(410, "gone");
            AssertToolError(await mcp.CallToolAsync("get_image", new Dictionary<string, object?> { ["id"] = Id(item) }), "gone");
            AssertToolError(await mcp.CallToolAsync("update_image", new Dictionary<string, object?> { ["id"] = Id(item), ["title"] = "late" }), "gone");
        }

        // Gone from the owner's list (REST and MCP) and the gallery; the unexpired item stays.
        Assert.Equal([Id(kept)], await ListedIdsAsync(owner));
        Assert.Equal([Id(kept)], await McpListedIdsAsync(mcp));
        var gallery = await anonymous.GetStringAsync("/");
        Assert.DoesNotContain($"/v/{id}\"", gallery);
        Assert.DoesNotContain($"/v/{Id(byForm)}\"", gallery);
        Assert.Contains($"/v/{Id(kept)}\"", gallery);

        await PurgeAsync(app);

        var stored = await StoredShasAsync(app);
        Assert.DoesNotContain(expiringShas[0], stored);
        Assert.DoesNotContain(expiringShas[1], stored);
        Assert.Contains(keptSha, stored);
        if (backend == Backend.Embedded)
        {
            Assert.DoesNotContain(app.BlobFiles(), file => expiringShas.Any(sha => Path.GetFileName(file).StartsWith(sha, StringComparison.Ordinal)));
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            Assert.Equal([Id(kept)], await db.Items.Select(i => i.Id).ToListAsync());
            Assert.False(await db.Blobs.AnyAsync(b => expiringShas.Contains(b.Sha256)));
        }

        // Purged, it is like a deleted item: its links find nothing.
        await (await anonymous.GetAsync(byHeader.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        await (await owner.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(404, "not_found");
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(kept.PathOf("direct_url"))).StatusCode);

        // The MCP upload takes expires_in too.
        var viaMcp = await mcp.CallToolAsync("upload_image", new Dictionary<string, object?>
        {
            ["data"] = Convert.ToBase64String(TestImages.Jpeg(seed: 5)),
            ["mime_type"] = "image/jpeg",
            ["expires_in"] = 600,
        });
        Assert.True(viaMcp.IsError != true, string.Join(" ", viaMcp.Content.OfType<TextContentBlock>().Select(t => t.Text)));
        var expected = clock.GetUtcNow().ToUnixTimeMilliseconds() + 600_000;
        Assert.InRange(viaMcp.StructuredContent!.Value.GetProperty("expires_at").GetInt64(), expected - 60_000, expected);
    }

    [Theory, Backends]
    public async Task AnonymousUpload_IsGoneAfterItsForcedExpiry_AndThePurgeDeletesItsBytes(Backend backend)
    {
        var clock = new TestClock();
        await using var app = Start(backend, clock, new Dictionary<string, string?>
        {
            ["Uploads:Anonymous:DifficultyBits"] = "8",
            ["Uploads:Anonymous:ExpiryDays"] = "2",
        });
        var anonymous = app.Anonymous();
        var challenge = await anonymous.GetFromJsonAsync<JsonElement>("/api/v1/uploads/challenge");
        var item = await anonymous.UploadAsync(TestImages.Jpeg(seed: 4), configure: request =>
        {
            request.Headers.Add("x-challenge-id", challenge.GetProperty("challenge_id").GetString());
            request.Headers.Add("x-challenge-nonce", PowSolver.Solve(challenge));
        });
        var id = Id(item);
        Assert.InRange(item.GetProperty("expires_at").GetInt64() - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 2 * 86_400_000L - 60_000, 2 * 86_400_000L);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string sha;
        while (true)
        {
            using var response = await anonymous.GetAsync(item.PathOf("direct_url"));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                sha = response.Headers.ETag!.Tag.Trim('"');
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Still {(int)response.StatusCode} after 30 s");
            await Task.Delay(50);
        }

        Assert.Contains(sha, await StoredShasAsync(app));

        clock.Offset = TimeSpan.FromDays(2) + TimeSpan.FromMinutes(1);

        await (await anonymous.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(410, "gone");
        await (await anonymous.GetAsync(item.PathOf("view_url"))).AssertErrorAsync(410, "gone");
        await (await anonymous.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(410, "gone");
        Assert.DoesNotContain($"/v/{id}\"", await anonymous.GetStringAsync("/"));

        await PurgeAsync(app);

        Assert.DoesNotContain(sha, await StoredShasAsync(app));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            Assert.False(await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.AnyAsync(i => i.Id == id));
        }

        await (await anonymous.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        using var delete = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/items/{id}");
        delete.Headers.Add("x-delete-token", item.GetProperty("delete_token").GetString());
        await (await anonymous.SendAsync(delete)).AssertErrorAsync(404, "not_found");
    }
}
