using System.ComponentModel;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Items;
using Imagebin.Features.Items.Ingest;
using Imagebin.Features.Media;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Imagebin.Infrastructure.Outbound;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Imagebin.Features.Mcp;

/// <summary>
/// The MCP tools over the caller's images. Each one goes through the same code as its REST operation (Ingest, OwnerItems,
/// ItemPatch) and answers with the REST Item as structured content; failures are <c>isError</c> results carrying the REST
/// error code. Parameter names are the wire names (snake_case), since they make the input schema.
/// </summary>
[McpServerToolType]
public sealed class ImageTools(
    ImagebinDb db,
    SiteUrls site,
    DownloadCounter downloads,
    IOptions<LimitsOptions> limits,
    TimeProvider time,
    ILogger<ImageTools> logger)
{
    public const string Upload = "upload_image";
    public const string Get = "get_image";
    public const string List = "list_my_images";
    public const string Update = "update_image";
    public const string Delete = "delete_image";

    /// <summary>Bytes returned inline by <c>get_image</c>; larger images are fetched from their <c>direct_url</c>.</summary>
    public const long MaxInlineBytes = 5 * 1024 * 1024;

    [McpServerTool(Name = Upload, Title = "Upload an image", ReadOnly = false, Destructive = false, Idempotent = false, OpenWorld = true,
        UseStructuredContent = true, OutputSchemaType = typeof(OwnerItemDto))]
    [Description("Uploads a JPEG, PNG, GIF, WebP or AVIF image, given either as base64 'data' (with its 'mime_type') or as an https 'url' to import. " +
        "Metadata (EXIF, GPS) is stripped. Returns the new item with its view_url and direct_url; the bytes are served once the moderation scan has passed. Needs the image:create scope.")]
    public Task<CallToolResult> UploadImageAsync(
        RequestContext<CallToolRequestParams> request,
        Ingest ingest,
        GuardedHttp http,
        IOptions<ModerationOptions> moderation,
        [Description("The image bytes, base64-encoded (standard alphabet, padding optional). Give this or 'url'.")] string? data = null,
        [Description("The media type of 'data', e.g. image/png; the format is read from the bytes.")] string? mime_type = null,
        [Description("An https URL of an image to import (public hosts only, no redirects). Give this or 'data'.")] string? url = null,
        [Description("A title, at most one line.")] string? title = null,
        [Description("A description.")] string? description = null,
        [Description("Tags (no commas inside a tag).")] string[]? tags = null,
        [Description("A category, e.g. 'screenshots'.")] string? category = null,
        [Description("true to make the image private: its links then carry a secret, and without it the image does not exist.")] bool? @private = null,
        [Description("Stop serving the image after this many downloads.")] long? dl_limit = null,
        [Description("true to keep the image out of AI captioning; defaults to the account's setting.")] bool? ai_optout = null,
        [Description("Seconds until the image expires and is deleted (60 or more); by default it does not expire.")] long? expires_in = null,
        CancellationToken cancellationToken = default) => RunAsync(Upload, async () =>
    {
        if (!moderation.Value.UploadsEnabled)
        {
            return Failure(ErrorCodes.UploadsDisabled, "Uploads are switched off on this site for now; try again later.");
        }

        var parser = new ItemFieldParser(limits.Value);
        var fields = new ItemFields();
        if (title is not null)
        {
            fields.Title = parser.Text("title", title, limits.Value.MaxTitleLength, multiline: false);
        }

        if (description is not null)
        {
            fields.Description = parser.Text("description", description, limits.Value.MaxDescriptionLength, multiline: true);
        }

        if (tags is not null)
        {
            fields.Tags = parser.Tags(tags);
        }

        if (category is not null)
        {
            fields.Category = parser.Text("category", category, ItemFieldParser.MaxCategoryLength, multiline: false);
        }

        if (@private is { } isPrivate)
        {
            fields.Private = isPrivate;
        }

        if (dl_limit is { } downloadLimit)
        {
            fields.DlLimit = ItemFieldParser.Integer("dl_limit", downloadLimit, 1, ItemFieldParser.MaxDlLimit);
        }

        if (ai_optout is { } optOut)
        {
            fields.AiOptOut = optOut;
        }

        if (expires_in is { } expiresIn)
        {
            fields.ExpiresIn = ItemFieldParser.Integer("expires_in", expiresIn, ItemFieldParser.MinExpiresIn, ItemFieldParser.MaxExpiresIn);
        }

        var bytes = (data, url) switch
        {
            ({ }, null) => Decode(data, mime_type),
            (null, { }) => await ImportAsync(http, url, cancellationToken),
            _ => throw new ApiException(ErrorCodes.InvalidRequest, "Give either 'data' (base64, with 'mime_type') or 'url', not both and not neither."),
        };
        using var upload = await ingest.PrepareAsync(new MemoryStream(bytes, writable: false), cancellationToken);
        var item = await ingest.CommitAsync(upload, fields, request.User!.AccountId()!, cancellationToken);
        return ItemResult(item.ToOwnerDto(site), $"Uploaded {item.Id} ({item.ContentType}, {item.Width}×{item.Height}, {item.SizeBytes:N0} bytes). " +
            "Its links work once the moderation scan has passed (scan_state).");
    });

    [McpServerTool(Name = Get, Title = "Get one of my images", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false,
        UseStructuredContent = true, OutputSchemaType = typeof(OwnerItemDto))]
    [Description("Gets the metadata of one of your images by id (scan state, caption, links…); with include_bytes, also the image itself " +
        "(up to 5 MB, once its scan has passed). Needs the image:read scope.")]
    public Task<CallToolResult> GetImageAsync(
        RequestContext<CallToolRequestParams> request,
        IBlobStore store,
        [Description("The image's id.")] string id,
        [Description("true to return the stored image bytes as an image content block.")] bool include_bytes = false,
        CancellationToken cancellationToken = default) => RunAsync(Get, async () =>
    {
        var ownerId = request.User!.AccountId()!;
        var item = await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id && i.OwnerId == ownerId, cancellationToken);
        if (item is null)
        {
            return Failure(OwnerItems.NotFound());
        }

        if (OwnerItems.IsExpired(item, time))
        {
            return Failure(OwnerItems.Expired());
        }

        var dto = item.ToOwnerDto(site, downloads.Pending(id));
        var summary = $"{item.Id}: {item.Title ?? "untitled"} ({item.ContentType}, {item.Width}×{item.Height}), scan {item.ScanState}.";
        if (!include_bytes)
        {
            return ItemResult(dto, summary);
        }

        if (item.ScanState != ScanState.Passed)
        {
            return ItemResult(dto, summary + $" The bytes are returned once the scan has passed (now: {item.ScanState}).");
        }

        if (item.SizeBytes > MaxInlineBytes)
        {
            return ItemResult(dto, summary + $" The image is larger than {MaxInlineBytes / (1024 * 1024)} MB; fetch it from direct_url.");
        }

        await using var stream = await store.OpenReadAsync(BlobKeys.ForSha256(item.BlobSha256), 0, null, cancellationToken);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return ItemResult(dto, summary, ImageContentBlock.FromBytes(buffer.ToArray(), item.ContentType ?? "application/octet-stream"));
    });

    [McpServerTool(Name = List, Title = "List my images", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false,
        UseStructuredContent = true, OutputSchemaType = typeof(ItemListDto))]
    [Description("Lists your images, newest first, a page at a time (pass next_cursor back as 'cursor'). Filters as in GET /api/v1/account/items. " +
        "Needs the image:read scope.")]
    public Task<CallToolResult> ListMyImagesAsync(
        RequestContext<CallToolRequestParams> request,
        [Description("Only images classified as this: unknown, safe, sensitive, explicit or prohibited.")] string? classification = null,
        [Description("true for only private images, false for only public ones.")] bool? @private = null,
        [Description("Text to find in the title, description, tags or caption.")] string? q = null,
        [Description("Page size, 1 to 200 (default 50).")] int? limit = null,
        [Description("The next_cursor of the previous page.")] string? cursor = null,
        CancellationToken cancellationToken = default) => RunAsync(List, async () =>
    {
        var filter = new ListFilter(classification, @private switch { true => "true", false => "false", null => null }, q,
            limit?.ToString(System.Globalization.CultureInfo.InvariantCulture), cursor);
        var (list, error) = await OwnerItems.ListAsync(db, site, downloads, time, request.User!.AccountId()!, filter, cancellationToken);
        if (list is null)
        {
            return Failure(error!);
        }

        var text = list.Items.Count == 0
            ? "No images match."
            : $"{list.Items.Count} image(s): {string.Join(", ", list.Items.Select(i => i.Id))}" + (list.NextCursor is null ? "." : "; more with the next_cursor.");
        return new CallToolResult
        {
            StructuredContent = JsonSerializer.SerializeToElement(list, ImagebinJson.Default.ItemListDto),
            Content = [new TextContentBlock { Text = text }, .. list.Items.Select(i => Link(i.ViewUrl, i.Id, i.Title ?? i.Id, "text/html"))],
        };
    });

    [McpServerTool(Name = Update, Title = "Edit one of my images", ReadOnly = false, Destructive = false, Idempotent = true, OpenWorld = false,
        UseStructuredContent = true, OutputSchemaType = typeof(OwnerItemDto))]
    [Description("Changes the title, description, tags, category, privacy, download limit or AI opt-out of one of your images, with the rules of " +
        "PATCH /api/v1/items/{id}: a field left out stays as it is, null clears it. Making an image private gives it new secret links. " +
        "Needs the image:create scope.")]
    public Task<CallToolResult> UpdateImageAsync(
        RequestContext<CallToolRequestParams> request,
        MediaCatalog catalog,
        JobQueue jobs,
        [Description("The image's id.")] string id,
        [Description("The new title; null clears it.")] string? title = null,
        [Description("The new description; null clears it.")] string? description = null,
        [Description("The new tags (replace the old ones); null or [] clears them.")] string[]? tags = null,
        [Description("The new category; null clears it.")] string? category = null,
        [Description("true for private (new secret links), false for public.")] bool? @private = null,
        [Description("The new download limit; null removes it.")] long? dl_limit = null,
        [Description("true to keep the image out of AI captioning, false to allow it.")] bool? ai_optout = null,
        CancellationToken cancellationToken = default) => RunAsync(Update, async () =>
    {
        var (item, notOwned) = await OwnerItems.FindForEditAsync(db, time, id, request.User!.AccountId()!, cancellationToken);
        if (item is null)
        {
            return Failure(notOwned!);
        }

        // The parameters above only describe the input schema: the arguments are read as a PATCH body, so that a field that
        // is absent (kept) differs from one that is null (cleared), exactly as in REST.
        var patch = (request.Params?.Arguments ?? new Dictionary<string, JsonElement>()).Where(argument => argument.Key != "id")
            .ToDictionary(argument => argument.Key, argument => argument.Value);
        var fields = await ItemPatch.ReadAsync(new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(patch, McpSetup.ToolJson)),
            new ItemFieldParser(limits.Value), cancellationToken);
        await OwnerItems.EditAsync(db, catalog, jobs, item, fields, cancellationToken);
        return ItemResult(item.ToOwnerDto(site, downloads.Pending(id)), $"Updated {item.Id}.");
    });

    [McpServerTool(Name = Delete, Title = "Delete one of my images", ReadOnly = false, Destructive = true, Idempotent = true, OpenWorld = false,
        UseStructuredContent = true, OutputSchemaType = typeof(DeletedDto))]
    [Description("Deletes one of your images for good; its links stop working at once. Needs the image:delete scope.")]
    public Task<CallToolResult> DeleteImageAsync(
        RequestContext<CallToolRequestParams> request,
        BlobReferences blobs,
        MediaCatalog catalog,
        [Description("The image's id.")] string id,
        CancellationToken cancellationToken = default) => RunAsync(Delete, async () =>
    {
        if (await OwnerItems.DeleteAsync(db, blobs, catalog, id, request.User!.AccountId()!, cancellationToken) is { } error)
        {
            return Failure(error);
        }

        return new CallToolResult
        {
            StructuredContent = JsonSerializer.SerializeToElement(new DeletedDto(id, true), McpSetup.ToolJson),
            Content = [new TextContentBlock { Text = $"Deleted {id}." }],
        };
    });

    public sealed record DeletedDto(string Id, bool Deleted);

    private byte[] Decode(string data, string? mimeType)
    {
        if (mimeType is not null && !mimeType.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorCodes.UnsupportedMediaType, $"'mime_type' must be an image type (image/png, image/jpeg…), not '{ItemFieldParser.Shorten(mimeType)}'.");
        }

        var max = limits.Value.MaxUploadBytes;
        if ((long)data.Length / 4 * 3 > max + 2)
        {
            throw new ApiException(ErrorCodes.RequestTooLarge, $"The image is larger than the limit of {max:N0} bytes.");
        }

        var bytes = new byte[data.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64String(data, bytes, out var length))
        {
            throw new ApiException(ErrorCodes.InvalidRequest, "'data' is not valid base64.");
        }

        return length > max
            ? throw new ApiException(ErrorCodes.RequestTooLarge, $"The image is larger than the limit of {max:N0} bytes.")
            : bytes[..length];
    }

    private async Task<byte[]> ImportAsync(GuardedHttp http, string url, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new ApiException(ErrorCodes.InvalidRequest, "'url' is not an absolute URL.");
        }

        var max = (int)Math.Min(limits.Value.MaxUploadBytes, int.MaxValue);
        OutboundResponse response;
        try
        {
            response = await http.GetAsync(uri, "image/*", max, cancellationToken);
        }
        catch (OutboundException exception)
        {
            throw new ApiException(exception.IsTooLarge ? ErrorCodes.RequestTooLarge : ErrorCodes.InvalidRequest,
                $"Could not import the URL: {exception.Message}.");
        }

        return response.StatusCode == System.Net.HttpStatusCode.OK
            ? response.Body
            : throw new ApiException(ErrorCodes.InvalidRequest, $"Could not import the URL: it answered {(int)response.StatusCode}.");
    }

    private async Task<CallToolResult> RunAsync(string tool, Func<Task<CallToolResult>> run)
    {
        try
        {
            return await run();
        }
        catch (ApiException exception)
        {
            return Failure(exception.Code, exception.Detail);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "MCP tool {Tool} failed", tool);
            return Failure(ErrorCodes.InternalError, "Something went wrong on our side.");
        }
    }

    private CallToolResult ItemResult(OwnerItemDto item, string text, params ContentBlock[] extra) => new()
    {
        StructuredContent = JsonSerializer.SerializeToElement(item, ImagebinJson.Default.OwnerItemDto),
        Content =
        [
            new TextContentBlock { Text = text },
            .. extra,
            Link(item.ViewUrl, item.Id, "View page", "text/html"),
            Link(item.DirectUrl, item.Id + "." + item.DirectUrl.Split('?')[0].Split('.')[^1], "Image bytes", item.ContentType),
            Link(PreviewUrl(item.DirectUrl), item.Id + "-preview.webp", "Preview (640 px WebP; not counted as a download)", "image/webp"),
        ],
    };

    /// <summary>A variant small enough for a model's context: 640 pixels wide (or less), WebP.</summary>
    public static string PreviewUrl(string directUrl) => directUrl + (directUrl.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "w=640&format=webp";

    private static ResourceLinkBlock Link(string uri, string name, string title, string? mimeType) =>
        new() { Uri = uri, Name = name, Title = title, MimeType = mimeType };

    private CallToolResult Failure(ApiError error) => Failure(error.Code, error.Detail);

    private CallToolResult Failure(string code, string? detail)
    {
        var body = new ProblemBody($"{site.PublicBase}/docs/errors/{code}", ErrorCodes.Title(code), ErrorCodes.Status(code), code, detail);
        return new CallToolResult
        {
            IsError = true,
            StructuredContent = JsonSerializer.SerializeToElement(body, ImagebinJson.Default.ProblemBody),
            Content = [new TextContentBlock { Text = $"{code}: {detail ?? ErrorCodes.Title(code)}" }],
        };
    }
}
