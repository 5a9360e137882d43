using System.Text;
using System.Text.Encodings.Web;

namespace Imagebin.Features.Authority;

/// <summary>
/// The authority's few pages (sign-in, sign-up, consent) and the documentation and policy pages: plain server-rendered
/// HTML, no script, every value encoded.
/// The web UI (DESIGN.md §12) gives them the site's look later.
/// </summary>
public static class Html
{
    public static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? "");

    public static IResult Page(string title, string body, int status = StatusCodes.Status200OK) =>
        Render(title, body, status, publicPage: false);

    /// <summary>
    /// A page of the site's documentation or policies: indexable, with the navigation header, a wider column for code,
    /// and cacheable for a few minutes (its content changes only with configuration).
    /// </summary>
    public static IResult PublicPage(string title, string body, int status = StatusCodes.Status200OK) =>
        Render(title, body, status, publicPage: true);

    /// <summary>The header of public pages: where a reader goes next.</summary>
    public static readonly (string Href, string Label)[] Navigation =
    [
        ("/", "Imagebin"), ("/docs", "Developer guide"), ("/docs/api", "API reference"), ("/docs/errors", "Errors"),
        ("/guide", "User guide"), ("/privacy", "Privacy"), ("/terms", "Terms"), ("/abuse", "Abuse"),
    ];

    private static IResult Render(string title, string body, int status, bool publicPage)
    {
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append(publicPage ? "" : "<meta name=\"robots\" content=\"noindex\">")
            .Append("<title>").Append(Encode(title)).Append(" · Imagebin</title>")
            .Append("<style>body{font:16px/1.5 system-ui,sans-serif;max-width:").Append(publicPage ? "52rem" : "32rem")
            .Append(";margin:3rem auto;padding:0 1rem;color-scheme:light dark}")
            .Append("label{display:block;margin:.75rem 0 .25rem}input[type=text],input[type=password]{width:100%;padding:.5rem;font:inherit}")
            .Append("button{font:inherit;padding:.5rem 1rem;margin:.75rem .5rem 0 0}.error{color:#b00020}.scope{display:block}")
            .Append("nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin-bottom:2rem}pre{overflow-x:auto;padding:.75rem;border:1px solid #8884}")
            .Append("table{border-collapse:collapse}td,th{border:1px solid #8884;padding:.25rem .5rem;text-align:left;vertical-align:top}</style>")
            .Append("</head><body>");
        if (publicPage)
        {
            html.Append("<header><nav aria-label=\"Site\">");
            foreach (var (href, label) in Navigation)
            {
                html.Append("<a href=\"").Append(Encode(href)).Append("\">").Append(Encode(label)).Append("</a>");
            }

            html.Append("</nav></header>");
        }

        html.Append("<main><h1>").Append(Encode(title)).Append("</h1>")
            .Append(body)
            .Append("</main></body></html>");
        return new PageResult(html.ToString(), status, publicPage ? "public, max-age=300" : "no-store");
    }

    private sealed class PageResult(string html, int status, string cacheControl) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = cacheControl;
            // Nothing on these pages may be framed (clickjacking a consent) or load anything from elsewhere.
            response.Headers.XFrameOptions = "DENY";
            response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";
            response.Headers["Referrer-Policy"] = "no-referrer";
            return response.WriteAsync(html, httpContext.RequestAborted);
        }
    }
}
