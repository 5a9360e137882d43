using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class AuthTests : IAsyncLifetime
{
    private readonly ImagebinApp _app = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static HttpRequestMessage Upload()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        return request;
    }

    [Fact]
    public async Task UnknownPathAndWrongMethod_AreProblemJson()
    {
        await (await _app.Anonymous().GetAsync("/api/v1/nothing-here")).AssertErrorAsync(404, "not_found");
        await (await _app.Anonymous().PutAsync("/api/v1/items/AAAAAAAAAA", new StringContent("{}"))).AssertErrorAsync(405, "method_not_allowed");
    }

    [Fact]
    public async Task KeylessApiUpload_IsTurnstileFailed()
    {
        using var response = await _app.Anonymous().SendAsync(Upload());

        await response.AssertErrorAsync(403, "turnstile_failed");
        Assert.Empty(_app.BlobFiles());
    }

    [Fact]
    public async Task ListWithoutKey_IsAuthRequiredWithResourceMetadataChallenge()
    {
        using var response = await _app.Anonymous().GetAsync("/api/v1/account/items");

        await response.AssertErrorAsync(401, "auth_required");
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("Bearer", challenge);
        Assert.Contains($"resource_metadata=\"{ImagebinApp.BaseUrl}/.well-known/oauth-protected-resource\"", challenge);
    }

    [Theory]
    [InlineData("pbca_live_notarealkey")]
    [InlineData("pbca_live_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")]
    [InlineData("eyJhbGciOiJub25lIn0.e30.")]
    public async Task WrongKey_IsInvalidToken(string key)
    {
        var client = _app.ClientWithKey(key);

        await (await client.SendAsync(Upload())).AssertErrorAsync(401, "invalid_token");
        await (await client.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task KeyWithTamperedSecret_IsInvalidToken()
    {
        var key = await _app.CreateKeyAsync();
        var tampered = key[..^1] + (key[^1] == 'a' ? 'b' : 'a');

        using var response = await _app.ClientWithKey(tampered).GetAsync("/api/v1/account/items");

        await response.AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task RevokedKey_IsInvalidToken()
    {
        var key = await _app.CreateKeyAsync();
        var client = _app.ClientWithKey(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/account/items")).StatusCode);

        var keyId = key["pbca_live_".Length..].Split('_')[0];
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<Imagebin.Features.Accounts.ApiKeys>().RevokeAsync(keyId, CancellationToken.None));
        }

        await (await client.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task ExpiredKey_IsInvalidToken()
    {
        var key = await _app.CreateKeyAsync(lifetime: TimeSpan.FromMilliseconds(1));
        await Task.Delay(20);

        using var response = await _app.ClientWithKey(key).GetAsync("/api/v1/account/items");

        await response.AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task KeyForAnotherAudience_IsInvalidToken()
    {
        var key = await _app.CreateKeyAsync(audience: "https://other.example");

        await (await _app.ClientWithKey(key).GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
        await (await _app.ClientWithKey(key).SendAsync(Upload())).AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task KeyForThisAudience_Works()
    {
        var key = await _app.CreateKeyAsync(audience: ImagebinApp.BaseUrl + "/");

        using var response = await _app.ClientWithKey(key).GetAsync("/api/v1/account/items");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task KeyWithoutCreateScope_CannotUploadOrPatch()
    {
        var owner = await _app.OwnerAsync();
        var id = (await owner.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;
        var reader = _app.ClientWithKey(await _app.CreateKeyAsync(scopes: "image:read,image:delete"));

        using var upload = await reader.SendAsync(Upload());
        await upload.AssertErrorAsync(403, "insufficient_scope");
        Assert.Contains("error=\"insufficient_scope\"", upload.Headers.WwwAuthenticate.ToString());
        Assert.Contains("scope=\"image:create\"", upload.Headers.WwwAuthenticate.ToString());
        await (await reader.PatchAsync($"/api/v1/items/{id}", Json("{\"title\":\"x\"}"))).AssertErrorAsync(403, "insufficient_scope");
    }

    [Fact]
    public async Task KeyWithoutReadScope_CannotListOrRead()
    {
        var writer = _app.ClientWithKey(await _app.CreateKeyAsync(scopes: "image:create"));
        var id = (await writer.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;

        await (await writer.GetAsync("/api/v1/account/items")).AssertErrorAsync(403, "insufficient_scope");
        await (await writer.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(403, "insufficient_scope");
    }

    [Fact]
    public async Task KeyWithoutDeleteScope_CannotDelete()
    {
        var client = _app.ClientWithKey(await _app.CreateKeyAsync(scopes: "image:create,image:read"));
        var id = (await client.UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;

        await (await client.DeleteAsync($"/api/v1/items/{id}")).AssertErrorAsync(403, "insufficient_scope");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/items/{id}")).StatusCode);
    }

    [Fact]
    public async Task StoredKey_IsHashedNotPlain()
    {
        var key = await _app.CreateKeyAsync();
        var secret = key.Split('_')[^1];

        var database = await File.ReadAllBytesAsync(Path.Combine(_app.DataDir, "imagebin.db"));
        var wal = Path.Combine(_app.DataDir, "imagebin.db-wal");
        var all = Encoding.Latin1.GetString(database) + (File.Exists(wal) ? Encoding.Latin1.GetString(await File.ReadAllBytesAsync(wal)) : "");

        Assert.Matches("^pbca_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$", key);
        Assert.DoesNotContain(secret, all);
    }

    public sealed class CrossOwner : IAsyncLifetime
    {
        private readonly ImagebinApp _app = new();
        private HttpClient _alice = null!;
        private HttpClient _mallory = null!;
        private string _private = "";
        private string _public = "";

        public async ValueTask InitializeAsync()
        {
            _alice = await _app.OwnerAsync("alice");
            _mallory = await _app.OwnerAsync("mallory");
            _private = (await _alice.UploadAsync(TestImages.Jpeg(seed: 1), configure: r => r.Headers.Add("x-private", "true"))).GetProperty("id").GetString()!;
            _public = (await _alice.UploadAsync(TestImages.Jpeg(seed: 2))).GetProperty("id").GetString()!;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();

        [Fact]
        public async Task Read_OfAnotherOwnersPrivateItem_IsNotFound()
        {
            await (await _mallory.GetAsync($"/api/v1/items/{_private}")).AssertErrorAsync(404, "not_found");
            await (await _app.Anonymous().GetAsync($"/api/v1/items/{_private}")).AssertErrorAsync(404, "not_found");
            await (await _app.Anonymous().GetAsync($"/api/v1/items/{_private}?s=wrongsecret")).AssertErrorAsync(404, "not_found");
            await (await _app.Anonymous().GetAsync($"/i/{_private}.jpg")).AssertErrorAsync(404, "not_found");
            await (await _app.Anonymous().GetAsync($"/v/{_private}")).AssertErrorAsync(404, "not_found");
        }

        [Fact]
        public async Task List_ShowsOnlyTheCallersItems()
        {
            var list = await _mallory.GetFromJsonAsync<JsonElement>("/api/v1/account/items");

            Assert.Equal(0, list.GetProperty("items").GetArrayLength());
        }

        [Fact]
        public async Task Patch_OfAnotherOwnersItems_IsRefusedAndChangesNothing()
        {
            await (await _mallory.PatchAsync($"/api/v1/items/{_private}", Json("{\"title\":\"pwned\"}"))).AssertErrorAsync(404, "not_found");
            await (await _mallory.PatchAsync($"/api/v1/items/{_public}", Json("{\"title\":\"pwned\"}"))).AssertErrorAsync(403, "forbidden");

            foreach (var id in new[] { _private, _public })
            {
                var item = await _alice.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
                Assert.Equal(JsonValueKind.Null, item.GetProperty("title").ValueKind);
            }
        }

        [Fact]
        public async Task Delete_OfAnotherOwnersItems_IsRefusedAndDeletesNothing()
        {
            await (await _mallory.DeleteAsync($"/api/v1/items/{_private}")).AssertErrorAsync(404, "not_found");
            await (await _mallory.DeleteAsync($"/api/v1/items/{_public}")).AssertErrorAsync(403, "forbidden");

            Assert.Equal(HttpStatusCode.OK, (await _alice.GetAsync($"/api/v1/items/{_private}")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await _alice.GetAsync($"/api/v1/items/{_public}")).StatusCode);
            Assert.Equal(2, _app.BlobFiles().Length);
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
