using System.Security.Claims;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Media;

/// <summary>The direct path: <c>{DirectBaseUrl}/{id}.{ext}</c> serves the image's bytes (DESIGN.md §6).</summary>
public static class MediaApi
{
    public static IEndpointRouteBuilder MapMediaApi(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<ImagebinOptions>>().Value;
        var path = options.DirectBaseUrl is { } direct ? new Uri(direct).AbsolutePath.TrimEnd('/') : "/i";
        app.MapMethods($"{path}/{{file}}", [HttpMethods.Get, HttpMethods.Head], ServeAsync).WithTags("Media")
            .WithSummary("The image's bytes (direct_url)")
            .WithDescription("Cookieless; the owner's credentials also open their own private and unscanned items. `w`, `format` and `auto` "
                + "ask for a resized or re-encoded variant, which follows the original's visibility and does not count a download.")
            .ProducesErrors(ErrorCodes.InvalidRequest, ErrorCodes.NotFound, ErrorCodes.Gone, ErrorCodes.DownloadLimitReached, ErrorCodes.ScanPending)
            .AddOpenApiOperationTransformer(OpenApiOperations.DirectMedia);
        return app;
    }

    private static async Task<Results<BlobResult, VariantResult, StatusCodeHttpResult, RedirectHttpResult, ApiError>> ServeAsync(
        string file,
        HttpContext context,
        ClaimsPrincipal user,
        MediaCatalog catalog,
        DownloadCounter downloads,
        VariantStore variants,
        ReadRedirects redirects,
        SiteUrls site,
        IOptions<MediaOptions> options,
        IOptions<Moderation.ModerationOptions> moderation,
        TimeProvider time)
    {
        var request = context.Request;
        var dot = file.LastIndexOf('.');
        var id = dot > 0 ? file[..dot] : file;
        if (!Ids.IsBase62(id) || id.Length > 16)
        {
            return NotFound();
        }

        var entry = await catalog.FindAsync(id, context.RequestAborted);
        if (entry is null)
        {
            return NotFound();
        }

        string? secret = request.Query["s"];
        var isOwner = entry.OwnerId is not null && entry.OwnerId == user.AccountId();
        if (entry.Private && !isOwner && !ShareSecrets.Matches(entry.ShareSecret, secret))
        {
            return NotFound();
        }

        if (entry.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds() || ScanStates.IsWithdrawn(entry.ScanState))
        {
            return new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        if (!isOwner && !ScanStates.IsPublic(entry.ScanState, moderation.Value.ServeBeforeScan))
        {
            var detail = entry.ScanState is ScanState.Pending or ScanState.Scanning
                ? "This image is still being checked; try again shortly."
                : "This image is waiting for a moderator's review.";
            return new ApiError(ErrorCodes.ScanPending, detail)
            {
                RetryAfterSeconds = options.Value.ScanRetryAfterSeconds,
            };
        }

        var variantRequested = VariantSpec.IsRequested(request.Query);
        if (dot < 0 || file[(dot + 1)..] != entry.Extension)
        {
            // A variant's parameters (and the share secret with them) carry over to the right name.
            return TypedResults.Redirect(
                variantRequested
                    ? site.Direct(id, entry.Extension, null) + request.QueryString.Value
                    : site.Direct(id, entry.Extension, entry.Private ? secret : null),
                permanent: true);
        }

        var headOnly = HttpMethods.IsHead(request.Method);
        if (variantRequested)
        {
            var (spec, error) = VariantSpec.Parse(request.Query, request.Headers.Accept, entry.Format);
            if (spec is null)
            {
                return new ApiError(ErrorCodes.InvalidRequest, error!);
            }

            if (spec.Width is not null || spec.Format != entry.Format)
            {
                return await ServeVariantAsync(entry, spec, headOnly, context, catalog, downloads, variants);
            }

            // ?auto that settles on the original's format at its own width is the original itself.
            context.Response.Headers.Vary = "Accept";
        }

        var notModified = IsNotModified(request, entry);
        if (entry.DlLimit is not null && (headOnly || notModified) && await downloads.IsExhaustedAsync(id, context.RequestAborted))
        {
            return LimitReached();
        }

        if (notModified)
        {
            MediaHeaders.Write(context.Response, entry);
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        if (headOnly)
        {
            return new BlobResult(entry, 0, entry.Size, partial: false, headOnly: true);
        }

        if (entry.DlLimit is null && TryGetRange(request, entry, out var range))
        {
            if (range is not { } satisfiable)
            {
                context.Response.Headers.ContentRange = $"bytes */{entry.Size}";
                return TypedResults.StatusCode(StatusCodes.Status416RangeNotSatisfiable);
            }

            return new BlobResult(entry, satisfiable.Offset, satisfiable.Length, partial: true, headOnly: false);
        }

        if (entry.DlLimit is null)
        {
            downloads.Count(id);
        }
        else if (!await downloads.TryCountLimitedAsync(id, context.RequestAborted))
        {
            return LimitReached();
        }

        if (await redirects.FindAsync(entry, context.RequestAborted) is { } url)
        {
            // The URL expires within minutes: neither the browser nor a CDN may keep this answer.
            context.Response.Headers.CacheControl = "private, no-store";
            return TypedResults.Redirect(url.AbsoluteUri);
        }

        return new BlobResult(entry, 0, entry.Size, partial: false, headOnly: false);
    }

    /// <summary>
    /// A variant follows the original's rules (checked by the caller) and, once the download limit is reached, is gone
    /// with it; it does not count a download itself.
    /// </summary>
    private static async Task<Results<BlobResult, VariantResult, StatusCodeHttpResult, RedirectHttpResult, ApiError>> ServeVariantAsync(
        MediaEntry entry, VariantSpec spec, bool headOnly, HttpContext context, MediaCatalog catalog, DownloadCounter downloads, VariantStore variants)
    {
        if (entry.DlLimit is not null && await downloads.IsExhaustedAsync(entry.Id, context.RequestAborted))
        {
            return LimitReached();
        }

        var key = (spec.Width, spec.Format);
        var cached = entry.Variants.GetValueOrDefault(key);
        var etag = cached?.ETag ?? spec.ETagFor(entry.Sha256);
        if (IsNotModified(context.Request, etag, lastModified: null))
        {
            return VariantResult.NotModified(entry, spec, etag);
        }

        if (cached is not null && Share(cached) is { } shared)
        {
            return new VariantResult(entry, spec, etag, shared, headOnly);
        }

        OpenedVariant opened;
        try
        {
            opened = await variants.OpenAsync(entry, spec, context.RequestAborted);

            // A local variant stays open with the entry, so the next request neither opens nor hashes anything. The entry
            // owns the handle from then on: this request reads through a reference on it, or opens the file again if the
            // entry was closed in between.
            if (opened.Handle is { } handle)
            {
                var keep = new CachedVariant(handle, opened.Length, etag);
                if (entry.TryKeep(key, keep))
                {
                    opened = Share(keep) ?? await variants.OpenAsync(entry, spec, context.RequestAborted);
                }
            }
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException)
        {
            // The source blob went away under the item (deleted a moment ago): gone for this request too.
            catalog.Invalidate(entry.Id);
            return NotFound();
        }

        return new VariantResult(entry, spec, etag, opened, headOnly);
    }

    /// <summary>A reference on an entry's open variant, or null when the entry closed it a moment ago.</summary>
    private static OpenedVariant? Share(CachedVariant cached) =>
        SharedHandles.TryAddRef(cached.Handle) ? new OpenedVariant(cached.Handle, null, cached.Length, shared: true) : null;

    private static bool IsNotModified(HttpRequest request, MediaEntry entry) => IsNotModified(request, entry.ETag, entry.LastModified);

    private static bool IsNotModified(HttpRequest request, string etag, string? lastModified)
    {
        var ifNoneMatch = request.Headers.IfNoneMatch;
        if (ifNoneMatch.Count > 0)
        {
            return EntityTagHeaderValue.TryParseList(ifNoneMatch, out var tags)
                && tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Tag.Value == etag);
        }

        if (lastModified is null)
        {
            return false;
        }

        return request.Headers.IfModifiedSince.Count > 0
            && HeaderUtilities.TryParseDate(request.Headers.IfModifiedSince.ToString(), out var since)
            && HeaderUtilities.TryParseDate(lastModified, out var modified)
            && modified <= since;
    }

    /// <summary>
    /// True when the request asks for one byte range that this answer honours; <paramref name="range"/> is then the
    /// satisfiable range, or null for a range past the end (416). Several ranges, or a stale If-Range, get the whole image.
    /// </summary>
    private static bool TryGetRange(HttpRequest request, MediaEntry entry, out (long Offset, long Length)? range)
    {
        range = null;
        if (!RangeHeaderValue.TryParse(request.Headers.Range.ToString(), out var header)
            || header.Unit != "bytes" || header.Ranges.Count != 1)
        {
            return false;
        }

        var ifRange = request.Headers.IfRange.ToString();
        if (ifRange.Length > 0 && ifRange != entry.ETag && ifRange != entry.LastModified)
        {
            return false;
        }

        var requested = header.Ranges.Single();
        long start, end;
        if (requested.From is { } from)
        {
            start = from;
            end = Math.Min(requested.To ?? entry.Size - 1, entry.Size - 1);
        }
        else if (requested.To is { } suffix && suffix > 0)
        {
            start = Math.Max(0, entry.Size - suffix);
            end = entry.Size - 1;
        }
        else
        {
            return true;
        }

        if (start < entry.Size && start <= end)
        {
            range = (start, end - start + 1);
        }

        return true;
    }

    private static ApiError NotFound() => new(ErrorCodes.NotFound, "No such image.");

    private static ApiError LimitReached() => new(ErrorCodes.DownloadLimitReached, "This image has reached its download limit.");
}
