using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Docs;

/// <summary>
/// Who runs this site, as the policy pages name it (<c>Site:*</c>), and optional files whose text replaces the default
/// privacy policy, terms or abuse policy. Every value is optional: the defaults describe an operator who has said nothing more.
/// </summary>
public sealed class SiteOptions : IValidatableObject
{
    public const string Section = "Site";

    /// <summary>Who runs the site, as written in the middle of a sentence ("… is run by {OperatorName}").</summary>
    [Required(AllowEmptyStrings = false), MaxLength(200)]
    public string OperatorName { get; set; } = "the operator of this site";

    [EmailAddress]
    public string? ContactEmail { get; set; }

    /// <summary>Where abuse reports go by e-mail; defaults to <see cref="ContactEmail"/>.</summary>
    [EmailAddress]
    public string? AbuseEmail { get; set; }

    /// <summary>The law and courts the terms name, e.g. "the Province of Ontario, Canada".</summary>
    [MaxLength(200)]
    public string? Jurisdiction { get; set; }

    /// <summary>A Markdown file (or <c>.html</c>/<c>.htm</c>: an HTML fragment, inserted as written) replacing the default privacy policy.</summary>
    public string? PrivacyFile { get; set; }

    public string? TermsFile { get; set; }

    public string? AbuseFile { get; set; }

    public string? AbuseAddress => AbuseEmail ?? ContactEmail;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (key, path) in new[] { (nameof(PrivacyFile), PrivacyFile), (nameof(TermsFile), TermsFile), (nameof(AbuseFile), AbuseFile) })
        {
            if (path is not null && !File.Exists(path))
            {
                yield return new ValidationResult($"{Section}:{key} names '{path}', which is not a readable file.", [key]);
            }
        }
    }
}
