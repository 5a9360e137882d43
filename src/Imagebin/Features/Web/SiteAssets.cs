using System.Security.Cryptography;

namespace Imagebin.Features.Web;

/// <summary>
/// The pages' stylesheet and scripts (every <c>.css</c> and <c>.js</c> file of <c>Features/Web/Assets</c>), embedded in the
/// assembly and served under names that carry a hash of their content, so that browsers may keep them for a year and still
/// see a new version as soon as pages link to it.
/// </summary>
public static class SiteAssets
{
    private const string ResourcePrefix = "Imagebin.Features.Web.Assets.";

    private static readonly Dictionary<string, Asset> ByName = ReadAll();

    private static readonly Dictionary<string, Asset> ByPath = ByName.Values.ToDictionary(a => a.Path, StringComparer.Ordinal);

    /// <summary>The stylesheet's URL, for <c>&lt;link rel="stylesheet"&gt;</c>.</summary>
    public static readonly string StylesheetPath = PathOf("site.css");

    /// <summary>The script of the delete page (<see cref="DeletePage"/>), for <c>&lt;script src&gt;</c>.</summary>
    public static readonly string DeleteScriptPath = PathOf("delete.js");

    /// <summary>The content-hashed URL of an asset by its file name (<c>upload.js</c>); a missing file is a bug, so it throws.</summary>
    public static string PathOf(string fileName) =>
        ByName.TryGetValue(fileName, out var asset) ? asset.Path : throw new InvalidOperationException($"The embedded asset {fileName} is missing.");

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

    private static Dictionary<string, Asset> ReadAll()
    {
        var assembly = typeof(SiteAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var fileName = resource[ResourcePrefix.Length..];
            var extension = Path.GetExtension(fileName);
            var contentType = extension == ".css" ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var hash = Convert.ToHexStringLower(SHA256.HashData(content))[..16];
            assets[fileName] = new Asset(content, contentType, hash, $"/static/{Path.GetFileNameWithoutExtension(fileName)}.{hash}{extension}");
        }

        return assets;
    }

    private sealed record Asset(byte[] Content, string ContentType, string Hash, string Path);
}
