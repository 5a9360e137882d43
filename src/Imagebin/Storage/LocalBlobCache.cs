using System.Collections.Concurrent;
using System.Security.Cryptography;
using Imagebin.Data;

namespace Imagebin.Storage;

/// <summary>
/// A node-local, size-bounded copy of a remote store's blobs (<c>Storage:S3:LocalCacheBytes</c>), so the hot path serves
/// popular images from page-cached local files (positional reads, one shared handle) instead of proxying every request
/// to the bucket. Safe because blobs are immutable and content-addressed: a cached file can only ever hold the bytes its
/// name says, and it is checked against that name when it is filled. Whether an item may be served is decided by the
/// metadata store, never by the cache, so a deleted item is not served from here either; the bytes of a deleted blob
/// are dropped on every node (a signal) so removed images do not linger on disks.
/// <para>
/// Fills: an upload moves its spool file in (no copy); a read of an uncached blob is served from the bucket while one
/// background download per blob fills the cache for the next one. Eviction: least recently used, past the budget.
/// </para>
/// </summary>
public sealed class LocalBlobCache : IBlobStore
{
    private readonly IBlobStore _remote;
    private readonly long _maxBytes;
    private readonly ILogger _logger;
    private readonly INodeSignals _signals;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _filling = new(StringComparer.Ordinal);
    private readonly Lock _evictLock = new();
    private long _bytes;

    public LocalBlobCache(IBlobStore remote, string root, long maxBytes, INodeSignals signals, ILogger<LocalBlobCache> logger)
    {
        _remote = remote;
        Root = Path.GetFullPath(root);
        _maxBytes = maxBytes;
        _signals = signals;
        _logger = logger;
        Directory.CreateDirectory(Root);
        Load();
        signals.Subscribe(SignalChannels.Blobs, Forget);
    }

    public string Root { get; }

    /// <summary>The store behind the cache.</summary>
    public IBlobStore Remote => _remote;

    public long CachedBytes => Interlocked.Read(ref _bytes);

    public async Task PutAsync(string key, string sourceFile, CancellationToken cancellationToken)
    {
        await _remote.PutAsync(key, sourceFile, cancellationToken);
        // The node that took the upload serves (and scans) it first: keep the spool file, which the remote only read.
        // Only blobs are kept (what the fill, the delete signal and the restart scan know); variants stay in the bucket.
        if (BlobKeys.Sha256Of(key) is not null && File.Exists(sourceFile) && !_entries.ContainsKey(key))
        {
            try
            {
                var target = PathOf(key);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Move(sourceFile, target, overwrite: true);
                Add(key, new FileInfo(target).Length);
            }
            catch (IOException exception)
            {
                _logger.LogDebug(exception, "Could not keep blob {Key} in the local cache", key);
            }
        }
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken) => _remote.ExistsAsync(key, cancellationToken);

    public async Task<Stream> OpenReadAsync(string key, long offset, long? length, CancellationToken cancellationToken)
    {
        if (Touch(key) && TryOpen(key) is { } stream)
        {
            stream.Seek(offset, SeekOrigin.Begin);
            return length is { } count ? new BoundedStream(stream, count) : stream;
        }

        StartFill(key);
        return await _remote.OpenReadAsync(key, offset, length, cancellationToken);
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        await _remote.DeleteAsync(key, cancellationToken);
        await _signals.PublishAsync(SignalChannels.Blobs, key, CancellationToken.None);
    }

    /// <summary>The cached file when there is one; otherwise null, and a background fill starts.</summary>
    public string? LocalPath(string key)
    {
        if (Touch(key))
        {
            return PathOf(key);
        }

        StartFill(key);
        return null;
    }

    public IAsyncEnumerable<(string Key, DateTimeOffset LastModified)> ListAsync(CancellationToken cancellationToken) => _remote.ListAsync(cancellationToken);

    public Task<bool> IsHealthyAsync(CancellationToken cancellationToken) => _remote.IsHealthyAsync(cancellationToken);

    public Task<Uri?> GetReadUrlAsync(string key, TimeSpan lifetime, string? contentType, string? contentDisposition, CancellationToken cancellationToken) =>
        _remote.GetReadUrlAsync(key, lifetime, contentType, contentDisposition, cancellationToken);

    /// <summary>Waits for background fills (tests).</summary>
    public Task WhenFilledAsync() => Task.WhenAll(_filling.Values);

