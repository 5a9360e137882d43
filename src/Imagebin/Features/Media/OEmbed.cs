using System.Globalization;
using Imagebin.Data;
using Imagebin.Features.Discovery;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.EntityFrameworkCore;
using Microsoft.OpenApi;

namespace Imagebin.Features.Media;

/// <summary>The oEmbed 1.0 answer (a <c>photo</c>): what a site needs to embed the image behind one of our links.</summary>
public sealed record OEmbedDto(
    string Version,
    string Type,
    string Title,
    string Url,
    int Width,
    int Height,
    string ProviderName,
    string ProviderUrl,
    long CacheAge);

/// <summary>
/// <c>GET /oembed?url=…&amp;format=json</c> (oembed.com, DESIGN.md §6) for public images only, found by their view page's
/// <c>&lt;link rel="alternate" type="application/json+oembed"&gt;</c>. An image is embeddable when anyone may fetch it
/// without spending anything: public, passed, unexpired and without a download limit (every page view of the embedding
/// site would spend a download, as the gallery's rule says). A private image is never embeddable, even with its secret.
/// </summary>
public static class OEmbed
{
    public const string Path = "/oembed";
    public const string ProviderName = "Imagebin";

    /// <summary>How long a consumer may keep an answer (the spec's <c>cache_age</c>), at most until the image expires.</summary>
    public const long CacheAgeSeconds = 3600;

    /// <summary>How long browsers and CDNs may keep an answer: short, since a title edit or a deletion changes it.</summary>
    public const int MaxAgeSeconds = 300;

