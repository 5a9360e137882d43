namespace Imagebin.Storage;

/// <summary>
/// Content-addressed, immutable blob storage. Keys are opaque strings made by <see cref="BlobKeys"/>; writing a key that
/// exists is a no-op, because equal keys mean equal bytes.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores the file at <paramref name="sourceFile"/> under <paramref name="key"/>; the file may be moved away.</summary>
    Task PutAsync(string key, string sourceFile, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken);

    /// <summary>Opens <paramref name="length"/> bytes (all when null) from <paramref name="offset"/>.</summary>
    Task<Stream> OpenReadAsync(string key, long offset, long? length, CancellationToken cancellationToken);

    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>The blob as a local file when the store keeps it as one (served with positional reads, decoded in place).</summary>
    string? LocalPath(string key);

    /// <summary>Every stored key with its last write time, for sweeping blobs no row refers to.</summary>
    IAsyncEnumerable<(string Key, DateTimeOffset LastModified)> ListAsync(CancellationToken cancellationToken);

    Task<bool> IsHealthyAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A URL from which a client may fetch the blob itself for <paramref name="lifetime"/>, answered with the given
    /// <c>Content-Type</c> and <c>Content-Disposition</c>; null when the store cannot hand one out (then the bytes are
    /// served through this node).
    /// </summary>
    Task<Uri?> GetReadUrlAsync(string key, TimeSpan lifetime, string? contentType, string? contentDisposition, CancellationToken cancellationToken);
}

public static class BlobKeys
{
    /// <summary><c>ab/cd/abcdef…</c>: sharded by prefix so no directory grows huge.</summary>
    public static string ForSha256(string sha256) => $"{sha256[..2]}/{sha256[2..4]}/{sha256}";

    public const string QuarantinePrefix = "quarantine/";

    /// <summary>Evidence kept for a removed item: never swept, never deleted by its owner.</summary>
    public static string Quarantine(string itemId, string extension) => $"{QuarantinePrefix}{itemId}.{extension}";

    /// <summary>
    /// An upload's bytes as they arrived, before metadata was stripped, kept only until the malware scan has read them
    /// (trailing data such as a payload appended to a JPEG is gone from the stored copy). The sweep removes leftovers.
    /// </summary>
    public static string Incoming(string itemId) => $"incoming/{itemId}";

    public static bool IsQuarantine(string key) => key.StartsWith(QuarantinePrefix, StringComparison.Ordinal);

    public static string? Sha256Of(string key)
    {
        var name = key[(key.LastIndexOf('/') + 1)..];
        return name.Length == 64 && name.All(char.IsAsciiHexDigitLower) ? name : null;
    }
}
