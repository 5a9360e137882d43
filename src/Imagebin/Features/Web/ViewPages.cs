using System.Security.Claims;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Features.Media;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Web;

/// <summary>The view page <c>/v/{id}</c> and the short link <c>/{id}</c> (HTML for people, a redirect for image clients).</summary>
public static class ViewPages
{
    public static IEndpointRouteBuilder MapViewPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v/{id}", ViewAsync).ExcludeFromDescription();
        app.MapGet("/{id:minlength(10):maxlength(16)}", ShortLinkAsync).WithTags("Media")
            .WithSummary("The short link (url): the view page, or a redirect to the bytes for image clients")
            .ProducesErrors(ErrorCodes.NotFound, ErrorCodes.Gone).AddOpenApiOperationTransformer(OpenApiOperations.ShortLink);
        return app;
    }

    private static async Task<Results<Html.PageResult, RedirectHttpResult, ApiError>> ShortLinkAsync(
        string id, HttpContext context, ImagebinDb db, SiteUrls site, ClaimsPrincipal user, TimeProvider time)
    {
        var accept = context.Request.Headers.Accept.ToString();
        var wantsImage = accept.Contains("image/", StringComparison.OrdinalIgnoreCase) && !accept.Contains("text/html", StringComparison.OrdinalIgnoreCase);
        if (!wantsImage)
        {
            return await ViewAsync(id, context, db, site, user, time);
        }

        var item = await db.Items.AsNoTracking().Where(i => i.Id == id)
            .Select(i => new { i.Extension, i.Private, i.ShareSecret, i.OwnerId, i.ScanState, i.ExpiresAt }).FirstOrDefaultAsync(context.RequestAborted);
        string? secret = context.Request.Query["s"];
        if (item is null || (item.Private && item.OwnerId != user.AccountId() && !ShareSecrets.Matches(item.ShareSecret, secret)))
        {
            return new ApiError(ErrorCodes.NotFound, "No such image.");
        }

        // Answered here rather than after a redirect: a client that follows no redirects learns it too.
        if (item.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds() || ScanStates.IsWithdrawn(item.ScanState))
        {
            return new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        return TypedResults.Redirect(site.Direct(id, item.Extension, item.Private ? secret : null));
    }

    private static async Task<Results<Html.PageResult, RedirectHttpResult, ApiError>> ViewAsync(
        string id, HttpContext context, ImagebinDb db, SiteUrls site, ClaimsPrincipal user, TimeProvider time)
    {
        var item = Ids.IsBase62(id) ? await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, context.RequestAborted) : null;
        string? secret = context.Request.Query["s"];
        // The owner comes with a key (an image client) or, in a browser, with the site's session; the session is read only
        // when the answer depends on it (a private, unchecked or withdrawn item).
        var mayDiffer = item is not null && (item.Private || item.ScanState != ScanState.Passed);
        var viewer = user.AccountId() ?? (mayDiffer ? (await Sessions.CurrentAccountAsync(context))?.Id : null);
        var isOwner = item?.OwnerId is not null && item.OwnerId == viewer;
        if (item is null || (item.Private && !isOwner && !ShareSecrets.Matches(item.ShareSecret, secret)))
        {
            return new ApiError(ErrorCodes.NotFound, "No such image.");
        }

        if (item.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            return new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        if (ScanStates.IsWithdrawn(item.ScanState))
        {
            // Its owner learns why; everyone else only that it is gone.
            return isOwner
                ? Html.WidePage("This image was removed", "", Removed(item), indexable: false, Html.ContentSecurityPolicy, "private, no-store", status: StatusCodes.Status410Gone)
                : new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        if (item.Private)
        {
            context.Response.Headers["X-Robots-Tag"] = "noindex, nofollow";
        }

        var title = item.Title ?? $"Image {item.Id}";
        var cache = item.Private || isOwner || item.ScanState != ScanState.Passed ? "private, no-store" : "public, max-age=60";
        return Html.WidePage(title, item.Private ? "" : OpenGraph(item, title, site), Body(item, site, isOwner),
            indexable: !item.Private && item.ScanState == ScanState.Passed, Html.ScriptContentSecurityPolicyWithImagesFrom($"{site.DirectBase}/"), cache,
            scripts: [SiteAssets.PathOf("api.js"), SiteAssets.PathOf("view.js"), SiteAssets.PathOf("placeholder.js")]);
    }

    /// <summary>What a withdrawn item's owner sees: which check removed it, and where to turn.</summary>
    private static string Removed(Item item) => $"""
        <p role="status">Image <code>{E(item.Id)}</code> is no longer served: {E(item.ScanState switch
        {
            ScanState.Blocked => "it matched a list of known prohibited images",
            ScanState.Rejected => "the automatic check found malware or a prohibited image",
            _ => "a moderator removed it",
        })}.{(item.ScanReason is { Length: > 0 } reason ? $" Reason given: {E(reason)}." : "")}</p>
        <p>Only you see this explanation; others get "gone". If you think this is a mistake, write to the address on the
        <a href="/abuse">abuse page</a> with the image's ID.</p>
        """;

    /// <summary>
    /// Why the image is not shown yet. Its owner learns the state; anyone else sees the same neutral sentence for every
    /// state, so a held image is not told apart from one still being checked.
    /// </summary>
    private static string NotYetShown(Item item, bool isOwner) => !isOwner
        ? "<p role=\"status\">This image is still being checked. It appears here once the check has passed.</p>"
        : item.ScanState switch
        {
            ScanState.Held => "<p role=\"status\" class=\"state-note\">Your image is <strong>held for review</strong>: the automatic check was not sure, so a moderator will look at it. Until then only you can open it (with your key); it becomes public if approved.</p>",
            ScanState.Failed => "<p role=\"status\" class=\"state-note\">The automatic check of your image <strong>failed</strong> (a fault on our side, not your image); a moderator will look at it. Until then it is not public.</p>",
            _ => "<p role=\"status\" class=\"state-note\">Your image is <strong>being checked</strong> (usually a few seconds). It becomes public once the check has passed; reload to see it.</p>",
        };

    /// <summary>
    /// OpenGraph and Twitter card tags and the oEmbed discovery link, for public items only: a private item's page is not for
    /// link previews.
    /// </summary>
    private static string OpenGraph(Item item, string title, SiteUrls site)
    {
        // A 1280-pixel variant: large enough for any card, much smaller than a camera original, and no download counted.
        const int PreviewWidth = 1280;
        var imageUrl = site.Variant(item.Id, item.Extension, PreviewWidth);
        var (previewWidth, previewHeight) = item.Width is { } w && item.Height is { } h && w > PreviewWidth
            ? (PreviewWidth, (int?)Math.Max(1, (int)Math.Round(h * (double)PreviewWidth / w)))
            : (item.Width, item.Height);
        var head = new StringBuilder()
            .Append($"<meta property=\"og:type\" content=\"website\">")
            .Append($"<meta property=\"og:title\" content=\"{E(title)}\">")
            .Append($"<meta property=\"og:url\" content=\"{E(site.View(item.Id, secret: null))}\">")
            .Append($"<meta property=\"og:image\" content=\"{E(imageUrl)}\">")
            .Append($"<meta property=\"og:image:type\" content=\"{E(item.ContentType)}\">")
            .Append(previewWidth is { } width ? $"<meta property=\"og:image:width\" content=\"{width}\">" : "")
            .Append(previewHeight is { } height ? $"<meta property=\"og:image:height\" content=\"{height}\">" : "")
            .Append(item.Description is null ? "" : $"<meta property=\"og:description\" content=\"{E(item.Description)}\">")
            .Append($"<meta property=\"og:image:alt\" content=\"{E(AltText(item))}\">")
            .Append("<meta name=\"twitter:card\" content=\"summary_large_image\">")
            .Append($"<meta name=\"twitter:image\" content=\"{E(imageUrl)}\">");
        if (OEmbed.IsEmbeddable(item.ScanState, item.DlLimit, item.Width, item.Height))
        {
            head.Append($"<link rel=\"alternate\" type=\"application/json+oembed\" href=\"{E(OEmbed.DiscoveryUrl(site, item.Id))}\" title=\"{E(title)}\">");
        }

        return head.ToString();
    }

    /// <summary>The AI caption when it is ready and allowed (as in the API's <c>ai_caption</c>), else the title, else a neutral text.</summary>
    private static string AltText(Item item) =>
        (item.AiCaptionState == AiCaptionState.Ready && !item.AiOptOut ? item.AiCaption : null) ?? item.Title ?? "Uploaded image";

    private static string E(string? value) => Html.Encode(value);

    private static string Body(Item item, SiteUrls site, bool isOwner)
    {
        var secret = item.Private ? item.ShareSecret : null;
        var directUrl = site.Direct(item.Id, item.Extension, secret);
        var alt = AltText(item);
        var html = new StringBuilder();
        if (item.ScanState != ScanState.Passed)
        {
            html.Append(NotYetShown(item, isOwner));
        }
        else
        {
            // Variants, so that looking at the page counts no download and spends no download limit; the original is
            // the link below. A variant is never wider than the original, so a small image costs nothing extra.
            var sources = ImageSources.Attributes(w => site.Variant(item.Id, item.Extension, w, secret), ViewWidths, DefaultViewWidth, item.Width, ViewSizes);
            html.Append($"<p class=\"view-image\"><img{sources} alt=\"{E(alt)}\"{Dimension("width", item.Width)}{Dimension("height", item.Height)}")
                .Append($"{ImagePlaceholders.Attribute(item.Placeholder)}></p>")
                .Append($"<p class=\"view-original\"><a href=\"{E(directUrl)}\">Original image</a>")
                .Append(item.DlLimit is null ? "" : " (opening it counts as a download)")
                .Append("</p>");
        }

        if (item.Description is not null)
        {
            html.Append($"<p>{E(item.Description)}</p>");
        }

        if (item.Tags.Length > 0)
        {
            html.Append("<ul class=\"tags\" aria-label=\"Tags\">");
            foreach (var tag in item.Tags.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                html.Append($"<li>{E(tag)}</li>");
            }

            html.Append("</ul>");
        }

        var uploaded = DateTimeOffset.FromUnixTimeMilliseconds(item.CreatedAt);
        html.Append("<dl class=\"item-facts\">")
            .Append($"<dt>Size</dt><dd>{E(Size(item.SizeBytes))}</dd>")
            .Append(item.Width is { } w && item.Height is { } h ? $"<dt>Dimensions</dt><dd>{w} × {h} pixels</dd>" : "")
            .Append($"<dt>Uploaded</dt><dd><time datetime=\"{uploaded.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\">{uploaded.UtcDateTime:d MMMM yyyy, HH:mm} UTC</time></dd>")
            .Append("</dl>");

        html.Append("<h2>Share</h2><div class=\"share\">");
        ShareField(html, "share-link", "Link", site.Short(item.Id, secret));
        ShareField(html, "share-direct", "Direct link", directUrl);
        ShareField(html, "share-markdown", "Markdown", $"![{alt}]({directUrl})");
        ShareField(html, "share-html", "HTML", $"<img src=\"{directUrl}\" alt=\"{E(alt)}\">");
        ShareField(html, "share-bbcode", "BBCode", $"[img]{directUrl}[/img]");
        html.Append("</div>")
            // A private image is found only with its secret, so its report link carries the whole share link.
            .Append($"<p><a href=\"{ReportPage.Path}?item={Uri.EscapeDataString(secret is null ? item.Id : site.Short(item.Id, secret))}\">Report this image</a></p>");
        return html.ToString();
    }

    /// <summary>The view page's picture: 1280 pixels, or 640 and 1920 as the screen asks (the page is at most 60rem wide).</summary>
    private static readonly int[] ViewWidths = [640, 1280, 1920];

    private const int DefaultViewWidth = 1280;

    /// <summary>The picture's slot: the page's width (60rem, 1rem padding each side) or the screen's.</summary>
    internal const string ViewSizes = "(max-width: 60rem) calc(100vw - 2rem), 58rem";

    private static string Dimension(string name, int? value) => value is { } pixels ? $" {name}=\"{pixels}\"" : "";

    /// <summary>A read-only field with a copy button (view.js shows the buttons; without script the text can be selected).</summary>
    private static void ShareField(StringBuilder html, string id, string label, string value) =>
        html.Append($"<label for=\"{id}\">{E(label)}</label><div class=\"copy-row\"><input type=\"text\" id=\"{id}\" readonly value=\"{E(value)}\">")
            .Append($"<button type=\"button\" class=\"copy-button\" data-copy=\"{id}\" hidden>Copy<span class=\"visually-hidden\"> {E(label)}</span></button></div>");

    private static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} bytes",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        _ => $"{bytes / (1024.0 * 1024):0.#} MiB",
    };
}
