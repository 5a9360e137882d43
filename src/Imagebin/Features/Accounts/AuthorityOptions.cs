using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Accounts;

/// <summary>The authorization server this site trusts (<c>Authority:*</c>).</summary>
public sealed class AuthorityOptions : IValidatableObject
{
    public const string Section = "Authority";

    /// <summary>
    /// The issuer, exactly as the authorization server writes it in its metadata and tokens (compared byte for byte).
    /// Defaults to <c>Imagebin:PublicBaseUrl</c>: the embedded authority is this site.
    /// </summary>
    public string? Issuer { get; set; }

    public string ResolveIssuer(Imagebin.Infrastructure.SiteUrls site) => Issuer ?? site.PublicBase;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Issuer is not null && !(Uri.TryCreate(Issuer, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            && uri.Query.Length == 0 && uri.Fragment.Length == 0))
        {
            yield return new ValidationResult($"Authority:Issuer must be an absolute http(s) URL without query or fragment, got '{Issuer}'.", [nameof(Issuer)]);
        }
    }
}
