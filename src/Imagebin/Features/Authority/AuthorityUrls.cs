using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Authority;

/// <summary>The authority's absolute URLs, all derived from the configured issuer (never from a request's Host header).</summary>
public sealed class AuthorityUrls(SiteUrls site, IOptions<AuthorityOptions> options)
{
    /// <summary>The issuer as written in metadata and tokens, e.g. <c>https://img.example.com/</c>.</summary>
    public string Issuer => options.Value.ResolveIssuer(site);

    public string Token => Endpoint(AuthoritySetup.TokenPath);

    public string Register => Endpoint(AuthoritySetup.RegisterPath);

    public string Endpoint(string path) => Issuer.TrimEnd('/') + path;
}

/// <summary>The OAuth error codes of DPoP (RFC 9449 §12.2).</summary>
public static class DpopErrors
{
    public const string InvalidDpopProof = "invalid_dpop_proof";
    public const string UseDpopNonce = "use_dpop_nonce";
}
