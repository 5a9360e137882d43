using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Imagebin.Features.Discovery;

/// <summary>
/// <c>/.well-known/agent.json</c>: the site described for agents in the A2A AgentCard shape, with the ways to authenticate
/// (API key as HTTP bearer, OAuth 2 authorization code at the configured issuer) and links to the OpenAPI document, the MCP
/// endpoint and the protected-resource metadata. Every URL is absolute from configuration, never from the request.
/// </summary>
public static class AgentCard
{
    public const string Path = "/.well-known/agent.json";
    public const string OpenApiPath = "/api/v1/openapi.json";
    public const string ApiKeyScheme = "apiKey";
    public const string OAuthScheme = "oauth2";

    public static IEndpointRouteBuilder MapAgentCard(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, Serve).WithTags("Discovery");
        return app;
    }

    private static FileContentHttpResult Serve(HttpContext context, SiteUrls site, AuthorityUrls authority) =>
        PublicDocument.Serve(context, JsonSerializer.SerializeToUtf8Bytes(Document(site, authority), ImagebinJson.Default.JsonObject), "application/json");

    /// <summary>The product's version without the source revision MSBuild appends after a <c>+</c>.</summary>
    public static string Version { get; } =
        (typeof(AgentCard).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "1.0.0").Split('+')[0];

    public static JsonObject Document(SiteUrls site, AuthorityUrls authority)
    {
        var b = site.PublicBase;
        var scopes = new JsonObject
        {
            [Scopes.ImageCreate] = "Upload images and edit your images",
            [Scopes.ImageRead] = "Read your images, including private ones, and list them",
            [Scopes.ImageDelete] = "Delete your images",
        };
        return new JsonObject
        {
            ["name"] = "Imagebin",
            ["description"] = "An image host: upload an image and get a short permanent link (view page, direct bytes, share snippets). "
                + "Images are stripped of GPS and other metadata, scanned before they are served publicly, and captioned unless opted out. "
                + "Use the REST API or the MCP server with an API key or an OAuth 2.1 access token.",
            ["url"] = b + "/",
            ["version"] = Version,
            ["provider"] = new JsonObject { ["organization"] = "Imagebin", ["url"] = b + "/" },
            ["documentationUrl"] = b + "/docs",
            ["capabilities"] = new JsonObject
            {
                ["streaming"] = false,
                ["pushNotifications"] = false,
                ["stateTransitionHistory"] = false,
            },
            ["securitySchemes"] = new JsonObject
            {
                [ApiKeyScheme] = new JsonObject
                {
                    ["type"] = "http",
                    ["scheme"] = "bearer",
                    ["bearerFormat"] = "pbca_live_…",
                    ["description"] = "An API key bound to this site, sent as 'Authorization: Bearer pbca_live_…'. See " + b + "/docs#authentication.",
                },
                [OAuthScheme] = new JsonObject
                {
                    ["type"] = "oauth2",
                    ["description"] = "OAuth 2.1 authorization code with PKCE (S256); tokens may be DPoP-bound. "
                        + "Pass resource=" + b + " for the REST API or resource=" + b + BearerChallenge.McpPath + " for MCP.",
                    ["oauth2MetadataUrl"] = RemoteTokenVerifier.MetadataUrl(authority.Issuer),
                    ["flows"] = new JsonObject
                    {
                        ["authorizationCode"] = new JsonObject
                        {
                            ["authorizationUrl"] = authority.Endpoint(AuthoritySetup.AuthorizePath),
                            ["tokenUrl"] = authority.Token,
                            ["refreshUrl"] = authority.Token,
                            ["scopes"] = scopes,
                        },
                    },
                },
            },
            ["security"] = new JsonArray(
                new JsonObject { [ApiKeyScheme] = new JsonArray() },
                new JsonObject { [OAuthScheme] = new JsonArray([.. Scopes.All.Select(s => JsonValue.Create(s))]) }),
            ["defaultInputModes"] = new JsonArray("application/json", "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"),
            ["defaultOutputModes"] = new JsonArray("application/json"),
            ["skills"] = new JsonArray(
                Skill("upload_image", "Upload an image",
                    "Upload a JPEG, PNG, GIF, WebP or AVIF image (POST /api/v1/items, MCP tool upload_image) with an optional title, description, tags, category, "
                    + "privacy, download limit, expiry and AI caption opt-out; returns the item with its url, view_url and direct_url. Needs image:create.",
                    ["upload", "image", "share"], ["Upload this screenshot privately and give me the link"], ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "application/json"]),
                Skill("get_image", "Get an image",
                    "Read an image's metadata (GET /api/v1/items/{id}, MCP tool get_image): size, dimensions, caption, tags and links; owners also see the scan and caption state.",
                    ["image", "metadata"], ["What is in image AbCdEf1234?"], ["application/json"]),
                Skill("list_my_images", "List my images",
                    "List your own images newest first (GET /api/v1/account/items, MCP tool list_my_images), filtered by classification, privacy or a search text, with a cursor. Needs image:read.",
                    ["image", "list", "search"], ["Show my private images tagged cat"], ["application/json"]),
                Skill("update_image", "Update an image",
                    "Edit your image's title, description, tags, category, privacy, download limit or AI caption opt-out (PATCH /api/v1/items/{id}, MCP tool update_image). Needs image:create.",
                    ["image", "edit"], ["Make image AbCdEf1234 private"], ["application/json"]),
                Skill("delete_image", "Delete an image",
                    "Delete your image (DELETE /api/v1/items/{id}, MCP tool delete_image); its links stop working at once. Needs image:delete.",
                    ["image", "delete"], ["Delete image AbCdEf1234"], ["application/json"])),
            ["links"] = new JsonArray(
                Link("service-desc", b + OpenApiPath, "application/openapi+json", "OpenAPI 3.1 description of the REST API"),
                Link("mcp", b + BearerChallenge.McpPath, "application/json", "MCP server (Streamable HTTP, POST only)"),
                Link("oauth-protected-resource", b + BearerChallenge.MetadataPath, "application/json", "OAuth protected-resource metadata (RFC 9728) of the REST API"),
                Link("oauth-protected-resource", b + BearerChallenge.MetadataPath + BearerChallenge.McpPath, "application/json", "OAuth protected-resource metadata of the MCP endpoint"),
                Link("service-doc", b + "/docs", "text/html", "Developer guide"),
                Link("describedby", b + "/llms.txt", "text/plain", "llms.txt")),
        };
    }

    private static JsonObject Skill(string id, string name, string description, string[] tags, string[] examples, string[] inputModes) => new()
    {
        ["id"] = id,
        ["name"] = name,
        ["description"] = description,
        ["tags"] = new JsonArray([.. tags.Select(t => JsonValue.Create(t))]),
        ["examples"] = new JsonArray([.. examples.Select(e => JsonValue.Create(e))]),
        ["inputModes"] = new JsonArray([.. inputModes.Select(m => JsonValue.Create(m))]),
        ["outputModes"] = new JsonArray("application/json"),
    };

    private static JsonObject Link(string rel, string href, string type, string title) => new()
    {
        ["rel"] = rel,
        ["href"] = href,
        ["type"] = type,
        ["title"] = title,
    };
}
