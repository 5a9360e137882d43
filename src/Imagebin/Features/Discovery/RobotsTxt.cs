using System.Text;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Imagebin.Features.Discovery;

/// <summary>
/// <c>/robots.txt</c>: public pages may be crawled; the API, account, OAuth and MCP endpoints may not. View pages of private
/// items are not listed here (that would reveal them); they carry <c>noindex</c> themselves.
/// </summary>
public static class RobotsTxt
{
    public const string Path = "/robots.txt";

    public static IEndpointRouteBuilder MapRobotsTxt(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (HttpContext context, SiteUrls site) => Serve(context, Text(site.PublicBase))).WithTags("Discovery");
        return app;
    }

    private static FileContentHttpResult Serve(HttpContext context, string text) =>
        PublicDocument.Serve(context, Encoding.UTF8.GetBytes(text), "text/plain; charset=utf-8");

    public static string Text(string publicBase) => $"""
        User-agent: *
        Allow: /
        Disallow: /api/
        Disallow: /account/
        Disallow: /oauth/
        Disallow: /mcp

        # For language models: {publicBase}{LlmsTxt.Path}

        """;
}
