using System.Collections.Concurrent;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Media;

/// <summary>
/// Placeholders for images that passed their scan before the scan made them (migration 0008), made as the scan makes them
/// (<see cref="ThumbHash.FromFile"/>, libvips' shrink-on-load of the stored blob). The maintenance sweep does a batch every
/// run; <c>placeholders backfill</c> does all at once. An image whose blob does not decode (or is missing) is remembered
/// for the life of the process and not tried again, so one bad file does not take a place in every batch; in memory
/// only, so a restart (say, with a newer libvips) gives it another try.
/// </summary>
public sealed class PlaceholderBackfill(IBlobStore store, IOptions<ImagebinOptions> options, ILogger<PlaceholderBackfill> logger)
{
    /// <summary>Placeholders one sweep makes at most, so that a large backlog is worked off a little every few minutes.</summary>
    public const int Batch = 200;

    private readonly string _temp = Path.Combine(options.Value.DataDir, "tmp");

    private readonly ConcurrentDictionary<string, byte> _undecodable = new(StringComparer.Ordinal);

    /// <summary>How many items this process gave up making a placeholder for.</summary>
    public int Skipped => _undecodable.Count;

    public sealed record Result(int Tried, int Made, int Failed);

    /// <summary>One batch of at most <paramref name="limit"/> items, oldest first.</summary>
    public async Task<Result> RunAsync(ImagebinDb db, int limit, CancellationToken cancellationToken)
    {
        var batch = (await db.Items.AsNoTracking().Where(i => i.ScanState == ScanState.Passed && i.Placeholder == null)
                .OrderBy(i => i.CreatedAt).ThenBy(i => i.Id).Select(i => new { i.Id, i.BlobSha256 })
                .Take(limit + _undecodable.Count).ToListAsync(cancellationToken))
            .Where(i => !_undecodable.ContainsKey(i.Id)).Take(limit).ToList();
        int made = 0, failed = 0;
        foreach (var item in batch)
        {
            var placeholder = await MakeAsync(item.Id, BlobKeys.ForSha256(item.BlobSha256), cancellationToken);
            if (placeholder is null)
            {
                _undecodable.TryAdd(item.Id, 0);
                failed++;
                continue;
            }

            made += await db.Items.Where(i => i.Id == item.Id && i.Placeholder == null)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.Placeholder, placeholder), cancellationToken);
        }

        if (made > 0)
        {
            logger.LogInformation("Made placeholders for {Count} earlier images", made);
        }

        return new Result(batch.Count, made, failed);
    }

    /// <summary>Every passed image without a placeholder, batch after batch.</summary>
    public async Task<Result> RunAllAsync(ImagebinDb db, CancellationToken cancellationToken)
    {
        var total = new Result(0, 0, 0);
        Result last;
        do
        {
            last = await RunAsync(db, Batch, cancellationToken);
            total = new Result(total.Tried + last.Tried, total.Made + last.Made, total.Failed + last.Failed);
        }
        while (last.Tried == Batch);

        return total;
    }

    private async Task<string?> MakeAsync(string itemId, string blobKey, CancellationToken cancellationToken)
    {
        var download = Path.Combine(_temp, $"{Guid.NewGuid():N}.placeholder");
        try
        {
            var source = store.LocalPath(blobKey);
            if (source is null)
            {
                Directory.CreateDirectory(_temp);
                await using (var input = await store.OpenReadAsync(blobKey, 0, null, cancellationToken))
                await using (var output = File.Create(download))
                {
                    await input.CopyToAsync(output, cancellationToken);
                }

                source = download;
            }

            return ThumbHash.FromFile(source);
        }
        catch (Exception exception) when (exception is NetVips.VipsException or FileNotFoundException or DirectoryNotFoundException)
        {
            logger.LogWarning(exception, "No placeholder for {ItemId}; not tried again until restart", itemId);
            return null;
        }
        finally
        {
            File.Delete(download);
        }
    }
}
