using System.Buffers;
using Imagebin.Data;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Items.Ingest;

/// <summary>
/// An upload that has been spooled, identified, checked against the limits and stripped of metadata, waiting in temp
/// files to be committed. Disposing it removes whatever temp files are left.
/// </summary>
public sealed class PreparedUpload(string originalPath, string strippedPath) : IDisposable
{
    public string OriginalPath { get; } = originalPath;
    public string StrippedPath { get; } = strippedPath;
    public ImageHeader Header { get; set; } = null!;
    public string Sha256 { get; set; } = "";
    public long Size { get; set; }

    public void Dispose()
    {
        File.Delete(OriginalPath);
        File.Delete(StrippedPath);
    }
}

/// <summary>The upload path of DESIGN.md §7: only what must happen before answering; pixels are decoded later by the pipeline.</summary>
public sealed class Ingest(
    IOptions<ImagebinOptions> options,
    IOptions<LimitsOptions> limits,
    ImagebinDb db,
    BlobReferences blobs,
    IBlobStore store,
    IOptions<ModerationOptions> moderation,
    JobQueue jobs,
    TimeProvider time)
{
    private const int SniffLength = 64;

    public string TempDirectory => Path.Combine(options.Value.DataDir, "tmp");

    /// <summary>Spools <paramref name="body"/> to disk, identifies it, checks the limits and strips its metadata.</summary>
    public Task<PreparedUpload> PrepareAsync(Stream body, CancellationToken cancellationToken) =>
        PrepareAsync(body, limits.Value.MaxUploadBytes, cancellationToken);

    /// <summary>As <see cref="PrepareAsync(Stream, CancellationToken)"/>, refusing more than <paramref name="maxBytes"/>.</summary>
    public async Task<PreparedUpload> PrepareAsync(Stream body, long maxBytes, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(TempDirectory);
        var name = Guid.NewGuid().ToString("N");
        var upload = new PreparedUpload(Path.Combine(TempDirectory, $"{name}.upload"), Path.Combine(TempDirectory, $"{name}.stripped"));
        try
        {
            var (size, head) = await SpoolAsync(body, upload.OriginalPath, maxBytes, cancellationToken);
            // With inline I/O the body's last read completes on the socket thread; what follows is CPU work
            // (libvips, stripping, hashing) that belongs on the thread pool, not in front of other connections.
            await Task.Yield();
            if (size == 0)
            {
                throw new ApiException(ErrorCodes.InvalidRequest, "The upload is empty.");
            }

            var format = ImageProbe.Sniff(head) ?? throw new ApiException(
                ErrorCodes.UnsupportedMediaType, "Not a JPEG, PNG, GIF, WebP or AVIF image (the format is read from the bytes).");
            upload.Header = ImageProbe.ReadHeader(upload.OriginalPath, format, limits.Value);
            Strip(upload);
            return upload;
        }
        catch
        {
            upload.Dispose();
            throw;
        }
    }

    /// <summary>Stores the blob, inserts the item and queues its scan, all or nothing.</summary>
    public Task<Item> CommitAsync(PreparedUpload upload, ItemFields fields, string ownerId, CancellationToken cancellationToken) =>
        CommitAsync(upload, fields, ownerId, deleteTokenHash: null, cancellationToken);

    /// <summary>As the owner's commit; an anonymous item (no owner) carries the hash of its delete token instead.</summary>
    public async Task<Item> CommitAsync(PreparedUpload upload, ItemFields fields, string? ownerId, string? deleteTokenHash, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var ownerOptOut = ownerId is not null
            && await db.Accounts.Where(a => a.Id == ownerId).Select(a => a.AiOptOut).FirstOrDefaultAsync(cancellationToken);
        var isPrivate = fields.Private.Or(false);
        var optOut = fields.AiOptOut.Or(ownerOptOut);
        var format = upload.Header.Format;
        var item = new Item
        {
            Id = Ids.NewItemId(),
            OwnerId = ownerId,
            BlobSha256 = upload.Sha256,
            ContentType = format.ContentType(),
            Extension = format.Extension(),
            SizeBytes = upload.Size,
            Width = upload.Header.Width,
            Height = upload.Header.Height,
            Frames = upload.Header.Frames,
            Title = fields.Title.Or(null),
            Description = fields.Description.Or(null),
            Tags = string.Join(',', fields.Tags.Or([])),
            Category = fields.Category.Or(null),
            Private = isPrivate,
            ShareSecret = isPrivate ? Ids.RandomBase62(16) : null,
            CreatedAt = now,
            ExpiresAt = fields.ExpiresIn.Or(null) is { } seconds ? now + seconds * 1000 : null,
            DlLimit = fields.DlLimit.Or(null),
            AiOptOut = optOut,
            AiCaptionState = optOut ? AiCaptionState.OptedOut : AiCaptionState.Pending,
            DeleteTokenHash = deleteTokenHash,
        };

        if (moderation.Value.ClamAv.Endpoint is { Length: > 0 })
        {
            // The malware scan reads what was sent, not what is served: stripping drops whatever trails the image.
            await store.PutAsync(BlobKeys.Incoming(item.Id), upload.OriginalPath, cancellationToken);
        }

        await blobs.StoreAsync(upload.Sha256, upload.StrippedPath, async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await BlobReferences.AddReferenceAsync(db, upload.Sha256, upload.Size, now, cancellationToken);
            db.Items.Add(item);
            await db.SaveChangesAsync(cancellationToken);
            await ScanJob.EnqueueAsync(jobs, db, item.Id, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return item;
        }, cancellationToken);
        jobs.Wake();
        return item;
    }

    private static async Task<(long Size, byte[] Head)> SpoolAsync(Stream body, string path, long max, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var head = new byte[SniffLength];
        var headLength = 0;
        long size = 0;
        try
        {
            await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                size += read;
                if (size > max)
                {
                    throw new ApiException(ErrorCodes.RequestTooLarge, $"The upload is larger than the limit of {max:N0} bytes.");
                }

                if (headLength < SniffLength)
                {
                    var take = Math.Min(read, SniffLength - headLength);
                    buffer.AsSpan(0, take).CopyTo(head.AsSpan(headLength));
                    headLength += take;
                }

                file.Write(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (size, head[..headLength]);
    }

    private static void Strip(PreparedUpload upload)
    {
        using var source = new FileStream(upload.OriginalPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 64 * 1024);
        using var target = new FileStream(upload.StrippedPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024);
        using var hashing = new HashingWriteStream(target);
        try
        {
            MetadataStripper.Strip(upload.Header.Format, source, hashing, upload.Header.Orientation);
        }
        catch (InvalidImageException exception)
        {
            throw new ApiException(ErrorCodes.InvalidImage, exception.Message);
        }

        hashing.Flush();
        upload.Sha256 = hashing.HashHex();
        upload.Size = hashing.BytesWritten;
    }
}
