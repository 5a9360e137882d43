using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Tests.Support;

namespace Imagebin.Tests;

public sealed class EditDeleteTests
{
    [Theory, Backends]
    public async Task Patch_ChangesTheGivenFieldsOnly(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var id = (await owner.UploadAsync(TestImages.Jpeg(), configure: r => { r.Headers.Add("x-title", "Old"); r.Headers.Add("x-category", "keep"); })).GetProperty("id").GetString()!;

        using var response = await owner.PatchAsync($"/api/v1/items/{id}",
            Json("{\"title\":\"New\",\"description\":\"Desc\",\"tags\":[\"x\",\"y\"],\"dl_limit\":10,\"ai_optout\":true}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var item = await response.JsonAsync();
        Assert.Equal("New", item.GetProperty("title").GetString());
        Assert.Equal("Desc", item.GetProperty("description").GetString());
        Assert.Equal("keep", item.GetProperty("category").GetString());
        Assert.Equal(["x", "y"], item.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(10, item.GetProperty("dl_limit").GetInt64());
        Assert.Equal("opted_out", item.GetProperty("ai_caption_state").GetString());
        var again = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("New", again.GetProperty("title").GetString());
    }

    [Theory, Backends]
    public async Task Patch_MakingItemPrivate_HidesItFromOthersUntilTheSecretIsGiven(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var item = await owner.UploadAsync(TestImages.Jpeg());
        var id = item.GetProperty("id").GetString()!;
        await owner.WaitForScanAsync(id);
        Assert.Equal(HttpStatusCode.OK, (await app.Anonymous().GetAsync(item.PathOf("direct_url"))).StatusCode);

        var patched = await (await owner.PatchAsync($"/api/v1/items/{id}", Json("{\"private\":true}"))).JsonAsync();

        Assert.True(patched.GetProperty("private").GetBoolean());
        await (await app.Anonymous().GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        var withSecret = await app.Anonymous().GetAsync(patched.PathOf("direct_url"));
        Assert.Equal(HttpStatusCode.OK, withSecret.StatusCode);
        withSecret.AssertNotCacheable();
    }

    [Theory]
    [BackendsInlineData("{\"title\":", "invalid_json")]
    [BackendsInlineData("[1,2]", "invalid_request")]
    [BackendsInlineData("{\"owner_id\":\"x\"}", "invalid_request")]
    [BackendsInlineData("{\"private\":\"yes\"}", "invalid_request")]
    [BackendsInlineData("{\"dl_limit\":0}", "invalid_request")]
    [BackendsInlineData("{\"tags\":[1]}", "invalid_request")]
    [BackendsInlineData("{\"title\":42}", "invalid_request")]
    public async Task Patch_WithBadBody_IsRefusedAndChangesNothing(Backend backend, string body, string code)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var id = (await owner.UploadAsync(TestImages.Jpeg(), configure: r => r.Headers.Add("x-title", "Original"))).GetProperty("id").GetString()!;

        using var response = await owner.PatchAsync($"/api/v1/items/{id}", Json(body));

        await response.AssertErrorAsync(400, code);
        Assert.Equal("Original", (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("title").GetString());
    }

    [Theory, Backends]
    public async Task Patch_OfMissingItem_IsNotFound(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        await (await owner.PatchAsync("/api/v1/items/AAAAAAAAAA", Json("{}"))).AssertErrorAsync(404, "not_found");
    }

    [Theory, Backends]
    public async Task Delete_StopsServingAtOnce(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var item = await owner.UploadAsync(TestImages.Jpeg());
        var id = item.GetProperty("id").GetString()!;
        await owner.WaitForScanAsync(id);
        var anonymous = app.Anonymous();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(item.PathOf("direct_url"))).StatusCode);

        using var response = await owner.DeleteAsync($"/api/v1/items/{id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await (await anonymous.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        await (await owner.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(404, "not_found");
        await (await owner.DeleteAsync($"/api/v1/items/{id}")).AssertErrorAsync(404, "not_found");
        Assert.Empty(await app.BlobKeysAsync());
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
