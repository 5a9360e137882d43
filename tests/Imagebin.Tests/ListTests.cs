using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class ListTests : IAsyncLifetime
{
    // No worker: the list tests need no scans, and a quiet store keeps them quick.
    private readonly ImagebinApp _app = new(settings: new() { ["Imagebin:Roles"] = "api,authority" });
    private HttpClient _owner = null!;

    public async ValueTask InitializeAsync() => _owner = await _app.OwnerAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Pagination_Over250Items_HasNoDuplicatesOrGaps_WhileUploadsArrive()
    {
        var image = TestImages.Jpeg(16, 16);
        var uploaded = new List<string>();
        for (var i = 0; i < 250; i++)
        {
            uploaded.Add((await _owner.UploadAsync(image)).GetProperty("id").GetString()!);
        }

        var seen = new List<string>();
        var arrivedDuringPaging = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var list = await _owner.GetFromJsonAsync<JsonElement>($"/api/v1/account/items?limit=40{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
            cursor = list.GetProperty("next_cursor").GetString();
            pages++;
            arrivedDuringPaging.Add((await _owner.UploadAsync(image)).GetProperty("id").GetString()!);
        }
        while (cursor is not null);

        Assert.Equal(7, pages);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(uploaded.AsEnumerable().Reverse(), seen);
        Assert.DoesNotContain(arrivedDuringPaging, seen.Contains);
    }

    [Fact]
    public async Task Pagination_IsNewestFirstByCreatedAt()
    {
        for (var i = 0; i < 5; i++)
        {
            await _owner.UploadAsync(TestImages.Jpeg(16, 16, seed: i));
        }

        var list = await _owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items?limit=200");
        var created = list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("created_at").GetInt64()).ToList();

        Assert.Equal(created.OrderByDescending(c => c), created);
        Assert.Equal(JsonValueKind.Null, list.GetProperty("next_cursor").ValueKind);
    }

    [Fact]
    public async Task Filters_ByPrivateClassificationAndQuery()
    {
        var image = TestImages.Jpeg(16, 16);
        var hidden = (await _owner.UploadAsync(image, configure: r => { r.Headers.Add("x-private", "true"); r.Headers.Add("x-title", "Holiday beach"); })).GetProperty("id").GetString()!;
        var tagged = (await _owner.UploadAsync(image, configure: r => r.Headers.Add("x-tags", "Mountains,snow"))).GetProperty("id").GetString()!;
        var described = (await _owner.UploadAsync(image, configure: r => r.Headers.Add("x-description", "the BEACH at night"))).GetProperty("id").GetString()!;
        var captioned = (await _owner.UploadAsync(image)).GetProperty("id").GetString()!;
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            await db.Items.Where(i => i.Id == captioned).ExecuteUpdateAsync(s => s
                .SetProperty(i => i.AiCaption, "A dog on a beach")
                .SetProperty(i => i.AiCaptionState, AiCaptionState.Ready)
                .SetProperty(i => i.Classification, Classification.Safe));
        }

        Assert.Equal([hidden], await IdsAsync("private=true"));
        Assert.Equal([captioned, described, tagged], await IdsAsync("private=false"));
        Assert.Equal([captioned], await IdsAsync("classification=safe"));
        Assert.Equal([described, tagged, hidden], await IdsAsync("classification=unknown"));
        Assert.Equal([captioned, described, hidden], await IdsAsync("q=beach"));
        Assert.Equal([tagged], await IdsAsync("q=mountains"));
        Assert.Equal([hidden], await IdsAsync("q=beach&private=true"));
        Assert.Empty(await IdsAsync("q=nothing-matches"));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=201")]
    [InlineData("limit=ten")]
    [InlineData("private=maybe")]
    [InlineData("classification=cute")]
    [InlineData("cursor=not-a-cursor!")]
    [InlineData("cursor=Zm9v")]
    public async Task BadQuery_IsInvalidRequest(string query)
    {
        using var response = await _owner.GetAsync($"/api/v1/account/items?{query}");

        await response.AssertErrorAsync(400, "invalid_request");
    }

    private async Task<string[]> IdsAsync(string query)
    {
        var list = await _owner.GetFromJsonAsync<JsonElement>($"/api/v1/account/items?{query}");
        return list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();
    }
}
