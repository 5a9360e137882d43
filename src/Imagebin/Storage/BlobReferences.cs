using Imagebin.Data;
using Imagebin.Features.Media;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Storage;

/// <summary>
/// Keeps blob reference counts and blob bytes in step. Adding a reference and dropping the last one for the same
/// blob never interleave (a lock per blob, across nodes on PostgreSQL), so dedup never points at bytes that a concurrent
/// delete is removing.
/// </summary>
public sealed class BlobReferences(IBlobStore store, IBlobLocks locks)
{
    /// <summary>
    /// Stores <paramref name="sourceFile"/> as the blob <paramref name="sha256"/> (unless it is there already), then runs
    /// <paramref name="commit"/>, which must add a reference with <see cref="AddReferenceAsync"/> in its transaction.
    /// </summary>
    public async Task<T> StoreAsync<T>(string sha256, string sourceFile, Func<Task<T>> commit, CancellationToken cancellationToken)
    {
        await using (await locks.AcquireAsync(sha256, cancellationToken))
        {
            await store.PutAsync(BlobKeys.ForSha256(sha256), sourceFile, cancellationToken);
            return await commit();
        }
    }

    /// <summary>Counts one more reference to the blob, inside the caller's transaction.</summary>
    public static Task AddReferenceAsync(ImagebinDb db, string sha256, long size, long now, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync(
            $"""
            INSERT INTO blobs (sha256, size, ref_count, created_at) VALUES ({sha256}, {size}, 1, {now})
            ON CONFLICT (sha256) DO UPDATE SET ref_count = blobs.ref_count + 1
            """,
            cancellationToken);

    /// <summary>
    /// Runs <paramref name="remove"/> (which deletes the referring row in its own transaction and returns whether it did),
    /// drops the reference and, when it was the last, deletes the bytes.
    /// </summary>
    public async Task<bool> ReleaseAsync(ImagebinDb db, string sha256, Func<Task<bool>> remove, CancellationToken cancellationToken)
    {
        await using (await locks.AcquireAsync(sha256, cancellationToken))
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (!await remove())
            {
                return false;
            }

            await db.Database.ExecuteSqlAsync($"UPDATE blobs SET ref_count = ref_count - 1 WHERE sha256 = {sha256}", cancellationToken);
            var unreferenced = await db.Database
                .ExecuteSqlAsync($"DELETE FROM blobs WHERE sha256 = {sha256} AND ref_count <= 0", cancellationToken) > 0;
            await transaction.CommitAsync(cancellationToken);

            // A crash between the commit and this delete leaves an unreferenced file, which the sweeper removes.
            if (unreferenced)
            {
                await store.DeleteAsync(BlobKeys.ForSha256(sha256), CancellationToken.None);
                await DeleteVariantsAsync(sha256);
            }

            return true;
        }
    }

    /// <summary>
    /// Deletes every variant the blob can have. The set of keys is small and fixed, so no listing is needed; a variant
    /// written by a request racing with this delete is left to the sweep, which knows its source from its key.
    /// </summary>
    private Task DeleteVariantsAsync(string sha256) =>
        Parallel.ForEachAsync(VariantKeys.AllFor(sha256), new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (key, token) => await store.DeleteAsync(key, token));

    /// <summary>Deletes the blob's bytes if no row counts a reference to it (crash leftovers), under the blob's lock.</summary>
    public async Task<bool> DeleteIfUnreferencedAsync(ImagebinDb db, string key, string sha256, CancellationToken cancellationToken)
    {
        await using (await locks.AcquireAsync(sha256, cancellationToken))
        {
            if (await db.Blobs.AnyAsync(b => b.Sha256 == sha256, cancellationToken))
            {
                return false;
            }

            await store.DeleteAsync(key, cancellationToken);
            return true;
        }
    }
}
