namespace Imagebin.Tests.Support;

/// <summary>
/// One store that outlives the apps started over it, for tests that restart Imagebin: the same data directory
/// (embedded) or the same PostgreSQL database and S3 bucket (scale-out). Apps started here neither create nor drop it.
/// </summary>
public sealed class SharedStore : IDisposable
{
    private readonly string? _connectionString;

    public SharedStore(Backend backend)
    {
        Backend = backend;
        if (backend == Backend.ScaleOut)
        {
            _connectionString = TestServices.CreateDatabase();
            Settings = TestServices.ScaleOutSettings(_connectionString, $"ib-{Guid.NewGuid():N}"[..24]);
        }

        DataDir = Directory.CreateTempSubdirectory("imagebin-shared-").FullName;
    }

    public Backend Backend { get; }

    public string DataDir { get; }

    /// <summary>The settings that point an app at this store, besides the data directory (none on embedded).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>();

    /// <summary>A new app over this store, with <paramref name="settings"/> of its own on top.</summary>
    public ImagebinApp Start(Dictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(Settings);
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        return new ImagebinApp(Backend, all, DataDir);
    }

    public void Dispose()
    {
        if (_connectionString is not null)
        {
            TestServices.DropDatabase(_connectionString);
        }

        if (Settings.TryGetValue("Storage:S3:Bucket", out var bucket) && bucket is not null)
        {
            TestServices.DeleteBucket(bucket);
        }

        Directory.Delete(DataDir, recursive: true);
    }
}
