using System.Data.Common;
using System.Diagnostics;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Data;

/// <summary>Schema migrations: the same model on both providers, applied once, recorded, and checked when not applied.</summary>
public sealed class SchemaTests
{
    [Theory, Backends]
    public async Task MigratedSchema_HasEveryTableAndColumnOfTheModel(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: new() { ["Imagebin:Roles"] = "api" });
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        await db.Database.OpenConnectionAsync();
        var connection = db.Database.GetDbConnection();
        foreach (var entity in db.Model.GetEntityTypes())
        {
            var table = entity.GetTableName()!;
            var columns = await ColumnsAsync(connection, backend, table);
            Assert.True(columns.Count > 0, $"table {table} is missing");
            foreach (var property in entity.GetProperties())
            {
                Assert.Contains(property.GetColumnName(), columns);
            }
        }

        foreach (var table in new[] { "replay_cache", "rate_counters", "schema_migrations" })
        {
            Assert.NotEmpty(await ColumnsAsync(connection, backend, table));
        }

        var provider = backend == Backend.Embedded ? DatabaseProvider.Sqlite : DatabaseProvider.Postgres;
        Assert.Equal(SchemaMigrator.For(provider).Select(m => m.Version), await SchemaMigrator.AppliedAsync(db, provider, CancellationToken.None));
    }

    [Theory, Backends]
    public async Task Restarting_AppliesNothingTwice(Backend backend)
    {
        using var store = new SharedStore(backend);
        await using (var first = store.Start(new() { ["Imagebin:Roles"] = "api" }))
        {
            _ = first.Server;
        }

        await using var second = store.Start(new() { ["Imagebin:Roles"] = "api" });
        await using var db = await second.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        var applied = await db.Database.SqlQueryRaw<int>("SELECT version AS \"Value\" FROM schema_migrations").ToListAsync();
        Assert.Equal(applied.Distinct().Count(), applied.Count);
        Assert.Equal(SchemaMigrator.For(second.Backend == Backend.Embedded ? DatabaseProvider.Sqlite : DatabaseProvider.Postgres).Count, applied.Count);
    }

    [Fact]
    public async Task StoreFromBeforeMigrations_IsRecordedAtVersionOne_AndUpgradedWithItsData()
    {
        // Issue 2's releases made the schema with EnsureCreated and kept no record of it.
        var dataDir = Directory.CreateTempSubdirectory("imagebin-old-").FullName;
        try
        {
            // That schema is exactly migration 0001 (the model has grown since, so EnsureCreated no longer makes it).
            await using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDir, "imagebin.db")};Pooling=false"))
            {
                await old.OpenAsync();
                await using var create = old.CreateCommand();
                create.CommandText = SchemaMigrator.For(DatabaseProvider.Sqlite)[0].Sql
                    + "INSERT INTO accounts (id, name, role, banned, ai_opt_out, created_at) VALUES ('oldaccount01', 'veteran', 'user', 0, 0, 1);";
                await create.ExecuteNonQueryAsync();
            }

            await using var app = new ImagebinApp(settings: new() { ["Imagebin:Roles"] = "api" }, dataDir: dataDir);
            await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
            Assert.True(await db.Accounts.AnyAsync(a => a.Name == "veteran"));
            // Every migration, up to 0008 (the placeholders).
            var applied = await SchemaMigrator.AppliedAsync(db, DatabaseProvider.Sqlite, CancellationToken.None);
            Assert.Equal(SchemaMigrator.For(DatabaseProvider.Sqlite).Select(m => m.Version), applied);
            Assert.Equal(8, applied.Max());
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Theory, Backends]
    public async Task MigrateOnStartOff_RefusesAnOldSchema_UntilTheMigrateCommandRuns(Backend backend)
    {
        using var store = new SharedStore(backend);
        var manual = new Dictionary<string, string?> { ["Database:MigrateOnStart"] = "false", ["Imagebin:Roles"] = "api" };
        await using (var refused = store.Start(manual))
        {
            var error = Assert.ThrowsAny<Exception>(() => refused.Server);
            Assert.Contains("run the 'migrate' admin command", error.ToString());
        }

        // The command, run through the binary as an operator would, migrates whatever MigrateOnStart says.
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Imagebin.dll"), "migrate"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["Imagebin__DataDir"] = store.DataDir;
        foreach (var (key, value) in store.Settings.Concat(manual))
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using (var process = Process.Start(start)!)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, await output + await errors);
            Assert.EndsWith("schema is at version 0008.", (await output).TrimEnd());
        }

        await using var started = store.Start(manual);
        _ = started.Server;
    }

    private static async Task<List<string>> ColumnsAsync(DbConnection connection, Backend backend, string table)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = backend == Backend.Embedded
            ? $"SELECT name FROM pragma_table_info('{table}')"
            : $"SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}'";
        await using var reader = await command.ExecuteReaderAsync();
        var columns = new List<string>();
        while (await reader.ReadAsync())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }
}
