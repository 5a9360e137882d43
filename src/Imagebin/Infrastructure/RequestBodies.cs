using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Imagebin.Infrastructure;

/// <summary>
/// Reading small request bodies (JSON, CSV) the one way: the media type checked, the length bounded whether or not the
/// client sent <c>Content-Length</c> (a chunked body is cut off at the limit, never buffered past it), and every failure
/// an <see cref="ApiError"/> with the contract's code.
/// </summary>
public static class RequestBodies
{
    public static bool HasMediaType(HttpRequest request, params ReadOnlySpan<string> types)
    {
        foreach (var type in types)
        {
            if (request.ContentType?.StartsWith(type, StringComparison.OrdinalIgnoreCase) == true)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The whole body, or a 413 when it is longer than <paramref name="limit"/> bytes.</summary>
    public static async Task<(byte[]? Body, ApiError? Error)> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        var tooLarge = new ApiError(ErrorCodes.RequestTooLarge, limit >= 1024 * 1024
            ? $"The body is limited to {limit / (1024 * 1024)} MiB."
            : $"The body is limited to {limit / 1024} KiB.");
        if (request.ContentLength > limit)
        {
            return (null, tooLarge);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[Math.Min(limit + 1, 16 * 1024)];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return (null, tooLarge);
            }

            buffer.Write(chunk, 0, read);
        }

        return (buffer.ToArray(), null);
    }

    /// <summary>A JSON body's bytes: 415 unless <c>application/json</c> (or merge-patch, when allowed), 413 past the limit.</summary>
    public static async Task<(byte[]? Body, ApiError? Error)> ReadJsonAsync(
        HttpRequest request, int limit, CancellationToken cancellationToken, bool allowMergePatch = false)
    {
        if (!(allowMergePatch
                ? HasMediaType(request, "application/json", "application/merge-patch+json")
                : HasMediaType(request, "application/json")))
        {
            return (null, new ApiError(ErrorCodes.UnsupportedMediaType, "Send the body as application/json."));
        }

        return await ReadAsync(request, limit, cancellationToken);
    }

    /// <summary>A JSON object body deserialized; malformed JSON, or anything but an object, is 400 <c>invalid_json</c>.</summary>
    public static async Task<(T? Body, ApiError? Error)> ReadJsonAsync<T>(
        HttpRequest request, JsonTypeInfo<T> type, int limit, CancellationToken cancellationToken)
        where T : class
    {
        var (bytes, error) = await ReadJsonAsync(request, limit, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        try
        {
            var body = JsonSerializer.Deserialize(bytes, type);
            return body is null ? (null, NotAnObject()) : (body, null);
        }
        catch (JsonException exception)
        {
            return (null, InvalidJson(exception));
        }
    }

    public static ApiError NotAnObject() => new(ErrorCodes.InvalidJson, "The body must be a JSON object.");

    public static ApiError InvalidJson(JsonException exception) =>
        new(ErrorCodes.InvalidJson, $"The body is not valid JSON: {exception.Message.Split('.')[0]}.");
}
