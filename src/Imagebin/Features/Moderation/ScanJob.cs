using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using NetVips;

namespace Imagebin.Features.Moderation;

/// <summary>
/// The first pipeline stage: decode every pixel of every frame once. An image whose header reads but whose pixels do not
/// (truncated or corrupt data) ends as <c>rejected</c>, with the decoder's reason for its owner, and is never served.
/// </summary>
public sealed class ScanJob(IDbContextFactory<ImagebinDb> contexts, IBlobStore store, MediaCatalog catalog, ILogger<ScanJob> logger) : IJobHandler
{
    public const string JobKind = "scan";

    public string Kind => JobKind;

    public static Task EnqueueAsync(JobQueue jobs, ImagebinDb db, string itemId, CancellationToken cancellationToken) =>
        jobs.EnqueueAsync(db, JobKind, itemId, $"{JobKind}:{itemId}", cancellationToken);

    public async Task HandleAsync(Job job, CancellationToken cancellationToken)
    {
        var itemId = job.Payload;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var item = await db.Items.AsNoTracking().Where(i => i.Id == itemId)
            .Select(i => new { i.BlobSha256, i.Extension, i.ScanState }).FirstOrDefaultAsync(cancellationToken);
        if (item is null || item.ScanState is not (ScanState.Pending or ScanState.Scanning))
        {
            // Deleted meanwhile, or decided by an earlier run of this job.
            return;
        }

        await db.Items.Where(i => i.Id == itemId).ExecuteUpdateAsync(set => set.SetProperty(i => i.ScanState, ScanState.Scanning), cancellationToken);
        var key = BlobKeys.ForSha256(item.BlobSha256);
        var failure = await DecodeAsync(key, item.Extension, cancellationToken);
        var outcome = failure is null ? ScanState.Passed : ScanState.Rejected;
        await db.Items.Where(i => i.Id == itemId && (i.ScanState == ScanState.Pending || i.ScanState == ScanState.Scanning))
            .ExecuteUpdateAsync(
                set => set.SetProperty(i => i.ScanState, outcome)
                    .SetProperty(i => i.ScanReason, failure == null ? null : $"Not a decodable image: {failure}"),
                cancellationToken);
        await catalog.ChangedAsync(itemId, cancellationToken);
        if (failure is not null)
        {
            logger.LogInformation("Item {ItemId} rejected: {Reason}", itemId, failure);
        }
    }

    public async Task OnExhaustedAsync(Job job, string error, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.Items.Where(i => i.Id == job.Payload && (i.ScanState == ScanState.Pending || i.ScanState == ScanState.Scanning))
            .ExecuteUpdateAsync(
                set => set.SetProperty(i => i.ScanState, ScanState.Failed).SetProperty(i => i.ScanReason, $"The scan failed: {error}"),
                cancellationToken);
        await catalog.ChangedAsync(job.Payload, cancellationToken);
    }

    /// <summary>Returns null when every pixel decodes, else the decoder's complaint.</summary>
    private async Task<string?> DecodeAsync(string key, string extension, CancellationToken cancellationToken)
    {
        var local = store.LocalPath(key);
        string? temporary = null;
        if (local is null)
        {
            temporary = Path.Combine(Path.GetTempPath(), $"imagebin-scan-{Guid.NewGuid():N}");
            await using (var source = await store.OpenReadAsync(key, 0, null, cancellationToken))
            await using (var target = File.Create(temporary))
            {
                await source.CopyToAsync(target, cancellationToken);
            }

            local = temporary;
        }

        try
        {
            var animated = extension is "gif" or "webp" or "avif";
            using var image = Image.NewFromFile(local, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error,
                kwargs: animated ? new VOption { { "n", -1 } } : null);
            // Averaging visits every pixel, so the whole file is decoded, streaming, in bounded memory.
            image.Avg();
            return null;
        }
        catch (VipsException exception)
        {
            return exception.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "decode failed";
        }
        finally
        {
            if (temporary is not null)
            {
                File.Delete(temporary);
            }
        }
    }
}
