using System.Text;
using System.Text.Encodings.Web;

namespace Imagebin.Features.Authority;

/// <summary>
/// The authority's few pages (sign-in, sign-up, consent): plain server-rendered HTML, no script, every value encoded.
/// The web UI (DESIGN.md §12) gives them the site's look later.
/// </summary>
public static class Html
{
    public static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? "");

    public static IResult Page(string title, string body, int status = StatusCodes.Status200OK)
    {
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<meta name=\"robots\" content=\"noindex\">")
            .Append("<title>").Append(Encode(title)).Append(" · Imagebin</title>")
            .Append("<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color-scheme:light dark}")
            .Append("label{display:block;margin:.75rem 0 .25rem}input[type=text],input[type=password]{width:100%;padding:.5rem;font:inherit}")
            .Append("button{font:inherit;padding:.5rem 1rem;margin:.75rem .5rem 0 0}.error{color:#b00020}.scope{display:block}</style>")
            .Append("</head><body><main><h1>").Append(Encode(title)).Append("</h1>")
            .Append(body)
            .Append("</main></body></html>")
            .ToString();
        return new PageResult(html, status);
    }

    private sealed class PageResult(string html, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = "no-store";
            // Nothing on these pages may be framed (clickjacking a consent) or load anything from elsewhere.
            response.Headers.XFrameOptions = "DENY";
            response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";
            response.Headers["Referrer-Policy"] = "no-referrer";
            return response.WriteAsync(html, httpContext.RequestAborted);
        }
    }
}
