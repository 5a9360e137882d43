using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Tests.Support;

namespace Imagebin.Tests;

public sealed class EditDeleteTests : IAsyncLifetime
{
    private readonly ImagebinApp _app = new();
    private HttpClient _owner = null!;

    public async ValueTask InitializeAsync() => _owner = await _app.OwnerAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Patch_ChangesTheGivenFieldsOnly()
    {
        var id = (await _owner.UploadAsync(TestImages.Jpeg(), configure: r => { r.Headers.Add("x-title", "Old"); r.Headers.Add("x-category", "keep"); })).GetProperty("id").GetString()!;

        using var response = await _owner.PatchAsync($"/api/v1/items/{id}",
            Json("{\"title\":\"New\",\"description\":\"Desc\",\"tags\":[\"x\",\"y\"],\"dl_limit\":10,\"ai_optout\":true}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var item = await response.JsonAsync();
        Assert.Equal("New", item.GetProperty("title").GetString());
        Assert.Equal("Desc", item.GetProperty("description").GetString());
        Assert.Equal("keep", item.GetProperty("category").GetString());
        Assert.Equal(["x", "y"], item.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(10, item.GetProperty("dl_limit").GetInt64());
        Assert.Equal("opted_out", item.GetProperty("ai_caption_state").GetString());
        var again = await _owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("New", again.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Patch_MakingItemPrivate_HidesItFromOthersUntilTheSecretIsGiven()
    {
        var item = await _owner.UploadAsync(TestImages.Jpeg());
        var id = item.GetProperty("id").GetString()!;
        await _owner.WaitForScanAsync(id);
        Assert.Equal(HttpStatusCode.OK, (await _app.Anonymous().GetAsync(item.PathOf("direct_url"))).StatusCode);

        var patched = await (await _owner.PatchAsync($"/api/v1/items/{id}", Json("{\"private\":true}"))).JsonAsync();

        Assert.True(patched.GetProperty("private").GetBoolean());
        await (await _app.Anonymous().GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        var withSecret = await _app.Anonymous().GetAsync(patched.PathOf("direct_url"));
        Assert.Equal(HttpStatusCode.OK, withSecret.StatusCode);
        withSecret.AssertNotCacheable();
    }

    [Theory]
    [InlineData("{\"title\":", "invalid_json")]
    [InlineData("[1,2]", "invalid_request")]
    [InlineData("{\"owner_id\":\"x\"}", "invalid_request")]
    [InlineData("{\"private\":\"yes\"}", "invalid_request")]
    [InlineData("{\"dl_limit\":0}", "invalid_request")]
    [InlineData("{\"tags\":[1]}", "invalid_request")]
    [InlineData("{\"title\":42}", "invalid_request")]
    public async Task Patch_WithBadBody_IsRefusedAndChangesNothing(string body, string code)
    {
        var id = (await _owner.UploadAsync(TestImages.Jpeg(), configure: r => r.Headers.Add("x-title", "Original"))).GetProperty("id").GetString()!;

        using var response = await _owner.PatchAsync($"/api/v1/items/{id}", Json(body));

        await response.AssertErrorAsync(400, code);
        Assert.Equal("Original", (await _owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Patch_OfMissingItem_IsNotFound()
    {
        await (await _owner.PatchAsync("/api/v1/items/AAAAAAAAAA", Json("{}"))).AssertErrorAsync(404, "not_found");
    }

    [Fact]
    public async Task Delete_StopsServingAtOnce()
    {
        var item = await _owner.UploadAsync(TestImages.Jpeg());
        var id = item.GetProperty("id").GetString()!;
        await _owner.WaitForScanAsync(id);
        var anonymous = _app.Anonymous();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(item.PathOf("direct_url"))).StatusCode);

        using var response = await _owner.DeleteAsync($"/api/v1/items/{id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await (await anonymous.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        await (await _owner.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(404, "not_found");
        await (await _owner.DeleteAsync($"/api/v1/items/{id}")).AssertErrorAsync(404, "not_found");
        Assert.Empty(_app.BlobFiles());
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
