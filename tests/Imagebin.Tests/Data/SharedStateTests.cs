using System.Net;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Data;

/// <summary>State nodes share (replay records, rate counters) and the roles a node runs.</summary>
public sealed class SharedStateTests
{
    [Theory, Backends]
    public async Task ReplayRecord_IsAcceptedExactlyOnce_UnderConcurrency_AndAgainAfterItExpires(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: new() { ["Imagebin:Roles"] = "api" });
        var state = app.Services.GetRequiredService<SharedState>();
        var until = DateTimeOffset.UtcNow.AddMinutes(5);

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => state.TryRecordOnceAsync("jti:abc", until, CancellationToken.None)));
        Assert.Single(results, accepted => accepted);
        Assert.True(await state.TryRecordOnceAsync("jti:other", until, CancellationToken.None));

        Assert.True(await state.TryRecordOnceAsync("jti:short", DateTimeOffset.UtcNow.AddMilliseconds(50), CancellationToken.None));
        await Task.Delay(100);
        Assert.True(await state.TryRecordOnceAsync("jti:short", until, CancellationToken.None));
        Assert.False(await state.TryRecordOnceAsync("jti:short", until, CancellationToken.None));
        Assert.True(await state.PurgeAsync(CancellationToken.None) >= 0);
    }

    [Theory, Backends]
    public async Task RateCounter_CountsEveryHitOnce_AndRestartsWithTheWindow(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: new() { ["Imagebin:Roles"] = "api" });
        var state = app.Services.GetRequiredService<SharedState>();
        var window = TimeSpan.FromHours(1);

        var counts = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => state.HitAsync("upload:1.2.3.4", window, CancellationToken.None)));
        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), counts.Order());

        Assert.Equal(1, await state.HitAsync("upload:5.6.7.8", window, CancellationToken.None));
        // A window shorter than the time since its start has rolled over: counting starts again.
        Assert.Equal(1, await state.HitAsync("short", TimeSpan.FromMilliseconds(40), CancellationToken.None));
        await Task.Delay(100);
        Assert.Equal(1, await state.HitAsync("short", TimeSpan.FromMilliseconds(40), CancellationToken.None));
    }

    [Theory, Backends]
    public async Task WorkerOnlyNode_ServesHealthButNoApi(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: new() { ["Imagebin:Roles"] = "worker" });
        var client = app.Anonymous();
        using var health = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ok", body.GetProperty("status").GetString());
        Assert.Equal("worker", body.GetProperty("roles").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/account/items")).StatusCode);
    }

    [Fact]
    public async Task PostgresWithoutAConnectionString_FailsAtStartNamingTheKey()
    {
        await using var app = new ImagebinApp(settings: new() { ["Database:Provider"] = "Postgres" });
        var error = Assert.ThrowsAny<Exception>(() => app.Server);
        Assert.Contains("ConnectionStrings:Imagebin", error.ToString());
    }
}
