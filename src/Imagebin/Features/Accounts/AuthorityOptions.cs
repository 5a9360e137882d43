using System.ComponentModel.DataAnnotations;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Accounts;

public enum AuthorityMode
{
    /// <summary>This deployment's own authority (the <c>authority</c> role, on any node that runs it) issues and checks tokens.</summary>
    Embedded,

    /// <summary>
    /// Another server is the authority: the api role knows it only through its discovery document, JWKS and
    /// introspection endpoint, never through its tables.
    /// </summary>
    External,
}

/// <summary>The authorization server this site is and trusts (<c>Authority:*</c>).</summary>
public sealed class AuthorityOptions : IValidatableObject
{
    public const string Section = "Authority";

    public AuthorityMode Mode { get; set; } = AuthorityMode.Embedded;

    /// <summary>
    /// The issuer, exactly as the authorization server writes it in its metadata and tokens (compared byte for byte).
    /// Defaults to <c>Imagebin:PublicBaseUrl</c> with a trailing slash (the form OpenIddict writes): the embedded authority
    /// is this site. Required in External mode.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>A confidential client of the authority allowed to introspect tokens and API keys (External mode).</summary>
    public string? IntrospectionClientId { get; set; }

    public string? IntrospectionClientSecret { get; set; }

    /// <summary>How long an introspection answer is reused: a revoked key or token stops working within this time.</summary>
    [Range(0, 3600)]
    public int IntrospectionCacheSeconds { get; set; } = 30;

    [Range(1, 1440)]
    public int AccessTokenMinutes { get; set; } = 60;

    [Range(1, 365)]
    public int RefreshTokenDays { get; set; } = 30;

    /// <summary>A signing key signs for this long before the next one takes over.</summary>
    [Range(1, 3650)]
    public int SigningKeyDays { get; set; } = 30;

    /// <summary>A new signing key is published in the JWKS this long before it starts signing, so that verifiers have it in time.</summary>
    [Range(0, 720)]
    public int SigningKeyPublishAheadHours { get; set; } = 24;

    /// <summary>Browser sessions of the authority last this long.</summary>
    [Range(1, 365)]
    public int SessionDays { get; set; } = 14;

    /// <summary>Whether anyone may create an account on the sign-up page (the proof-of-work API has its own switch).</summary>
    public bool SignUpEnabled { get; set; } = true;

    /// <summary>Whether <c>POST /oauth/register</c> (RFC 7591) accepts new public clients.</summary>
    public bool DynamicRegistrationEnabled { get; set; } = true;

    /// <summary>
    /// The origin of the API this authority issues tokens and keys for (their audience), when the authority runs apart
    /// from it; defaults to this site. Tokens and keys may be for it or for its <c>/mcp</c> endpoint, nothing else.
    /// </summary>
    public string? ResourceBaseUrl { get; set; }

    /// <summary>
    /// An external authority's issuer is used exactly as configured; the embedded one is written the way OpenIddict
    /// writes it in its metadata and tokens (a bare origin gains a trailing slash).
    /// </summary>
    public string ResolveIssuer(SiteUrls site) => Mode == AuthorityMode.External && Issuer is not null ? Issuer : Canonical(Issuer ?? site.PublicBase);

    public string ResourceBase(SiteUrls site) => SiteUrls.Normalize(ResourceBaseUrl ?? site.PublicBase);

    /// <summary>The resources (RFC 8707) a token or key may be for: the REST API (an origin) and the MCP endpoint.</summary>
    public string[] Resources(SiteUrls site) => [ResourceBase(site), ResourceBase(site) + BearerChallenge.McpPath];

    /// <summary>An issuer URL as OpenIddict writes it (<see cref="Uri.AbsoluteUri"/>: a bare origin gains a trailing slash).</summary>
    public static string Canonical(string issuer) => new Uri(issuer, UriKind.Absolute).AbsoluteUri;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Issuer is not null && !(Uri.TryCreate(Issuer, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            && uri.Query.Length == 0 && uri.Fragment.Length == 0))
        {
            yield return new ValidationResult($"Authority:Issuer must be an absolute http(s) URL without query or fragment, got '{Issuer}'.", [nameof(Issuer)]);
        }

        if (ResourceBaseUrl is not null && !(Uri.TryCreate(ResourceBaseUrl, UriKind.Absolute, out var resource) && resource.Scheme is "http" or "https"))
        {
            yield return new ValidationResult($"Authority:ResourceBaseUrl must be an absolute http(s) URL, got '{ResourceBaseUrl}'.", [nameof(ResourceBaseUrl)]);
        }

        if (Mode == AuthorityMode.External)
        {
            if (Issuer is null)
            {
                yield return new ValidationResult("Authority:Issuer is required when Authority:Mode is External.", [nameof(Issuer)]);
            }

            if (string.IsNullOrEmpty(IntrospectionClientId) || string.IsNullOrEmpty(IntrospectionClientSecret))
            {
                yield return new ValidationResult(
                    "Authority:IntrospectionClientId and Authority:IntrospectionClientSecret are required when Authority:Mode is External.",
                    [nameof(IntrospectionClientId)]);
            }
        }
    }
}
