using System.Collections.Concurrent;
using Imagebin.Data;
using Imagebin.Jobs;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Jobs;

/// <summary>The durable queue on each backend: every job runs to completion once, leases expire, failures retry then stop.</summary>
public sealed class JobQueueTests
{
    [Theory, Backends]
    public async Task ManyJobs_EachCompleteOnce(Backend backend)
    {
        var handler = new RecordingHandler();
        await using var app = App(backend, handler, ("Jobs:Concurrency", "4"));
        _ = app.Server;
        await EnqueueAsync(app, Enumerable.Range(0, 200).Select(i => $"job-{i}"));

        await WaitUntilAsync(() => CountAsync(app, JobState.Succeeded), 200);
        Assert.Equal(200, handler.Runs.Count);
        Assert.All(handler.Runs.GroupBy(r => r), g => Assert.Single(g));
        Assert.Equal(200, await CountAsync(app, JobState.Succeeded));
    }

    [Theory, Backends]
    public async Task MaintenanceSweep_DeletesOldSucceededJobs_KeepsRecentAndFailedOnes(Backend backend)
    {
        await using var app = new ImagebinApp(backend, new() { ["Jobs:KeepSucceededHours"] = "1" });
        _ = app.Server;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync())
        {
            db.Jobs.AddRange(
                new Job { Kind = "old", Payload = "a", State = JobState.Succeeded, CompletedAt = now - 2 * 3_600_000 },
                new Job { Kind = "recent", Payload = "b", State = JobState.Succeeded, CompletedAt = now - 60_000 },
                new Job { Kind = "failed", Payload = "c", State = JobState.Failed, CompletedAt = now - 2 * 3_600_000, LastError = "kept" });
            await db.SaveChangesAsync();
        }

        await app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Imagebin.Features.Media.Maintenance>().Single()
            .RunOnceAsync(CancellationToken.None);

