using Imagebin.Features.Items.Ingest;

namespace Imagebin.Features.Media;

/// <summary>Writes a variant's bytes with the item's serving headers and the variant's type and validator.</summary>
public sealed class VariantResult(MediaEntry entry, VariantSpec spec, string etag, OpenedVariant? variant, bool headOnly) : IResult
{
    /// <summary>304 for a request that already holds this variant.</summary>
    public static VariantResult NotModified(MediaEntry entry, VariantSpec spec, string etag) => new(entry, spec, etag, null, headOnly: true);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        await using var opened = variant;
        WriteHeaders(response, entry, spec, etag);
        if (opened is null)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentLength = opened.Length;
        if (headOnly || opened.Length == 0)
        {
            return;
        }

        if (opened.Handle is { } handle)
        {
            await BlobResult.CopyFromHandleAsync(handle, 0, opened.Length, response, spec.KeyFor(entry.Sha256), httpContext.RequestAborted);
        }
        else
        {
            await response.StartAsync(httpContext.RequestAborted);
            await opened.Stream!.CopyToAsync(response.Body, httpContext.RequestAborted);
        }
    }

    /// <summary>The original's headers (caching, privacy, security) with the variant's type and validator.</summary>
    public static void WriteHeaders(HttpResponse response, MediaEntry entry, VariantSpec spec, string etag)
    {
        MediaHeaders.Write(response, entry);
        var headers = response.Headers;
        headers.ContentType = spec.Format.ContentType();
        headers.ETag = etag;
        headers.AcceptRanges = "none";
        if (spec.Negotiated)
        {
            headers.Vary = "Accept";
        }
    }
}