    private bool Touch(string key)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            return false;
        }

        if (!File.Exists(PathOf(key)))
        {
            // Removed behind our back (an operator cleaning up): forget it.
            Remove(key);
            return false;
        }

        entry.LastUse = Environment.TickCount64;
        return true;
    }

    private FileStream? TryOpen(string key)
    {
        try
        {
            return new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.Asynchronous);
        }
        catch (IOException)
        {
            Remove(key);
            return null;
        }
    }

    private void StartFill(string key)
    {
        if (_maxBytes <= 0 || _entries.ContainsKey(key) || BlobKeys.Sha256Of(key) is null)
        {
            return;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_filling.TryAdd(key, started.Task))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await FillAsync(key);
            }
            catch (Exception exception)
            {
                _logger.LogDebug(exception, "Could not cache blob {Key}", key);
            }
            finally
            {
                _filling.TryRemove(key, out _);
                started.SetResult();
            }
        });
    }

    private async Task FillAsync(string key)
    {
        var target = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var staging = $"{target}.{Guid.NewGuid():N}.part";
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            string actual;
            await using (var source = await _remote.OpenReadAsync(key, 0, null, timeout.Token))
            await using (var file = new FileStream(staging, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[81920];
                int read;
                while ((read = await source.ReadAsync(buffer, timeout.Token)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), timeout.Token);
                }

                actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            }

            if (actual != BlobKeys.Sha256Of(key))
            {
                _logger.LogWarning("Blob {Key} from the remote store hashes to {Actual}; not cached", key, actual);
                return;
            }

            File.Move(staging, target, overwrite: true);
            Add(key, new FileInfo(target).Length);
        }
        finally
        {
            File.Delete(staging);
        }
    }

    private void Add(string key, long size)
    {
        if (_entries.TryAdd(key, new Entry(size) { LastUse = Environment.TickCount64 }))
        {
            Interlocked.Add(ref _bytes, size);
        }

        if (Interlocked.Read(ref _bytes) > _maxBytes)
        {
            Evict();
        }
    }

    private void Evict()
    {
        lock (_evictLock)
        {
            // Down to 90% of the budget, so eviction runs in batches rather than on every fill.
            var goal = _maxBytes / 10 * 9;
            foreach (var (key, _) in _entries.OrderBy(e => e.Value.LastUse).ToList())
            {
                if (Interlocked.Read(ref _bytes) <= goal)
                {
                    break;
                }

                Remove(key);
            }
        }
    }

    /// <summary>A blob was deleted somewhere: drop this node's copy.</summary>
    private void Forget(string key)
    {
        if (BlobKeys.Sha256Of(key) is not null)
        {
            Remove(key);
        }
    }

    private void Remove(string key)
    {
        if (_entries.TryRemove(key, out var entry))
        {
            Interlocked.Add(ref _bytes, -entry.Size);
        }

        try
        {
            // Readers holding the file open keep reading it; the name is gone.
            File.Delete(PathOf(key));
        }
        catch (IOException exception)
        {
            _logger.LogDebug(exception, "Could not delete cached blob {Key}", key);
        }
    }

    /// <summary>Picks up what a previous run of this node cached; half-written fills are thrown away.</summary>
    private void Load()
    {
        foreach (var file in Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories))
        {
            var key = Path.GetRelativePath(Root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (file.EndsWith(".part", StringComparison.Ordinal) || BlobKeys.Sha256Of(key) is null || key != BlobKeys.ForSha256(BlobKeys.Sha256Of(key)!))
            {
                File.Delete(file);
                continue;
            }

            var info = new FileInfo(file);
            _entries[key] = new Entry(info.Length) { LastUse = info.LastAccessTimeUtc.Ticks / TimeSpan.TicksPerMillisecond - DateTime.UtcNow.Ticks / TimeSpan.TicksPerMillisecond + Environment.TickCount64 };
            _bytes += info.Length;
        }

        if (_bytes > _maxBytes)
        {
            Evict();
        }
    }

    private string PathOf(string key)
    {
        if (key.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(key))
        {
            throw new ArgumentException($"Invalid blob key '{key}'.", nameof(key));
        }

        return Path.Combine(Root, key);
    }

    private sealed class Entry(long size)
    {
        public long Size { get; } = size;

        public long LastUse { get; set; }
    }
}
