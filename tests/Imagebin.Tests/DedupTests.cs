using System.Net;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class DedupTests : IAsyncLifetime
{
    private readonly ImagebinApp _app = new();
    private HttpClient _owner = null!;

    public async ValueTask InitializeAsync() => _owner = await _app.OwnerAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task SameBytesTwice_MakeTwoItemsAndOneBlob_AndDeletesAreRight()
    {
        var image = TestImages.Jpeg(32, 32, seed: 9);
        var first = await _owner.UploadAsync(image);
        var second = await _owner.UploadAsync(image);
        var firstId = first.GetProperty("id").GetString()!;
        var secondId = second.GetProperty("id").GetString()!;

        Assert.NotEqual(firstId, secondId);
        Assert.Single(_app.BlobFiles());
        Assert.Equal(2, await RefCountAsync());

        Assert.Equal(HttpStatusCode.NoContent, (await _owner.DeleteAsync($"/api/v1/items/{firstId}")).StatusCode);
        Assert.Single(_app.BlobFiles());
        Assert.Equal(1, await RefCountAsync());
        await _owner.WaitForScanAsync(secondId);
        var bytes = await _app.Anonymous().GetByteArrayAsync(second.PathOf("direct_url"));
        Assert.Equal(second.GetProperty("size_bytes").GetInt64(), bytes.Length);

        Assert.Equal(HttpStatusCode.NoContent, (await _owner.DeleteAsync($"/api/v1/items/{secondId}")).StatusCode);
        Assert.Empty(_app.BlobFiles());
        Assert.Equal(0, await RefCountAsync());
    }

    [Fact]
    public async Task ConcurrentUploadsAndDeletesOfTheSameBytes_KeepBlobAndCountsInStep()
    {
        var image = TestImages.Jpeg(32, 32, seed: 11);
        var keep = await _owner.UploadAsync(image);

        var work = Enumerable.Range(0, 10).Select(async _ =>
        {
            var id = (await _owner.UploadAsync(image)).GetProperty("id").GetString()!;
            Assert.Equal(HttpStatusCode.NoContent, (await _owner.DeleteAsync($"/api/v1/items/{id}")).StatusCode);
        });
        await Task.WhenAll(work);

        Assert.Single(_app.BlobFiles());
        Assert.Equal(1, await RefCountAsync());
        var bytes = await _owner.GetByteArrayAsync(keep.PathOf("direct_url"));
        Assert.Equal(keep.GetProperty("size_bytes").GetInt64(), bytes.Length);
    }

    private async Task<int> RefCountAsync()
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        return await db.Blobs.SumAsync(b => b.RefCount);
    }
}
