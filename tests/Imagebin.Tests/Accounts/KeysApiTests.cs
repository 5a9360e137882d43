using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Features.Accounts;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Accounts;

/// <summary>The caller's own API keys over the API: create, list, revoke, and what each refuses.</summary>
public sealed class KeysApiTests
{
    private const string Keys = "/api/v1/account/keys";

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> CreateAsync(HttpClient client, string json) => client.PostAsync(Keys, Json(json));

    private static async Task<JsonElement> CreatedAsync(HttpClient client, string json)
    {
        using var response = await CreateAsync(client, json);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
        response.AssertNotCacheable();
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task<JsonElement[]> ListAsync(HttpClient client)
    {
        using var response = await client.GetAsync(Keys);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        response.AssertNotCacheable();
        return [.. (await response.JsonAsync()).GetProperty("keys").EnumerateArray()];
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    private static string IdOf(string token) => token["pbca_live_".Length..].Split('_')[0];

    private static HttpRequestMessage Upload()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        return request;
    }

    private static async Task<HttpClient> AdminAsync(ImagebinApp app, string scopes)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var admin = await accounts.FindByNameAsync("root", CancellationToken.None)
            ?? (await accounts.CreateAsync("root", admin: true, password: "correct horse battery", CancellationToken.None)).Account;
        var key = await scope.ServiceProvider.GetRequiredService<ApiKeys>().CreateAsync(admin.Id, scopes.Split(','), null, null, CancellationToken.None);
        return app.ClientWithKey(key.Token);
    }

