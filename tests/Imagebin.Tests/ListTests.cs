using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class ListTests
{
    // No worker: the list tests need no scans, and a quiet store keeps them quick.
    private static readonly Dictionary<string, string?> NoWorker = new() { ["Imagebin:Roles"] = "api,authority" };

    [Theory, Backends]
    public async Task Pagination_Over250Items_HasNoDuplicatesOrGaps_WhileUploadsArrive(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(16, 16);
        var uploaded = new List<string>();
        for (var i = 0; i < 250; i++)
        {
            uploaded.Add((await owner.UploadAsync(image)).GetProperty("id").GetString()!);
        }

        var seen = new List<string>();
        var arrivedDuringPaging = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var list = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/account/items?limit=40{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
            cursor = list.GetProperty("next_cursor").GetString();
            pages++;
            arrivedDuringPaging.Add((await owner.UploadAsync(image)).GetProperty("id").GetString()!);
        }
        while (cursor is not null);

        Assert.Equal(7, pages);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(uploaded.AsEnumerable().Reverse(), seen);
        Assert.DoesNotContain(arrivedDuringPaging, seen.Contains);
    }

    [Theory, Backends]
    public async Task Pagination_IsNewestFirstByCreatedAt(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        var owner = await app.OwnerAsync();
        for (var i = 0; i < 5; i++)
        {
            await owner.UploadAsync(TestImages.Jpeg(16, 16, seed: i));
        }

        var list = await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items?limit=200");
        var created = list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("created_at").GetInt64()).ToList();

        Assert.Equal(created.OrderByDescending(c => c), created);
        Assert.Equal(JsonValueKind.Null, list.GetProperty("next_cursor").ValueKind);
    }

    [Theory, Backends]
    public async Task Filters_ByPrivateClassificationAndQuery(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(16, 16);
        var hidden = (await owner.UploadAsync(image, configure: r => { r.Headers.Add("x-private", "true"); r.Headers.Add("x-title", "Holiday beach"); })).GetProperty("id").GetString()!;
        var tagged = (await owner.UploadAsync(image, configure: r => r.Headers.Add("x-tags", "Mountains,snow"))).GetProperty("id").GetString()!;
        var described = (await owner.UploadAsync(image, configure: r => r.Headers.Add("x-description", "the BEACH at night"))).GetProperty("id").GetString()!;
        var captioned = (await owner.UploadAsync(image)).GetProperty("id").GetString()!;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            await db.Items.Where(i => i.Id == captioned).ExecuteUpdateAsync(s => s
                .SetProperty(i => i.AiCaption, "A dog on a beach")
                .SetProperty(i => i.AiCaptionState, AiCaptionState.Ready)
                .SetProperty(i => i.Classification, Classification.Safe));
        }

        Assert.Equal([hidden], await IdsAsync(owner, "private=true"));
        Assert.Equal([captioned, described, tagged], await IdsAsync(owner, "private=false"));
        Assert.Equal([captioned], await IdsAsync(owner, "classification=safe"));
        Assert.Equal([described, tagged, hidden], await IdsAsync(owner, "classification=unknown"));
        Assert.Equal([captioned, described, hidden], await IdsAsync(owner, "q=beach"));
        Assert.Equal([tagged], await IdsAsync(owner, "q=mountains"));
        Assert.Equal([hidden], await IdsAsync(owner, "q=beach&private=true"));
        Assert.Empty(await IdsAsync(owner, "q=nothing-matches"));
    }

    [Theory]
    [BackendsInlineData("limit=0")]
    [BackendsInlineData("limit=201")]
    [BackendsInlineData("limit=ten")]
    [BackendsInlineData("private=maybe")]
    [BackendsInlineData("classification=cute")]
    [BackendsInlineData("cursor=not-a-cursor!")]
    [BackendsInlineData("cursor=Zm9v")]
    public async Task BadQuery_IsInvalidRequest(Backend backend, string query)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        var owner = await app.OwnerAsync();
        using var response = await owner.GetAsync($"/api/v1/account/items?{query}");

        await response.AssertErrorAsync(400, "invalid_request");
    }

    private static async Task<string[]> IdsAsync(HttpClient owner, string query)
    {
        var list = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/account/items?{query}");
        return list.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();
    }
}
