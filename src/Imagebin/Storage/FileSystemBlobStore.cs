using System.Runtime.CompilerServices;

namespace Imagebin.Storage;

/// <summary>Blobs as files under <c>root/ab/cd/&lt;sha256&gt;</c>, written by fsync + atomic rename.</summary>
public sealed class FileSystemBlobStore(string root) : IBlobStore
{
    public string Root { get; } = Path.GetFullPath(root);

    public Task PutAsync(string key, string sourceFile, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        if (File.Exists(target))
        {
            return Task.CompletedTask;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // A rename on the same file system, a copy otherwise: either way under a name nobody reads,
        // made durable, then published by an atomic rename.
        var staging = $"{target}.{Guid.NewGuid():N}.part";
        File.Move(sourceFile, staging);
        using (var stream = new FileStream(staging, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1))
        {
            stream.Flush(flushToDisk: true);
        }

        File.Move(staging, target, overwrite: true);
        return Task.CompletedTask;
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken) => Task.FromResult(File.Exists(PathOf(key)));

    public Task<Stream> OpenReadAsync(string key, long offset, long? length, CancellationToken cancellationToken)
    {
        var stream = new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.Asynchronous);
        stream.Seek(offset, SeekOrigin.Begin);
        Stream result = length is { } count ? new BoundedStream(stream, count) : stream;
        return Task.FromResult(result);
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            File.Delete(PathOf(key));
        }
        catch (DirectoryNotFoundException)
        {
            // Its shard directory was never made: the blob is as gone as a missing file, which File.Delete accepts.
        }

        return Task.CompletedTask;
    }

    public string? LocalPath(string key) => PathOf(key);

    public async IAsyncEnumerable<(string Key, DateTimeOffset LastModified)> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Root))
        {
            yield break;
        }

        foreach (var file in Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var key = Path.GetRelativePath(Root, file).Replace(Path.DirectorySeparatorChar, '/');
            yield return (key, File.GetLastWriteTimeUtc(file));
        }

        await Task.CompletedTask;
    }

    public Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Root);
        return Task.FromResult(Directory.Exists(Root));
    }

    /// <summary>Files are only reachable through this node, which serves them with positional reads.</summary>
    public Task<Uri?> GetReadUrlAsync(string key, TimeSpan lifetime, string? contentType, string? contentDisposition, CancellationToken cancellationToken) =>
        Task.FromResult<Uri?>(null);

    private string PathOf(string key)
    {
        if (key.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(key))
        {
            throw new ArgumentException($"Invalid blob key '{key}'.", nameof(key));
        }

        return Path.Combine(Root, key);
    }
}
