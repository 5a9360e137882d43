using System.ComponentModel.DataAnnotations;

namespace Imagebin.Storage;

/// <summary>Which blob store to use (<c>Storage:*</c>).</summary>
public sealed class StorageOptions : IValidatableObject
{
    public const string Section = "Storage";

    public StorageProvider Provider { get; set; } = StorageProvider.FileSystem;

    /// <summary>Root of the file-system store; default <c>{Imagebin:DataDir}/blobs</c>.</summary>
    public string? Path { get; set; }

    /// <summary>The S3-compatible bucket (<c>Storage:S3:*</c>), used when <see cref="Provider"/> is <see cref="StorageProvider.S3"/>.</summary>
    public S3StorageOptions S3 { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        Provider == StorageProvider.S3 ? S3.Validate() : [];
}

public enum StorageProvider
{
    FileSystem,
    S3,
}

/// <summary>An S3-compatible bucket (AWS S3, Ceph RGW, MinIO, R2, …) holding the blobs (<c>Storage:S3:*</c>).</summary>
public sealed class S3StorageOptions
{
    /// <summary>S3's minimum size of every part but the last.</summary>
    public const long MinPartBytes = 5L * 1024 * 1024;

    /// <summary>The endpoint, e.g. <c>http://127.0.0.1:7480</c>; unset means AWS S3 in <see cref="Region"/>.</summary>
    public string? ServiceUrl { get; set; }

    public string? Bucket { get; set; }

    /// <summary>With <see cref="SecretKey"/>; when both are unset the SDK's default credential chain is used.</summary>
    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    /// <summary>The signing region (most S3-compatible servers accept any; AWS needs the bucket's).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary><c>{ServiceUrl}/{bucket}/{key}</c> instead of <c>{bucket}.{host}</c>: what self-hosted servers need.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>Create the bucket at start-up when it is missing. Turn off when the credentials may not create buckets.</summary>
    public bool CreateBucket { get; set; } = true;

    /// <summary>
    /// Answer a full direct GET with a 302 to a short-lived presigned URL, so the bytes flow from the bucket and not
    /// through this node. Ranges, HEAD and 304s are still answered here.
    /// </summary>
    public bool RedirectReads { get; set; }

    /// <summary>How long a presigned read URL stays valid.</summary>
    public int PresignSeconds { get; set; } = 300;

    /// <summary>Blobs larger than this are uploaded in parts.</summary>
    public long MultipartThresholdBytes { get; set; } = 16L * 1024 * 1024;

    public long PartSizeBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>
    /// Bytes of blobs each node keeps on its own disk (least recently used go first), so popular images are served
    /// from local files rather than proxied from the bucket; 0 turns the cache off. Default 1 GiB.
    /// </summary>
    public long LocalCacheBytes { get; set; } = 1L << 30;

    /// <summary>Where the node-local cache lives; default <c>{Imagebin:DataDir}/cache/blobs</c>.</summary>
    public string? LocalCachePath { get; set; }

    public IEnumerable<ValidationResult> Validate()
    {
        const string prefix = "Storage:S3:";
        if (LocalCacheBytes < 0)
        {
            yield return new ValidationResult($"{prefix}LocalCacheBytes must be 0 (off) or more.", [nameof(LocalCacheBytes)]);
        }

        if (string.IsNullOrWhiteSpace(Bucket))
        {
            yield return new ValidationResult($"{prefix}Bucket is required when Storage:Provider is S3.", [nameof(Bucket)]);
        }

        if (ServiceUrl is not null && !(Uri.TryCreate(ServiceUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            yield return new ValidationResult($"{prefix}ServiceUrl must be an absolute http(s) URL, got '{ServiceUrl}'.", [nameof(ServiceUrl)]);
        }

        if (string.IsNullOrEmpty(AccessKey) != string.IsNullOrEmpty(SecretKey))
        {
            yield return new ValidationResult($"{prefix}AccessKey and {prefix}SecretKey must be set together.", [nameof(AccessKey), nameof(SecretKey)]);
        }

        if (string.IsNullOrWhiteSpace(Region))
        {
            yield return new ValidationResult($"{prefix}Region must not be empty.", [nameof(Region)]);
        }

        if (PresignSeconds is < 1 or > 7 * 24 * 3600)
        {
            yield return new ValidationResult($"{prefix}PresignSeconds must be between 1 and 604800 (7 days), got {PresignSeconds}.", [nameof(PresignSeconds)]);
        }

        if (PartSizeBytes is < MinPartBytes or > 5L * 1024 * 1024 * 1024)
        {
            yield return new ValidationResult($"{prefix}PartSizeBytes must be between 5 MiB and 5 GiB, got {PartSizeBytes}.", [nameof(PartSizeBytes)]);
        }

        if (MultipartThresholdBytes < MinPartBytes)
        {
            yield return new ValidationResult($"{prefix}MultipartThresholdBytes must be at least 5 MiB, got {MultipartThresholdBytes}.", [nameof(MultipartThresholdBytes)]);
        }
    }
}
