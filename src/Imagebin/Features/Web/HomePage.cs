using System.Globalization;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Authority;
using Imagebin.Features.Items;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Web;

/// <summary>
/// The home page <c>/</c> (issue 8): uploading by drop, picker or paste (its script, <c>home.js</c>, posts each file to
/// <c>POST /api/v1/items</c>, solving the upload challenge first for a visitor without an account), and below it the
/// gallery of recent public images, server-rendered and paged by cursor so that it works without JavaScript.
/// </summary>
public static class HomePage
{
    public const int GallerySize = 24;

    /// <summary>Cloudflare's widget script (explicitly allowed by the page's policy only when Turnstile is configured).</summary>
    public const string TurnstileOrigin = "https://challenges.cloudflare.com";

    public const string TurnstileScript = TurnstileOrigin + "/turnstile/v0/api.js";

    public static IEndpointRouteBuilder MapHomePage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", ShowAsync).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ShowAsync(
        HttpContext context,
        ImagebinDb db,
        SiteUrls site,
        IOptions<LimitsOptions> limits,
        IOptions<AnonymousUploadOptions> anonymous,
        TurnstileVerifier turnstile,
        TimeProvider time,
        [FromQuery] string? before)
    {
        var scripts = new[] { SiteAssets.PathOf("api.js"), SiteAssets.PathOf("pow.js"), SiteAssets.PathOf("home.js"), SiteAssets.PathOf("placeholder.js") };
        ListCursor.Position? after = null;
        if (before is not null)
        {
            // A cursor this server did not write is a broken link: say so rather than quietly showing the newest page.
            if (!ListCursor.TryDecode(before, out var position))
            {
                return Html.AppPage("Upload an image",
                    "<p role=\"alert\" class=\"error\">This gallery link is not valid: it may have been cut short.</p><p><a href=\"/\">See the newest images</a></p>",
                    $"{site.DirectBase}/", scripts, StatusCodes.Status400BadRequest);
            }

            after = position;
        }

        var account = await Sessions.CurrentAccountAsync(context);
        var (items, next) = await GalleryAsync(db, after, time.GetUtcNow().ToUnixTimeMilliseconds(), context.RequestAborted);
        // With Turnstile configured, a visitor without an account solves Cloudflare's widget instead of the proof of work.
        var widget = account is null && anonymous.Value.Enabled && turnstile.Enabled ? turnstile.SiteKey : null;
        var body = new StringBuilder()
            .Append(UploadSection(account, limits.Value, anonymous.Value, widget))
            .Append(Gallery(items, next, before is not null, site));
        return widget is null
            ? Html.AppPage("Upload an image", body.ToString(), $"{site.DirectBase}/", scripts, indexable: before is null, cacheControl: "public, max-age=30")
            : Html.AppPage("Upload an image", body.ToString(), $"{site.DirectBase}/", [TurnstileScript, .. scripts], indexable: before is null,
                cacheControl: "public, max-age=30", challengeOrigin: TurnstileOrigin);
    }

    /// <summary>
    /// One page of the gallery: public items whose scan passed, unexpired, newest first. Items with a download limit are
    /// left out: every visitor's browser would spend their downloads just by opening the home page.
    /// </summary>
    internal static async Task<(List<Item> Items, string? Next)> GalleryAsync(ImagebinDb db, ListCursor.Position? after, long now, CancellationToken cancellationToken)
    {
        var page = await GalleryQuery(db, after, now).ToListAsync(cancellationToken);
        var next = page.Count > GallerySize ? ListCursor.Encode(page[GallerySize - 1].CreatedAt, page[GallerySize - 1].Id) : null;
        return (page.Take(GallerySize).ToList(), next);
    }

    /// <summary>One more than a page, so that a next page is known to exist; served by the partial index <c>ix_items_gallery</c>.</summary>
    internal static IQueryable<Item> GalleryQuery(ImagebinDb db, ListCursor.Position? after, long now)
    {
        var query = db.Items.AsNoTracking()
            .Where(i => i.ScanState == ScanState.Passed && !i.Private && i.DlLimit == null && (i.ExpiresAt == null || i.ExpiresAt > now));
        if (after is { } cursor)
        {
            // The first bound is implied by the second; it lets the (created_at, id) index seek to the cursor.
            query = query.Where(i => i.CreatedAt <= cursor.CreatedAt
                && (i.CreatedAt < cursor.CreatedAt || (i.CreatedAt == cursor.CreatedAt && string.Compare(i.Id, cursor.Id) < 0)));
        }

        return query.OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id).Take(GallerySize + 1);
    }

    private static string E(string? value) => Html.Encode(value);

    private static string UploadSection(Account? account, LimitsOptions limits, AnonymousUploadOptions anonymous, string? turnstileSiteKey)
    {
        var html = new StringBuilder();
        if (account is null && !anonymous.Enabled)
        {
            return html.Append("<p id=\"upload-closed\">Uploading without an account is switched off on this site. ")
                .Append($"<a href=\"{SignInPages.SignInPath}?return_url=%2F\">Sign in</a> to upload images.</p>")
                .ToString();
        }

        var maxBytes = account is null ? Math.Min(anonymous.MaxBytes, limits.MaxUploadBytes) : limits.MaxUploadBytes;
        if (account is null)
        {
            html.Append("<div class=\"upload-terms\" id=\"anonymous-terms\"><p>You can upload without an account: ")
                .Append($"up to {E(Size(maxBytes))} per image and {anonymous.UploadsPerHour} images an hour, ")
                .Append($"and each image is deleted after {anonymous.ExpiryDays} days. ")
                .Append(turnstileSiteKey is null
                    ? "This needs JavaScript: your browser solves a small puzzle before each upload, to keep robots out.</p>"
                    : "This needs JavaScript and Cloudflare's browser check below (Cloudflare Turnstile), to keep robots out.</p>")
                .Append($"<p><a href=\"{SignInPages.SignInPath}?return_url=%2F\">Sign in</a> or <a href=\"/account/signup\">create an account</a> ")
                .Append($"to upload up to {E(Size(limits.MaxUploadBytes))} per image, keep images as long as you like and manage them later.</p></div>");
        }

        html.Append("<noscript><p class=\"error\">Uploading from this page needs JavaScript, which is off or blocked. ")
            .Append("The gallery below works without it; to upload without a browser, see the <a href=\"/docs\">developer guide</a>.</p></noscript>")
            .Append($"<form id=\"upload-form\" class=\"upload-form\" hidden data-max-bytes=\"{maxBytes.ToString(CultureInfo.InvariantCulture)}\" ")
            .Append($"data-max-size=\"{E(Size(maxBytes))}\" data-anonymous=\"{(account is null ? "true" : "false")}\"")
            .Append(turnstileSiteKey is null ? ">" : $" data-turnstile=\"true\"><div class=\"cf-turnstile\" data-sitekey=\"{E(turnstileSiteKey)}\"></div>")
            .Append("<div class=\"drop-zone\" id=\"drop-zone\">")
            .Append("<label for=\"upload-files\">Drop images here, paste them (Ctrl+V), or choose files</label>")
            .Append("<input type=\"file\" id=\"upload-files\" multiple accept=\"image/*\" aria-describedby=\"upload-limit\">")
            .Append($"<p id=\"upload-limit\" class=\"hint\">Up to {E(Size(maxBytes))} per image; JPEG, PNG, GIF, WebP and more. ")
            .Append("Each file is uploaded as soon as you add it.</p></div>")
            .Append("<details class=\"upload-details\"><summary>Title, tags and privacy (optional, applied to the next files)</summary>")
            .Append("<label for=\"upload-title\">Title</label>")
            .Append($"<input type=\"text\" id=\"upload-title\" name=\"title\" maxlength=\"{limits.MaxTitleLength}\">")
            .Append("<label for=\"upload-description\">Description</label>")
            .Append($"<textarea id=\"upload-description\" name=\"description\" rows=\"3\" maxlength=\"{limits.MaxDescriptionLength}\"></textarea>")
            .Append("<label for=\"upload-tags\">Tags</label>")
            .Append("<input type=\"text\" id=\"upload-tags\" name=\"tags\" aria-describedby=\"upload-tags-hint\">")
            .Append($"<p id=\"upload-tags-hint\" class=\"hint\">Separated by commas, at most {limits.MaxTags}.</p>")
            .Append("<label for=\"upload-category\">Category</label>")
            .Append($"<input type=\"text\" id=\"upload-category\" name=\"category\" maxlength=\"{ItemFieldParser.MaxCategoryLength}\">")
            .Append("<label class=\"check\"><input type=\"checkbox\" id=\"upload-private\" name=\"private\"> Private: only people with the link can see it, and it stays out of the gallery</label>");
        if (account is not null)
        {
            html.Append("<label class=\"check\"><input type=\"checkbox\" id=\"upload-ai-optout\" name=\"ai_optout\"")
                .Append(account.AiOptOut ? " checked" : "")
                .Append("> No AI caption or tags for these images</label>");
        }

        return html.Append("</details></form>")
            .Append("<ol id=\"upload-list\" class=\"upload-list\" aria-label=\"Uploads\"></ol>")
            .ToString();
    }

    private static readonly int[] GalleryWidths = [320, 480, 960];

    private static string Gallery(List<Item> items, string? next, bool older, SiteUrls site)
    {
        var html = new StringBuilder("<section class=\"gallery-section\" aria-labelledby=\"gallery-heading\"><h2 id=\"gallery-heading\">Recent images</h2>");
        if (items.Count == 0)
        {
            html.Append(older ? "<p>No older images.</p>" : "<p>No public images yet.</p>");
        }
        else
        {
            html.Append("<ul class=\"gallery\">");
            foreach (var item in items)
            {
                // Variants, which do not count downloads: a tile is about 10rem square, cropped to fill.
                var srcset = string.Join(", ", GalleryWidths.Select(w => $"{site.Variant(item.Id, item.Extension, w)} {w}w"));
                html.Append($"<li><a href=\"/v/{E(item.Id)}\"><img src=\"{E(site.Variant(item.Id, item.Extension, 480))}\" srcset=\"{E(srcset)}\" sizes=\"14rem\" alt=\"{E(AltText(item))}\"")
                    .Append(item.Width is { } width ? $" width=\"{width}\"" : "")
                    .Append(item.Height is { } height ? $" height=\"{height}\"" : "")
                    .Append(ImagePlaceholders.Attribute(item.Placeholder))
                    .Append(" loading=\"lazy\"></a></li>");
            }

            html.Append("</ul>");
        }

        if (next is not null || older)
        {
            html.Append("<nav class=\"gallery-pages\" aria-label=\"Gallery pages\">")
                .Append(older ? "<a href=\"/\">Newest</a>" : "")
                .Append(next is null ? "" : $"<a href=\"/?before={Uri.EscapeDataString(next)}\" rel=\"next\">Older</a>")
                .Append("</nav>");
        }

        return html.Append("</section>").ToString();
    }

    /// <summary>The AI caption when it is ready and allowed, else the title, else the id.</summary>
    private static string AltText(Item item) =>
        (item.AiCaptionState == AiCaptionState.Ready && !item.AiOptOut ? item.AiCaption : null) ?? item.Title ?? $"Image {item.Id}";

    private static string Size(long bytes) => bytes switch
    {
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MB"),
    };
}