    [Theory, Backends]
    public async Task Create_ReturnsAKeyThatWorks_WithExactlyItsScopes(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var id = (await owner.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;

        var created = await CreatedAsync(owner, """{"scopes":["image:read"]}""");

        var token = created.GetProperty("api_key").GetString()!;
        Assert.Matches("^pbca_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$", token);
        var key = created.GetProperty("key");
        Assert.Equal(IdOf(token), key.GetProperty("id").GetString());
        Assert.Equal(["image:read"], Strings(key.GetProperty("scopes")));
        Assert.Equal(ImagebinApp.BaseUrl, key.GetProperty("audience").GetString());
        Assert.Equal(JsonValueKind.Null, key.GetProperty("expires_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, key.GetProperty("revoked_at").ValueKind);

        var reader = app.ClientWithKey(token);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync($"/api/v1/items/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/v1/account/items")).StatusCode);
        await (await reader.SendAsync(Upload())).AssertErrorAsync(403, "insufficient_scope");
        await (await reader.DeleteAsync($"/api/v1/items/{id}")).AssertErrorAsync(403, "insufficient_scope");
        await (await CreateAsync(reader, """{"scopes":["image:read"]}""")).AssertErrorAsync(403, "insufficient_scope");
    }

    [Theory, Backends]
    public async Task Create_WithExpiresInAndMcpAudience_RecordsBoth_AndTheMcpKeyIsRefusedByRest(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();

        var mcp = await CreatedAsync(owner, $$"""{"scopes":["image:create","image:read"],"audience":"{{ImagebinApp.BaseUrl}}/mcp/","expires_in":3600}""");
        var key = mcp.GetProperty("key");
        var site = (await CreatedAsync(owner, $$"""{"scopes":["image:read"],"audience":"{{ImagebinApp.BaseUrl}}/","expires_in":null}""")).GetProperty("key");

        Assert.Equal(ImagebinApp.BaseUrl + "/mcp", key.GetProperty("audience").GetString());
        Assert.Equal(3_600_000, key.GetProperty("expires_at").GetInt64() - key.GetProperty("created_at").GetInt64());
        Assert.Equal(ImagebinApp.BaseUrl, site.GetProperty("audience").GetString());
        Assert.Equal(JsonValueKind.Null, site.GetProperty("expires_at").ValueKind);

        // A key works only at its audience: the REST API is not /mcp.
        using var refused = await app.ClientWithKey(mcp.GetProperty("api_key").GetString()!).GetAsync("/api/v1/account/items");
        await refused.AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task List_ShowsOnlyTheCallersKeys_NewestFirst_WithoutSecrets(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var alice = await app.OwnerAsync("alice");
        var bobToken = await app.CreateKeyAsync("bob");
        var tokens = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            await Task.Delay(5);
            tokens.Add((await CreatedAsync(alice, """{"scopes":["image:read","image:delete"]}""")).GetProperty("api_key").GetString()!);
        }

        using var response = await alice.GetAsync(Keys);
        var body = await response.Content.ReadAsStringAsync();
        var keys = await ListAsync(alice);

        Assert.Equal(3, keys.Length);
        Assert.Equal([IdOf(tokens[1]), IdOf(tokens[0])], keys.Take(2).Select(k => k.GetProperty("id").GetString()));
        Assert.True(keys.Zip(keys.Skip(1)).All(p => p.First.GetProperty("created_at").GetInt64() >= p.Second.GetProperty("created_at").GetInt64()));
        Assert.DoesNotContain(keys, k => k.GetProperty("id").GetString() == IdOf(bobToken));
        foreach (var key in keys)
        {
            Assert.Equal(["id", "scopes", "audience", "created_at", "expires_at", "last_used_at", "revoked_at"], key.EnumerateObject().Select(p => p.Name));
        }

        // The key in use has been used; the new ones not yet.
        Assert.NotEqual(JsonValueKind.Null, keys[2].GetProperty("last_used_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, keys[0].GetProperty("last_used_at").ValueKind);
        foreach (var token in tokens)
        {
            Assert.DoesNotContain(token.Split('_')[^1], body);
        }
    }

    [Theory, Backends]
    public async Task Revoke_StopsTheKeyAtOnce(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var token = (await CreatedAsync(owner, """{"scopes":["image:read"]}""")).GetProperty("api_key").GetString()!;
        var revoked = app.ClientWithKey(token);
        Assert.Equal(HttpStatusCode.OK, (await revoked.GetAsync("/api/v1/account/items")).StatusCode);

        using var response = await owner.DeleteAsync($"{Keys}/{IdOf(token)}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await (await revoked.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
        var listed = (await ListAsync(owner)).Single(k => k.GetProperty("id").GetString() == IdOf(token));
        var revokedAt = listed.GetProperty("revoked_at").GetInt64();
        Assert.True(revokedAt >= listed.GetProperty("created_at").GetInt64());

        // Revoking again changes nothing, and the caller's own key may revoke itself.
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"{Keys}/{IdOf(token)}")).StatusCode);
        Assert.Equal(revokedAt, (await ListAsync(owner)).Single(k => k.GetProperty("id").GetString() == IdOf(token)).GetProperty("revoked_at").GetInt64());
        var self = (await ListAsync(owner)).Single(k => k.GetProperty("id").GetString() != IdOf(token)).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"{Keys}/{self}")).StatusCode);
        await (await owner.GetAsync(Keys)).AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task Revoke_OfAnotherAccountsKey_IsNotFound_AndTheKeyStillWorks(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var mallory = await app.OwnerAsync("mallory");
        var bobToken = await app.CreateKeyAsync("bob");

        using var foreign = await mallory.DeleteAsync($"{Keys}/{IdOf(bobToken)}");
        using var missing = await mallory.DeleteAsync($"{Keys}/AAAAAAAAAAAA");

        await foreign.AssertErrorAsync(404, "not_found");
        await missing.AssertErrorAsync(404, "not_found");
        Assert.Equal(
            (await missing.JsonAsync()).GetProperty("detail").GetString(),
            (await foreign.JsonAsync()).GetProperty("detail").GetString());
        var bob = app.ClientWithKey(bobToken);
        Assert.Equal(HttpStatusCode.OK, (await bob.GetAsync("/api/v1/account/items")).StatusCode);
        Assert.Equal(JsonValueKind.Null, (await ListAsync(bob)).Single().GetProperty("revoked_at").ValueKind);
    }

    [Theory, Backends]
    public async Task Create_WithScopesTheCallerLacks_IsInsufficientScope_AndWritesNothing(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var writer = app.ClientWithKey(await app.CreateKeyAsync(scopes: "image:create,image:read"));

        using var response = await CreateAsync(writer, """{"scopes":["image:read","image:delete"]}""");

        await response.AssertErrorAsync(403, "insufficient_scope");
        Assert.Contains("scope=\"image:delete\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Contains("image:delete", (await response.JsonAsync()).GetProperty("detail").GetString());
        Assert.Single(await ListAsync(writer));
    }

    [Theory, Backends]
    public async Task Create_AdminScope_OnlyForAdminAccounts_HoldingIt(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var user = await app.OwnerAsync();

        await (await CreateAsync(user, """{"scopes":["admin"]}""")).AssertErrorAsync(400, "invalid_request");
        Assert.Single(await ListAsync(user));

        var adminWithoutAdminScope = await AdminAsync(app, "image:create,image:read");
        using var escalation = await CreateAsync(adminWithoutAdminScope, """{"scopes":["image:read","admin"]}""");
        await escalation.AssertErrorAsync(403, "insufficient_scope");
        Assert.Contains("scope=\"admin\"", escalation.Headers.WwwAuthenticate.ToString());

        var admin = await AdminAsync(app, "image:create,image:read,admin");
        var token = (await CreatedAsync(admin, """{"scopes":["image:read","admin"]}""")).GetProperty("api_key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWithKey(token).GetAsync("/api/v1/admin/reviews")).StatusCode);
    }

    [Theory, Backends]
    public async Task Create_RefusesBadRequests_AndWritesNothing(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        (string Body, string Code)[] cases =
        [
            ("{", "invalid_json"),
            ("", "invalid_json"),
            ("""["image:read"]""", "invalid_json"),
            ("{}", "invalid_request"),
            ("""{"scopes":[]}""", "invalid_request"),
            ("""{"scopes":"image:read"}""", "invalid_request"),
            ("""{"scopes":[1]}""", "invalid_request"),
            ("""{"scopes":["image:everything"]}""", "invalid_request"),
            ("""{"scopes":["image:read"],"name":"x"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"https://other.example"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"http://localhost.evil"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"http://localhost:8080"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"https://localhost"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"http://localhost/mcp/tools"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"http://localhost/?a=b"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"http://user@localhost"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":"localhost"}""", "invalid_request"),
            ("""{"scopes":["image:read"],"audience":42}""", "invalid_request"),
            ("""{"scopes":["image:read"],"expires_in":59}""", "invalid_request"),
            ("""{"scopes":["image:read"],"expires_in":0}""", "invalid_request"),
            ("""{"scopes":["image:read"],"expires_in":-60}""", "invalid_request"),
            ("""{"scopes":["image:read"],"expires_in":157680001}""", "invalid_request"),
            ("""{"scopes":["image:read"],"expires_in":3600.5}""", "invalid_request"),
            ("""{"scopes":["image:read"],"expires_in":"3600"}""", "invalid_request"),
        ];

        foreach (var (body, code) in cases)
        {
            using var response = await CreateAsync(owner, body);
            await response.AssertErrorAsync(400, code);
        }

        await (await owner.PostAsync(Keys, new StringContent("""{"scopes":["image:read"]}""", Encoding.UTF8, "text/plain"))).AssertErrorAsync(415, "unsupported_media_type");
        await (await owner.PostAsync(Keys, new FormUrlEncodedContent([new("scopes", "image:read")]))).AssertErrorAsync(415, "unsupported_media_type");
        Assert.Single(await ListAsync(owner));

        // The bounds themselves are allowed.
        await CreatedAsync(owner, """{"scopes":["image:read"],"expires_in":60}""");
        await CreatedAsync(owner, """{"scopes":["image:read"],"expires_in":157680000}""");
    }

    [Theory, Backends]
    public async Task Anonymous_IsAuthRequired(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var anonymous = app.Anonymous();
        var bobToken = await app.CreateKeyAsync("bob");

        await (await anonymous.GetAsync(Keys)).AssertErrorAsync(401, "auth_required");
        await (await CreateAsync(anonymous, """{"scopes":["image:read"]}""")).AssertErrorAsync(401, "auth_required");
        await (await anonymous.DeleteAsync($"{Keys}/{IdOf(bobToken)}")).AssertErrorAsync(401, "auth_required");
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWithKey(bobToken).GetAsync("/api/v1/account/items")).StatusCode);
    }

    [Theory, Backends]
    public async Task List_WithAnAdminOnlyKey_IsInsufficientScope(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var admin = await AdminAsync(app, "admin");

        using var response = await admin.GetAsync(Keys);

        await response.AssertErrorAsync(403, "insufficient_scope");
        Assert.Contains("scope=\"image:read\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.OK, (await (await AdminAsync(app, "image:delete")).GetAsync(Keys)).StatusCode);
    }
}
