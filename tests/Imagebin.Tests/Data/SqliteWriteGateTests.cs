using System.Data.Common;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Imagebin.Tests.Data;

/// <summary>
/// The SQLite write gate must give its permit back on every path a writer can leave by: commit, rollback, an exception
/// or a cancellation at any point, a reader left open. One lost permit stalls every later writer (uploads, job claims)
/// until a restart, which is what long benchmark runs ended in.
/// </summary>
public sealed class SqliteWriteGateTests : IAsyncLifetime
{
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(2);

    private readonly string _directory = Directory.CreateTempSubdirectory("imagebin-gate-").FullName;
    private readonly SqliteWriteGate _gate = new();
    private readonly Saboteur _saboteur = new();
    private PooledDbContextFactory<ImagebinDb> _contexts = null!;

    private string ConnectionString => $"Data Source={Path.Combine(_directory, "imagebin.db")};Default Timeout=1";

    public async ValueTask InitializeAsync()
    {
        // Pooled like the app's: a context returned to the pool has its connection closed by EF without the events
        // that an explicit close raises.
        var options = new DbContextOptionsBuilder<ImagebinDb>()
            .UseSqlite(ConnectionString)
            .AddInterceptors(_gate, _saboteur)
            .Options;
        _contexts = new PooledDbContextFactory<ImagebinDb>(options);
        await using var db = await _contexts.CreateDbContextAsync();
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        await SchemaMigrator.MigrateAsync(db, DatabaseProvider.Sqlite, NullLogger.Instance, CancellationToken.None);
        Assert.Equal(1, _gate.Available);
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task TransactionDisposedWithoutCommit_ReleasesTheGate()
    {
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync();
                db.Jobs.Add(NewJob("abandoned"));
                await db.SaveChangesAsync();
                throw new InvalidOperationException("the request failed half way");
            });
        }

        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("abandoned");
    }

    [Fact]
    public async Task ContextDisposedWithTransactionOpen_ReleasesTheGate()
    {
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            _ = await db.Database.BeginTransactionAsync();
            db.Jobs.Add(NewJob("abandoned"));
            await db.SaveChangesAsync();
        }

        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("abandoned");
    }

    [Fact]
    public async Task BeginTransactionCancelledAfterTheGateAdmitsIt_ReleasesTheGate()
    {
        // The request is aborted in the moment the gate lets its transaction in. EF's BeginTransactionAsync checked the
        // token once more before BEGIN and, when it threw, raised no event and left its connection open. Whether the
        // begin now fails or succeeds, the permit must come back.
        using var aborted = new CancellationTokenSource();
        _saboteur.OnTransactionStarting = aborted.Cancel;
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            try
            {
                await using var transaction = await db.Database.BeginTransactionAsync(aborted.Token);
                db.Jobs.Add(NewJob("aborted"));
                await db.SaveChangesAsync(aborted.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _saboteur.OnTransactionStarting = null;
        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("aborted");
    }

    [Fact]
    public async Task BeginTransactionThatFailsInSqlite_ReleasesTheGate()
    {
        // Another process holds the SQLite write lock past the busy timeout: BEGIN IMMEDIATE fails after the gate let it in.
        await using (var outsider = new SqliteConnection(ConnectionString))
        {
            await outsider.OpenAsync();
            await using var outsiderTransaction = await outsider.BeginTransactionAsync();
            await using var db = await _contexts.CreateDbContextAsync();
            await Assert.ThrowsAsync<SqliteException>(() => db.Database.BeginTransactionAsync());
        }

        await AssertWritersGetThroughAsync();
    }

    [Fact]
    public async Task ContextReusedAfterAFailedBegin_DoesNotWaitOnItself()
    {
        await using var db = await _contexts.CreateDbContextAsync();
        await using (var outsider = new SqliteConnection(ConnectionString))
        {
            await outsider.OpenAsync();
            await using var outsiderTransaction = await outsider.BeginTransactionAsync();
            await Assert.ThrowsAsync<SqliteException>(() => db.Database.BeginTransactionAsync());
        }

        // The same context goes on: a transaction and then a write outside one.
        await AssertSameContextWritesAsync(db);
        await AssertWritersGetThroughAsync();
    }

    [Fact]
    public async Task ExplicitlyOpenedConnection_NextTransactionAfterAnAbandonedOne_DoesNotWaitOnItself()
    {
        // EF leaves a connection its caller opened open when a transaction on it is disposed, so no close ends the hold;
        // the next transaction on that connection shows the old one is over.
        await using var db = await _contexts.CreateDbContextAsync();
        await db.Database.OpenConnectionAsync();
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            db.Jobs.Add(NewJob("abandoned"));
            await db.SaveChangesAsync();
        }

        db.ChangeTracker.Clear();
        await AssertSameContextWritesAsync(db);
        await db.Database.CloseConnectionAsync();
        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("abandoned");
    }

    [Fact]
    public async Task CancelledSaveChangesInATransaction_ReleasesTheGate()
    {
        using var aborted = new CancellationTokenSource();
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(aborted.Token);
                db.Jobs.Add(NewJob("first"));
                await db.SaveChangesAsync(aborted.Token);
                _saboteur.OnCommand = aborted.Cancel;
                db.Jobs.Add(NewJob("cancelled"));
                await db.SaveChangesAsync(aborted.Token);
                await transaction.CommitAsync(aborted.Token);
            });
        }

        _saboteur.OnCommand = null;
        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("first");
    }

    [Fact]
    public async Task CancelledCommit_ReleasesTheGate()
    {
        using var aborted = new CancellationTokenSource();
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync(aborted.Token);
                db.Jobs.Add(NewJob("uncommitted"));
                await db.SaveChangesAsync(aborted.Token);
                aborted.Cancel();
                await transaction.CommitAsync(aborted.Token);
            });
        }

        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("uncommitted");
    }

    [Fact]
    public async Task CancelledExecuteUpdate_ReleasesTheGate()
    {
        await InsertJobAsync("counted");

        // Cancelled once the gate has let the statement in.
        using (var aborted = new CancellationTokenSource())
        {
            _saboteur.OnCommand = aborted.Cancel;
            await using var db = await _contexts.CreateDbContextAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                db.Jobs.Where(j => j.Payload == "counted").ExecuteUpdateAsync(set => set.SetProperty(j => j.Attempts, j => j.Attempts + 1), aborted.Token));
            _saboteur.OnCommand = null;
        }

        await AssertWritersGetThroughAsync();

        // Cancelled while it waits for the gate behind a transaction.
        await using (var holder = await _contexts.CreateDbContextAsync())
        await using (var transaction = await holder.Database.BeginTransactionAsync())
        {
            using var aborted = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            await using var db = await _contexts.CreateDbContextAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                db.Jobs.Where(j => j.Payload == "counted").ExecuteUpdateAsync(set => set.SetProperty(j => j.Attempts, j => j.Attempts + 1), aborted.Token));
            await transaction.CommitAsync();
        }

        await AssertWritersGetThroughAsync();
    }

    [Fact]
    public async Task ReaderAbandonedMidway_ReleasesTheGateWhenItsContextIsDisposed()
    {
        await InsertJobAsync("a");
        await InsertJobAsync("b");
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            // UPDATE … RETURNING outside a transaction holds the gate until its reader is disposed; this one never is.
            var rows = db.Jobs.FromSql($"UPDATE jobs SET attempts = attempts + 1 RETURNING *").AsNoTracking().AsAsyncEnumerable().GetAsyncEnumerator();
            Assert.True(await rows.MoveNextAsync());
        }

        await AssertWritersGetThroughAsync();
    }

    [Fact]
    public async Task ReaderLeftMidway_ThenDisposed_ReleasesTheGate()
    {
        await InsertJobAsync("a");
        await InsertJobAsync("b");
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await foreach (var _ in db.Jobs.FromSql($"UPDATE jobs SET attempts = attempts + 1 RETURNING *").AsNoTracking().AsAsyncEnumerable())
            {
                break;
            }

            Assert.Equal(1, _gate.Available);
        }

        await AssertWritersGetThroughAsync();
    }

    [Fact]
    public async Task TwoTransactionsOnOneContext_AfterAnAbandonedOne()
    {
        await using (var db = await _contexts.CreateDbContextAsync())
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            {
                await using var transaction = await db.Database.BeginTransactionAsync();
                db.Jobs.Add(NewJob("abandoned"));
                await db.SaveChangesAsync();
                throw new InvalidOperationException("failed half way");
            });
            db.ChangeTracker.Clear();

            using var timeout = new CancellationTokenSource(WriteTimeout);
            foreach (var payload in new[] { "one", "two" })
            {
                await using var transaction = await db.Database.BeginTransactionAsync(timeout.Token);
                db.Jobs.Add(NewJob(payload));
                await db.SaveChangesAsync(timeout.Token);
                await transaction.CommitAsync(timeout.Token);
            }
        }

        await AssertWritersGetThroughAsync();
        await AssertNoJobAsync("abandoned");
    }

    [Fact]
    public async Task UploadsCancelledAtRandom_LeaveTheAppWriting()
    {
        await using var app = new ImagebinApp();
        var owner = await app.OwnerAsync();
        var gate = app.Services.GetRequiredService<SqliteWriteGate>();
        var images = Enumerable.Range(0, 8).Select(seed => TestImages.Jpeg(64, 48, seed)).ToArray();

        // Like wrk at the end of a run: many uploads at once, cut off at random moments (before, during and after the commit).
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            using var cut = new CancellationTokenSource(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 60)));
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(images[i % images.Length]) };
            request.Content.Headers.ContentType = new("image/jpeg");
            try
            {
                using var response = await owner.SendAsync(request, cut.Token);
            }
            catch (OperationCanceledException)
            {
            }
        });

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var fresh = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg(80, 60, seed: 99)) };
        fresh.Content.Headers.ContentType = new("image/jpeg");
        using var created = await owner.SendAsync(fresh, timeout.Token);
        Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        var id = (await created.JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal("passed", (await owner.WaitForScanAsync(id, TimeSpan.FromSeconds(60))).GetProperty("scan_state").GetString());
        await WaitUntilFreeAsync(gate, TimeSpan.FromSeconds(10));
    }

    private async Task AssertWritersGetThroughAsync()
    {
        using var timeout = new CancellationTokenSource(WriteTimeout);
        await using var db = await _contexts.CreateDbContextAsync();
        try
        {
            await db.Jobs.Where(j => j.Id < 0).ExecuteUpdateAsync(set => set.SetProperty(j => j.Attempts, 0), timeout.Token);
            await using var transaction = await db.Database.BeginTransactionAsync(timeout.Token);
            db.Jobs.Add(NewJob("check"));
            await db.SaveChangesAsync(timeout.Token);
            await transaction.CommitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Assert.Fail($"A writer waited {WriteTimeout.TotalSeconds:0} s for the gate: its permit was lost (available: {_gate.Available}).");
        }

        Assert.Equal(1, _gate.Available);
    }

    private static async Task AssertSameContextWritesAsync(ImagebinDb db)
    {
        using var timeout = new CancellationTokenSource(WriteTimeout);
        await using (var transaction = await db.Database.BeginTransactionAsync(timeout.Token))
        {
            db.Jobs.Add(NewJob("after"));
            await db.SaveChangesAsync(timeout.Token);
            await transaction.CommitAsync(timeout.Token);
        }

        await db.Jobs.Where(j => j.Payload == "after").ExecuteUpdateAsync(set => set.SetProperty(j => j.Attempts, 1), timeout.Token);
    }

    private async Task AssertNoJobAsync(string payload)
    {
        await using var db = await _contexts.CreateDbContextAsync();
        Assert.False(await db.Jobs.AnyAsync(j => j.Payload == payload));
    }

    private async Task InsertJobAsync(string payload)
    {
        await using var db = await _contexts.CreateDbContextAsync();
        db.Jobs.Add(NewJob(payload));
        await db.SaveChangesAsync();
    }

    private static async Task WaitUntilFreeAsync(SqliteWriteGate gate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (gate.Available != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "The write gate stayed held after the app went idle.");
            await Task.Delay(50);
        }
    }

    private static Job NewJob(string payload) => new() { Kind = "gate-test", Payload = payload, CreatedAt = 1, RunAfter = long.MaxValue };

    /// <summary>Runs after the gate (interceptors run in the order they were added): plays the request that is aborted right then.</summary>
    private sealed class Saboteur : DbCommandInterceptor, IDbTransactionInterceptor
    {
        public Action? OnTransactionStarting { get; set; }

        public Action? OnCommand { get; set; }

        public ValueTask<InterceptionResult<DbTransaction>> TransactionStartingAsync(
            DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result, CancellationToken cancellationToken = default)
        {
            OnTransactionStarting?.Invoke();
            return ValueTask.FromResult(result);
        }

        public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            OnCommand?.Invoke();
            return ValueTask.FromResult(result);
        }

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            OnCommand?.Invoke();
            return ValueTask.FromResult(result);
        }
    }
}
