using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Authority;

/// <summary>OAuth Client ID Metadata Documents: client_ids that are https URLs (<c>Authority:ClientMetadata:*</c>).</summary>
public sealed class ClientMetadataOptions : IValidatableObject
{
    public const string Section = "Authority:ClientMetadata";

    /// <summary>Whether a client_id may be an https URL whose document is fetched.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The largest document accepted, in bytes.</summary>
    [Range(512, 1024 * 1024)]
    public int MaxBytes { get; set; } = 5 * 1024;

    /// <summary>How long a document is kept when its response has no <c>Cache-Control: max-age</c>.</summary>
    [Range(ClientMetadataDocuments.MinCacheSeconds, 24 * 3600)]
    public int DefaultCacheSeconds { get; set; } = 300;

    /// <summary>The longest a document is kept, whatever its <c>max-age</c> says.</summary>
    [Range(ClientMetadataDocuments.MinCacheSeconds, 24 * 3600)]
    public int MaxCacheSeconds { get; set; } = 24 * 3600;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (DefaultCacheSeconds > MaxCacheSeconds)
        {
            yield return new ValidationResult(
                $"{Section}:DefaultCacheSeconds ({DefaultCacheSeconds}) must not exceed {Section}:MaxCacheSeconds ({MaxCacheSeconds}).",
                [nameof(DefaultCacheSeconds)]);
        }
    }
}
