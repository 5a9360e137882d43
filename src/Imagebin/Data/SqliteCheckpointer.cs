using Microsoft.EntityFrameworkCore;

namespace Imagebin.Data;

/// <summary>
/// Moves the SQLite write-ahead log into the database file once a second, off the request path. Left to SQLite, the
/// commit that crosses 1000 WAL pages runs the checkpoint (and its fsync) itself, and every writer queued behind it
/// waits: under uploads that was most of the p99.
/// </summary>
public sealed class SqliteCheckpointer(IDbContextFactory<ImagebinDb> contexts, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await CheckpointAsync(truncate: false, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
            // The host was disposed without being stopped (a start-up that failed): nothing is left to checkpoint.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await CheckpointAsync(truncate: true, CancellationToken.None);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>WAL frames (4 KiB pages) past which the log is restarted even if that makes writers wait a moment.</summary>
    private const long RestartAfterFrames = 8192;

    private async Task CheckpointAsync(bool truncate, CancellationToken cancellationToken)
    {
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var connection = db.Database.GetDbConnection();
            await db.Database.OpenConnectionAsync(cancellationToken);
            // A passive checkpoint copies what it can without waiting for readers or writers. Under steady load readers
            // never all finish at once, so the log is never rewound and grows: past a bound, a restart checkpoint waits
            // for the readers of the moment and rewinds it. At shutdown the log is emptied.
            var frames = await RunAsync(connection, truncate ? "TRUNCATE" : "PASSIVE", cancellationToken);
            if (frames > RestartAfterFrames)
            {
                // A restart holds the write lock while it waits for readers; a short timeout keeps writers from
                // queueing behind it. If it cannot finish now, it tries again in a second. The connection's usual
                // timeout comes back when it is next opened.
                await using (var timeout = connection.CreateCommand())
                {
                    timeout.CommandText = "PRAGMA busy_timeout=50;";
                    await timeout.ExecuteNonQueryAsync(cancellationToken);
                }

                await RunAsync(connection, "RESTART", cancellationToken);
            }
        }
        catch (Exception exception) when (exception is not (OperationCanceledException or ObjectDisposedException))
        {
            logger.LogWarning(exception, "SQLite checkpoint failed; it is retried in a second");
        }
    }

    /// <summary>Runs one checkpoint and returns the size of the log, in frames, when it started.</summary>
    private static async Task<long> RunAsync(System.Data.Common.DbConnection connection, string mode, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = mode switch
        {
            "TRUNCATE" => "PRAGMA wal_checkpoint(TRUNCATE);",
            "RESTART" => "PRAGMA wal_checkpoint(RESTART);",
            _ => "PRAGMA wal_checkpoint(PASSIVE);",
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.GetInt64(1) : 0;
    }
}
