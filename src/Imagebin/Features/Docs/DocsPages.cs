using System.Globalization;
using System.Text;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Features.Discovery;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Docs;

/// <summary>The developer guide <c>/docs</c> and the error reference <c>/docs/errors</c>, <c>/docs/errors/{code}</c>.</summary>
public static class DocsPages
{
    public static IEndpointRouteBuilder MapDocsPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/docs", (SiteUrls site, AuthorityUrls authority, IOptions<LimitsOptions> limits) =>
                Html.PublicPage("Developer guide", DeveloperGuide(site.PublicBase, authority.Endpoint(AuthorizationServerMetadataPath), limits.Value)))
            .ExcludeFromDescription();
        app.MapGet("/docs/errors", () => Html.PublicPage("Error codes", ErrorIndex())).ExcludeFromDescription();
        app.MapGet("/docs/errors/{code}", ErrorPage).ExcludeFromDescription();
        app.MapGet("/guide", (SiteUrls site) => Html.PublicPage("User guide", UserGuide.Body(site))).ExcludeFromDescription();
        app.MapPolicyPages();
        return app;
    }

    private const string AuthorizationServerMetadataPath = "/.well-known/oauth-authorization-server";

    private static IResult ErrorPage(string code) =>
        ErrorCatalog.Entries.TryGetValue(code, out var entry)
            ? Html.PublicPage(code, ErrorBody(code, entry))
            : new ApiError(ErrorCodes.NotFound, "No such error code.");

    private static string ErrorBody(string code, ErrorCatalog.Entry entry)
    {
        var status = ErrorCodes.Status(code);
        var example = $$"""{"type":"…/docs/errors/{{code}}","title":"{{ErrorCodes.Title(code)}}","status":{{status}},"error":"{{code}}","detail":"…"}""";
        return $"""
            <p><strong>HTTP {status}</strong> · {Html.Encode(ErrorCodes.Title(code))}</p>
            <h2>What it means</h2><p>{Html.Encode(entry.Meaning)}</p>
            <h2>What to do</h2><p>{Html.Encode(entry.WhatToDo)}</p>
            <h2>What it looks like</h2>
            <pre>HTTP/1.1 {status}
            Content-Type: application/problem+json

            {Html.Encode(example)}</pre>
            <p><a href="/docs/errors">All error codes</a></p>
            """;
    }

    private static string ErrorIndex()
    {
        var rows = new StringBuilder();
        foreach (var (code, entry) in ErrorCatalog.Entries.OrderBy(e => ErrorCodes.Status(e.Key)).ThenBy(e => e.Key, StringComparer.Ordinal))
        {
            rows.Append("<tr><td><a href=\"/docs/errors/").Append(Html.Encode(code)).Append("\"><code>").Append(Html.Encode(code)).Append("</code></a></td><td>")
                .Append(ErrorCodes.Status(code).ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(Html.Encode(entry.Meaning)).Append("</td></tr>");
        }

        return $"""
            <p>Every error answer is <code>application/problem+json</code> (RFC 9457) with the stable, machine-readable member
            <code>error</code>; its <code>type</code> is the address of the code's page here. Branch on <code>error</code>, never on
            <code>title</code> or <code>detail</code>, which are for people. A <code>401</code> carries a <code>WWW-Authenticate</code>
            challenge naming the protected-resource metadata; <code>429</code> and <code>503</code> may carry <code>Retry-After</code>.</p>
            <table><thead><tr><th>error</th><th>status</th><th>meaning</th></tr></thead><tbody>{rows}</tbody></table>
            """;
    }

    private static string DeveloperGuide(string publicBase, string authorizationServerMetadata, LimitsOptions limits)
    {
        var b = Html.Encode(publicBase);
        var asMetadata = Html.Encode(authorizationServerMetadata);
        var mcp = b + BearerChallenge.McpPath;
        string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        return $$"""
            <p>Imagebin hosts images for people, scripts and agents. This guide covers the REST API, the MCP server, how to
            authenticate (API keys, OAuth 2.1 and DPoP), the discovery documents and the limits. The full, generated reference of
            every operation is the <a href="/docs/api">API reference</a> (<a href="{{b}}{{AgentCard.OpenApiPath}}">OpenAPI 3.1</a>);
            every error code is explained under <a href="/docs/errors">error codes</a>.</p>
            <ul>
            <li><a href="#quick-start">Quick start</a></li><li><a href="#authentication">Authentication</a></li>
            <li><a href="#rest">REST API</a></li><li><a href="#mcp">MCP</a></li><li><a href="#oauth">OAuth and DPoP</a></li>
            <li><a href="#discovery">Discovery documents</a></li><li><a href="#limits">Limits</a></li>
            </ul>

            <h2 id="quick-start">Quick start</h2>
            <p>Get an API key (from the site's operator, from your account, or by proof of work as below), then upload:</p>
            <pre>export B={{b}} KEY=pbca_live_…
            curl -sS -X POST $B/api/v1/items -H "Authorization: Bearer $KEY" -H 'Content-Type: image/png' --data-binary @shot.png</pre>
            <p>The answer is <code>201 Created</code> with the item: <code>url</code> is the short link to share,
            <code>view_url</code> the page with share snippets, <code>direct_url</code> the bytes.</p>

            <h2 id="authentication">Authentication</h2>
            <p>Send one credential in the <code>Authorization</code> header (never in the URL):</p>
            <ul>
            <li><strong>API key</strong>: <code>Authorization: Bearer pbca_live_…</code>. A key is bound to this site (its audience is
            <code>{{b}}</code>) and carries scopes: <code>image:create</code> (upload, edit), <code>image:read</code> (read your
            items, private ones included, and list them), <code>image:delete</code>.</li>
            <li><strong>OAuth 2.1 access token</strong>: <code>Authorization: Bearer &lt;jwt&gt;</code>, or
            <code>Authorization: DPoP &lt;jwt&gt;</code> with a <code>DPoP</code> proof header for a DPoP-bound token (see <a href="#oauth">below</a>).</li>
            </ul>
            <p>Agents can get an account and a key with no browser by proof of work: fetch a challenge, find a nonce such that
            <code>sha256(prefix + nonce)</code> starts with <code>difficulty_bits</code> zero bits, and trade it for a key:</p>
            <pre>curl -sS $B/api/v1/auth/pow/challenge
            # → {"challenge_id":"…","prefix":"…","difficulty_bits":20,"expires_at":…}
            curl -sS -X POST $B/api/v1/auth/pow/signup -H 'Content-Type: application/json' \
              -d '{"challenge_id":"…","nonce":"…","display_name":"my-agent"}'
            # → 201 {"account":{…},"api_key":"pbca_live_…","key_id":"…","scopes":[…],"audience":"{{b}}"}</pre>

            <h2 id="rest">REST API</h2>
            <p>JSON in snake_case; times are epoch milliseconds. Upload headers (<code>x-title</code>, <code>x-description</code>,
            <code>x-tags</code> comma-separated, <code>x-category</code>, <code>x-private</code>, <code>x-dl-limit</code>,
            <code>x-ai-optout</code>, <code>x-expires-in</code> seconds) are UTF-8, percent-encoded where needed; multipart uploads
            take the same names as form fields without <code>x-</code>.</p>
            <table><thead><tr><th>operation</th><th>scope</th><th>what</th></tr></thead><tbody>
            <tr><td><code>POST /api/v1/items</code></td><td>image:create</td><td>upload; 201 with <code>Location</code> and the owner's view of the item</td></tr>
            <tr><td><code>GET /api/v1/items/{id}</code></td><td>none for public items</td><td>an item's metadata; owners also get <code>scan_state</code>, <code>classification</code>, <code>ai_caption_state</code>, <code>ai_optout</code>, <code>dl_limit</code></td></tr>
            <tr><td><code>GET /api/v1/account/items</code></td><td>image:read</td><td>your items, newest first: <code>classification</code>, <code>private</code>, <code>q</code>, <code>limit</code> (default 50, at most 200), <code>cursor</code></td></tr>
            <tr><td><code>PATCH /api/v1/items/{id}</code></td><td>image:create</td><td>edit title, description, tags, category, private, dl_limit, ai_optout</td></tr>
            <tr><td><code>DELETE /api/v1/items/{id}</code></td><td>image:delete</td><td>delete: 204, and the links stop working at once</td></tr>
            <tr><td><code>GET</code>/<code>PATCH /api/v1/account</code></td><td>image:read / image:create</td><td>your account; its AI caption opt-out default</td></tr>
            <tr><td><code>GET</code>/<code>POST /api/v1/account/keys</code>, <code>DELETE /api/v1/account/keys/{id}</code></td><td>any / image:create</td><td>list, create (at most your key's scopes; shown once) and revoke API keys</td></tr>
            <tr><td><code>POST /api/v1/reports</code></td><td>any key</td><td>report an image to the moderators</td></tr>
            </tbody></table>
            <pre># Upload the raw bytes, with optional metadata headers
            curl -sS -X POST $B/api/v1/items -H "Authorization: Bearer $KEY" -H 'Content-Type: image/jpeg' \
              -H 'x-title: Sunset' -H 'x-tags: sky,sea' -H 'x-private: true' -H 'x-expires-in: 86400' --data-binary @photo.jpg

            # Or multipart, the file in part "file"
            curl -sS $B/api/v1/items -H "Authorization: Bearer $KEY" -F file=@photo.jpg -F title=Sunset -F tags=sky,sea

            # Read one item (anonymous for public items; with a key the owner sees the owner-only fields)
            curl -sS $B/api/v1/items/ID -H "Authorization: Bearer $KEY"

            # List your items, filtered; follow next_cursor for the next page
            curl -sS "$B/api/v1/account/items?private=false&amp;q=sunset&amp;limit=50" -H "Authorization: Bearer $KEY"
            curl -sS "$B/api/v1/account/items?cursor=NEXT_CURSOR" -H "Authorization: Bearer $KEY"

            # Edit: a member left out stays, null clears
            curl -sS -X PATCH $B/api/v1/items/ID -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
              -d '{"title":"New title","tags":["a","b"],"private":false,"dl_limit":null,"ai_optout":true}'

            # Delete
            curl -sS -X DELETE $B/api/v1/items/ID -H "Authorization: Bearer $KEY"

            # Your account; opt out of AI captions by default
            curl -sS $B/api/v1/account -H "Authorization: Bearer $KEY"
            curl -sS -X PATCH $B/api/v1/account -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"ai_optout":true}'

            # API keys: list, create (api_key is shown once), revoke
            curl -sS $B/api/v1/account/keys -H "Authorization: Bearer $KEY"
            curl -sS -X POST $B/api/v1/account/keys -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
              -d '{"scopes":["image:read"],"expires_in":2592000}'
            curl -sS -X DELETE $B/api/v1/account/keys/KEY_ID -H "Authorization: Bearer $KEY"

            # Report an image (its id or any of its links); category: child_safety, terrorism, illegal, sexual, violence,
            # harassment, privacy, copyright, malware, spam or other
            curl -sS -X POST $B/api/v1/reports -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
              -d '{"item":"ID","category":"spam","details":"…"}'

            # The item's links
            curl -sS -o photo.jpg $B/i/ID.jpg            # direct_url: the bytes (ETag, Range, 304)
            curl -sS -H 'Accept: image/*' -i $B/ID       # url: image clients are redirected to the bytes</pre>
            <p>A private item's three links carry <code>?s=SECRET</code>; without it the item answers 404, like a missing one.
            Until its scan has passed, an image answers <code>503 scan_pending</code> with <code>Retry-After</code> to everyone but its owner.</p>

            <h2 id="mcp">MCP</h2>
            <p>The Model Context Protocol server is at <code>{{mcp}}</code> (Streamable HTTP, stateless, POST only). Its tools are
            <code>upload_image</code> (base64 <code>data</code> and <code>mime_type</code>, or an https <code>url</code> to import),
            <code>get_image</code>, <code>list_my_images</code>, <code>update_image</code> and <code>delete_image</code>; a client sees only
            the tools its scopes allow. Authenticate with an API key in the <code>Authorization</code> header, or leave the header out
            and let the client run OAuth: a client that supports MCP authorization finds everything from the <code>401</code>.</p>
            <h3>Claude Desktop</h3>
            <p>In <code>claude_desktop_config.json</code>, with an API key:</p>
            <pre>{
              "mcpServers": {
                "imagebin": {
                  "type": "http",
                  "url": "{{mcp}}",
                  "headers": { "Authorization": "Bearer pbca_live_…" }
                }
              }
            }</pre>
            <p>Versions that only start local servers reach it through the <code>mcp-remote</code> bridge; without
            <code>--header</code> the bridge runs the OAuth flow in your browser instead:</p>
            <pre>{
              "mcpServers": {
                "imagebin": {
                  "command": "npx",
                  "args": ["mcp-remote", "{{mcp}}", "--header", "Authorization: Bearer ${IMAGEBIN_KEY}"],
                  "env": { "IMAGEBIN_KEY": "pbca_live_…" }
                }
              }
            }</pre>
            <h3>Claude Code</h3>
            <pre>claude mcp add --transport http imagebin {{mcp}} --header "Authorization: Bearer $KEY"
            claude mcp add --transport http imagebin {{mcp}}          # OAuth: run /mcp in a session to sign in</pre>
            <h3>VS Code</h3>
            <p>In <code>.vscode/mcp.json</code>; VS Code asks for the key once and stores it. Leave <code>headers</code> out to sign in with OAuth.</p>
            <pre>{
              "inputs": [{ "type": "promptString", "id": "imagebin-key", "description": "Imagebin API key", "password": true }],
              "servers": {
                "imagebin": {
                  "type": "http",
                  "url": "{{mcp}}",
                  "headers": { "Authorization": "Bearer ${input:imagebin-key}" }
                }
              }
            }</pre>
            <h3>Any Streamable HTTP client</h3>
            <p>POST JSON-RPC messages to <code>{{mcp}}</code> with <code>Accept: application/json, text/event-stream</code>,
            <code>Content-Type: application/json</code>, the <code>Authorization</code> header and, after initialization,
            <code>MCP-Protocol-Version</code>:</p>
            <pre>curl -sS -X POST {{mcp}} -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
              -H 'Accept: application/json, text/event-stream' \
              -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'</pre>
            <p>With OAuth, a client gets a <code>401</code> whose <code>WWW-Authenticate</code> names
            <a href="{{b}}{{BearerChallenge.MetadataPath}}{{BearerChallenge.McpPath}}">the MCP endpoint's protected-resource metadata</a>,
            reads the authorization server from it, registers (or uses a client ID metadata document), and asks for a token with
            <code>resource={{mcp}}</code>. A token for the REST API is not accepted at <code>/mcp</code>, nor the other way round.</p>

            <h2 id="oauth">OAuth 2.1 and DPoP</h2>
            <p>The site's authorization server supports the authorization code grant with PKCE (<code>S256</code> only), refresh-token
            rotation, RFC 8707 resources (the token's audience is <code>{{b}}</code> for REST or <code>{{mcp}}</code> for MCP),
            dynamic client registration (<code>POST /oauth/register</code>, public clients only) and client ID metadata documents
            (an https <code>client_id</code>). Its metadata is at <a href="{{asMetadata}}">{{asMetadata}}</a>.</p>
            <pre>GET /oauth/authorize?response_type=code&amp;client_id=…&amp;redirect_uri=…&amp;scope=image:read%20image:create
                &amp;state=…&amp;code_challenge=…&amp;code_challenge_method=S256&amp;resource={{mcp}}
              → sign in → consent → 302 redirect_uri?code=…&amp;state=…&amp;iss=…
            POST /oauth/token  grant_type=authorization_code&amp;code=…&amp;code_verifier=…&amp;client_id=…&amp;redirect_uri=…
              → {"access_token":"…","token_type":"Bearer","expires_in":3600,"refresh_token":"…","scope":"…"}</pre>
            <p><strong>DPoP</strong> (RFC 9449): send a <code>DPoP</code> proof with the token request and the tokens are bound to your
            key (<code>token_type: DPoP</code>). Then call the API with <code>Authorization: DPoP &lt;token&gt;</code> and a fresh proof per
            request: a <code>dpop+jwt</code> signed with ES256, ES384, RS256 or PS256, with <code>htm</code> and <code>htu</code> of the
            request, a current <code>iat</code>, a unique <code>jti</code> and <code>ath</code> (the token's SHA-256). A bad proof is
            <a href="/docs/errors/invalid_dpop_proof"><code>invalid_dpop_proof</code></a>; a bound token sent as Bearer is
            <a href="/docs/errors/invalid_token"><code>invalid_token</code></a>. If the server asks for a nonce
            (<code>use_dpop_nonce</code> with a <code>DPoP-Nonce</code> header), repeat the request with it in the proof.</p>

            <h2 id="discovery">Discovery documents</h2>
            <ul>
            <li><a href="{{b}}{{BearerChallenge.MetadataPath}}">{{b}}{{BearerChallenge.MetadataPath}}</a>: protected-resource metadata (RFC 9728) of the REST API; <a href="{{b}}{{BearerChallenge.MetadataPath}}{{BearerChallenge.McpPath}}">…/mcp</a> of the MCP endpoint</li>
            <li><a href="{{asMetadata}}">{{asMetadata}}</a>: authorization server metadata (RFC 8414)</li>
            <li><a href="{{b}}{{AgentCard.Path}}">{{b}}{{AgentCard.Path}}</a>: the agent card (A2A AgentCard shape): skills, security schemes and links</li>
            <li><a href="{{b}}{{AgentCard.OpenApiPath}}">{{b}}{{AgentCard.OpenApiPath}}</a>: OpenAPI 3.1 of the REST API, rendered at <a href="/docs/api">/docs/api</a></li>
            <li><a href="{{b}}{{LlmsTxt.Path}}">{{b}}{{LlmsTxt.Path}}</a>: a summary for language models; <a href="{{b}}{{RobotsTxt.Path}}">{{b}}{{RobotsTxt.Path}}</a></li>
            </ul>
            <p>These documents are built from the site's configuration, never from the request's <code>Host</code>; they carry an
            <code>ETag</code> and <code>Cache-Control: public, max-age=3600</code>.</p>

            <h2 id="limits">Limits</h2>
            <table><tbody>
            <tr><td>upload size</td><td>{{N(limits.MaxUploadBytes)}} bytes (larger: <a href="/docs/errors/request_too_large">413</a>)</td></tr>
            <tr><td>pixels</td><td>{{N(limits.MaxPixels)}} per frame, {{N(limits.MaxTotalPixels)}} over all frames, {{N(limits.MaxFrames)}} frames (<a href="/docs/errors/image_too_large">422</a>)</td></tr>
            <tr><td>formats</td><td>JPEG, PNG, GIF, WebP, AVIF, judged from the bytes (<a href="/docs/errors/unsupported_media_type">415</a>)</td></tr>
            <tr><td>title, description</td><td>{{N(limits.MaxTitleLength)}} and {{N(limits.MaxDescriptionLength)}} characters</td></tr>
            <tr><td>tags</td><td>{{N(limits.MaxTags)}} tags of at most {{N(limits.MaxTagLength)}} characters</td></tr>
            <tr><td>list page</td><td><code>limit</code> at most 200</td></tr>
            </tbody></table>
            <p>Requests over a rate limit answer <a href="/docs/errors/rate_limited">429</a> with <code>Retry-After</code>.</p>
            """;
    }
}
