using System.Data.Common;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Data;

/// <summary>
/// Versioned SQL scripts per provider (<c>Data/Migrations/{Sqlite,Postgres}/NNNN_name.sql</c>, embedded), applied in
/// order, each in its own transaction, and recorded in <c>schema_migrations</c>. Plain SQL rather than EF migrations:
/// the two dialects differ where it matters (partial indexes, identity columns) and a reviewer reads exactly what runs.
/// On PostgreSQL an advisory lock serialises nodes that start together; SQLite serialises on its write lock.
/// </summary>
public static partial class SchemaMigrator
{
    private const long PostgresLockKey = 0x696d6167_6562696e; // "imagebin"

    public sealed record Migration(int Version, string Name, string Sql);

    public static IReadOnlyList<Migration> For(DatabaseProvider provider)
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var prefix = $"Imagebin.Data.Migrations.{provider}/";
        return assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Select(name =>
            {
                var file = name[prefix.Length..^4];
                var match = FileName().Match(file);
                if (!match.Success)
                {
                    throw new InvalidOperationException($"Migration '{name}' is not named NNNN_name.sql.");
                }

                using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
                return new Migration(int.Parse(match.Groups[1].Value), match.Groups[2].Value, reader.ReadToEnd());
            })
            .OrderBy(m => m.Version)
            .ToList();
    }

    /// <summary>The versions already applied (empty for a new store).</summary>
    public static async Task<IReadOnlyList<int>> AppliedAsync(ImagebinDb db, DatabaseProvider provider, CancellationToken cancellationToken)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            return await ReadAppliedAsync(connection, provider, cancellationToken);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>Applies every pending migration; returns the ones it applied.</summary>
    public static async Task<IReadOnlyList<Migration>> MigrateAsync(ImagebinDb db, DatabaseProvider provider, ILogger logger, CancellationToken cancellationToken)
    {
        var migrations = For(provider);
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            if (provider == DatabaseProvider.Postgres)
            {
                await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({PostgresLockKey})", cancellationToken);
            }

            try
            {
                await ExecuteAsync(connection, null,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)",
                    cancellationToken);
                var applied = (await ReadAppliedAsync(connection, provider, cancellationToken)).ToHashSet();
                if (applied.Count == 0 && await TableExistsAsync(connection, provider, "items", cancellationToken))
                {
                    // A store created before migrations existed holds exactly the schema of 0001.
                    await RecordAsync(connection, null, migrations[0], cancellationToken);
                    applied.Add(migrations[0].Version);
                    logger.LogInformation("Schema: an existing store was recorded at version {Version}", migrations[0].Version);
                }

                var done = new List<Migration>();
                foreach (var migration in migrations.Where(m => !applied.Contains(m.Version)))
                {
                    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                    await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken);
                    await RecordAsync(connection, transaction, migration, cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                    logger.LogInformation("Schema: applied {Version:0000}_{Name}", migration.Version, migration.Name);
                    done.Add(migration);
                }

                return done;
            }
            finally
            {
                if (provider == DatabaseProvider.Postgres)
                {
                    await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({PostgresLockKey})", CancellationToken.None);
                }
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static async Task<IReadOnlyList<int>> ReadAppliedAsync(DbConnection connection, DatabaseProvider provider, CancellationToken cancellationToken)
    {
        if (!await TableExistsAsync(connection, provider, "schema_migrations", cancellationToken))
        {
            return [];
        }

        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_migrations ORDER BY version";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var versions = new List<int>();
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(Convert.ToInt32(reader.GetValue(0)));
        }

        return versions;
    }

    private static async Task<bool> TableExistsAsync(DbConnection connection, DatabaseProvider provider, string table, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = provider == DatabaseProvider.Postgres
            ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @name"
            : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @name";
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@name";
        parameter.Value = table;
        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken)) > 0;
    }

    private static async Task RecordAsync(DbConnection connection, DbTransaction? transaction, Migration migration, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @at)";
        foreach (var (name, value) in new (string, object)[] { ("@version", migration.Version), ("@name", migration.Name), ("@at", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) })
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [GeneratedRegex(@"^(\d{4})_([a-z0-9_]+)$")]
    private static partial Regex FileName();
}
