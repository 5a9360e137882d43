using Imagebin.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Support;

public static class BlobStoreExtensions
{
    /// <summary>The bytes stored under <paramref name="key"/>, read through the app's blob store, whichever it is.</summary>
    public static async Task<byte[]> ReadBlobAsync(this ImagebinApp app, string key)
    {
        await using var blob = await app.Services.GetRequiredService<IBlobStore>().OpenReadAsync(key, 0, null, CancellationToken.None);
        using var bytes = new MemoryStream();
        await blob.CopyToAsync(bytes);
        return bytes.ToArray();
    }
}
