using System.Net;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class RestartTests
{
    private static readonly Dictionary<string, string?> NoWorker = new() { ["Imagebin:Roles"] = "api,authority" };

    [Theory, Backends]
    public async Task ItemsKeysAndQueuedJobs_SurviveARestart(Backend backend)
    {
        using var store = new SharedStore(backend);
        string key;
        JsonElement item;
        await using (var first = store.Start(NoWorker))
        {
            key = await first.CreateKeyAsync();
            item = await first.ClientWithKey(key).UploadAsync(TestImages.Jpeg(), configure: r => r.Headers.Add("x-title", "Persisted"));
            Assert.Equal("pending", item.GetProperty("scan_state").GetString());
        }

        await using var second = store.Start();
        var client = second.ClientWithKey(key);
        var id = item.GetProperty("id").GetString()!;

        var scanned = await client.WaitForScanAsync(id);

        Assert.Equal("passed", scanned.GetProperty("scan_state").GetString());
        Assert.Equal("Persisted", scanned.GetProperty("title").GetString());
        Assert.Equal(HttpStatusCode.OK, (await second.Anonymous().GetAsync(item.PathOf("direct_url"))).StatusCode);
    }

    [Theory, Backends]
    public async Task JobLeasedByADeadWorker_IsPickedUpAgain(Backend backend)
    {
        using var store = new SharedStore(backend);
        string key;
        string id;
        await using (var first = store.Start(NoWorker))
        {
            key = await first.CreateKeyAsync();
            id = (await first.ClientWithKey(key).UploadAsync(TestImages.Jpeg())).GetProperty("id").GetString()!;
            // As a worker that claimed the job and died mid-scan leaves it: running, leased, lease now over.
            await using var scope = first.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            var claimed = await db.Jobs.Where(j => j.Kind == "scan" && j.Payload == id).ExecuteUpdateAsync(s => s
                .SetProperty(j => j.State, JobState.Running)
                .SetProperty(j => j.LeaseOwner, "dead-worker")
                .SetProperty(j => j.Attempts, 1)
                .SetProperty(j => j.LeaseUntil, DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds()));
            Assert.Equal(1, claimed);
            await db.Items.Where(i => i.Id == id).ExecuteUpdateAsync(s => s.SetProperty(i => i.ScanState, ScanState.Scanning));
        }

        await using var second = store.Start();
        var scanned = await second.ClientWithKey(key).WaitForScanAsync(id);

        Assert.Equal("passed", scanned.GetProperty("scan_state").GetString());
        await using var check = second.Services.CreateAsyncScope();
        var job = await check.ServiceProvider.GetRequiredService<ImagebinDb>().Jobs.SingleAsync(j => j.Payload == id && j.Kind == "scan");
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(2, job.Attempts);
    }

    [Theory, Backends]
    public async Task FailingJob_IsRetriedWithBackoffAndEndsVisiblyFailed(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: new() { ["Jobs:MaxAttempts"] = "2" });
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            db.Jobs.Add(new Job { Kind = "no-such-kind", Payload = "x", MaxAttempts = 2 });
            await db.SaveChangesAsync();
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        Job job;
        do
        {
            await Task.Delay(100);
            await using var scope = app.Services.CreateAsyncScope();
            job = await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Jobs.AsNoTracking().SingleAsync(j => j.Kind == "no-such-kind");
        }
        while (job.State != JobState.Failed && DateTime.UtcNow < deadline);

        // One attempt, a backoff of 2 s, a second attempt, then a visible failure with the reason.
        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal(2, job.Attempts);
        Assert.Contains("No handler", job.LastError);
    }
}
