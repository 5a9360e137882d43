using System.Collections.Concurrent;
using Imagebin.Data;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Media;

/// <summary>
/// Counts downloads of items without a download limit in memory and adds them to the store about once a second, so a
/// popular image costs one write per second instead of one per request. Items with a limit are counted in the store
/// directly (<see cref="TryCountLimitedAsync"/>), where the check and the increment are one statement.
/// </summary>
public sealed class DownloadCounter(IDbContextFactory<ImagebinDb> contexts, ILogger<DownloadCounter> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, long> _pending = new();

    public void Count(string id) => _pending.AddOrUpdate(id, 1, (_, count) => count + 1);

    /// <summary>Downloads counted but not yet written, so readers of the count see them.</summary>
    public long Pending(string id) => _pending.TryGetValue(id, out var count) ? count : 0;

    /// <summary>Counts one download of a limited item unless the limit is reached; exact under any concurrency.</summary>
    public async Task<bool> TryCountLimitedAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Items.Where(i => i.Id == id && i.Downloads < i.DlLimit)
            .ExecuteUpdateAsync(set => set.SetProperty(i => i.Downloads, i => i.Downloads + 1), cancellationToken) == 1;
    }

    public async Task<bool> IsExhaustedAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Items.AnyAsync(i => i.Id == id && i.Downloads >= i.DlLimit, cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(CancellationToken.None);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(CancellationToken.None);
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.IsEmpty)
        {
            return;
        }

        // Subtract what was written instead of swapping dictionaries, so a count racing with the flush is never lost.
        // Rows are updated in id order, so two nodes flushing the same items lock them in the same order (no deadlock).
        var batch = _pending.ToArray();
        Array.Sort(batch, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            foreach (var (id, count) in batch)
            {
                await db.Items.Where(i => i.Id == id).ExecuteUpdateAsync(set => set.SetProperty(i => i.Downloads, i => i.Downloads + count), cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception exception)
        {
            logger.LogWarning(exception, "Could not record {Count} download counts; keeping them for the next flush", batch.Length);
            return;
        }

        foreach (var (id, count) in batch)
        {
            _pending.AddOrUpdate(id, -count, (_, existing) => existing - count);
            _pending.TryRemove(new KeyValuePair<string, long>(id, 0));
        }
    }
}
