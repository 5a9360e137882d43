using Imagebin.Data;
using Imagebin.Features.Items.Ingest;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.Extensions.Options;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Media;

/// <summary>
/// Sweeps what a crash can leave behind (temp files of interrupted uploads, blob files no row refers to), purges
/// expired items, and makes a batch of the placeholders of images scanned before there were any
/// (<see cref="PlaceholderBackfill"/>). Runs in the worker role, at start-up and then every few minutes.
/// </summary>
public sealed class Maintenance(
    IServiceScopeFactory scopes,
    IBlobStore store,
    BlobReferences blobs,
    MediaCatalog catalog,
    PlaceholderBackfill placeholders,
    TimeProvider time,
    ILogger<Maintenance> logger)
    : BackgroundService
{
    /// <summary>Anything younger may belong to an upload still in progress.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(5));
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Maintenance sweep failed");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        var ingest = scope.ServiceProvider.GetRequiredService<Ingest>();
        var cutoff = time.GetUtcNow() - Grace;
        await scope.ServiceProvider.GetRequiredService<SharedState>().PurgeAsync(cancellationToken);

        if (Directory.Exists(ingest.TempDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(ingest.TempDirectory))
            {
                if (File.GetLastWriteTimeUtc(file) < cutoff)
                {
                    File.Delete(file);
                }
            }
        }

        await foreach (var (key, modified) in store.ListAsync(cancellationToken))
        {
            if (modified >= cutoff || BlobKeys.IsQuarantine(key))
            {
                continue;
            }

            // A variant goes when its source blob has no reference left.
            var removed = (BlobKeys.Sha256Of(key) ?? VariantKeys.SourceSha256(key)) is { } sha
                ? await blobs.DeleteIfUnreferencedAsync(db, key, sha, cancellationToken)
                : await DeleteStrayAsync(key, cancellationToken);
            if (removed)
            {
                logger.LogInformation("Removed unreferenced blob {Key}", key);
            }
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // Every upload leaves a scan and a caption job behind; succeeded ones are only history.
        var keep = scope.ServiceProvider.GetRequiredService<IOptions<JobsOptions>>().Value.KeepSucceededHours * 3_600_000L;
        await db.Jobs.Where(j => j.State == JobState.Succeeded && j.CompletedAt < now - keep).ExecuteDeleteAsync(cancellationToken);

        var expired = await db.Items.Where(i => i.ExpiresAt <= now).OrderBy(i => i.ExpiresAt).Select(i => new { i.Id, i.BlobSha256 }).Take(1000).ToListAsync(cancellationToken);
        // An expired item already answers gone everywhere; the purge deletes its row and, with its last reference, its bytes.
        // From then on its links answer not_found, like a deleted item's.
        foreach (var item in expired)
        {
            await blobs.ReleaseAsync(db, item.BlobSha256,
                async () => await db.Items.Where(i => i.Id == item.Id).ExecuteDeleteAsync(cancellationToken) > 0, cancellationToken);
            await catalog.ChangedAsync(item.Id, CancellationToken.None);
        }

        if (expired.Count > 0)
        {
            logger.LogInformation("Purged {Count} expired items", expired.Count);
        }

        await placeholders.RunAsync(db, PlaceholderBackfill.Batch, cancellationToken);
    }

    /// <summary>A file that is not a blob at all (an interrupted staging copy).</summary>
    private async Task<bool> DeleteStrayAsync(string key, CancellationToken cancellationToken)
    {
        await store.DeleteAsync(key, cancellationToken);
        return true;
    }
}
