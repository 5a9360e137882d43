using System.Text.Json;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Accounts;

/// <summary>OAuth 2.0 Protected Resource Metadata (RFC 9728).</summary>
public sealed record ProtectedResourceMetadataDto(
    string Resource,
    string[] AuthorizationServers,
    string[] ScopesSupported,
    string[] BearerMethodsSupported,
    string[] DpopSigningAlgValuesSupported,
    string ResourceName,
    string ResourceDocumentation);

/// <summary>
/// <c>/.well-known/oauth-protected-resource</c> (the REST API, resource = the site's origin) and its <c>/mcp</c> variant
/// (resource = <c>{origin}/mcp</c>), which MCP clients find through the <c>resource_metadata</c> of a 401 challenge.
/// Every value comes from configuration, never from the request, so a spoofed Host cannot point a client elsewhere.
/// </summary>
public static class ProtectedResourceApi
{

    public static IEndpointRouteBuilder MapProtectedResourceMetadata(this IEndpointRouteBuilder app)
    {
        app.MapGet(BearerChallenge.MetadataPath, (HttpContext context, SiteUrls site, IOptions<AuthorityOptions> authority) =>
            Serve(context, Document(site.PublicBase, site, authority.Value))).WithTags("Discovery")
            .WithSummary("Protected resource metadata of the REST API (RFC 9728)").Produces<ProtectedResourceMetadataDto>();
        app.MapGet(BearerChallenge.MetadataPath + BearerChallenge.McpPath, (HttpContext context, SiteUrls site, IOptions<AuthorityOptions> authority) =>
            Serve(context, Document(site.PublicBase + BearerChallenge.McpPath, site, authority.Value))).WithTags("Discovery")
            .WithSummary("Protected resource metadata of the MCP endpoint (RFC 9728)").Produces<ProtectedResourceMetadataDto>();
        return app;
    }

    public static ProtectedResourceMetadataDto Document(string resource, SiteUrls site, AuthorityOptions authority) => new(
        Resource: resource,
        AuthorizationServers: [authority.ResolveIssuer(site)],
        ScopesSupported: Scopes.All,
        BearerMethodsSupported: ["header"],
        DpopSigningAlgValuesSupported: [.. Authority.Dpop.DpopAlgorithms.All],
        ResourceName: "Imagebin",
        ResourceDocumentation: site.PublicBase + "/docs");

    private static FileContentHttpResult Serve(HttpContext context, ProtectedResourceMetadataDto document) =>
        PublicDocument.Serve(context, JsonSerializer.SerializeToUtf8Bytes(document, ImagebinJson.Default.ProtectedResourceMetadataDto), "application/json");
}
