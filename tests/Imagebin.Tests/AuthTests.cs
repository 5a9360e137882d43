using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class AuthTests
{
    private static HttpRequestMessage Upload()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        return request;
    }

    [Theory, Backends]
    public async Task UnknownPathAndWrongMethod_AreProblemJson(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        await (await app.Anonymous().GetAsync("/api/v1/nothing-here")).AssertErrorAsync(404, "not_found");
        await (await app.Anonymous().PutAsync("/api/v1/items/AAAAAAAAAA", new StringContent("{}"))).AssertErrorAsync(405, "method_not_allowed");
    }

    [Theory, Backends]
    public async Task KeylessApiUpload_IsTurnstileFailed(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        using var response = await app.Anonymous().SendAsync(Upload());

        await response.AssertErrorAsync(403, "turnstile_failed");
        Assert.Empty(await app.BlobKeysAsync());
    }

    [Theory, Backends]
    public async Task ListWithoutKey_IsAuthRequiredWithResourceMetadataChallenge(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        using var response = await app.Anonymous().GetAsync("/api/v1/account/items");

        await response.AssertErrorAsync(401, "auth_required");
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("Bearer", challenge);
        Assert.Contains($"resource_metadata=\"{ImagebinApp.BaseUrl}/.well-known/oauth-protected-resource\"", challenge);
    }

    [Theory]
    [BackendsInlineData("pbca_live_notarealkey")]
    [BackendsInlineData("pbca_live_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")]
    [BackendsInlineData("eyJhbGciOiJub25lIn0.e30.")]
    public async Task WrongKey_IsInvalidToken(Backend backend, string key)
    {
        await using var app = new ImagebinApp(backend);
        var client = app.ClientWithKey(key);

        await (await client.SendAsync(Upload())).AssertErrorAsync(401, "invalid_token");
        await (await client.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task KeyWithTamperedSecret_IsInvalidToken(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var key = await app.CreateKeyAsync();
        var tampered = key[..^1] + (key[^1] == 'a' ? 'b' : 'a');

        using var response = await app.ClientWithKey(tampered).GetAsync("/api/v1/account/items");

        await response.AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task RevokedKey_IsInvalidToken(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var key = await app.CreateKeyAsync();
        var client = app.ClientWithKey(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/account/items")).StatusCode);

        var keyId = key["pbca_live_".Length..].Split('_')[0];
        await using (var scope = app.Services.CreateAsyncScope())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<Imagebin.Features.Accounts.ApiKeys>().RevokeAsync(keyId, CancellationToken.None));
        }

        await (await client.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task ExpiredKey_IsInvalidToken(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var key = await app.CreateKeyAsync(lifetime: TimeSpan.FromMilliseconds(1));
        await Task.Delay(20);

        using var response = await app.ClientWithKey(key).GetAsync("/api/v1/account/items");

        await response.AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task KeyForAnotherAudience_IsInvalidToken(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var key = await app.CreateKeyAsync(audience: "https://other.example");

        await (await app.ClientWithKey(key).GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
        await (await app.ClientWithKey(key).SendAsync(Upload())).AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task KeyForThisAudience_Works(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var key = await app.CreateKeyAsync(audience: ImagebinApp.BaseUrl + "/");

        using var response = await app.ClientWithKey(key).GetAsync("/api/v1/account/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory, Backends]
    public async Task KeyWithoutCreateScope_CannotUploadOrPatch(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var id = (await owner.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;
        var reader = app.ClientWithKey(await app.CreateKeyAsync(scopes: "image:read,image:delete"));

        using var upload = await reader.SendAsync(Upload());
        await upload.AssertErrorAsync(403, "insufficient_scope");
        Assert.Contains("error=\"insufficient_scope\"", upload.Headers.WwwAuthenticate.ToString());
        Assert.Contains("scope=\"image:create\"", upload.Headers.WwwAuthenticate.ToString());
        await (await reader.PatchAsync($"/api/v1/items/{id}", Json("{\"title\":\"x\"}"))).AssertErrorAsync(403, "insufficient_scope");
    }

    [Theory, Backends]
    public async Task KeyWithoutReadScope_CannotListOrRead(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var writer = app.ClientWithKey(await app.CreateKeyAsync(scopes: "image:create"));
        var id = (await writer.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;

        await (await writer.GetAsync("/api/v1/account/items")).AssertErrorAsync(403, "insufficient_scope");
        await (await writer.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(403, "insufficient_scope");
    }

    [Theory, Backends]
    public async Task KeyWithoutDeleteScope_CannotDelete(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var client = app.ClientWithKey(await app.CreateKeyAsync(scopes: "image:create,image:read"));
        var id = (await client.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;

        await (await client.DeleteAsync($"/api/v1/items/{id}")).AssertErrorAsync(403, "insufficient_scope");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/items/{id}")).StatusCode);
    }

    // Embedded only: it reads the SQLite file and its WAL byte for byte, so it finds the secret in any table or stale
    // page. PostgreSQL's files are not the test's to read, and the rows it keeps come from the same ApiKeys code.
    [Fact]
    public async Task StoredKey_IsHashedNotPlain()
    {
        await using var app = new ImagebinApp();
        var key = await app.CreateKeyAsync();
        var secret = key.Split('_')[^1];

        var database = await File.ReadAllBytesAsync(Path.Combine(app.DataDir, "imagebin.db"));
        var wal = Path.Combine(app.DataDir, "imagebin.db-wal");
        var all = Encoding.Latin1.GetString(database) + (File.Exists(wal) ? Encoding.Latin1.GetString(await File.ReadAllBytesAsync(wal)) : "");

        Assert.Matches("^pbca_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$", key);
        Assert.DoesNotContain(secret, all);
    }

    public sealed class CrossOwner
    {
        /// <summary>Alice with a private and a public item, and Mallory, who owns neither.</summary>
        private static async Task<(HttpClient Alice, HttpClient Mallory, string Private, string Public)> ArrangeAsync(ImagebinApp app)
        {
            var alice = await app.OwnerAsync("alice");
            var mallory = await app.OwnerAsync("mallory");
            var hidden = (await alice.UploadAsync(TestImages.Jpeg(seed: 1), configure: r => r.Headers.Add("x-private", "true"))).GetProperty("id").GetString()!;
            var shown = (await alice.UploadAsync(TestImages.Jpeg(seed: 2))).GetProperty("id").GetString()!;
            return (alice, mallory, hidden, shown);
        }

        [Theory, Backends]
        public async Task Read_OfAnotherOwnersPrivateItem_IsNotFound(Backend backend)
        {
            await using var app = new ImagebinApp(backend);
            var (_, mallory, hidden, _) = await ArrangeAsync(app);

            await (await mallory.GetAsync($"/api/v1/items/{hidden}")).AssertErrorAsync(404, "not_found");
            await (await app.Anonymous().GetAsync($"/api/v1/items/{hidden}")).AssertErrorAsync(404, "not_found");
            await (await app.Anonymous().GetAsync($"/api/v1/items/{hidden}?s=wrongsecret")).AssertErrorAsync(404, "not_found");
            await (await app.Anonymous().GetAsync($"/i/{hidden}.jpg")).AssertErrorAsync(404, "not_found");
            await (await app.Anonymous().GetAsync($"/v/{hidden}")).AssertErrorAsync(404, "not_found");
        }

        [Theory, Backends]
        public async Task List_ShowsOnlyTheCallersItems(Backend backend)
        {
            await using var app = new ImagebinApp(backend);
            var (_, mallory, _, _) = await ArrangeAsync(app);

            var list = await mallory.GetFromJsonAsync<JsonElement>("/api/v1/account/items");

            Assert.Equal(0, list.GetProperty("items").GetArrayLength());
        }

        [Theory, Backends]
        public async Task Patch_OfAnotherOwnersItems_IsRefusedAndChangesNothing(Backend backend)
        {
            await using var app = new ImagebinApp(backend);
            var (alice, mallory, hidden, shown) = await ArrangeAsync(app);

            await (await mallory.PatchAsync($"/api/v1/items/{hidden}", Json("{\"title\":\"pwned\"}"))).AssertErrorAsync(404, "not_found");
            await (await mallory.PatchAsync($"/api/v1/items/{shown}", Json("{\"title\":\"pwned\"}"))).AssertErrorAsync(403, "forbidden");

            foreach (var id in new[] { hidden, shown })
            {
                var item = await alice.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
                Assert.Equal(JsonValueKind.Null, item.GetProperty("title").ValueKind);
            }
        }

        [Theory, Backends]
        public async Task Delete_OfAnotherOwnersItems_IsRefusedAndDeletesNothing(Backend backend)
        {
            await using var app = new ImagebinApp(backend);
            var (alice, mallory, hidden, shown) = await ArrangeAsync(app);

            await (await mallory.DeleteAsync($"/api/v1/items/{hidden}")).AssertErrorAsync(404, "not_found");
            await (await mallory.DeleteAsync($"/api/v1/items/{shown}")).AssertErrorAsync(403, "forbidden");

            Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/api/v1/items/{hidden}")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/api/v1/items/{shown}")).StatusCode);
            Assert.Equal(2, (await app.BlobKeysAsync()).Count);
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