        await using var check = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        Assert.Equal(["failed", "recent"], (await check.Jobs.Where(j => j.Kind == "old" || j.Kind == "recent" || j.Kind == "failed").Select(j => j.Kind).ToListAsync()).Order());
    }

    [Theory, Backends]
    public async Task UniqueKey_QueuesOneJobUntilItFinishes(Backend backend)
    {
        await using var app = App(backend, new RecordingHandler(), ("Imagebin:Roles", "api,authority"));
        _ = app.Server;
        var queue = app.Services.GetRequiredService<JobQueue>();
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        await queue.EnqueueAsync(db, RecordingHandler.JobKind, "a", "unique:a", CancellationToken.None);
        await queue.EnqueueAsync(db, RecordingHandler.JobKind, "a", "unique:a", CancellationToken.None);
        await queue.EnqueueAsync(db, RecordingHandler.JobKind, "b", null, CancellationToken.None);
        await queue.EnqueueAsync(db, RecordingHandler.JobKind, "b", null, CancellationToken.None);

        Assert.Equal(1, await db.Jobs.CountAsync(j => j.Payload == "a"));
        Assert.Equal(2, await db.Jobs.CountAsync(j => j.Payload == "b"));

        // Once the job has finished, the key is free again.
        var claimed = await queue.ClaimAsync("w", CancellationToken.None);
        Assert.NotNull(claimed);
        var first = claimed.Payload == "a" ? claimed : await ClaimPayloadAsync(queue, "a");
        await queue.CompleteAsync(first, CancellationToken.None);
        await queue.EnqueueAsync(db, RecordingHandler.JobKind, "a", "unique:a", CancellationToken.None);
        Assert.Equal(2, await db.Jobs.CountAsync(j => j.Payload == "a"));
    }

    [Theory, Backends]
    public async Task ExpiredLease_IsTakenOver_AndTheOldWorkerCannotComplete(Backend backend)
    {
        await using var app = App(backend, new RecordingHandler(), ("Imagebin:Roles", "api,authority"), ("Jobs:LeaseSeconds", "1"));
        _ = app.Server;
        var queue = app.Services.GetRequiredService<JobQueue>();
        await EnqueueAsync(app, ["lease"]);

        var dead = await queue.ClaimAsync("dead-node", CancellationToken.None);
        Assert.NotNull(dead);
        Assert.Null(await queue.ClaimAsync("live-node", CancellationToken.None));

        await Task.Delay(1200);
        var taken = await queue.ClaimAsync("live-node", CancellationToken.None);
        Assert.NotNull(taken);
        Assert.Equal(dead.Id, taken.Id);
        Assert.Equal(2, taken.Attempts);

        await queue.CompleteAsync(dead, CancellationToken.None);
        Assert.Equal(JobState.Running, (await JobAsync(app, dead.Id)).State);
        await queue.CompleteAsync(taken, CancellationToken.None);
        Assert.Equal(JobState.Succeeded, (await JobAsync(app, dead.Id)).State);
    }

    [Theory, Backends]
    public async Task KilledWorker_ItsJobIsFinishedByAnotherNodeAfterTheLease(Backend backend)
    {
        // Node one (no workers of its own here) claims the job and dies without finishing it.
        await using var first = App(backend, new RecordingHandler(), ("Imagebin:Roles", "api,authority"), ("Jobs:LeaseSeconds", "1"));
        _ = first.Server;
        await EnqueueAsync(first, ["orphan"], wake: false);
        var orphan = await first.Services.GetRequiredService<JobQueue>().ClaimAsync("killed-node", CancellationToken.None);
        Assert.NotNull(orphan);

        // Node two, on the same store, takes it over once the lease has expired.
        var handler = new RecordingHandler();
        var settings = new Dictionary<string, string?> { ["Jobs:LeaseSeconds"] = "1" };
        if (backend == Backend.ScaleOut)
        {
            foreach (var (key, value) in TestServices.ScaleOutSettings(first.ConnectionString!, first.Bucket!))
            {
                settings[key] = value;
            }
        }

        await using var second = new ImagebinApp(backend, settings, dataDir: first.DataDir)
        {
            ExtraServices = services => services.AddSingleton<IJobHandler>(handler),
        };
        _ = second.Server;
        await WaitUntilAsync(() => CountAsync(second, JobState.Succeeded), 1);
        Assert.Equal(["orphan"], handler.Runs);
        Assert.Equal(2, (await JobAsync(second, orphan.Id)).Attempts);
    }

    [Theory, Backends]
    public async Task FailingJob_RetriesThenFails_WithTheErrorVisible(Backend backend)
    {
        var handler = new RecordingHandler { FailWith = "broken on purpose" };
        await using var app = App(backend, handler, ("Jobs:MaxAttempts", "2"));
        _ = app.Server;
        await EnqueueAsync(app, ["doomed"]);

        await WaitUntilAsync(() => CountAsync(app, JobState.Failed), 1, TimeSpan.FromSeconds(20));
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        var job = await db.Jobs.SingleAsync();
        Assert.Equal(2, job.Attempts);
        Assert.Contains("broken on purpose", job.LastError);
        Assert.Equal(["doomed", "doomed"], handler.Runs);
        Assert.Equal(["doomed"], handler.Exhausted);
    }

    [Theory, Backends]
    public async Task IdleWorkers_WakeForNewJobs_WithoutWaitingForThePoll(Backend backend)
    {
        var handler = new RecordingHandler();
        await using var app = App(backend, handler, ("Jobs:PollSeconds", "60"));
        _ = app.Server;
        await Task.Delay(500); // every worker has polled once and now sleeps for a minute

        var started = DateTime.UtcNow;
        // On PostgreSQL the wake-up is the NOTIFY sent with the job (no in-process call); embedded, it is Wake().
        await EnqueueAsync(app, ["prompt"], wake: backend == Backend.Embedded);
        await WaitUntilAsync(() => CountAsync(app, JobState.Succeeded), 1, TimeSpan.FromSeconds(10));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), $"took {DateTime.UtcNow - started}");
    }

    private static ImagebinApp App(Backend backend, RecordingHandler handler, params (string Key, string Value)[] settings) =>
        new(backend, settings: settings.ToDictionary(s => s.Key, s => (string?)s.Value))
        {
            ExtraServices = services => services.AddSingleton<IJobHandler>(handler),
        };

    private static async Task EnqueueAsync(ImagebinApp app, IEnumerable<string> payloads, bool wake = true)
    {
        var queue = app.Services.GetRequiredService<JobQueue>();
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            foreach (var payload in payloads)
            {
                await queue.EnqueueAsync(db, RecordingHandler.JobKind, payload, $"test:{payload}", CancellationToken.None);
            }

            await transaction.CommitAsync();
        }

        if (wake)
        {
            queue.Wake();
        }
    }

    private static async Task<Job> ClaimPayloadAsync(JobQueue queue, string payload)
    {
        while (true)
        {
            var job = await queue.ClaimAsync("w", CancellationToken.None) ?? throw new InvalidOperationException($"No job '{payload}'.");
            if (job.Payload == payload)
            {
                return job;
            }
        }
    }

    private static async Task<int> CountAsync(ImagebinApp app, string state)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        return await db.Jobs.CountAsync(j => j.State == state);
    }

    private static async Task<Job> JobAsync(ImagebinApp app, long id)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        return await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id);
    }

    private static async Task WaitUntilAsync(Func<Task<int>> count, int expected, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        int last;
        while ((last = await count()) < expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{last} of {expected} after the timeout.");
            }

            await Task.Delay(50);
        }
    }

    private sealed class RecordingHandler : IJobHandler
    {
        public const string JobKind = "test";

        public ConcurrentQueue<string> Runs { get; } = new();

        public ConcurrentQueue<string> Exhausted { get; } = new();

        public string? FailWith { get; init; }

        public string Kind => JobKind;

        public async Task HandleAsync(Job job, CancellationToken cancellationToken)
        {
            Runs.Enqueue(job.Payload);
            await Task.Yield();
            if (FailWith is not null)
            {
                throw new InvalidOperationException(FailWith);
            }
        }

        public Task OnExhaustedAsync(Job job, string error, CancellationToken cancellationToken)
        {
            Exhausted.Enqueue(job.Payload);
            return Task.CompletedTask;
        }
    }
}
