namespace Imagebin.Storage;

/// <summary>
/// A blob as a local file for the length of one piece of work (a scan, a caption, a removal's hashes): the store's own
/// file when it keeps one, otherwise a temporary copy that is deleted on dispose. Read it; never move or change it.
/// </summary>
public sealed class LocalBlobFile : IAsyncDisposable
{
    private readonly bool _temporary;

    private LocalBlobFile(string path, bool temporary)
    {
        Path = path;
        _temporary = temporary;
    }

    public string Path { get; }

    public static async Task<LocalBlobFile> OpenAsync(IBlobStore store, string key, CancellationToken cancellationToken)
    {
        if (store.LocalPath(key) is { } local)
        {
            return new LocalBlobFile(local, temporary: false);
        }

        var temporary = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"imagebin-blob-{Guid.NewGuid():N}");
        try
        {
            await using var source = await store.OpenReadAsync(key, 0, null, cancellationToken);
            await using var target = File.Create(temporary);
            await source.CopyToAsync(target, cancellationToken);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        return new LocalBlobFile(temporary, temporary: true);
    }

    public ValueTask DisposeAsync()
    {
        if (_temporary)
        {
            File.Delete(Path);
        }

        return ValueTask.CompletedTask;
    }
}
