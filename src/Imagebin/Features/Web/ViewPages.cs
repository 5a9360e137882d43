using System.Net;
using System.Security.Claims;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Accounts;
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
        app.MapGet("/", Home).ExcludeFromDescription();
        app.MapGet("/v/{id}", ViewAsync).ExcludeFromDescription();
        app.MapGet("/{id:minlength(10):maxlength(16)}", ShortLinkAsync).WithTags("Media")
            .WithSummary("The short link (url): the view page, or a redirect to the bytes for image clients")
            .ProducesErrors(ErrorCodes.NotFound).AddOpenApiOperationTransformer(OpenApiOperations.ShortLink);
        return app;
    }

    /// <summary>Until the web UI exists, the home page tells a visitor how to upload.</summary>
    private static ContentHttpResult Home(SiteUrls site) => TypedResults.Content(
        $$"""
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Imagebin</title>
        <style>{{Style}}</style></head>
        <body><main>
        <h1>Imagebin</h1>
        <p>An image host. Upload with an API key:</p>
        <pre>curl -X POST {{WebUtility.HtmlEncode(site.PublicBase)}}/api/v1/items -H "Authorization: Bearer pbca_live_…" \
          -H "Content-Type: image/jpeg" --data-binary @photo.jpg</pre>
        <p>The answer's <code>url</code> is the image's short link.</p>
        </main></body>
        </html>
        """,
        "text/html; charset=utf-8");

    private static async Task<Results<ContentHttpResult, RedirectHttpResult, ApiError>> ShortLinkAsync(
        string id, HttpContext context, ImagebinDb db, SiteUrls site, ClaimsPrincipal user, TimeProvider time)
    {
        var accept = context.Request.Headers.Accept.ToString();
        var wantsImage = accept.Contains("image/", StringComparison.OrdinalIgnoreCase) && !accept.Contains("text/html", StringComparison.OrdinalIgnoreCase);
        if (!wantsImage)
        {
            return await ViewAsync(id, context, db, site, user, time);
        }

        var item = await db.Items.AsNoTracking().Where(i => i.Id == id).Select(i => new { i.Extension, i.Private, i.ShareSecret, i.OwnerId }).FirstOrDefaultAsync(context.RequestAborted);
        string? secret = context.Request.Query["s"];
        if (item is null || (item.Private && item.OwnerId != user.AccountId() && !ShareSecrets.Matches(item.ShareSecret, secret)))
        {
            return new ApiError(ErrorCodes.NotFound, "No such image.");
        }

        return TypedResults.Redirect(site.Direct(id, item.Extension, item.Private ? secret : null));
    }

    private static async Task<Results<ContentHttpResult, RedirectHttpResult, ApiError>> ViewAsync(
        string id, HttpContext context, ImagebinDb db, SiteUrls site, ClaimsPrincipal user, TimeProvider time)
    {
        var item = Ids.IsBase62(id) ? await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, context.RequestAborted) : null;
        string? secret = context.Request.Query["s"];
        var isOwner = item?.OwnerId is not null && item.OwnerId == user.AccountId();
        if (item is null || (item.Private && !isOwner && !ShareSecrets.Matches(item.ShareSecret, secret)))
        {
            return new ApiError(ErrorCodes.NotFound, "No such image.");
        }

        if (item.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds() || ScanStates.IsWithdrawn(item.ScanState))
        {
            return new ApiError(ErrorCodes.Gone, "This image is no longer available.");
        }

        var headers = context.Response.Headers;
        headers.CacheControl = item.Private ? "private, no-store" : "public, max-age=60";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = $"default-src 'none'; img-src {site.DirectBase}/ 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        headers["Referrer-Policy"] = "no-referrer";
        if (item.Private)
        {
            headers["X-Robots-Tag"] = "noindex, nofollow";
        }

        return TypedResults.Content(Render(item, site), "text/html; charset=utf-8");
    }

    private const string Style =
        ":root { color-scheme: light dark; font-family: system-ui, sans-serif; } " +
        "body { max-width: 60rem; margin: 1rem auto; padding: 0 1rem; } " +
        "img { max-width: 100%; height: auto; } label { display: block; margin: .5rem 0; } " +
        "input { width: 100%; font-family: monospace; }";

    private static string Render(Item item, SiteUrls site)
    {
        static string E(string? value) => WebUtility.HtmlEncode(value ?? "");
        var secret = item.Private ? item.ShareSecret : null;
        var viewUrl = site.View(item.Id, secret);
        var directUrl = site.Direct(item.Id, item.Extension, secret);
        var title = item.Title ?? $"Image {item.Id}";
        var pending = item.ScanState != ScanState.Passed;
        var html = new StringBuilder();
        html.Append($"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{E(title)} · Imagebin</title>
            {(item.Private ? "<meta name=\"robots\" content=\"noindex, nofollow\">" : "")}
            <meta property="og:type" content="website">
            <meta property="og:title" content="{E(title)}">
            <meta property="og:url" content="{E(viewUrl)}">
            <meta property="og:image" content="{E(directUrl)}">
            <meta property="og:image:type" content="{E(item.ContentType)}">
            <meta property="og:image:width" content="{item.Width}">
            <meta property="og:image:height" content="{item.Height}">
            {(item.Description is null ? "" : $"<meta property=\"og:description\" content=\"{E(item.Description)}\">")}
            <meta name="twitter:card" content="summary_large_image">
            <meta name="twitter:image" content="{E(directUrl)}">
            <style>{Style}</style>
            </head>
            <body>
            <main>
            <h1>{E(title)}</h1>
            """);
        html.Append(pending
            ? "<p role=\"status\">This image is still being checked. It appears here once the check has passed.</p>"
            : $"<p><img src=\"{E(directUrl)}\" alt=\"{E(item.Title ?? item.Description ?? "Uploaded image")}\" width=\"{item.Width}\" height=\"{item.Height}\"></p>");
        if (item.Description is not null)
        {
            html.Append($"<p>{E(item.Description)}</p>");
        }

        if (item.Tags.Length > 0)
        {
            html.Append("<ul aria-label=\"Tags\">");
            foreach (var tag in item.Tags.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                html.Append($"<li>{E(tag)}</li>");
            }

            html.Append("</ul>");
        }

        var alt = E(item.Title ?? "image");
        html.Append($"""
            <h2>Share</h2>
            <label>Link <input readonly value="{E(site.Short(item.Id, secret))}"></label>
            <label>Direct <input readonly value="{E(directUrl)}"></label>
            <label>Markdown <input readonly value="{E($"![{item.Title ?? "image"}]({directUrl})")}"></label>
            <label>HTML <input readonly value="{E($"<img src=\"{directUrl}\" alt=\"{alt}\">")}"></label>
            <label>BBCode <input readonly value="{E($"[img]{directUrl}[/img]")}"></label>
            </main>
            </body>
            </html>
            """);
        return html.ToString();
    }
}
