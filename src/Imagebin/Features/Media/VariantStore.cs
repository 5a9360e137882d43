using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Imagebin.Features.Items.Ingest;
using Imagebin.Infrastructure;
using Imagebin.Storage;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace Imagebin.Features.Media;

/// <summary>The blob a variant is made from: its sha256 (from which the variant's key follows), its key and its format.</summary>
public sealed record VariantSource(string Sha256, string BlobKey, ImageFormat Format);

/// <summary>
/// A stored variant opened for reading: a local file (positional reads) or a stream from the store. A shared handle
/// belongs to a <see cref="MediaEntry"/>; this reader holds a reference on it (<see cref="SafeHandle.DangerousAddRef"/>)
/// and gives it back when done.
/// </summary>
public sealed class OpenedVariant(SafeFileHandle? handle, Stream? stream, long length, bool shared = false) : IAsyncDisposable
{
    public SafeFileHandle? Handle { get; } = handle;
    public Stream? Stream { get; } = stream;
    public long Length { get; } = length;

    public async ValueTask DisposeAsync()
    {
        if (shared)
        {
            Handle!.DangerousRelease();
        }
        else
        {
            Handle?.Dispose();
        }

        if (Stream is not null)
        {
            await Stream.DisposeAsync();
        }
    }
}

/// <summary>
/// Variants kept as cache in the blob store under keys derived from the source blob (<see cref="VariantKeys"/>).
/// A missing variant is made once per node however many requests ask for it at the same time (one task per key), and
/// across nodes once in all: the maker holds the variant's lock (<see cref="IBlobLocks.AcquireVariantAsync"/>, a
/// PostgreSQL advisory lock when nodes share a store) while it checks the store, encodes and publishes, so a node that
/// waited finds the variant there. A variant deleted from the store is made again on the
/// next request. Variants are deleted with their source blob (<see cref="BlobReferences"/>), and the sweep removes any
/// whose source is gone.
/// </summary>
public sealed class VariantStore(
    IBlobStore store,
    IBlobLocks locks,
    VariantEncoder encoder,
    IOptions<ImagebinOptions> options,
    IOptions<MediaOptions> media,
    ILogger<VariantStore> logger)
{
    /// <summary>Beside the uploads' spool files, so the maintenance sweep removes what a crash leaves.</summary>
    private readonly string _temp = Path.Combine(options.Value.DataDir, "tmp");

    private readonly ConcurrentDictionary<string, Lazy<Task>> _making = new(StringComparer.Ordinal);

    /// <summary>
    /// Slots for making different variants (<see cref="MediaOptions.MaxConcurrentEncodes"/>): the source's download and the
    /// encode hold one, the upload of the result does not.
    /// </summary>
    private readonly SemaphoreSlim _slots = new(media.Value.MaxConcurrentEncodes, media.Value.MaxConcurrentEncodes);

    /// <summary>Opens the variant of <paramref name="entry"/>'s blob, making it first when the store does not have it.</summary>
    public Task<OpenedVariant> OpenAsync(MediaEntry entry, VariantSpec spec, CancellationToken cancellationToken) =>
        OpenAsync(new VariantSource(entry.Sha256, entry.BlobKey, entry.Format), spec, cancellationToken);

    /// <summary>
    /// Opens the variant of a blob, making it first when the store does not have it. A request waiting for its turn stops
    /// waiting when <paramref name="cancellationToken"/> fires; the variant is still made, for the next request.
    /// </summary>
    public async Task<OpenedVariant> OpenAsync(VariantSource entry, VariantSpec spec, CancellationToken cancellationToken)
    {
        var key = spec.KeyFor(entry.Sha256);
        if (await TryOpenAsync(key, cancellationToken) is { } cached)
        {
            return cached;
        }

        await MakeOnceAsync(key, entry, spec).WaitAsync(cancellationToken);
        return await TryOpenAsync(key, cancellationToken)
            ?? throw new FileNotFoundException($"Variant {key} was made but is not in the store.", key);
    }

    private Task MakeOnceAsync(string key, VariantSource entry, VariantSpec spec)
    {
        var making = _making.GetOrAdd(key, _ => new Lazy<Task>(() => Task.Run(async () =>
        {
            try
            {
                await MakeAsync(key, entry, spec);
            }
            finally
            {
                _making.TryRemove(key, out Lazy<Task>? _);
            }
        })));
        return making.Value;
    }

    private async Task MakeAsync(string key, VariantSource entry, VariantSpec spec)
    {
        // Other nodes asking for the same variant wait here, then find it made.
        await using var held = await locks.AcquireVariantAsync(key, CancellationToken.None);
        if (held is null)
        {
            logger.LogWarning("Waited {Seconds} s for another node to make variant {Key}; making it here too", IBlobLocks.VariantLockWait.TotalSeconds, key);
        }

        // Another node (or an earlier request here) may have made it since this request looked.
        if (await store.ExistsAsync(key, CancellationToken.None))
        {
            return;
        }

        Directory.CreateDirectory(_temp);
        var name = Path.Combine(_temp, $"{Guid.NewGuid():N}");
        var download = $"{name}.source";
        var target = $"{name}.variant.{spec.Format.Extension()}";
        await _slots.WaitAsync();
        var holdsSlot = true;
        try
        {
            var source = store.LocalPath(entry.BlobKey) is { } local && File.Exists(local) ? local : null;
            if (source is null)
            {
                await using var input = await store.OpenReadAsync(entry.BlobKey, 0, null, CancellationToken.None);
                await using (var output = File.Create(download))
                {
                    await input.CopyToAsync(output);
                }

                source = download;
            }

            var started = TimeProvider.System.GetTimestamp();
            encoder.Encode(source, entry.Format, spec, target);
            logger.LogInformation("Made variant {Key} in {Elapsed} ms", key, (int)TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
            _slots.Release();
            holdsSlot = false;
            await store.PutAsync(key, target, CancellationToken.None);
        }
        finally
        {
            if (holdsSlot)
            {
                _slots.Release();
            }

            File.Delete(download);
            File.Delete(target);
        }
    }

    private async Task<OpenedVariant?> TryOpenAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            if (store.LocalPath(key) is { } path)
            {
                var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
                return new OpenedVariant(handle, null, RandomAccess.GetLength(handle));
            }

            var stream = await store.OpenReadAsync(key, 0, null, cancellationToken);
            return new OpenedVariant(null, stream, stream.Length);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
