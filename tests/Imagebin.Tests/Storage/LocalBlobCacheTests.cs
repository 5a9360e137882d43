using System.Security.Cryptography;
using Imagebin.Data;
using Imagebin.Storage;
using Imagebin.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Imagebin.Tests.Storage;

/// <summary>The node-local cache in front of a remote store (the bucket on scale-out; a file store stands in on the embedded row).</summary>
public sealed class LocalBlobCacheTests
{
    [Fact]
    public async Task Upload_StaysLocal_WithoutACopy_AndIsInTheBucket()
    {
        // The bucket only reads the spool file, so the cache can keep it (a file store as remote would take it).
        BlobStoreTests.RequireS3();
        await using var remote = await BlobStoreTests.TestStore.CreateAsync(Backend.ScaleOut);
        using var root = new TempDir();
        var cache = Cache(remote.Store, root.Path, 10_000_000);
        var (key, bytes) = Blob(50_000, 1);
        var source = remote.WriteSource(bytes);

        await cache.PutAsync(key, source, CancellationToken.None);

        Assert.True(await remote.Store.ExistsAsync(key, CancellationToken.None));
        var local = cache.LocalPath(key);
        Assert.NotNull(local);
        Assert.StartsWith(root.Path, local);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(local));
        Assert.Equal(bytes.Length, cache.CachedBytes);
    }

    [Theory, Backends]
    public async Task UncachedRead_IsServedFromTheRemote_AndFillsTheCacheOnce(Backend backend)
    {
        await using var remote = await BlobStoreTests.TestStore.CreateAsync(backend);
        using var root = new TempDir();
        var (key, bytes) = Blob(70_000, 2);
        await remote.Store.PutAsync(key, remote.WriteSource(bytes), CancellationToken.None);
        var cache = Cache(remote.Store, root.Path, 10_000_000);

        Assert.Null(cache.LocalPath(key));
        await using (var stream = await cache.OpenReadAsync(key, 100, 1000, CancellationToken.None))
        {
            var part = new MemoryStream();
            await stream.CopyToAsync(part);
            Assert.Equal(bytes[100..1100], part.ToArray());
        }

        await cache.WhenFilledAsync();
        var local = cache.LocalPath(key);
        Assert.NotNull(local);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(local));
        Assert.Empty(Directory.GetFiles(root.Path, "*.part", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task RemoteBytesThatDoNotMatchTheirName_AreNeverCached()
    {
        using var remoteDir = new TempDir();
        using var root = new TempDir();
        var remote = new FileSystemBlobStore(remoteDir.Path);
        var (key, _) = Blob(10_000, 3);
        var tampered = Path.Combine(remoteDir.Path, key);
        Directory.CreateDirectory(Path.GetDirectoryName(tampered)!);
        await File.WriteAllBytesAsync(tampered, RandomNumberGenerator.GetBytes(10_000));
        var cache = Cache(remote, root.Path, 10_000_000);

        Assert.Null(cache.LocalPath(key));
        await cache.WhenFilledAsync();

        Assert.Null(cache.LocalPath(key));
        Assert.Empty(Directory.GetFiles(root.Path, "*", SearchOption.AllDirectories));
    }

    [Theory, Backends]
    public async Task PastTheBudget_TheLeastRecentlyUsedGo(Backend backend)
    {
        await using var remote = await BlobStoreTests.TestStore.CreateAsync(backend);
        using var root = new TempDir();
        var cache = Cache(remote.Store, root.Path, 250_000);
        var keys = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (key, bytes) = Blob(100_000, 10 + i);
            await remote.Store.PutAsync(key, remote.WriteSource(bytes), CancellationToken.None);
            await FillAsync(cache, key);
            keys.Add(key);
            if (i == 1)
            {
                await Task.Delay(20);
                Assert.NotNull(cache.LocalPath(keys[0])); // the first is used again, so the second is the oldest
                await Task.Delay(20);
            }
        }

        Assert.True(cache.CachedBytes <= 250_000, $"{cache.CachedBytes} cached");
        Assert.NotNull(cache.LocalPath(keys[0]));
        Assert.Null(cache.LocalPath(keys[1]));
        Assert.NotNull(cache.LocalPath(keys[2]));
        foreach (var key in keys)
        {
            Assert.True(await remote.Store.ExistsAsync(key, CancellationToken.None));
        }
    }

    [Theory, Backends]
    public async Task Delete_DropsTheCopyOnEveryNode(Backend backend)
    {
        await using var remote = await BlobStoreTests.TestStore.CreateAsync(backend);
        using var rootA = new TempDir();
        using var rootB = new TempDir();
        var signals = new LocalSignals(); // stands in for NOTIFY between the two nodes
        var nodeA = new LocalBlobCache(remote.Store, rootA.Path, 10_000_000, signals, NullLogger<LocalBlobCache>.Instance);
        var nodeB = new LocalBlobCache(remote.Store, rootB.Path, 10_000_000, signals, NullLogger<LocalBlobCache>.Instance);
        var (key, bytes) = Blob(30_000, 4);
        await remote.Store.PutAsync(key, remote.WriteSource(bytes), CancellationToken.None);
        await FillAsync(nodeA, key);
        await FillAsync(nodeB, key);

        await nodeB.DeleteAsync(key, CancellationToken.None);

        Assert.False(await remote.Store.ExistsAsync(key, CancellationToken.None));
        Assert.Empty(Directory.GetFiles(rootA.Path, "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(rootB.Path, "*", SearchOption.AllDirectories));
        Assert.Equal(0, nodeA.CachedBytes + nodeB.CachedBytes);
    }

    [Fact]
    public async Task Restart_KeepsWhatWasCached_AndDropsHalfWrittenFills()
    {
        using var remoteDir = new TempDir();
        using var root = new TempDir();
        var remote = new FileSystemBlobStore(remoteDir.Path);
        var (key, bytes) = Blob(20_000, 5);
        var source = Path.Combine(remoteDir.Path, $"{Guid.NewGuid():N}.upload");
        await File.WriteAllBytesAsync(source, bytes);
        await remote.PutAsync(key, source, CancellationToken.None);
        await FillAsync(Cache(remote, root.Path, 10_000_000), key);
        var partial = Path.Combine(root.Path, key + ".abc.part");
        await File.WriteAllBytesAsync(partial, [1, 2, 3]);

        var restarted = Cache(remote, root.Path, 10_000_000);

        Assert.NotNull(restarted.LocalPath(key));
        Assert.Equal(bytes.Length, restarted.CachedBytes);
        Assert.False(File.Exists(partial));
    }

    private static async Task FillAsync(LocalBlobCache cache, string key)
    {
        if (cache.LocalPath(key) is null)
        {
            await cache.WhenFilledAsync();
            Assert.NotNull(cache.LocalPath(key));
        }
    }

    private static LocalBlobCache Cache(IBlobStore remote, string root, long budget) =>
        new(remote, root, budget, new LocalSignals(), NullLogger<LocalBlobCache>.Instance);

    private static (string Key, byte[] Bytes) Blob(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return (BlobKeys.ForSha256(Convert.ToHexStringLower(SHA256.HashData(bytes))), bytes);
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("imagebin-cache-").FullName;

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
