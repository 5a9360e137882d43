namespace Imagebin.Storage;

/// <summary>Which blob store to use (<c>Storage:*</c>).</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    public StorageProvider Provider { get; set; } = StorageProvider.FileSystem;

    /// <summary>Root of the file-system store; default <c>{Imagebin:DataDir}/blobs</c>.</summary>
    public string? Path { get; set; }
}

public enum StorageProvider
{
    FileSystem,
}
