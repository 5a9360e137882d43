using System.Text;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Discovery;

/// <summary><c>/llms.txt</c>: a Markdown summary of the site for language models (llmstxt.org), every link absolute.</summary>
public static class LlmsTxt
{
    public const string Path = "/llms.txt";

    public static IEndpointRouteBuilder MapLlmsTxt(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (HttpContext context, SiteUrls site, IOptions<LimitsOptions> limits) =>
            Serve(context, Text(site.PublicBase, limits.Value))).WithTags("Discovery");
        return app;
    }

    private static FileContentHttpResult Serve(HttpContext context, string text) =>
        PublicDocument.Serve(context, Encoding.UTF8.GetBytes(text), "text/plain; charset=utf-8");

    public static string Text(string b, LimitsOptions limits) => $"""
        # Imagebin

        > An image host: upload an image, get a short permanent link to share. GPS and other metadata are removed on upload,
        > every image is scanned before it is served publicly, and it gets an AI caption and tags unless its owner opts out.
        > Scripts and agents use the REST API (paths under `/api/v1` of {b}) or the MCP server at {b}/mcp.

        ## Authentication

        - API key: `Authorization: Bearer pbca_live_…`. A key is bound to this site and carries scopes: `image:create` (upload, edit),
          `image:read` (read and list your images), `image:delete`. Agents can get an account and a key without a browser by proof of
          work: `GET /api/v1/auth/pow/challenge`, then `POST /api/v1/auth/pow/signup`.
        - OAuth 2.1: authorization code with PKCE (S256), dynamic client registration, DPoP-bound tokens optional. Discover it from
          the protected-resource metadata: {b}{BearerChallenge.MetadataPath} (REST) and {b}{BearerChallenge.MetadataPath}{BearerChallenge.McpPath} (MCP).
          Pass `resource={b}` for the REST API or `resource={b}/mcp` for MCP.
        - A 401 carries `WWW-Authenticate: Bearer resource_metadata="…"` pointing at the metadata.

        ## REST API

        - `POST /api/v1/items`: upload (raw body with `Content-Type: image/*`, or multipart part `file`); headers or fields
          `x-title`, `x-description`, `x-tags`, `x-category`, `x-private`, `x-dl-limit`, `x-ai-optout`, `x-expires-in`. Answers 201 with the item.
        - `GET /api/v1/items/{"{id}"}`: an item's metadata (`url`, `view_url`, `direct_url`, size, dimensions, `ai_caption`, `ai_tags`).
        - `GET /api/v1/account/items`: your items, newest first; `classification`, `private`, `q`, `limit` (≤ 200), `cursor`.
        - `PATCH /api/v1/items/{"{id}"}`: edit title, description, tags, category, private, dl_limit, ai_optout (JSON).
        - `DELETE /api/v1/items/{"{id}"}`: delete; 204, and the links stop working at once.
        - `GET /api/v1/account`, `PATCH /api/v1/account`: your account and its AI caption opt-out default.
        - `GET /api/v1/account/keys`, `POST /api/v1/account/keys`, `DELETE /api/v1/account/keys/{"{id}"}`: your API keys.
        - `POST /api/v1/reports`: report an image (`item`, `category`, `details`).

        Items are JSON in snake_case. Errors are `application/problem+json` with a stable `error` code; each code is explained at
        {b}/docs/errors. Limits: uploads up to {limits.MaxUploadBytes} bytes, {limits.MaxPixels} pixels per frame, {limits.MaxFrames} frames;
        JPEG, PNG, GIF, WebP and AVIF.

        ## MCP

        - Endpoint: {b}/mcp (Streamable HTTP, stateless, POST only), with the same API key or an OAuth token for `resource={b}/mcp`.
        - Tools: `upload_image`, `get_image`, `list_my_images`, `update_image`, `delete_image`.

        ## Docs

        - [Developer guide]({b}/docs): quick start, REST with curl, MCP client configuration, OAuth and DPoP, discovery, limits
        - [API reference]({b}/docs/api): the OpenAPI document rendered
        - [OpenAPI 3.1]({b}{AgentCard.OpenApiPath})
        - [Error codes]({b}/docs/errors)
        - [Agent card]({b}{AgentCard.Path})
        - [User guide]({b}/guide): public and private images, links, limits, expiry, caption opt-out, reporting

        ## Optional

        - [Privacy]({b}/privacy)
        - [Terms]({b}/terms)
        - [Abuse and reporting]({b}/abuse)

        """;
}
