using System.ComponentModel.DataAnnotations;
using Imagebin.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Jobs;

/// <summary>Background work settings (<c>Jobs:*</c>).</summary>
public sealed class JobsOptions
{
    public const string Section = "Jobs";

    /// <summary>Jobs run at once on this node; default one per core.</summary>
    [Range(1, 256)]
    public int Concurrency { get; set; } = Environment.ProcessorCount;

    /// <summary>How long a claimed job stays leased to its worker before another node may take it over.</summary>
    [Range(1, 86_400)]
    public int LeaseSeconds { get; set; } = 300;

    /// <summary>How often an idle worker looks for due jobs even without a wake-up (retries and expired leases).</summary>
    [Range(0.01, 3600)]
    public double PollSeconds { get; set; } = 1;

    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>How long a succeeded job's row is kept (for "what ran when") before the maintenance sweep deletes it.
    /// Failed jobs are kept: their error is what an operator looks for.</summary>
    [Range(0, 24 * 365)]
    public int KeepSucceededHours { get; set; } = 24 * 7;
}

/// <summary>
/// The durable job queue: rows in the metadata store, claimed under a lease, retried with backoff. On PostgreSQL many
/// nodes claim from the same table (<c>FOR UPDATE SKIP LOCKED</c>) and a <c>NOTIFY</c> sent with each new job wakes idle
/// workers everywhere. Wake-ups only shorten the wait: correctness never depends on them, idle workers also poll.
/// </summary>
public sealed class JobQueue
{
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly IDbContextFactory<ImagebinDb> _contexts;
    private readonly IOptions<JobsOptions> _options;
    private readonly TimeProvider _time;
    private readonly bool _postgres;

    public JobQueue(IDbContextFactory<ImagebinDb> contexts, IOptions<JobsOptions> options, IOptions<DatabaseOptions> database, INodeSignals signals, TimeProvider time)
    {
        _contexts = contexts;
        _options = options;
        _time = time;
        _postgres = database.Value.Provider == DatabaseProvider.Postgres;
        signals.Subscribe(SignalChannels.Jobs, _ => Wake());
    }

    /// <summary>
    /// Adds a job in the caller's transaction (call <see cref="Wake"/> after it commits). A job whose
    /// <paramref name="uniqueKey"/> is already queued or running is not added twice.
    /// </summary>
    public Task EnqueueAsync(ImagebinDb db, string kind, string payload, string? uniqueKey, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var maxAttempts = _options.Value.MaxAttempts;
        // On PostgreSQL the NOTIFY rides along in the same round trip and transaction: delivered to every node's
        // listener when the job commits, never for a job that rolled back.
        return _postgres
            ? db.Database.ExecuteSqlAsync(
                $"""
                INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_after, unique_key, created_at)
                VALUES ({kind}, {payload}, {JobState.Queued}, 0, {maxAttempts}, {now}, {uniqueKey}, {now})
                ON CONFLICT (unique_key) DO NOTHING;
                SELECT pg_notify({SignalChannels.Jobs}, {kind});
                """,
                cancellationToken)
            : db.Database.ExecuteSqlAsync(
                $"""
                INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_after, unique_key, created_at)
                VALUES ({kind}, {payload}, {JobState.Queued}, 0, {maxAttempts}, {now}, {uniqueKey}, {now})
                ON CONFLICT (unique_key) DO NOTHING
                """,
                cancellationToken);
    }

    public void Wake() => _wake.Release();

    /// <summary>Waits until a job may be due: a wake-up or the poll interval, whichever comes first.</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        await _wake.WaitAsync(TimeSpan.FromSeconds(_options.Value.PollSeconds), cancellationToken);
    }

    /// <summary>Claims the next due job (queued and due, or running with an expired lease) for <paramref name="worker"/>.</summary>
    public async Task<Job?> ClaimAsync(string worker, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var leaseUntil = now + _options.Value.LeaseSeconds * 1000L;
        // One statement either way. SQLite runs it under its single write lock. PostgreSQL locks the chosen row and
        // lets concurrent claimers skip it rather than wait, so N workers on N nodes take N different jobs.
        var query = _postgres
            ? db.Jobs.FromSql(
                $"""
                UPDATE jobs SET state = {JobState.Running}, lease_owner = {worker}, lease_until = {leaseUntil}, attempts = attempts + 1
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE (state = {JobState.Queued} AND run_after <= {now}) OR (state = {JobState.Running} AND lease_until < {now})
                    ORDER BY run_after, id
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED)
                RETURNING *
                """)
            : db.Jobs.FromSql(
                $"""
                UPDATE jobs SET state = {JobState.Running}, lease_owner = {worker}, lease_until = {leaseUntil}, attempts = attempts + 1
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE (state = {JobState.Queued} AND run_after <= {now}) OR (state = {JobState.Running} AND lease_until < {now})
                    ORDER BY run_after, id
                    LIMIT 1)
                RETURNING *
                """);
        var claimed = await query.AsNoTracking().ToListAsync(cancellationToken);
        return claimed.FirstOrDefault();
    }

    public async Task CompleteAsync(Job job, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await db.Jobs.Where(j => j.Id == job.Id && j.LeaseOwner == job.LeaseOwner)
            .ExecuteUpdateAsync(
                set => set.SetProperty(j => j.State, JobState.Succeeded)
                    .SetProperty(j => j.CompletedAt, now)
                    .SetProperty(j => j.UniqueKey, (string?)null)
                    .SetProperty(j => j.LeaseUntil, (long?)null),
                cancellationToken);
    }

    /// <summary>Schedules another attempt with exponential backoff, or marks the job failed when none are left.</summary>
    public async Task<bool> RetryOrFailAsync(Job job, string error, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var exhausted = job.Attempts >= job.MaxAttempts;
        var backoff = (long)Math.Min(Math.Pow(2, job.Attempts) * 1000, 15 * 60 * 1000);
        var truncated = error.Length > 2000 ? error[..2000] : error;
        await db.Jobs.Where(j => j.Id == job.Id && j.LeaseOwner == job.LeaseOwner)
            .ExecuteUpdateAsync(
                set => set.SetProperty(j => j.State, exhausted ? JobState.Failed : JobState.Queued)
                    .SetProperty(j => j.RunAfter, now + backoff)
                    .SetProperty(j => j.LastError, truncated)
                    .SetProperty(j => j.LeaseUntil, (long?)null)
                    .SetProperty(j => j.UniqueKey, j => exhausted ? null : j.UniqueKey),
                cancellationToken);
        return exhausted;
    }
}
