namespace Imagebin.Infrastructure;

/// <summary>
/// The <c>WWW-Authenticate</c> values of the API (RFC 6750, RFC 9728 §5.1, MCP authorization): every challenge names the
/// protected-resource metadata of the resource the request was for, so a client can discover how to get a token.
/// </summary>
public static class BearerChallenge
{
    public const string MetadataPath = "/.well-known/oauth-protected-resource";

    /// <summary>The MCP endpoint is its own resource (its own audience), with its own metadata document.</summary>
    public const string McpPath = "/mcp";

    /// <summary>The metadata URL for a request path: the <c>/mcp</c> variant for <c>/mcp</c> and below (any case, as routing matches), else the site's.</summary>
    public static string MetadataUrl(string publicBase, PathString requestPath) =>
        requestPath.StartsWithSegments(McpPath, StringComparison.OrdinalIgnoreCase)
            ? publicBase + MetadataPath + McpPath
            : publicBase + MetadataPath;

    /// <summary>401: <c>Bearer resource_metadata="…"</c>, plus <c>error="invalid_token"</c> when a credential was refused.</summary>
    public static string Unauthorized(string publicBase, PathString requestPath, bool invalidToken) =>
        $"Bearer resource_metadata=\"{MetadataUrl(publicBase, requestPath)}\"" + (invalidToken ? ", error=\"invalid_token\"" : "");

    /// <summary>403: <c>Bearer error="insufficient_scope", scope="…", resource_metadata="…"</c>; scopes space-separated.</summary>
    public static string InsufficientScope(string publicBase, PathString requestPath, string? scope) =>
        $"Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{MetadataUrl(publicBase, requestPath)}\"";

    /// <summary>401 for a DPoP proof that failed (RFC 9449 §7.1): the DPoP scheme, the algorithms a proof may use, and the metadata.</summary>
    public static string InvalidDpopProof(string publicBase, PathString requestPath) =>
        $"DPoP error=\"invalid_dpop_proof\", algs=\"{string.Join(' ', Imagebin.Features.Authority.Dpop.DpopAlgorithms.All)}\", resource_metadata=\"{MetadataUrl(publicBase, requestPath)}\"";

    /// <summary>401 asking for a DPoP proof with the server's nonce (RFC 9449 §9), sent with a <c>DPoP-Nonce</c> header.</summary>
    public static string UseDpopNonce(string publicBase, PathString requestPath) =>
        $"DPoP error=\"use_dpop_nonce\", algs=\"{string.Join(' ', Imagebin.Features.Authority.Dpop.DpopAlgorithms.All)}\", resource_metadata=\"{MetadataUrl(publicBase, requestPath)}\"";
}
