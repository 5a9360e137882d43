using System.Data.Common;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Imagebin.Data;

public static class DataSetup
{
    public static WebApplicationBuilder AddData(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateOnStart();
        var dataDir = builder.Configuration[$"{ImagebinOptions.Section}:DataDir"] ?? new ImagebinOptions().DataDir;
        var connectionString = builder.Configuration.GetConnectionString("Imagebin")
            ?? $"Data Source={Path.Combine(Path.GetFullPath(dataDir), "imagebin.db")}";

        var writeGate = new SqliteWriteGate();
        builder.Services.AddPooledDbContextFactory<ImagebinDb>(options => options
            .UseSqlite(connectionString)
            .AddInterceptors(new SqlitePragmas(), writeGate));
        builder.Services.AddHostedService<SqliteCheckpointer>();
        // Requests take a pooled context per scope; singletons (workers, caches) use the factory directly.
        builder.Services.AddScoped(services => services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContext());
        return builder;
    }

    /// <summary>Creates the data directory and the schema. Called once at start-up, before anything else touches the store.</summary>
    public static async Task InitializeDataAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var options = services.GetRequiredService<IOptions<ImagebinOptions>>().Value;
        Directory.CreateDirectory(options.DataDir);
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        await db.Database.EnsureCreatedAsync(cancellationToken);
        // WAL lets readers (the media path) run while a writer commits; it is a property of the file and sticks.
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
    }

    /// <summary>
    /// Per-connection settings: wait for the writer lock instead of failing; fsync only at checkpoints (safe with WAL);
    /// checkpoints are run by <see cref="SqliteCheckpointer"/>, not by whichever commit crosses the threshold.
    /// </summary>
    private sealed class SqlitePragmas : DbConnectionInterceptor
    {
        private const string Settings =
            "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;";

        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
        {
            using var command = connection.CreateCommand();
            command.CommandText = Settings;
            command.ExecuteNonQuery();
        }

        public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = Settings;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
