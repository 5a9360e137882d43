using Microsoft.EntityFrameworkCore;

namespace Imagebin.Data;

/// <summary>
/// Small facts every node must agree on, kept in the metadata store rather than in process memory: one-time values
/// already seen (DPoP proof ids, proof-of-work challenges) and fixed-window rate counters. The same SQL runs on SQLite
/// and PostgreSQL; expired rows are purged by the maintenance sweeper.
/// </summary>
public sealed class SharedState(IDbContextFactory<ImagebinDb> contexts, TimeProvider time)
{
    /// <summary>
    /// Records <paramref name="key"/> until <paramref name="expiresAt"/>. True the first time (or once an earlier record
    /// expired); false for a replay, exactly once across all nodes.
    /// </summary>
    public async Task<bool> TryRecordOnceAsync(string key, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var until = expiresAt.ToUnixTimeMilliseconds();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Database.ExecuteSqlAsync(
            $"""
            INSERT INTO replay_cache (key, expires_at) VALUES ({key}, {until})
            ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= {now}
            """,
            cancellationToken) == 1;
    }

    /// <summary>Counts one hit against <paramref name="key"/> in the current fixed window and returns the count so far.</summary>
    public async Task<long> HitAsync(string key, TimeSpan window, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var length = (long)window.TotalMilliseconds;
        var start = now - now % length;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // Every SET expression sees the old row, on both databases.
        var counts = await db.Database.SqlQuery<long>(
            $"""
            INSERT INTO rate_counters (key, window_start, count, expires_at) VALUES ({key}, {start}, 1, {start + length})
            ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN rate_counters.window_start = excluded.window_start THEN rate_counters.count + 1 ELSE 1 END,
                window_start = excluded.window_start,
                expires_at = excluded.expires_at
            RETURNING count AS "Value"
            """).ToListAsync(cancellationToken);
        return counts.Single();
    }

    /// <summary>Deletes expired rows; returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Database.ExecuteSqlAsync($"DELETE FROM replay_cache WHERE expires_at <= {now}", cancellationToken)
            + await db.Database.ExecuteSqlAsync($"DELETE FROM rate_counters WHERE expires_at <= {now}", cancellationToken);
    }
}
