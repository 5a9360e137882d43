using System.Security.Cryptography;
using System.Text;
using Imagebin.Data;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Imagebin.Features.Media;

/// <summary>Serving settings (<c>Media:*</c>).</summary>
public sealed class MediaOptions
{
    public const string Section = "Media";

    /// <summary>How long a node may answer from its in-memory copy of an item's serving facts. Local writes invalidate at once.</summary>
    public double CacheSeconds { get; set; } = 10;

    /// <summary>Seconds a client is told to wait (<c>Retry-After</c>) while an image is being scanned.</summary>
    public int ScanRetryAfterSeconds { get; set; } = 2;
}

/// <summary>What the direct path needs to answer for an item, with the header values computed once.</summary>
public sealed class MediaEntry
{
    public required string Id { get; init; }
    public string? OwnerId { get; init; }
    public required string BlobKey { get; init; }
    public string? LocalPath { get; init; }
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
}

/// <summary>
/// A short-lived in-memory map from item id to <see cref="MediaEntry"/>, so the hot path does not query the store on
/// every request. Changes made on this node invalidate their entry immediately; other nodes see them within
/// <see cref="MediaOptions.CacheSeconds"/>.
/// </summary>
public sealed class MediaCatalog(IDbContextFactory<ImagebinDb> contexts, IBlobStore store, IMemoryCache cache, IOptions<MediaOptions> options)
{
    private static readonly TimeSpan MissingLifetime = TimeSpan.FromSeconds(2);

    public async ValueTask<MediaEntry?> FindAsync(string id, CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(CacheKey(id), out MediaEntry? cached))
        {
            return cached;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var item = await db.Items.AsNoTracking().Where(i => i.Id == id)
            .Select(i => new { i.Id, i.OwnerId, i.BlobSha256, i.ContentType, i.Extension, i.SizeBytes, i.CreatedAt, i.Private, i.ShareSecret, i.ScanState, i.DlLimit, i.ExpiresAt })
            .FirstOrDefaultAsync(cancellationToken);
        var entry = item is null ? null : new MediaEntry
        {
            Id = item.Id,
            OwnerId = item.OwnerId,
            BlobKey = BlobKeys.ForSha256(item.BlobSha256),
            LocalPath = store.LocalPath(BlobKeys.ForSha256(item.BlobSha256)),
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
        cache.Set(CacheKey(id), entry, entry is null ? MissingLifetime : TimeSpan.FromSeconds(options.Value.CacheSeconds));
        return entry;
    }

    public void Invalidate(string id) => cache.Remove(CacheKey(id));

    private static string CacheKey(string id) => "media:" + id;
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
}
