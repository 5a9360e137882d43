using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Items.Ingest;
using Imagebin.Features.Media;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Items;

/// <summary>The REST contract for items (DESIGN.md §5).</summary>
public static class ItemsApi
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;
    private const int MaxPatchBody = 256 * 1024;

    public static IEndpointRouteBuilder MapItemsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Items");
        api.MapPost("/items", UploadAsync).DisableAntiforgery()
            .WithSummary("Upload an image")
            .WithDescription("With an API key or access token; or without one, after solving GET /api/v1/uploads/challenge "
                + "(an anonymous upload: smaller, rate-limited, expiring, answered once with a delete_token).")
            .DocumentsCredentials(optional: true, Scopes.ImageCreate)
            .ProducesErrors(ErrorCodes.TurnstileFailed, ErrorCodes.RateLimited, ErrorCodes.InvalidRequest, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.ImageTooLarge, ErrorCodes.InvalidImage, ErrorCodes.UploadsDisabled)
            .AddOpenApiOperationTransformer(OpenApiOperations.Upload);
        api.MapGet("/items/{id}", GetAsync)
            .WithSummary("Get an item's metadata")
            .WithDescription("Anyone may read a public item (a private one with its share secret); the owner gets the owner-only fields.")
            .DocumentsCredentials(optional: true, Scopes.ImageRead).ProducesErrors(ErrorCodes.NotFound, ErrorCodes.Gone);
        api.MapPatch("/items/{id}", PatchAsync).RequireAuthorization(Scopes.ImageCreate)
            .WithSummary("Edit an item (owner)").DocumentsBody<ItemPatchRequest, RouteHandlerBuilder>("application/json", "application/merge-patch+json")
            .ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.Forbidden, ErrorCodes.NotFound, ErrorCodes.Gone);
        api.MapDelete("/items/{id}", DeleteAsync)
            .WithSummary("Delete an item (owner, or anyone with an anonymous upload's delete token)")
            .WithDescription("The bytes stop being served at once. An anonymous upload is deleted with the delete_token its upload answered, "
                + $"sent as '{AnonymousUploads.DeleteTokenHeader}'; a wrong token answers not_found.")
            .DocumentsCredentials(optional: true, Scopes.ImageDelete)
            .ProducesErrors(ErrorCodes.AuthRequired, ErrorCodes.Forbidden, ErrorCodes.NotFound);
        api.MapAnonymousUploadsApi();
        api.MapGet("/account/items", ListAsync).RequireAuthorization(Scopes.ImageRead)
            .WithSummary("List your items, newest first").ProducesErrors(ErrorCodes.InvalidRequest);
        return app;
    }

    private static async Task<Results<Created<OwnerItemDto>, ApiError>> UploadAsync(
        HttpContext context,
        ClaimsPrincipal user,
        Ingest.Ingest ingest,
        PowChallenges challenges,
        SharedState shared,
        IOptions<LimitsOptions> limits,
        IOptions<AnonymousUploadOptions> anonymous,
        IOptions<ModerationOptions> moderation,
        SiteUrls site,
        TimeProvider time,
        [FromHeader(Name = AnonymousUploads.ChallengeIdHeader)] string? challengeId,
        [FromHeader(Name = AnonymousUploads.ChallengeNonceHeader)] string? challengeNonce,
        CancellationToken cancellationToken)
    {
        if (!moderation.Value.UploadsEnabled)
        {
            return new ApiError(ErrorCodes.UploadsDisabled, "Uploads are switched off on this site for now; try again later.") { RetryAfterSeconds = 300 };
        }

        var ownerId = user.AccountId();
        AnonymousUploads.Admission? admission = null;
        if (ownerId is null)
        {
            (admission, var refused) = await AnonymousUploads.AdmitAsync(
                context, challengeId, challengeNonce, challenges, shared, anonymous.Value, limits.Value, time, cancellationToken);
            if (refused is not null)
            {
                return refused;
            }
        }
        else if (!user.HasScope(Scopes.ImageCreate))
        {
            return new ApiError(ErrorCodes.InsufficientScope, "Uploading needs the 'image:create' scope.") { Scope = Scopes.ImageCreate };
        }

        // Refuse what is certainly too big before reading any of it (multipart adds a little framing).
        var request = context.Request;
        var parser = new ItemFieldParser(limits.Value);
        if (request.ContentLength > limits.Value.MaxUploadBytes + (request.HasFormContentType ? 64 * 1024 : 0))
        {
            return new ApiError(ErrorCodes.RequestTooLarge, $"The upload is larger than the limit of {limits.Value.MaxUploadBytes:N0} bytes.");
        }

        var maxBytes = admission?.MaxBytes ?? limits.Value.MaxUploadBytes;
        var fields = FieldsFromHeaders(request.Headers, parser);
        using var upload = MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) && mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            ? await ReadMultipartAsync(request, mediaType, ingest, maxBytes, fields, parser, cancellationToken)
            : await ReadRawAsync(request, mediaType, ingest, maxBytes, cancellationToken);
        if (admission is null)
        {
            var owned = await ingest.CommitAsync(upload, fields, ownerId!, cancellationToken);
            return TypedResults.Created($"{site.PublicBase}/api/v1/items/{owned.Id}", owned.ToOwnerDto(site));
        }

        AnonymousUploads.CapExpiry(fields, admission);
        var (token, hash) = AnonymousUploads.NewDeleteToken();
        var item = await ingest.CommitAsync(upload, fields, ownerId: null, hash, cancellationToken);
        var dto = item.ToOwnerDto(site);
        dto.DeleteToken = token;
        dto.DeleteUrl = AnonymousUploads.DeleteUrl(site, item.Id, token);
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"{site.PublicBase}/api/v1/items/{item.Id}", dto);
    }

    private static ItemFields FieldsFromHeaders(IHeaderDictionary headers, ItemFieldParser parser)
    {
        var fields = new ItemFields();
        foreach (var name in ItemFieldParser.UploadFieldNames)
        {
            var header = "x-" + name.Replace('_', '-');
            if (headers.TryGetValue(header, out var values) && values.ToString() is { } value)
            {
                parser.Apply(fields, name, DecodeHeaderValue(value));
            }
        }

        return fields;
    }

    /// <summary>Header values are UTF-8; clients that cannot send raw UTF-8 percent-encode it.</summary>
    private static string DecodeHeaderValue(string value)
    {
        if (!value.Contains('%'))
        {
            return value;
        }

        try
        {
            return Uri.UnescapeDataString(value);
        }
        catch (UriFormatException)
        {
            return value;
        }
    }

    private static async Task<PreparedUpload> ReadRawAsync(
        HttpRequest request, MediaTypeHeaderValue? mediaType, Ingest.Ingest ingest, long maxBytes, CancellationToken cancellationToken)
    {
        var type = mediaType?.MediaType.Value;
        if (type is not null && !type.StartsWith("image/", StringComparison.OrdinalIgnoreCase)
            && !type.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorCodes.UnsupportedMediaType,
                $"Send the image as the body (Content-Type image/* or application/octet-stream) or as multipart/form-data, not {type}.");
        }

        return await ingest.PrepareAsync(request.Body, maxBytes, cancellationToken);
    }

    private static async Task<PreparedUpload> ReadMultipartAsync(
        HttpRequest request,
        MediaTypeHeaderValue mediaType,
        Ingest.Ingest ingest,
        long maxBytes,
        ItemFields fields,
        ItemFieldParser parser,
        CancellationToken cancellationToken)
    {
        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 200)
        {
            throw new ApiException(ErrorCodes.InvalidRequest, "The multipart boundary is missing or too long.");
        }

        var reader = new MultipartReader(boundary, request.Body) { HeadersLengthLimit = 16 * 1024 };
        PreparedUpload? upload = null;
        try
        {
            MultipartSection? section;
            while ((section = await ReadSectionAsync(reader, cancellationToken)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    throw new ApiException(ErrorCodes.InvalidRequest, "Every multipart part needs Content-Disposition: form-data with a name.");
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (name == "file")
                {
                    if (upload is not null)
                    {
                        throw new ApiException(ErrorCodes.InvalidRequest, "Send one file per upload.");
                    }

                    upload = await ingest.PrepareAsync(section.Body, maxBytes, cancellationToken);
                }
                else if (ItemFieldParser.UploadFieldNames.Contains(name))
                {
                    using var text = new StreamReader(section.Body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
                    var value = await ReadLimitedAsync(text, 64 * 1024, cancellationToken);
                    parser.Apply(fields, name, value);
                }
                else
                {
                    throw new ApiException(ErrorCodes.InvalidRequest,
                        $"Unknown form part '{ItemFieldParser.Shorten(name)}'. Known parts: file, {string.Join(", ", ItemFieldParser.UploadFieldNames)}.");
                }
            }

            return upload ?? throw new ApiException(ErrorCodes.InvalidRequest, "The form has no 'file' part.");
        }
        catch
        {
            upload?.Dispose();
            throw;
        }
    }

    private static async Task<MultipartSection?> ReadSectionAsync(MultipartReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadNextSectionAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException)
        {
            throw new ApiException(ErrorCodes.InvalidRequest, $"Malformed multipart body: {exception.Message}");
        }
    }

    private static async Task<string> ReadLimitedAsync(StreamReader reader, int limit, CancellationToken cancellationToken)
    {
        var buffer = new char[limit + 1];
        var total = 0;
        int read;
        while (total <= limit && (read = await reader.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return total > limit ? throw new ApiException(ErrorCodes.InvalidRequest, "A form field is too long.") : new string(buffer, 0, total);
    }

    private static async Task<Results<Ok<OwnerItemDto>, Ok<ItemDto>, ApiError>> GetAsync(
        string id,
        [FromQuery(Name = "s")] string? secret,
        ClaimsPrincipal user,
        ImagebinDb db,
        SiteUrls site,
        DownloadCounter downloads,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (user.AccountId() is not null && !user.HasScope(Scopes.ImageRead))
        {
            return new ApiError(ErrorCodes.InsufficientScope, "Reading with a key needs the 'image:read' scope.") { Scope = Scopes.ImageRead };
        }

        var item = await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, cancellationToken);
        if (item is null)
        {
            return NotFound();
        }

        var isOwner = item.OwnerId is not null && item.OwnerId == user.AccountId();
        if (item.Private && !isOwner && !ShareSecrets.Matches(item.ShareSecret, secret))
        {
            return NotFound();
        }

        if (OwnerItems.IsExpired(item, time))
        {
            return OwnerItems.Expired();
        }

        if (isOwner)
        {
            // Its owner still sees a withdrawn item, with the scan's reason.
            return TypedResults.Ok(item.ToOwnerDto(site, downloads.Pending(id)));
        }

        if (ScanStates.IsWithdrawn(item.ScanState))
        {
            return new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        return TypedResults.Ok(item.ToPublicDto(site, downloads.Pending(id)));
    }

    private static async Task<Results<Ok<ItemListDto>, ApiError>> ListAsync(
        ClaimsPrincipal user,
        ImagebinDb db,
        SiteUrls site,
        DownloadCounter downloads,
        TimeProvider time,
        [FromQuery] string? classification,
        [FromQuery(Name = "private")] string? isPrivate,
        [FromQuery] string? q,
        [FromQuery] string? limit,
        [FromQuery] string? cursor,
        CancellationToken cancellationToken)
    {
        var (list, error) = await OwnerItems.ListAsync(
            db, site, downloads, time, user.AccountId()!, new ListFilter(classification, isPrivate, q, limit, cursor), cancellationToken);
        return list is null ? error! : TypedResults.Ok(list);
    }

    private static async Task<Results<Ok<OwnerItemDto>, ApiError>> PatchAsync(
        string id,
        HttpRequest request,
        ClaimsPrincipal user,
        ImagebinDb db,
        SiteUrls site,
        MediaCatalog catalog,
        DownloadCounter downloads,
        JobQueue jobs,
        IOptions<LimitsOptions> limits,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var (item, notOwned) = await OwnerItems.FindForEditAsync(db, time, id, user.AccountId()!, cancellationToken);
        if (item is null)
        {
            return notOwned!;
        }

        var (body, error) = await RequestBodies.ReadJsonAsync(request, MaxPatchBody, cancellationToken, allowMergePatch: true);
        if (error is not null)
        {
            return error;
        }

        var fields = await ItemPatch.ReadAsync(new MemoryStream(body!), new ItemFieldParser(limits.Value), cancellationToken);
        await OwnerItems.EditAsync(db, catalog, jobs, item, fields, cancellationToken);
        return TypedResults.Ok(item.ToOwnerDto(site, downloads.Pending(id)));
    }

    private static async Task<Results<NoContent, ApiError>> DeleteAsync(
        string id,
        [FromHeader(Name = AnonymousUploads.DeleteTokenHeader)] string? deleteToken,
        ClaimsPrincipal user,
        ImagebinDb db,
        BlobReferences blobs,
        MediaCatalog catalog,
        CancellationToken cancellationToken)
    {
        ApiError? error;
        if (deleteToken is not null)
        {
            error = await OwnerItems.DeleteWithTokenAsync(db, blobs, catalog, id, deleteToken, cancellationToken);
        }
        else if (user.AccountId() is not { } ownerId)
        {
            return new ApiError(ErrorCodes.AuthRequired,
                $"Send an API key or an access token: Authorization: Bearer …, or an anonymous upload's delete token as '{AnonymousUploads.DeleteTokenHeader}'.");
        }
        else if (!user.HasScope(Scopes.ImageDelete))
        {
            return new ApiError(ErrorCodes.InsufficientScope, "Deleting needs the 'image:delete' scope.") { Scope = Scopes.ImageDelete };
        }
        else
        {
            error = await OwnerItems.DeleteAsync(db, blobs, catalog, id, ownerId, cancellationToken);
        }

        return error is null ? TypedResults.NoContent() : error;
    }

    private static ApiError NotFound() => OwnerItems.NotFound();
}
