using System.Security.Cryptography;
using Imagebin.Data;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Admin;

/// <summary>
/// <c>migrate-store</c>: copies an embedded install (SQLite file + blob files) into the store this node is configured for
/// (normally PostgreSQL + S3), like pict-rs's <c>migrate-store</c>. Bytes go first, each checked against its SHA-256, then
/// rows, so no copied item ever points at missing bytes. Rows and blobs already in the target are left alone, so the
/// command can be run again after an interruption, or to pick up what was added meanwhile. The source is only read.
/// </summary>
public sealed class StoreMigration(
    IDbContextFactory<ImagebinDb> targetContexts,
    IBlobStore configuredStore,
    IOptions<DatabaseOptions> database,
    IOptions<StorageOptions> storage,
    IServiceProvider services,
    ILogger<StoreMigration> logger)
{
    private const int Batch = 1000;

    public sealed record Report(int Accounts, int Keys, int Items, int Blobs, long BlobBytes, int Jobs, int AlreadyPresent, int Failures)
    {
        public override string ToString() =>
            $"Copied {Accounts} accounts, {Keys} keys, {Items} items, {Blobs} blobs ({BlobBytes} bytes), {Jobs} unfinished jobs; " +
            $"{AlreadyPresent} already present; {Failures} failed.";
    }

    public async Task<Report> RunAsync(string fromDataDir, string? fromBlobs, TextWriter progress, CancellationToken cancellationToken)
    {
        var sourceFile = Path.GetFullPath(Path.Combine(fromDataDir, "imagebin.db"));
        if (!File.Exists(sourceFile))
        {
            throw new ArgumentException($"No embedded store at '{sourceFile}'.");
        }

        if (database.Value.Provider == DatabaseProvider.Sqlite && storage.Value.Provider == StorageProvider.FileSystem)
        {
            throw new ArgumentException("This node is configured for the embedded store itself; configure the target (Database:Provider=Postgres, Storage:Provider=S3) first.");
        }

        if (storage.Value.Provider == StorageProvider.S3)
        {
            var bucket = services.GetRequiredService<S3BlobStore>();
            // Admin commands do not start the host, so the start-up bucket check has not run.
            await bucket.EnsureBucketAsync(cancellationToken);
        }

        // Straight to the bucket: the node-local cache would only fill the admin machine's disk.
        var target = storage.Value.Provider == StorageProvider.S3 ? services.GetRequiredService<S3BlobStore>() : configuredStore;
        var source = new FileSystemBlobStore(fromBlobs ?? Path.Combine(fromDataDir, "blobs"));
        var options = new DbContextOptionsBuilder<ImagebinDb>().UseSqlite($"Data Source={sourceFile};Mode=ReadOnly").Options;
        await using var from = new ImagebinDb(options);
        await using var to = await targetContexts.CreateDbContextAsync(cancellationToken);
        var present = 0;
        var failures = 0;

        // 1. Bytes, verified, before any row that refers to them.
        var blobs = 0;
        long bytes = 0;
        var copiedBlobs = new List<Blob>();
        await foreach (var blob in from.Blobs.AsNoTracking().OrderBy(b => b.Sha256).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            var key = BlobKeys.ForSha256(blob.Sha256);
            if (await target.ExistsAsync(key, cancellationToken))
            {
                present++;
                copiedBlobs.Add(blob);
                continue;
            }

            var path = source.LocalPath(key)!;
            if (!File.Exists(path))
            {
                failures++;
                logger.LogError("Blob {Sha256} is referenced but its file {Path} is missing; its items are not copied", blob.Sha256, path);
                continue;
            }

            // PutAsync may move its file away, so it gets a copy; hashing the copy checks what is uploaded.
            var copy = Path.Combine(Path.GetTempPath(), $"imagebin-migrate-{Guid.NewGuid():N}");
            try
            {
                File.Copy(path, copy);
                string actual;
                await using (var stream = File.OpenRead(copy))
                {
                    actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
                }

                if (actual != blob.Sha256)
                {
                    failures++;
                    logger.LogError("Blob {Sha256} does not hash to its name (got {Actual}); its items are not copied", blob.Sha256, actual);
                    continue;
                }

                await target.PutAsync(key, copy, cancellationToken);
                blobs++;
                bytes += blob.Size;
                copiedBlobs.Add(blob);
                if (blobs % 100 == 0)
                {
                    progress.WriteLine($"… {blobs} blobs copied");
                }
            }
            finally
            {
                File.Delete(copy);
            }
        }

        var available = copiedBlobs.Select(b => b.Sha256).ToHashSet(StringComparer.Ordinal);

        // 2. Rows, in batches, skipping keys the target has. An account name the target already uses for another id
        // is normally the 'admin' a fresh scale-out node created on first start: while it owns nothing it gives way
        // to the migrated account; otherwise that account (and what it owns) is reported and left behind.
        var skippedOwners = new HashSet<string>(StringComparer.Ordinal);
        foreach (var account in await from.Accounts.AsNoTracking().ToListAsync(cancellationToken))
        {
            var clash = await to.Accounts.FirstOrDefaultAsync(a => a.Name == account.Name && a.Id != account.Id, cancellationToken);
            if (clash is null)
            {
                continue;
            }

            if (await to.Items.AnyAsync(i => i.OwnerId == clash.Id, cancellationToken) || await to.ApiKeys.AnyAsync(k => k.AccountId == clash.Id, cancellationToken))
            {
                failures++;
                skippedOwners.Add(account.Id);
                logger.LogError("Account '{Name}' exists in the target with other data; it and what it owns are not copied", account.Name);
                continue;
            }

            to.Accounts.Remove(clash);
            await to.SaveChangesAsync(cancellationToken);
            to.ChangeTracker.Clear();
            progress.WriteLine($"Replaced the empty account '{clash.Name}' the target created on first start with the migrated one.");
        }

        var accounts = await CopyAsync(from.Accounts.AsNoTracking().OrderBy(a => a.Id), to, to.Accounts, a => a.Id,
            a => !skippedOwners.Contains(a.Id), cancellationToken);
        var keys = await CopyAsync(from.ApiKeys.AsNoTracking().OrderBy(k => k.Id), to, to.ApiKeys, k => k.Id,
            k => !skippedOwners.Contains(k.AccountId), cancellationToken);
        var blobRows = await CopyAsync(from.Blobs.AsNoTracking().OrderBy(b => b.Sha256), to, to.Blobs, b => b.Sha256,
            b => available.Contains(b.Sha256), cancellationToken);
        var items = await CopyAsync(from.Items.AsNoTracking().OrderBy(i => i.Id), to, to.Items, i => i.Id,
            i => available.Contains(i.BlobSha256) && (i.OwnerId is null || !skippedOwners.Contains(i.OwnerId)), cancellationToken);
        present += accounts.Present + keys.Present + blobRows.Present + items.Present;

        // Reference counts follow the rows now in the target (which may have held items of its own).
        await to.Database.ExecuteSqlAsync(
            $"UPDATE blobs SET ref_count = (SELECT count(*) FROM items WHERE items.blob_sha256 = blobs.sha256)",
            cancellationToken);

        // 3. Work that had not finished (scans of recent uploads) is queued again; finished jobs are history.
        var jobs = 0;
        var unfinished = await from.Jobs.AsNoTracking().Where(j => j.State == JobState.Queued || j.State == JobState.Running).ToListAsync(cancellationToken);
        foreach (var job in unfinished)
        {
            if (job.UniqueKey is { } uniqueKey && await to.Jobs.AnyAsync(j => j.UniqueKey == uniqueKey, cancellationToken))
            {
                continue;
            }

            to.Jobs.Add(new Job
            {
                Kind = job.Kind,
                Payload = job.Payload,
                MaxAttempts = job.MaxAttempts,
                RunAfter = job.RunAfter,
                UniqueKey = job.UniqueKey,
                CreatedAt = job.CreatedAt,
            });
            jobs++;
        }

        await to.SaveChangesAsync(cancellationToken);
        return new Report(accounts.Copied, keys.Copied, items.Copied, blobs, bytes, jobs, present, failures);
    }

    private static async Task<(int Copied, int Present)> CopyAsync<T>(
        IQueryable<T> source,
        ImagebinDb to,
        DbSet<T> target,
        Func<T, string> keyOf,
        Func<T, bool>? include,
        CancellationToken cancellationToken)
        where T : class
    {
        var copied = 0;
        var present = 0;
        var batch = new List<T>(Batch);
        await foreach (var row in source.AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            if (include is null || include(row))
            {
                batch.Add(row);
            }

            if (batch.Count == Batch)
            {
                (copied, present) = Add(await FlushAsync(batch, to, target, keyOf, cancellationToken), copied, present);
            }
        }

        (copied, present) = Add(await FlushAsync(batch, to, target, keyOf, cancellationToken), copied, present);
        return (copied, present);

        static (int, int) Add((int Copied, int Present) step, int copied, int present) => (copied + step.Copied, present + step.Present);
    }

    private static async Task<(int Copied, int Present)> FlushAsync<T>(List<T> batch, ImagebinDb to, DbSet<T> target, Func<T, string> keyOf, CancellationToken cancellationToken)
        where T : class
    {
        if (batch.Count == 0)
        {
            return (0, 0);
        }

        var keys = batch.Select(keyOf).ToList();
        var keyProperty = to.Model.FindEntityType(typeof(T))!.FindPrimaryKey()!.Properties[0].Name;
        var existing = (await target.AsNoTracking()
                .Where(row => keys.Contains(EF.Property<string>(row, keyProperty)))
                .Select(row => EF.Property<string>(row, keyProperty))
                .ToListAsync(cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
        var fresh = batch.Where(row => !existing.Contains(keyOf(row))).ToList();
        target.AddRange(fresh);
        await to.SaveChangesAsync(cancellationToken);
        to.ChangeTracker.Clear();
        batch.Clear();
        return (fresh.Count, existing.Count);
    }
}
