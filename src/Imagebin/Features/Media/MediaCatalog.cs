using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Items.Ingest;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Microsoft.Win32.SafeHandles;

namespace Imagebin.Features.Media;

/// <summary>Serving settings (<c>Media:*</c>).</summary>
public sealed class MediaOptions
{
    public const string Section = "Media";

    /// <summary>
    /// How long a node may answer from its in-memory copy of an item's serving facts. Changes invalidate it at once on
    /// every node (a signal); this bounds staleness when a signal is lost (e.g. a node's PostgreSQL listener reconnecting).
    /// </summary>
    [Range(0, 3600)]
    public double CacheSeconds { get; set; } = 3;

    /// <summary>Seconds a client is told to wait (<c>Retry-After</c>) while an image is being scanned.</summary>
    public int ScanRetryAfterSeconds { get; set; } = 2;

    /// <summary>Items whose serving facts (and open file handle) a node keeps at once.</summary>
    [Range(16, 1_000_000)]
    public int CacheEntries { get; set; } = 4096;

    /// <summary>
    /// How many different variants a node encodes at once; more wait their turn (each variant is still made once however
    /// many ask). Encoding is CPU-bound, so more than the cores only adds memory.
    /// </summary>
    [Range(1, 64)]
    public int MaxConcurrentEncodes { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 64);
}

/// <summary>What the direct path needs to answer for an item, with the header values computed once.</summary>
public sealed class MediaEntry
{
    public required string Id { get; init; }
    public string? OwnerId { get; init; }
    public required string BlobKey { get; init; }

    /// <summary>The blob's sha256, from which its variants' keys and validators are derived.</summary>
    public required string Sha256 { get; init; }

    public ImageFormat Format { get; init; }
    public string? LocalPath { get; init; }

    /// <summary>
    /// The blob's file, opened once and shared by every request for this entry. Readers take a reference on it
    /// (<see cref="SafeHandle.DangerousAddRef"/>), so evicting the entry never closes it under a read in progress.
    /// </summary>
    public SafeFileHandle? Handle { get; init; }
    public required string ContentType { get; init; }
    public required string Extension { get; init; }
    public long Size { get; init; }
    public required string ETag { get; init; }
    public required string LastModified { get; init; }
    public bool Private { get; init; }
    public string? ShareSecret { get; init; }
    public required string ScanState { get; init; }
    public long? DlLimit { get; init; }
    public long? ExpiresAt { get; init; }

    /// <summary>Only a public, passed image without a download limit may be kept by browsers and CDNs.</summary>
    public string CacheControl => !Private && DlLimit is null && ScanState == Data.ScanState.Passed
        ? "public, max-age=31536000, immutable"
        : "private, no-store";

    /// <summary>
    /// <see cref="CacheControl"/> for an image that expires: a public one may be kept only until then (never immutable),
    /// so that no browser or CDN serves it after it has gone.
    /// </summary>
    public string CacheControlAt(long now) => ExpiresAt is { } expiresAt && !CacheControl.StartsWith("private", StringComparison.Ordinal)
        ? $"public, max-age={Math.Max(0, (expiresAt - now) / 1000)}"
        : CacheControl;

    /// <summary>
    /// Variants of this blob already opened on this node (local files only), with their validators, so a cached variant
    /// costs what the original does: no open, no hashing per request. Closed with the entry.
    /// </summary>
    internal ConcurrentDictionary<(int? Width, ImageFormat Format), CachedVariant> Variants { get; } = new();

    private volatile bool _evicted;

    /// <summary>Keeps <paramref name="variant"/> for the entry's lifetime; false (and the caller keeps it) once it was evicted.</summary>
    internal bool TryKeep((int? Width, ImageFormat Format) key, CachedVariant variant)
    {
        if (_evicted || !Variants.TryAdd(key, variant))
        {
            return false;
        }

        if (_evicted && Variants.TryRemove(new KeyValuePair<(int?, ImageFormat), CachedVariant>(key, variant)))
        {
            // Evicted while adding: the eviction may not have seen it, so give it back to the caller.
            return false;
        }

        return true;
    }

    /// <summary>Closes what the entry holds open; readers holding a reference finish first (<see cref="SafeHandle.DangerousAddRef"/>).</summary>
    internal void Close()
    {
        _evicted = true;
        Handle?.Dispose();
        foreach (var key in Variants.Keys)
        {
            if (Variants.TryRemove(key, out var variant))
            {
                variant.Handle.Dispose();
            }
        }
    }
}

/// <summary>
/// A short-lived in-memory map from item id to <see cref="MediaEntry"/>, so the hot path does not query the store on
/// every request. A change (<see cref="ChangedAsync"/>) clears the entry on this node at once and on other nodes as soon
/// as the signal arrives (milliseconds on PostgreSQL); entries also expire after <see cref="MediaOptions.CacheSeconds"/>.
/// </summary>
public sealed class MediaCatalog : IDisposable
{
    private static readonly TimeSpan MissingLifetime = TimeSpan.FromSeconds(2);

    private readonly IDbContextFactory<ImagebinDb> contexts;
    private readonly IBlobStore store;
    private readonly IOptions<MediaOptions> options;
    private readonly INodeSignals signals;
    private readonly MemoryCache _cache;
    private readonly ConcurrentDictionary<string, Loading> _loading = new(StringComparer.Ordinal);
    private int _reads;

