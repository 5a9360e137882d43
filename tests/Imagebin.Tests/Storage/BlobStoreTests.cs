using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Imagebin.Storage;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Imagebin.Tests.Storage;

/// <summary>
/// The blob-store contract, run against the file-system store (embedded) and the S3 store over Ceph RGW (scale-out):
/// both must behave the same to everything above them.
/// </summary>
public sealed class BlobStoreTests
{
    private const long MiB = 1024 * 1024;

    [Theory, Backends]
    public async Task Put_ThenExistsAndReadsBackTheSameBytes(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);
        var (key, bytes) = RandomBlob(100_000);

        Assert.False(await blobs.Store.ExistsAsync(key, default));
        await blobs.Store.PutAsync(key, blobs.WriteSource(bytes), default);

        Assert.True(await blobs.Store.ExistsAsync(key, default));
        Assert.Equal(bytes, await ReadAsync(blobs.Store, key, 0, null));
    }

    [Theory, Backends]
    public async Task OpenRead_OfRanges_ReturnsExactlyThoseBytes(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);
        var (key, bytes) = RandomBlob(10_000);
        await blobs.Store.PutAsync(key, blobs.WriteSource(bytes), default);

        Assert.Equal(bytes[..1], await ReadAsync(blobs.Store, key, 0, 1));
        Assert.Equal(bytes[4000..6000], await ReadAsync(blobs.Store, key, 4000, 2000));
        Assert.Equal(bytes[^1..], await ReadAsync(blobs.Store, key, bytes.Length - 1, 1));
        Assert.Equal(bytes[9000..], await ReadAsync(blobs.Store, key, 9000, null));
        Assert.Empty(await ReadAsync(blobs.Store, key, 10, 0));
    }

    [Theory, Backends]
    public async Task Put_OfAnExistingKey_KeepsTheStoredBytes(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);
        var (key, first) = RandomBlob(5000);
        var second = RandomNumberGenerator.GetBytes(5000);
        await blobs.Store.PutAsync(key, blobs.WriteSource(first), default);

        await blobs.Store.PutAsync(key, blobs.WriteSource(second), default);

        Assert.Equal(first, await ReadAsync(blobs.Store, key, 0, null));
    }

    [Theory, Backends]
    public async Task Put_OfALargeBlob_RoundTripsByteIdentical(Backend backend)
    {
        // Above the multipart threshold on S3: eight 5 MiB parts.
        await using var blobs = await TestStore.CreateAsync(backend, multipartThreshold: 5 * MiB, partSize: 5 * MiB);
        var (key, bytes) = RandomBlob(40_000_000);
        await blobs.Store.PutAsync(key, blobs.WriteSource(bytes), default);

        await using var stream = await blobs.Store.OpenReadAsync(key, 0, null, default);
        var sha = await SHA256.HashDataAsync(stream);

        Assert.Equal(BlobKeys.Sha256Of(key), Convert.ToHexStringLower(sha));
        Assert.Equal(bytes[(20 * (int)MiB - 3)..(20 * (int)MiB + 3)], await ReadAsync(blobs.Store, key, 20 * MiB - 3, 6));
        if (backend == Backend.ScaleOut)
        {
            // S3 marks an object assembled from parts with an ETag ending in "-{parts}".
            var url = await blobs.Store.GetReadUrlAsync(key, TimeSpan.FromMinutes(1), null, null, default);
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { Range = new(0, 0) } };
            using var response = await http.SendAsync(request);
            Assert.EndsWith("-8\"", response.Headers.ETag?.Tag);
        }
    }

    [Theory, Backends]
    public async Task Delete_RemovesTheBlob_AndAMissingKeyIsNoError(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);
        var (key, bytes) = RandomBlob(1000);
        await blobs.Store.PutAsync(key, blobs.WriteSource(bytes), default);

        await blobs.Store.DeleteAsync(key, default);
        await blobs.Store.DeleteAsync(key, default);
        await blobs.Store.DeleteAsync(RandomBlob(1).Key, default);

        Assert.False(await blobs.Store.ExistsAsync(key, default));
        await Assert.ThrowsAnyAsync<IOException>(() => ReadAsync(blobs.Store, key, 0, null));
    }

    [Theory, Backends]
    public async Task List_ReturnsEveryStoredKeyWithItsWriteTime(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);
        var before = DateTimeOffset.UtcNow.AddMinutes(-5);
        var keys = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (key, bytes) = RandomBlob(100 + i);
            await blobs.Store.PutAsync(key, blobs.WriteSource(bytes), default);
            keys.Add(key);
        }

        var listed = new List<(string Key, DateTimeOffset LastModified)>();
        await foreach (var entry in blobs.Store.ListAsync(default))
        {
            listed.Add(entry);
        }

        Assert.Equal(keys.Order(), listed.Select(e => e.Key).Order());
        Assert.All(listed, e => Assert.InRange(e.LastModified, before, DateTimeOffset.UtcNow.AddMinutes(5)));
    }

    [Theory, Backends]
    public async Task IsHealthy_OnAWorkingStore_IsTrue(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);

        Assert.True(await blobs.Store.IsHealthyAsync(default));
    }

    [Theory, Backends]
    public async Task ReadUrl_IsPresignedOnS3_AndAbsentForFiles(Backend backend)
    {
        await using var blobs = await TestStore.CreateAsync(backend);
        var (key, bytes) = RandomBlob(3000);
        await blobs.Store.PutAsync(key, blobs.WriteSource(bytes), default);

        var url = await blobs.Store.GetReadUrlAsync(key, TimeSpan.FromMinutes(1), "image/png", "inline; filename=\"a.png\"", default);

        if (backend == Backend.Embedded)
        {
            Assert.Null(url);
            return;
        }

        Assert.NotNull(url);
        using var http = new HttpClient();
        using var response = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("inline; filename=\"a.png\"", response.Content.Headers.ContentDisposition?.ToString());
        using var tampered = await http.GetAsync(url.AbsoluteUri.Replace("image%2Fpng", "text%2Fhtml", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.Forbidden, tampered.StatusCode);
    }

    [Fact]
    public async Task IsHealthy_OfAnS3StoreOnAClosedPort_IsFalse()
    {
        using var store = new S3BlobStore(new S3StorageOptions
        {
            ServiceUrl = $"http://127.0.0.1:{ClosedPort()}",
            Bucket = "nowhere",
            AccessKey = "a",
            SecretKey = "b",
        });

        Assert.False(await store.IsHealthyAsync(default));
    }

    [Fact]
    public async Task EnsureBucket_CreatesAMissingBucket()
    {
        RequireS3();
        using var store = new S3BlobStore(TestStore.S3Options(NewBucketName()));
        Assert.False(await store.IsHealthyAsync(default));

        await store.EnsureBucketAsync(default);
        await store.EnsureBucketAsync(default);

        Assert.True(await store.IsHealthyAsync(default));
    }

    [Fact]
    public async Task EnsureBucket_WithCreateBucketOff_FailsOnAMissingBucketAndNamesTheSetting()
    {
        RequireS3();
        var options = TestStore.S3Options(NewBucketName());
        options.CreateBucket = false;
        using var store = new S3BlobStore(options);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.EnsureBucketAsync(default));

        Assert.Contains(options.Bucket!, error.Message);
        Assert.Contains("Storage:S3:CreateBucket", error.Message);
        Assert.False(await store.IsHealthyAsync(default));
    }

    [Fact]
    public async Task App_OnS3_CreatesItsBucketAtStartAndReportsHealthy()
    {
        RequireS3();
        var bucket = NewBucketName();
        await using var app = new ImagebinApp(settings: S3Settings(bucket));

        using var response = await app.Anonymous().GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The bucket, behind the node-local cache.
        var cache = Assert.IsType<LocalBlobCache>(app.Services.GetRequiredService<IBlobStore>());
        var store = Assert.IsType<S3BlobStore>(cache.Remote);
        Assert.Equal(bucket, store.Bucket);
        Assert.True(await store.IsHealthyAsync(default));
    }

    [Fact]
    public async Task App_OnS3_WithCreateBucketOffAndNoBucket_DoesNotStart()
    {
        RequireS3();
        var settings = S3Settings(NewBucketName());
        settings["Storage:S3:CreateBucket"] = "false";
        await using var app = new ImagebinApp(settings: settings);

        var error = Assert.ThrowsAny<Exception>(() => app.Anonymous());

        Assert.Contains("Storage:S3:CreateBucket is false", error.ToString());
    }

    [Fact]
    public async Task App_OnS3_WithoutABucket_RefusesToStartNamingTheKey()
    {
        var settings = new Dictionary<string, string?> { ["Storage:Provider"] = "S3", ["Storage:S3:ServiceUrl"] = "http://127.0.0.1:1" };
        await using var app = new ImagebinApp(settings: settings);

        var error = Assert.ThrowsAny<OptionsValidationException>(() => app.Anonymous());

        Assert.Contains("Storage:S3:Bucket is required when Storage:Provider is S3", error.Message);
    }

    [Fact]
    public async Task App_OnS3_UploadsScansAndServesThroughTheNode()
    {
        RequireS3();
        await using var app = new ImagebinApp(settings: S3Settings(NewBucketName()));
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(80, 60);

        var item = await owner.UploadAsync(image);
        var scanned = await owner.WaitForScanAsync(item.GetProperty("id").GetString()!);
        using var response = await app.Anonymous().GetAsync(item.PathOf("direct_url"));
        using var range = new HttpRequestMessage(HttpMethod.Get, item.PathOf("direct_url")) { Headers = { Range = new(10, 19) } };
        using var partial = await app.Anonymous().SendAsync(range);

        Assert.Equal("passed", scanned.GetProperty("scan_state").GetString());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal($"\"{Convert.ToHexStringLower(SHA256.HashData(body))}\"", response.Headers.ETag!.ToString());
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(body[10..20], await partial.Content.ReadAsByteArrayAsync());
        Assert.Empty(app.BlobFiles());
        Assert.Single(await app.BlobKeysAsync());
    }

    [Theory, Backends]
    public async Task DirectGet_WithRedirectReads_RedirectsToAUrlServingTheSameBytes(Backend backend)
    {
        await using var app = new ImagebinApp(backend, new() { ["Storage:S3:RedirectReads"] = "true" });
        var owner = await app.OwnerAsync();
        var item = await owner.UploadAsync(TestImages.Jpeg(80, 60));
        await owner.WaitForScanAsync(item.GetProperty("id").GetString()!);
        var path = item.PathOf("direct_url");
        var anonymous = app.Anonymous();

        using var response = await anonymous.GetAsync(path);
        using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.NotNull(head.Headers.ETag);
        if (backend == Backend.Embedded)
        {
            // Files are always served by the node: the setting is about S3.
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return;
        }

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        response.AssertNotCacheable();
        var location = response.Headers.Location!;
        Assert.StartsWith(TestServices.S3Url!, location.AbsoluteUri);
        using var http = new HttpClient();
        using var redirected = await http.GetAsync(location);
        var bytes = await redirected.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, redirected.StatusCode);
        Assert.Equal("image/jpeg", redirected.Content.Headers.ContentType?.MediaType);
        Assert.Equal(head.Headers.ETag!.Tag, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))}\"");
        using var conditional = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { IfNoneMatch = { head.Headers.ETag } } };
        using var notModified = await anonymous.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    private static (string Key, byte[] Bytes) RandomBlob(int size)
    {
        var bytes = RandomNumberGenerator.GetBytes(size);
        return (BlobKeys.ForSha256(Convert.ToHexStringLower(SHA256.HashData(bytes))), bytes);
    }

    private static async Task<byte[]> ReadAsync(IBlobStore store, string key, long offset, long? length)
    {
        await using var stream = await store.OpenReadAsync(key, offset, length, default);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    internal static void RequireS3()
    {
        if (TestServices.S3Url is null)
        {
            throw new InvalidOperationException("IMAGEBIN_TEST_S3_URL is not set: run ./test.sh, or tests/services.sh start DIR and . DIR/env.");
        }
    }

    private static string NewBucketName() => $"ib-{Guid.NewGuid():N}"[..24];

    /// <summary>SQLite and files for the metadata, a new bucket on the test S3 for the blobs.</summary>
    private static Dictionary<string, string?> S3Settings(string bucket) => new()
    {
        ["Storage:Provider"] = "S3",
        ["Storage:S3:ServiceUrl"] = TestServices.S3Url,
        ["Storage:S3:Bucket"] = bucket,
        ["Storage:S3:AccessKey"] = TestServices.S3AccessKey,
        ["Storage:S3:SecretKey"] = TestServices.S3SecretKey,
    };

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A store of the backend's kind over a fresh directory or bucket, emptied again on dispose.</summary>
    internal sealed class TestStore : IAsyncDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("imagebin-blobs-").FullName;

        private TestStore(Func<string, IBlobStore> create) => Store = create(_dir);

        public IBlobStore Store { get; }

        public static S3StorageOptions S3Options(string bucket) => new()
        {
            ServiceUrl = TestServices.S3Url,
            Bucket = bucket,
            AccessKey = TestServices.S3AccessKey,
            SecretKey = TestServices.S3SecretKey,
        };

        public static async Task<TestStore> CreateAsync(Backend backend, long multipartThreshold = 16 * MiB, long partSize = 8 * MiB)
        {
            if (backend == Backend.Embedded)
            {
                return new TestStore(dir => new FileSystemBlobStore(Path.Combine(dir, "blobs")));
            }

            var options = S3Options(NewBucketName());
            options.MultipartThresholdBytes = multipartThreshold;
            options.PartSizeBytes = partSize;
            var store = new TestStore(_ => new S3BlobStore(options));
            await ((S3BlobStore)store.Store).EnsureBucketAsync(default);
            return store;
        }

        /// <summary>Writes a source file for <see cref="IBlobStore.PutAsync"/> (which may move it away).</summary>
        public string WriteSource(byte[] bytes)
        {
            var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.upload");
            File.WriteAllBytes(path, bytes);
            return path;
        }

        public async ValueTask DisposeAsync()
        {
            // The test RGW keeps objects in RAM: give it back.
            if (Store is S3BlobStore s3)
            {
                s3.Dispose();
                TestServices.DeleteBucket(s3.Bucket);
            }

            Directory.Delete(_dir, recursive: true);
        }
    }
}
