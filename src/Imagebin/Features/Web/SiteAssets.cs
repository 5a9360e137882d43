using System.Security.Cryptography;

namespace Imagebin.Features.Web;

/// <summary>
/// The pages' stylesheet and scripts, embedded in the assembly and served under names that carry a hash of their content,
/// so that browsers may keep them for a year and still see a new version as soon as pages link to it.
/// </summary>
public static class SiteAssets
{
    private static readonly Asset Stylesheet = Read("site", "css", "text/css; charset=utf-8");
    private static readonly Asset DeleteScript = Read("delete", "js", "text/javascript; charset=utf-8");
    private static readonly Asset ReportScript = Read("report", "js", "text/javascript; charset=utf-8");

    /// <summary>The stylesheet's URL, for <c>&lt;link rel="stylesheet"&gt;</c>.</summary>
    public static readonly string StylesheetPath = Stylesheet.Path;

    /// <summary>The script of the delete page (<see cref="DeletePage"/>), for <c>&lt;script src&gt;</c>.</summary>
    public static readonly string DeleteScriptPath = DeleteScript.Path;

    /// <summary>The script of the report form (<see cref="ReportPage"/>): it solves the form's challenge.</summary>
    public static readonly string ReportScriptPath = ReportScript.Path;

    private static readonly Dictionary<string, Asset> ByPath = new(StringComparer.Ordinal)
    {
        [Stylesheet.Path] = Stylesheet,
        [DeleteScript.Path] = DeleteScript,
        [ReportScript.Path] = ReportScript,
    };

    public static IEndpointRouteBuilder MapSiteAssets(this IEndpointRouteBuilder app)
    {
        app.MapGet("/static/{file}", Serve).ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(string file, HttpContext context)
    {
        if (!ByPath.TryGetValue($"/static/{file}", out var asset))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.CacheControl = "public, max-age=31536000, immutable";
        headers.XContentTypeOptions = "nosniff";
        return Results.Bytes(asset.Content, asset.ContentType, entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{asset.Hash}\""));
    }

    private static Asset Read(string name, string extension, string contentType)
    {
        using var stream = typeof(SiteAssets).Assembly.GetManifestResourceStream($"Imagebin.Features.Web.Assets.{name}.{extension}")
            ?? throw new InvalidOperationException($"The embedded asset {name}.{extension} is missing.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var content = buffer.ToArray();
        var hash = Convert.ToHexStringLower(SHA256.HashData(content))[..16];
        return new Asset(content, contentType, hash, $"/static/{name}.{hash}.{extension}");
    }

    private sealed record Asset(byte[] Content, string ContentType, string Hash, string Path);
}
