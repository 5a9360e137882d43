using Imagebin.Data;
using Imagebin.Jobs;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Captions;

/// <summary>
/// (Re)captions a set of items through the job queue, e.g. after switching to a vision endpoint: the admin command
/// <c>captions run</c>. Only public-ready items that have not opted out are taken; each batch is marked <c>pending</c>
/// and queued in one transaction, so a crash leaves every item either queued or untouched.
/// </summary>
public sealed class CaptionBatch(ImagebinDb db, JobQueue jobs)
{
    public const int BatchSize = 500;

    /// <summary>Which items: these ids, or the items in these caption states (all states when null), optionally of one owner.</summary>
    public sealed record Selection(IReadOnlyCollection<string>? ItemIds, IReadOnlyCollection<string>? States, string? OwnerId);

    public async Task<int> QueueAsync(Selection selection, TextWriter progress, CancellationToken cancellationToken)
    {
        var queued = 0;
        var after = "";
        while (true)
        {
            var query = db.Items.AsNoTracking()
                .Where(i => !i.AiOptOut && i.ScanState == ScanState.Passed && string.Compare(i.Id, after) > 0);
            if (selection.ItemIds is { } ids)
            {
                query = query.Where(i => ids.Contains(i.Id));
            }

            if (selection.States is { } states)
            {
                query = query.Where(i => states.Contains(i.AiCaptionState));
            }

            if (selection.OwnerId is { } owner)
            {
                query = query.Where(i => i.OwnerId == owner);
            }

            var batch = await query.OrderBy(i => i.Id).Select(i => i.Id).Take(BatchSize).ToListAsync(cancellationToken);
            if (batch.Count == 0)
            {
                break;
            }

            await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
            {
                await db.Items.Where(i => batch.Contains(i.Id) && !i.AiOptOut)
                    .ExecuteUpdateAsync(set => set
                        .SetProperty(i => i.AiCaptionState, AiCaptionState.Pending)
                        .SetProperty(i => i.AiCaptionError, (string?)null), cancellationToken);
                foreach (var id in batch)
                {
                    await CaptionJob.EnqueueAsync(jobs, db, id, cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
            }

            jobs.Wake();
            queued += batch.Count;
            after = batch[^1];
            progress.WriteLine($"Queued {queued} so far.");
        }

        return queued;
    }
}
