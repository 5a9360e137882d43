using System.Collections.Concurrent;
using Npgsql;

namespace Imagebin.Data;

/// <summary>
/// Hints between nodes: "a job was queued", "item X changed". Only hints: every reader checks the rows, and every
/// cache these hints clear also expires on its own, so a lost hint costs latency, never correctness.
/// </summary>
public interface INodeSignals
{
    void Subscribe(string channel, Action<string> handler);

    /// <summary>Tells this node at once and, on a shared store, every other node. Call after the change commits.</summary>
    Task PublishAsync(string channel, string payload, CancellationToken cancellationToken);
}

public static class SignalChannels
{
    public const string Jobs = "imagebin_jobs";
    public const string Items = "imagebin_items";
    public const string Blobs = "imagebin_blobs";
    public const string HashLists = "imagebin_hashlists";

    /// <summary>Every channel a node listens on.</summary>
    public static readonly string[] All = [Jobs, Items, Blobs, HashLists];
}

/// <summary>One node: a signal is a method call.</summary>
public sealed class LocalSignals : INodeSignals
{
    private readonly ConcurrentDictionary<string, ImmutableHandlers> _handlers = new();

    public void Subscribe(string channel, Action<string> handler) =>
        _handlers.AddOrUpdate(channel, _ => new([handler]), (_, existing) => new([.. existing.List, handler]));

    public Task PublishAsync(string channel, string payload, CancellationToken cancellationToken)
    {
        Dispatch(channel, payload);
        return Task.CompletedTask;
    }

    internal void Dispatch(string channel, string payload)
    {
        if (_handlers.TryGetValue(channel, out var handlers))
        {
            foreach (var handler in handlers.List)
            {
                handler(payload);
            }
        }
    }

    private sealed record ImmutableHandlers(Action<string>[] List);
}

/// <summary>
/// Many nodes on PostgreSQL: <c>pg_notify</c> to publish, one dedicated connection per node that <c>LISTEN</c>s and
/// dispatches. The listener reconnects after a failure; while it is down, nodes fall back to polling and cache expiry.
/// A <c>NOTIFY</c> issued inside a transaction (the job queue does that) is delivered when it commits.
/// </summary>
public sealed class PostgresNotifications(NpgsqlDataSource dataSource, ILogger<PostgresNotifications> logger) : BackgroundService, INodeSignals
{
    private readonly LocalSignals _local = new();

    public void Subscribe(string channel, Action<string> handler) => _local.Subscribe(channel, handler);

    public async Task PublishAsync(string channel, string payload, CancellationToken cancellationToken)
    {
        _local.Dispatch(channel, payload);
        try
        {
            await using var command = dataSource.CreateCommand("SELECT pg_notify($1, $2)");
            command.Parameters.Add(new NpgsqlParameter { Value = channel });
            command.Parameters.Add(new NpgsqlParameter { Value = payload });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
        {
            logger.LogWarning(exception, "Could not signal {Channel}; other nodes will notice within their poll and cache intervals", channel);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => _local.Dispatch(e.Channel, e.Payload);
                await using (var listen = new NpgsqlCommand(string.Concat(SignalChannels.All.Select(channel => $"LISTEN {channel};")), connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Anything published while this node was not listening is lost: wake the workers to look for it.
                _local.Dispatch(SignalChannels.Jobs, "");
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "The PostgreSQL listener failed; reconnecting");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
