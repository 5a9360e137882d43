using System.Security.Cryptography;

namespace Imagebin.Features.Web;

/// <summary>
/// The site's stylesheet, embedded in the assembly and served under a name that carries a hash of its content, so that
/// browsers may keep it for a year and still see a new version as soon as pages link to it.
/// </summary>
public static class SiteAssets
{
    private static readonly byte[] Stylesheet = ReadStylesheet();
    private static readonly string Hash = Convert.ToHexStringLower(SHA256.HashData(Stylesheet))[..16];

    /// <summary>The stylesheet's URL, for <c>&lt;link rel="stylesheet"&gt;</c>.</summary>
    public static readonly string StylesheetPath = $"/static/site.{Hash}.css";

    public static IEndpointRouteBuilder MapSiteAssets(this IEndpointRouteBuilder app)
    {
        app.MapGet("/static/{file}", Serve).ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(string file, HttpContext context)
    {
        if (!string.Equals($"/static/{file}", StylesheetPath, StringComparison.Ordinal))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.CacheControl = "public, max-age=31536000, immutable";
        headers.XContentTypeOptions = "nosniff";
        return Results.Bytes(Stylesheet, "text/css; charset=utf-8", entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{Hash}\""));
    }

    private static byte[] ReadStylesheet()
    {
        using var stream = typeof(SiteAssets).Assembly.GetManifestResourceStream("Imagebin.Features.Web.Assets.site.css")
            ?? throw new InvalidOperationException("The embedded stylesheet is missing.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
