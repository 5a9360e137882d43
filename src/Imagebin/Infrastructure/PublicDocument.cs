using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace Imagebin.Infrastructure;

/// <summary>
/// How the site's public, configuration-derived documents (discovery metadata, the agent card, llms.txt, robots.txt)
/// are served: an ETag of their bytes, an hour of shared caching, and readable cross-origin.
/// </summary>
public static class PublicDocument
{
    public const string CacheControl = "public, max-age=3600";

    /// <summary>The bytes with an ETag; the file result answers a matching If-None-Match with 304.</summary>
    public static FileContentHttpResult Serve(HttpContext context, byte[] bytes, string contentType)
    {
        var etag = new EntityTagHeaderValue($"\"{Convert.ToBase64String(SHA256.HashData(bytes), 0, 16).TrimEnd('=')}\"");
        context.Response.Headers.CacheControl = CacheControl;
        // A public document: browser-based clients read it cross-origin.
        context.Response.Headers.AccessControlAllowOrigin = "*";
        return TypedResults.Bytes(bytes, contentType, entityTag: etag);
    }
}
