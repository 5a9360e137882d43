namespace Imagebin.Data;

/// <summary>Which metadata store to use (<c>Database:*</c>). The connection string is <c>ConnectionStrings:Imagebin</c>.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// Apply pending schema migrations at start-up (default). With many nodes an operator may turn this off and run the
    /// <c>migrate</c> admin command once per release instead; nodes then refuse to start on a schema older than they need.
    /// </summary>
    public bool MigrateOnStart { get; set; } = true;
}

public enum DatabaseProvider
{
    /// <summary>A SQLite file (WAL) under <c>Imagebin:DataDir</c>: one node.</summary>
    Sqlite,

    /// <summary>PostgreSQL (Npgsql): many stateless nodes.</summary>
    Postgres,
}
