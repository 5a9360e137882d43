using Imagebin.Storage;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Media;

/// <summary>
/// <c>Storage:S3:RedirectReads</c>: a full direct GET is answered with a redirect to a short-lived presigned URL, so image
/// bytes flow from the bucket instead of through this node, even when the node holds a copy in its local cache (an
/// operator who turns this on wants the nodes' bandwidth kept for the API).
/// </summary>
public sealed class ReadRedirects(IBlobStore store, IOptions<StorageOptions> options)
{
    private readonly bool _enabled = options.Value.Provider == StorageProvider.S3 && options.Value.S3.RedirectReads;
    private readonly TimeSpan _lifetime = TimeSpan.FromSeconds(options.Value.S3.PresignSeconds);

    /// <summary>Where to send the client for <paramref name="entry"/>'s bytes, or null to serve them here.</summary>
    public async ValueTask<Uri?> FindAsync(MediaEntry entry, CancellationToken cancellationToken)
    {
        if (!_enabled)
        {
            return null;
        }

        // The bucket answers with the item's type (objects are stored untyped) and file name (keys are hashes).
        return await store.GetReadUrlAsync(
            entry.BlobKey, _lifetime, entry.ContentType, $"inline; filename=\"{entry.Id}.{entry.Extension}\"", cancellationToken);
    }
}
