using System.Globalization;
using Imagebin.Storage;
using Microsoft.Win32.SafeHandles;

namespace Imagebin.Features.Media;

/// <summary>
/// Writes an image's bytes (all of them, or one range). Local blobs are read with positional reads straight into the
/// response's pipe buffers; measured on this path, that is about twice as fast as going through a FileStream.
/// </summary>
public sealed class BlobResult(MediaEntry entry, long offset, long length, bool partial, bool headOnly) : IResult
{
    private const int ChunkSize = 64 * 1024;
    private const int FlushEvery = 256 * 1024;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var shared = false;
        SafeFileHandle? handle = null;
        if (!headOnly && entry.LocalPath is { } path)
        {
            handle = entry.Handle;
            shared = handle is not null && SharedHandles.TryAddRef(handle);

            if (!shared)
            {
                handle = OpenOrNull(path);
                if (handle is null)
                {
                    // Deleted between the catalog lookup and now: it is gone for this request too.
                    httpContext.RequestServices.GetRequiredService<MediaCatalog>().Invalidate(entry.Id);
                    response.StatusCode = StatusCodes.Status404NotFound;
                    return;
                }
            }
        }

        try
        {
            MediaHeaders.Write(response, entry);
            response.StatusCode = partial ? StatusCodes.Status206PartialContent : StatusCodes.Status200OK;
            response.ContentLength = length;
            if (partial)
            {
                response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {offset}-{offset + length - 1}/{entry.Size}");
            }

            if (headOnly || length == 0)
            {
                return;
            }

            if (handle is not null)
            {
                await CopyFromHandleAsync(handle, offset, length, response, entry.BlobKey, httpContext.RequestAborted);
            }
            else
            {
                var store = httpContext.RequestServices.GetRequiredService<IBlobStore>();
                await response.StartAsync(httpContext.RequestAborted);
                await using var stream = await store.OpenReadAsync(entry.BlobKey, offset, length, httpContext.RequestAborted);
                await stream.CopyToAsync(response.Body, httpContext.RequestAborted);
            }
        }
        finally
        {
            if (shared)
            {
                handle!.DangerousRelease();
            }
            else
            {
                handle?.Dispose();
            }
        }
    }

    private static SafeFileHandle? OpenOrNull(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Writes <paramref name="length"/> bytes of the file from <paramref name="offset"/> straight into the response's pipe.</summary>
    public static async Task CopyFromHandleAsync(SafeFileHandle handle, long offset, long length, HttpResponse response, string key, CancellationToken cancellationToken)
    {
        // Kestrel keeps whatever is written before the headers in buffers of its own and copies it behind them later:
        // for an image under the flush size, that was a second copy of every byte. Headers first, then the bytes.
        await response.StartAsync(cancellationToken);
        var writer = response.BodyWriter;
        var position = offset;
        var remaining = length;
        var unflushed = 0;
        while (remaining > 0)
        {
            var memory = writer.GetMemory((int)Math.Min(remaining, ChunkSize));
            var want = (int)Math.Min(memory.Length, remaining);
            var read = RandomAccess.Read(handle, memory.Span[..want], position);
            if (read == 0)
            {
                throw new IOException($"Blob {key} ended early at byte {position}.");
            }

            writer.Advance(read);
            position += read;
            remaining -= read;
            unflushed += read;
            if (unflushed >= FlushEvery || remaining == 0)
            {
                var result = await writer.FlushAsync(cancellationToken);
                if (result.IsCanceled || result.IsCompleted)
                {
                    return;
                }

                unflushed = 0;
            }
        }
    }
}

public static class MediaHeaders
{
    /// <summary>The headers every answer about an image's bytes carries, 200, 206 and 304 alike.</summary>
    public static void Write(HttpResponse response, MediaEntry entry)
    {
        var headers = response.Headers;
        headers.ContentType = entry.ContentType;
        headers.ETag = entry.ETag;
        headers.LastModified = entry.LastModified;
        headers.CacheControl = entry.ExpiresAt is null
            ? entry.CacheControl
            : entry.CacheControlAt(response.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds());
        // A download limit must not be sidestepped by fetching the image in ranges.
        headers.AcceptRanges = entry.DlLimit is null ? "bytes" : "none";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = "default-src 'none'";
        headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        if (entry.Private)
        {
            headers["X-Robots-Tag"] = "noindex";
        }
    }
}
