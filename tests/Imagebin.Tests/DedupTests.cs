using System.Net;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class DedupTests
{
    [Theory, Backends]
    public async Task SameBytesTwice_MakeTwoItemsAndOneBlob_AndDeletesAreRight(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(32, 32, seed: 9);
        var first = await owner.UploadAsync(image);
        var second = await owner.UploadAsync(image);
        var firstId = first.GetProperty("id").GetString()!;
        var secondId = second.GetProperty("id").GetString()!;

        Assert.NotEqual(firstId, secondId);
        Assert.Single(await app.BlobKeysAsync());
        Assert.Equal(2, await RefCountAsync(app));

        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/v1/items/{firstId}")).StatusCode);
        Assert.Single(await app.BlobKeysAsync());
        Assert.Equal(1, await RefCountAsync(app));
        await owner.WaitForScanAsync(secondId);
        var bytes = await app.Anonymous().GetByteArrayAsync(second.PathOf("direct_url"));
        Assert.Equal(second.GetProperty("size_bytes").GetInt64(), bytes.Length);

        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/v1/items/{secondId}")).StatusCode);
        Assert.Empty(await app.BlobKeysAsync());
        Assert.Equal(0, await RefCountAsync(app));
    }

    [Theory, Backends]
    public async Task ConcurrentUploadsAndDeletesOfTheSameBytes_KeepBlobAndCountsInStep(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(32, 32, seed: 11);
        var keep = await owner.UploadAsync(image);

        var work = Enumerable.Range(0, 10).Select(async _ =>
        {
            var id = (await owner.UploadAsync(image)).GetProperty("id").GetString()!;
            Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/v1/items/{id}")).StatusCode);
        });
        await Task.WhenAll(work);

        Assert.Single(await app.BlobKeysAsync());
        Assert.Equal(1, await RefCountAsync(app));
        var bytes = await owner.GetByteArrayAsync(keep.PathOf("direct_url"));
        Assert.Equal(keep.GetProperty("size_bytes").GetInt64(), bytes.Length);
    }

    private static async Task<int> RefCountAsync(ImagebinApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        return await db.Blobs.SumAsync(b => b.RefCount);
    }
}
