using System.Data.Common;
using Imagebin.Infrastructure;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Imagebin.Data;

public static class DataSetup
{
    public static WebApplicationBuilder AddData(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section)
            .Validate(o => o.Provider != DatabaseProvider.Postgres || !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString("Imagebin")),
                "ConnectionStrings:Imagebin is required when Database:Provider is Postgres.")
            .ValidateOnStart();
        var provider = builder.Configuration.GetValue<DatabaseProvider?>($"{DatabaseOptions.Section}:Provider") ?? DatabaseProvider.Sqlite;
        if (provider == DatabaseProvider.Postgres)
        {
            var connectionString = builder.Configuration.GetConnectionString("Imagebin") ?? "";
            services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
            services.AddPooledDbContextFactory<ImagebinDb>((provider, options) => options
                .UseNpgsql(provider.GetRequiredService<NpgsqlDataSource>()));
            services.AddSingleton<PostgresNotifications>();
            services.AddSingleton<INodeSignals>(provider => provider.GetRequiredService<PostgresNotifications>());
            services.AddHostedService(provider => provider.GetRequiredService<PostgresNotifications>());
            services.AddSingleton<IBlobLocks, PostgresBlobLocks>();
        }
        else
        {
            var dataDir = builder.Configuration[$"{ImagebinOptions.Section}:DataDir"] ?? new ImagebinOptions().DataDir;
            var connectionString = builder.Configuration.GetConnectionString("Imagebin")
                ?? $"Data Source={Path.Combine(Path.GetFullPath(dataDir), "imagebin.db")}";
            var writeGate = new SqliteWriteGate();
            services.AddSingleton(writeGate);
            services.AddPooledDbContextFactory<ImagebinDb>(options => options
                .UseSqlite(connectionString)
                .AddInterceptors(new SqlitePragmas(), writeGate));
            services.AddHostedService<SqliteCheckpointer>();
            services.AddSingleton<INodeSignals, LocalSignals>();
            services.AddSingleton<IBlobLocks, LocalBlobLocks>();
        }

        // Requests take a pooled context per scope; singletons (workers, caches) use the factory directly.
        services.AddScoped(services => services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContext());
        services.AddSingleton<SharedState>();
        return builder;
    }

    /// <summary>
    /// Creates the data directory (temporary files live there on every backend) and brings the schema up to date, or,
    /// with <c>Database:MigrateOnStart=false</c>, checks that it is. Called once at start-up, before anything else touches the store.
    /// </summary>
    public static async Task InitializeDataAsync(this IServiceProvider services, bool migrate = false, CancellationToken cancellationToken = default)
    {
        var options = services.GetRequiredService<IOptions<ImagebinOptions>>().Value;
        var database = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SchemaMigrator));
        Directory.CreateDirectory(options.DataDir);
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        if (database.Provider == DatabaseProvider.Sqlite)
        {
            // WAL lets readers (the media path) run while a writer commits; it is a property of the file and sticks.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }

        if (migrate || database.MigrateOnStart)
        {
            await SchemaMigrator.MigrateAsync(db, database.Provider, logger, cancellationToken);
            return;
        }

        var applied = await SchemaMigrator.AppliedAsync(db, database.Provider, cancellationToken);
        var pending = SchemaMigrator.For(database.Provider).Where(m => !applied.Contains(m.Version)).ToList();
        if (pending.Count > 0)
        {
            throw new InvalidOperationException(
                $"The {database.Provider} schema is missing migration {pending[0].Version:0000}_{pending[0].Name} (and {pending.Count - 1} more) " +
                "and Database:MigrateOnStart is false: run the 'migrate' admin command first.");
        }
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
