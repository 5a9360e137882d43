using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Imagebin.Storage;

/// <summary>
/// Blobs as objects in an S3-compatible bucket, under the same content-addressed keys as on disk. Nothing is kept on the
/// node, so any number of nodes can share the bucket (DESIGN.md §13).
/// </summary>
public sealed class S3BlobStore : IBlobStore, IDisposable
{
    private readonly S3StorageOptions _options;
    private readonly AmazonS3Client _client;
    private readonly string _bucket;

    public S3BlobStore(S3StorageOptions options)
    {
        _options = options;
        _bucket = options.Bucket ?? throw new ArgumentException("Storage:S3:Bucket is required when Storage:Provider is S3.", nameof(options));
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            // Checksums only where the API demands them: S3-compatible servers (Ceph RGW among them) reject the SDK's
            // default trailing checksums with XAmzContentSHA256Mismatch.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (options.ServiceUrl is { } serviceUrl)
        {
            config.ServiceURL = serviceUrl;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        }

        _client = string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    public string Bucket => _bucket;

    /// <summary>
    /// Creates the bucket when it is missing and <see cref="S3StorageOptions.CreateBucket"/> allows it; otherwise checks
    /// that it is there. Throws with the reason, so a misconfigured node fails at start-up rather than on the first upload.
    /// </summary>
    public async Task EnsureBucketAsync(CancellationToken cancellationToken)
    {
        if (await BucketExistsAsync(cancellationToken))
        {
            return;
        }

        if (!_options.CreateBucket)
        {
            throw new InvalidOperationException(
                $"The bucket '{_bucket}' does not exist at {Endpoint} and Storage:S3:CreateBucket is false: create it, or allow Imagebin to.");
        }

        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = _bucket, UseClientRegion = true }, cancellationToken);
        }
        catch (AmazonS3Exception exception) when (exception.ErrorCode is "BucketAlreadyOwnedByYou")
        {
            // Another node created it a moment ago.
        }
    }

    public async Task PutAsync(string key, string sourceFile, CancellationToken cancellationToken)
    {
        // Equal keys mean equal bytes: an upload of a blob that is there already only costs a HEAD.
        if (await ExistsAsync(key, cancellationToken))
        {
            return;
        }

        var size = new FileInfo(sourceFile).Length;
        if (size > _options.MultipartThresholdBytes)
        {
            await PutMultipartAsync(key, sourceFile, size, cancellationToken);
            return;
        }

        await _client.PutObjectAsync(
            new PutObjectRequest { BucketName = _bucket, Key = key, FilePath = sourceFile, ContentType = "application/octet-stream" },
            cancellationToken);
    }

    /// <summary>
    /// Uploads the file in parts read straight from disk, one at a time (memory stays at one part's buffer). An upload
    /// that fails is aborted, so the bucket keeps no orphaned parts that cost storage and never show in a listing.
    /// </summary>
    private async Task PutMultipartAsync(string key, string sourceFile, long size, CancellationToken cancellationToken)
    {
        var upload = await _client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = "application/octet-stream" },
            cancellationToken);
        try
        {
            var parts = new List<PartETag>();
            var number = 1;
            for (long position = 0; position < size; position += _options.PartSizeBytes, number++)
            {
                var part = await _client.UploadPartAsync(
                    new UploadPartRequest
                    {
                        BucketName = _bucket,
                        Key = key,
                        UploadId = upload.UploadId,
                        PartNumber = number,
                        FilePath = sourceFile,
                        FilePosition = position,
                        PartSize = Math.Min(_options.PartSizeBytes, size - position),
                    },
                    cancellationToken);
                parts.Add(new PartETag(number, part.ETag));
            }

            await _client.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = upload.UploadId, PartETags = parts },
                cancellationToken);
        }
        catch
        {
            try
            {
                await _client.AbortMultipartUploadAsync(
                    new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = upload.UploadId },
                    CancellationToken.None);
            }
            catch (Exception abort) when (abort is AmazonServiceException or HttpRequestException or IOException)
            {
                // The original failure is the one worth reporting; a bucket lifecycle rule can reap what is left.
            }

            throw;
        }
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task<Stream> OpenReadAsync(string key, long offset, long? length, CancellationToken cancellationToken)
    {
        if (length == 0)
        {
            // S3 has no empty range; nothing needs fetching anyway.
            return Stream.Null;
        }

        var request = new GetObjectRequest { BucketName = _bucket, Key = key };
        if (length is { } count)
        {
            request.ByteRange = new ByteRange(offset, offset + count - 1);
        }
        else if (offset > 0)
        {
            request.ByteRange = new ByteRange($"bytes={offset}-");
        }

        try
        {
            return new S3ObjectStream(await _client.GetObjectAsync(request, cancellationToken));
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            // The same exception the file-system store throws, so callers handle one kind of "gone".
            throw new FileNotFoundException($"Blob {key} is not in bucket {_bucket}.", key, exception);
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = key }, cancellationToken);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            // S3 answers 204 for a missing key; some compatible servers answer 404. Either way it is gone.
        }
    }

    public string? LocalPath(string key) => null;

    public async IAsyncEnumerable<(string Key, DateTimeOffset LastModified)> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket };
        while (true)
        {
            var page = await _client.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                yield return (item.Key, WrittenAt(item.LastModified));
            }

            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                yield break;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    /// <summary>
    /// The listing's write time as an instant. An object without one counts as just written, so the sweeper, which
    /// spares young blobs, never deletes one on a guess.
    /// </summary>
    private static DateTimeOffset WrittenAt(DateTime? lastModified) => lastModified switch
    {
        null => DateTimeOffset.UtcNow,
        { Kind: DateTimeKind.Unspecified } value => new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc)),
        { } value => new DateTimeOffset(value.ToUniversalTime()),
    };

    /// <summary>One cheap listing call: proves the endpoint answers, the credentials work and the bucket exists.</summary>
    public async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, MaxKeys = 1 }, cancellationToken);
            return true;
        }
        catch (Exception exception) when (exception is AmazonServiceException or HttpRequestException or IOException)
        {
            return false;
        }
    }

    public async Task<Uri?> GetReadUrlAsync(string key, TimeSpan lifetime, string? contentType, string? contentDisposition, CancellationToken cancellationToken)
    {
        var request = new GetPreSignedUrlRequest
        {
            BucketName = _bucket,
            Key = key,
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow + lifetime,
            Protocol = Endpoint.Scheme == Uri.UriSchemeHttp ? Protocol.HTTP : Protocol.HTTPS,
        };
        request.ResponseHeaderOverrides.ContentType = contentType;
        request.ResponseHeaderOverrides.ContentDisposition = contentDisposition;
        return new Uri(await _client.GetPreSignedURLAsync(request));
    }

    public void Dispose() => _client.Dispose();

    private Uri Endpoint => _options.ServiceUrl is { } serviceUrl ? new Uri(serviceUrl) : new Uri($"https://s3.{_options.Region}.amazonaws.com");

    private async Task<bool> BucketExistsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.HeadBucketAsync(new HeadBucketRequest { BucketName = _bucket }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}

/// <summary>The body of a GET; disposing it disposes the response, which returns its connection to the pool.</summary>
internal sealed class S3ObjectStream(GetObjectResponse response) : Stream
{
    private readonly Stream _body = response.ResponseStream;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => response.ContentLength;
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => _body.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _body.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _body.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _body.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            response.Dispose();
        }

        base.Dispose(disposing);
    }
}