    public static IEndpointRouteBuilder MapOEmbed(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, AnswerAsync).WithTags("Media")
            .WithSummary("oEmbed (JSON) for a public image's link")
            .WithDescription("oEmbed 1.0 (https://oembed.com): a `photo` whose `url` is the image's direct URL, for the view page, "
                + "short link or direct URL of a public image whose check has passed and that has no download limit. Private, "
                + "unchecked, held and unknown images, and URLs of other sites, are `not_found`; removed and expired ones `gone`.")
            .ProducesErrors(ErrorCodes.InvalidRequest, ErrorCodes.NotFound, ErrorCodes.Gone, ErrorCodes.NotImplemented)
            .AddOpenApiOperationTransformer(Describe);
        return app;
    }

    /// <summary>The view page's discovery link: the oEmbed URL of the item's public view URL.</summary>
    public static string DiscoveryUrl(SiteUrls site, string id) =>
        $"{site.PublicBase}{Path}?url={Uri.EscapeDataString(site.View(id, secret: null))}&format=json";

    /// <summary>Whether <see cref="AnswerAsync"/> answers for an item that is public and unexpired.</summary>
    public static bool IsEmbeddable(string scanState, long? dlLimit, int? width, int? height) =>
        scanState == ScanState.Passed && dlLimit is null && width is not null && height is not null;

    private static async Task<Results<Ok<OEmbedDto>, ApiError>> AnswerAsync(
        HttpContext context, ImagebinDb db, SiteUrls site, TimeProvider time, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        string? format = query["format"];
        if (format is not null && !format.Equals("json", StringComparison.OrdinalIgnoreCase))
        {
            return new ApiError(ErrorCodes.NotImplemented, "Only format=json is offered.");
        }

        string? url = query["url"];
        if (string.IsNullOrWhiteSpace(url))
        {
            return new ApiError(ErrorCodes.InvalidRequest, "Give the image's link as 'url'.");
        }

        if (!TryReadBound(query["maxwidth"], "maxwidth", out var maxWidth, out var invalid)
            || !TryReadBound(query["maxheight"], "maxheight", out var maxHeight, out invalid))
        {
            return invalid!;
        }

        if (ItemIdOf(url, site) is not { } id)
        {
            return NotFound();
        }

        var item = await db.Items.AsNoTracking().Where(i => i.Id == id)
            .Select(i => new { i.Id, i.Title, i.Extension, i.Width, i.Height, i.Private, i.ScanState, i.ExpiresAt, i.DlLimit })
            .FirstOrDefaultAsync(cancellationToken);
        if (item is null || item.Private)
        {
            return NotFound();
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (item.ExpiresAt <= now || ScanStates.IsWithdrawn(item.ScanState))
        {
            return new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        if (!IsEmbeddable(item.ScanState, item.DlLimit, item.Width, item.Height))
        {
            return NotFound();
        }

        var (width, height) = Fit(item.Width!.Value, item.Height!.Value, maxWidth, maxHeight);
        var secondsLeft = item.ExpiresAt is { } expiresAt ? Math.Max(1, (expiresAt - now) / 1000) : long.MaxValue;
        context.Response.Headers.CacheControl = $"public, max-age={Math.Min(MaxAgeSeconds, secondsLeft)}";
        return TypedResults.Ok(new OEmbedDto(
            "1.0",
            "photo",
            item.Title ?? $"Image {item.Id}",
            site.Direct(item.Id, item.Extension, secret: null),
            width,
            height,
            ProviderName,
            site.PublicBase,
            Math.Min(CacheAgeSeconds, secondsLeft)));
    }

    /// <summary>
    /// The id in one of this site's links to an item: <c>{PublicBase}/v/{id}</c>, <c>{PublicBase}/{id}</c> or
    /// <c>{DirectBase}/{id}.{ext}</c> (a query, such as a share secret, is ignored); null for anything else.
    /// </summary>
    public static string? ItemIdOf(string url, SiteUrls site)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return null;
        }

        var target = SiteUrls.Normalize(uri.GetLeftPart(UriPartial.Path));
        var id = LastSegmentUnder(target, site.DirectBase) is { } file
            ? file.Split('.')[0]
            : LastSegmentUnder(target, site.PublicBase + "/v") ?? LastSegmentUnder(target, site.PublicBase);
        return id is { Length: >= 10 and <= 16 } && Ids.IsBase62(id) ? id : null;
    }

    private static string? LastSegmentUnder(string target, string prefix) =>
        target.Length > prefix.Length + 1 && target.StartsWith(prefix + "/", StringComparison.Ordinal) && target.IndexOf('/', prefix.Length + 1) < 0
            ? target[(prefix.Length + 1)..]
            : null;

    /// <summary>The image's size scaled down (never up) to fit the bounds, keeping its aspect ratio; at least one pixel each way.</summary>
    public static (int Width, int Height) Fit(int width, int height, int? maxWidth, int? maxHeight)
    {
        long w = width, h = height;
        if (maxWidth is { } mw && w > mw)
        {
            h = Math.Max(1, (long)Math.Round((double)h * mw / w));
            w = mw;
        }

        if (maxHeight is { } mh && h > mh)
        {
            w = Math.Max(1, (long)Math.Round((double)w * mh / h));
            h = mh;
        }

        return ((int)w, (int)h);
    }

    private static bool TryReadBound(string? value, string name, out int? bound, out ApiError? invalid)
    {
        bound = null;
        invalid = null;
        if (value is null)
        {
            return true;
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pixels) && pixels >= 1)
        {
            bound = pixels;
            return true;
        }

        invalid = new ApiError(ErrorCodes.InvalidRequest, $"'{name}' must be a whole number of pixels, at least 1.");
        return false;
    }

    private static ApiError NotFound() => new(ErrorCodes.NotFound, "No public image at that URL on this site.");

    private static Task Describe(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(Query("url", "The view page, short link or direct URL of a public image on this site.", required: true,
            new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri" }));
        operation.Parameters.Add(Query("format", "`json` (the default); any other format is `not_implemented` (501), as the spec says.", required: false,
            new OpenApiSchema { Type = JsonSchemaType.String, Enum = [System.Text.Json.Nodes.JsonValue.Create("json")] }));
        foreach (var (name, side) in new[] { ("maxwidth", "width"), ("maxheight", "height") })
        {
            operation.Parameters.Add(Query(name, $"The largest {side} the consumer can show: `width` and `height` are scaled down to fit, keeping the aspect ratio.",
                required: false, new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" }));
        }

        if (operation.Responses?.TryGetValue("200", out var ok) == true && ok is OpenApiResponse response)
        {
            response.Description = "An oEmbed `photo`; `Cache-Control: public, max-age=300`.";
        }

        return Task.CompletedTask;
    }

    private static OpenApiParameter Query(string name, string description, bool required, OpenApiSchema schema) =>
        new() { Name = name, In = ParameterLocation.Query, Description = description, Required = required, Schema = schema };
}
