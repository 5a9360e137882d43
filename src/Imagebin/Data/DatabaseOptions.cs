namespace Imagebin.Data;

/// <summary>Which metadata store to use (<c>Database:*</c>). The connection string is <c>ConnectionStrings:Imagebin</c>.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;
}

public enum DatabaseProvider
{
    Sqlite,
}