    public MediaCatalog(IDbContextFactory<ImagebinDb> contexts, IBlobStore store, IOptions<MediaOptions> options, INodeSignals signals)
    {
        this.contexts = contexts;
        this.store = store;
        this.options = options;
        this.signals = signals;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = options.Value.CacheEntries });
        signals.Subscribe(SignalChannels.Items, Invalidate);
    }

    private static readonly PostEvictionCallbackRegistration CloseHandle = new()
    {
        EvictionCallback = (_, value, _, _) => (value as MediaEntry)?.Close(),
    };

    /// <summary>Rows this node has read from the store (tests check that concurrent misses share one).</summary>
    public int Reads => Volatile.Read(ref _reads);

    public async ValueTask<MediaEntry?> FindAsync(string id, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(id, out MediaEntry? cached))
        {
            return cached;
        }

        // Concurrent misses for one item share one query: a cold, popular image costs one lookup (and one connection),
        // not one per request. The load is nobody's request, so one client going away does not fail the others.
        return await _loading.GetOrAdd(id, key => new Loading(this, key)).Task.Value.WaitAsync(cancellationToken);
    }

    /// <summary>One shared read of an item's row; <see cref="Invalidated"/> when the item changed while it was read.</summary>
    private sealed class Loading
    {
        public Loading(MediaCatalog catalog, string id) => Task = new(() => catalog.LoadAsync(id, this));

        public Lazy<Task<MediaEntry?>> Task { get; }

        public volatile bool Invalidated;
    }

    private async Task<MediaEntry?> LoadAsync(string id, Loading loading)
    {
        await Task.Yield();
        try
        {
            return await ReadAsync(id, loading);
        }
        finally
        {
            // Kept until the entry is in the cache (or the read failed, and the next request tries again).
            _loading.TryRemove(new KeyValuePair<string, Loading>(id, loading));
        }
    }

    private async Task<MediaEntry?> ReadAsync(string id, Loading loading)
    {
        for (var attempt = 1; ; attempt++)
        {
            // The item changed while its row was read: the row may be the old one, so read it again rather than keep
            // it for CacheSeconds (a few times; an item changing that often is kept only until its entry expires).
            loading.Invalidated = false;
            Interlocked.Increment(ref _reads);
            await using var db = await contexts.CreateDbContextAsync(CancellationToken.None);
            var item = await db.Items.AsNoTracking().Where(i => i.Id == id)
                .Select(i => new { i.Id, i.OwnerId, i.BlobSha256, i.ContentType, i.Extension, i.SizeBytes, i.CreatedAt, i.Private, i.ShareSecret, i.ScanState, i.DlLimit, i.ExpiresAt })
                .FirstOrDefaultAsync(CancellationToken.None);
            if (loading.Invalidated && attempt < 3)
            {
                continue;
            }

            var key = item is null ? null : BlobKeys.ForSha256(item.BlobSha256);
            var localPath = key is null ? null : store.LocalPath(key);
            var entry = item is null ? null : new MediaEntry
            {
                Id = item.Id,
                OwnerId = item.OwnerId,
                BlobKey = key!,
                Sha256 = item.BlobSha256,
                Format = ImageFormats.FromExtension(item.Extension),
                LocalPath = localPath,
                Handle = localPath is null ? null : TryOpen(localPath),
                ContentType = item.ContentType,
                Extension = item.Extension,
                Size = item.SizeBytes,
                ETag = $"\"{item.BlobSha256}\"",
                LastModified = HeaderUtilities.FormatDate(DateTimeOffset.FromUnixTimeMilliseconds(item.CreatedAt)),
                Private = item.Private,
                ShareSecret = item.ShareSecret,
                ScanState = item.ScanState,
                DlLimit = item.DlLimit,
                ExpiresAt = item.ExpiresAt,
            };
            var cacheOptions = new MemoryCacheEntryOptions
            {
                Size = 1,
                AbsoluteExpirationRelativeToNow = entry is null ? MissingLifetime : TimeSpan.FromSeconds(options.Value.CacheSeconds),
            };
            cacheOptions.PostEvictionCallbacks.Add(CloseHandle);
            _cache.Set(id, entry, cacheOptions);
            return entry;
        }
    }

    /// <summary>Forgets this node's copy of the item.</summary>
    public void Invalidate(string id)
    {
        if (_loading.TryGetValue(id, out var loading))
        {
            loading.Invalidated = true;
        }

        _cache.Remove(id);
    }

    /// <summary>The item changed or went away: every node forgets its copy. Call after the change commits.</summary>
    public Task ChangedAsync(string id, CancellationToken cancellationToken) => signals.PublishAsync(SignalChannels.Items, id, cancellationToken);

    public void Dispose() => _cache.Dispose();

    private static SafeFileHandle? TryOpen(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (IOException)
        {
            return null;
        }
    }
}

/// <summary>A variant's file held open by a <see cref="MediaEntry"/>, with its length and validator.</summary>
internal sealed record CachedVariant(SafeFileHandle Handle, long Length, string ETag);

internal static class SharedHandles
{
    /// <summary>
    /// Takes a reference on a handle an entry holds open, so that closing the entry waits for this reader; false when the
    /// entry closed it a moment ago (the caller then opens the file itself).
    /// </summary>
    public static bool TryAddRef(SafeHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
        }

        return added;
    }
}

public static class ShareSecrets
{
    /// <summary>Compares a presented share secret in constant time.</summary>
    public static bool Matches(string? expected, string? presented) =>
        expected is not null && presented is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));
}

public static class ScanStates
{
    /// <summary>States in which an image is never served again.</summary>
    public static bool IsWithdrawn(string state) => state is ScanState.Rejected or ScanState.Blocked or ScanState.Removed;

    /// <summary>
    /// Whether anyone but the owner may fetch the bytes: passed, or not yet scanned on a site that serves before the scan
    /// (<c>Moderation:ServeBeforeScan</c>). Held and failed images wait for a moderator either way.
    /// </summary>
    public static bool IsPublic(string state, bool serveBeforeScan) =>
        state == ScanState.Passed || (serveBeforeScan && state is ScanState.Pending or ScanState.Scanning);
}
