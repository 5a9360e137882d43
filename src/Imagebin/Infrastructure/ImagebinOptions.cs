using System.ComponentModel.DataAnnotations;

namespace Imagebin.Infrastructure;

/// <summary>Where Imagebin keeps its data, the URLs it hands out and the roles this node runs (<c>Imagebin:*</c>).</summary>
public sealed class ImagebinOptions : IValidatableObject
{
    public const string Section = "Imagebin";

    [Required]
    public string DataDir { get; set; } = "./data";

    /// <summary>The site's origin, e.g. <c>https://img.example.com</c>. Defaults to the first listen URL.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Where image bytes are served from (ideally a cookieless host). Defaults to <c>{PublicBaseUrl}/i</c>.</summary>
    public string? DirectBaseUrl { get; set; }

    /// <summary>Comma-separated roles: <c>api</c>, <c>worker</c>, <c>authority</c>. Default all.</summary>
    public string Roles { get; set; } = "api,worker,authority";

    public bool HasRole(string role) =>
        Roles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Contains(role, StringComparer.OrdinalIgnoreCase);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (key, value) in new[] { ("PublicBaseUrl", PublicBaseUrl), ("DirectBaseUrl", DirectBaseUrl) })
        {
            if (value is not null && !(Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                yield return new ValidationResult($"Imagebin:{key} must be an absolute http(s) URL, got '{value}'.", [key]);
            }
        }

        var known = new[] { "api", "worker", "authority" };
        foreach (var role in Roles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!known.Contains(role, StringComparer.OrdinalIgnoreCase))
            {
                yield return new ValidationResult($"Imagebin:Roles has unknown role '{role}' (known: api, worker, authority).", [nameof(Roles)]);
            }
        }
    }
}

/// <summary>Upload and decoding limits (<c>Limits:*</c>).</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 25L * 1024 * 1024;

    /// <summary>Pixels per frame.</summary>
    [Range(1, long.MaxValue)]
    public long MaxPixels { get; set; } = 50_000_000;

    /// <summary>Pixels over all frames of an animation.</summary>
    [Range(1, long.MaxValue)]
    public long MaxTotalPixels { get; set; } = 200_000_000;

    [Range(1, 10_000)]
    public int MaxFrames { get; set; } = 100;

    [Range(1, 100_000)]
    public int MaxTitleLength { get; set; } = 200;

    [Range(1, 1_000_000)]
    public int MaxDescriptionLength { get; set; } = 5000;

    [Range(1, 1000)]
    public int MaxTags { get; set; } = 30;

    [Range(1, 1000)]
    public int MaxTagLength { get; set; } = 50;
}
