using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Features.Moderation;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Captions;

/// <summary>
/// Captions one item (DESIGN.md §9): <c>pending</c> → <c>processing</c> → <c>ready</c>, or <c>failed</c> once the queue's
/// retries are spent. Queued when the scan passes (or a moderator approves), when an owner opts back in, and by the
/// <c>captions run</c> admin command. Every write is conditional on the item not having opted out meanwhile, so an
/// opt-out during captioning wins and nothing is half-written; blocked, rejected and removed images are <c>skipped</c>.
/// </summary>
public sealed class CaptionJob(
    IDbContextFactory<ImagebinDb> contexts,
    IBlobStore store,
    ICaptioner captioner,
    ILogger<CaptionJob> logger) : IJobHandler
{
    public const string JobKind = "caption";

    public string Kind => JobKind;

    public static string UniqueKey(string itemId) => $"{JobKind}:{itemId}";

    /// <summary>Queues a caption in the caller's transaction (call <see cref="JobQueue.Wake"/> after it commits).</summary>
    public static Task EnqueueAsync(JobQueue jobs, ImagebinDb db, string itemId, CancellationToken cancellationToken) =>
        jobs.EnqueueAsync(db, JobKind, itemId, UniqueKey(itemId), cancellationToken);

    /// <summary>Drops a caption job that has not started yet (after an opt-out); one already running finds the opt-out itself.</summary>
    public static Task<int> CancelQueuedAsync(ImagebinDb db, string itemId, CancellationToken cancellationToken)
    {
        var key = UniqueKey(itemId);
        return db.Jobs.Where(j => j.UniqueKey == key && j.State == JobState.Queued).ExecuteDeleteAsync(cancellationToken);
    }

    public async Task HandleAsync(Job job, CancellationToken cancellationToken)
    {
        var itemId = job.Payload;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);

        // An owner who opts out and back in while this runs sets the item pending again; the result of this run is then
        // dropped and the caption made again, so the item never stays pending with no job.
        for (var round = 0; round < 3; round++)
        {
            var item = await db.Items.AsNoTracking().Where(i => i.Id == itemId)
                .Select(i => new { i.BlobSha256, i.ContentType, i.Width, i.Height, i.Frames, i.ScanState, i.ScanEvidence, i.AiOptOut, i.AiCaptionState })
                .FirstOrDefaultAsync(cancellationToken);
            if (item is null || item.AiOptOut)
            {
                return;
            }

            if (ScanStates.IsWithdrawn(item.ScanState))
            {
                await SkipAsync(db, itemId, cancellationToken);
                return;
            }

            // Not public yet (held, failed, still scanning): the scan's outcome or a moderator's approval queues it again.
            if (item.ScanState != ScanState.Passed || item.AiCaptionState is not (AiCaptionState.Pending or AiCaptionState.Processing))
            {
                return;
            }

            var claimed = await db.Items
                .Where(i => i.Id == itemId && !i.AiOptOut && (i.AiCaptionState == AiCaptionState.Pending || i.AiCaptionState == AiCaptionState.Processing))
                .ExecuteUpdateAsync(set => set.SetProperty(i => i.AiCaptionState, AiCaptionState.Processing), cancellationToken);
            if (claimed == 0)
            {
                return;
            }

            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var result = await CaptionAsync(item.BlobSha256, item.ContentType, item.Width ?? 0, item.Height ?? 0, item.Frames, item.ScanEvidence, cancellationToken);
            // bench/pipeline.sh reads this (Logging:LogLevel:Imagebin.Features.Captions.CaptionJob=Debug).
            logger.LogDebug("Captioned {ItemId} in {Elapsed:0.0} ms by {Captioner}", itemId,
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, captioner.Name);
            var tags = string.Join(',', result.Tags);
            var source = $"{captioner.Name}:{captioner.Model}";
            var written = await db.Items
                .Where(i => i.Id == itemId && !i.AiOptOut && i.AiCaptionState == AiCaptionState.Processing)
                .ExecuteUpdateAsync(set => set
                    .SetProperty(i => i.AiCaptionState, AiCaptionState.Ready)
                    .SetProperty(i => i.AiCaption, result.Caption)
                    .SetProperty(i => i.AiTags, tags)
                    .SetProperty(i => i.AiCaptionSource, source)
                    .SetProperty(i => i.AiCaptionError, (string?)null),
                    cancellationToken);
            if (written > 0)
            {
                return;
            }
        }

        logger.LogWarning("Item {ItemId}: the caption kept being overtaken by opt-out changes; left for the next caption run", itemId);
    }

    public async Task OnExhaustedAsync(Job job, string error, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.Items
            .Where(i => i.Id == job.Payload && !i.AiOptOut && (i.AiCaptionState == AiCaptionState.Pending || i.AiCaptionState == AiCaptionState.Processing))
            .ExecuteUpdateAsync(set => set
                .SetProperty(i => i.AiCaptionState, AiCaptionState.Failed)
                .SetProperty(i => i.AiCaptionError, error.Length > 500 ? error[..500] : error),
                cancellationToken);
    }

    /// <summary>Blocked, rejected and removed images are not captioned; what they had is cleared.</summary>
    public static Task SkipAsync(ImagebinDb db, string itemId, CancellationToken cancellationToken) =>
        db.Items.Where(i => i.Id == itemId && !i.AiOptOut && i.AiCaptionState != AiCaptionState.OptedOut)
            .ExecuteUpdateAsync(set => set
                .SetProperty(i => i.AiCaptionState, AiCaptionState.Skipped)
                .SetProperty(i => i.AiCaption, (string?)null)
                .SetProperty(i => i.AiTags, ""),
                cancellationToken);

    private async Task<CaptionResult> CaptionAsync(
        string sha256, string contentType, int width, int height, int frames, string? scanEvidence, CancellationToken cancellationToken)
    {
        await using var file = await LocalBlobFile.OpenAsync(store, BlobKeys.ForSha256(sha256), cancellationToken);
        return await captioner.CaptionAsync(new CaptionInput(file.Path, contentType, width, height, frames, ScoresOf(scanEvidence)), cancellationToken);
    }

    /// <summary>The classifier's scores as the scan recorded them, if it ran.</summary>
    private static NsfwScores? ScoresOf(string? scanEvidence)
    {
        var stage = ScanEvidence.FromJson(scanEvidence)?.Stages.LastOrDefault(s => s.Stage == ScanStages.Classifier && s.Scores is not null);
        if (stage?.Scores is not { } scores)
        {
            return null;
        }

        float Get(string name) => scores.TryGetValue(name, out var value) ? (float)value : 0f;
        return new NsfwScores(Get("drawing"), Get("hentai"), Get("neutral"), Get("porn"), Get("sexy"));
    }
}
