using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Moderation;

/// <summary>Moderation settings (<c>Moderation:*</c>, DESIGN.md §8).</summary>
public sealed class ModerationOptions : IValidatableObject
{
    public const string Section = "Moderation";

    /// <summary>False turns every upload away with 503 <c>uploads_disabled</c> (for operators under attack).</summary>
    public bool UploadsEnabled { get; set; } = true;

    /// <summary>Serve images publicly while their scan is still pending (speed over safety). Held, failed and blocked
    /// images are never served either way.</summary>
    public bool ServeBeforeScan { get; set; }

    public ClamAvOptions ClamAv { get; set; } = new();

    public ClassifierOptions Classifier { get; set; } = new();

    /// <summary>A PDQ hash within this Hamming distance of a listed one matches (Meta's recommended 31).</summary>
    [Range(0, 128)]
    public int PdqMatchDistance { get; set; } = 31;

    /// <summary>PDQ hashes of lower quality (flat, featureless pictures) are neither matched nor listed.</summary>
    [Range(0, 100)]
    public int PdqMinQuality { get; set; } = 50;

    /// <summary>Distinct open reports that hide a public image until a moderator reviews it.</summary>
    [Range(1, 1000)]
    public int ReportsToHide { get; set; } = 3;

    /// <summary>Reports one reporter may file per hour.</summary>
    [Range(1, 100_000)]
    public int ReportsPerHour { get; set; } = 20;

    /// <summary>Leading zero bits of the proof-of-work challenge the report form solves for a visitor who is not signed in.</summary>
    [Range(1, 32)]
    public int ReportChallengeBits { get; set; } = 16;

    /// <summary>How long the report form's challenge may be answered: long enough to write a report.</summary>
    [Range(60, 86_400)]
    public int ReportChallengeSeconds { get; set; } = 3600;

    /// <summary>Report or removal categories whose evidence includes the bytes, kept in the quarantine area of the store.</summary>
    public string[] QuarantineCategories { get; set; } = ["child_safety", "terrorism", "malware"];

    private static bool IsClamAvEndpoint(string endpoint) =>
        endpoint.StartsWith('/')
        || (Uri.TryCreate(endpoint, UriKind.Absolute, out var uri)
            && ((uri.Scheme == "tcp" && uri.Port > 0 && uri.Host.Length > 0) || (uri.Scheme == "unix" && uri.AbsolutePath.Length > 1)));

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ClamAv.Endpoint is { Length: > 0 } endpoint && !IsClamAvEndpoint(endpoint))
        {
            yield return new ValidationResult($"Moderation:ClamAv:Endpoint must be tcp://host:port or unix:///path, not '{endpoint}'.");
        }

        if (!(Classifier.SensitiveThreshold <= 1 && Classifier.HoldThreshold <= Classifier.ExplicitThreshold && Classifier.ExplicitThreshold <= 1))
        {
            yield return new ValidationResult("Moderation:Classifier thresholds must satisfy HoldThreshold <= ExplicitThreshold <= 1.");
        }

        foreach (var category in QuarantineCategories.Where(c => !ReportCategories.All.Contains(c)))
        {
            yield return new ValidationResult($"Moderation:QuarantineCategories: unknown category '{category}'.");
        }
    }
}

/// <summary>The ClamAV daemon (<c>Moderation:ClamAv:*</c>).</summary>
public sealed class ClamAvOptions
{
    /// <summary><c>tcp://127.0.0.1:3310</c> or <c>unix:///run/clamav/clamd.ctl</c>; unset, the malware stage is skipped.</summary>
    public string? Endpoint { get; set; }

    /// <summary>How long one scan may take before the attempt counts as failed (and is retried).</summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;
}

/// <summary>
/// The NSFW classifier (<c>Moderation:Classifier:*</c>). Scores are nsfwjs's five classes; <c>explicit</c> is the sum of
/// Porn and Hentai, <c>suggestive</c> the Sexy score.
/// </summary>
public sealed class ClassifierOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Explicit at or above this: <c>explicit</c>.</summary>
    [Range(0, 1)]
    public double ExplicitThreshold { get; set; } = 0.8;

    /// <summary>Explicit at or above this but below <see cref="ExplicitThreshold"/>: uncertain, <c>held</c> for a moderator.</summary>
    [Range(0, 1)]
    public double HoldThreshold { get; set; } = 0.5;

    /// <summary>Explicit plus suggestive at or above this (and not held): <c>sensitive</c>.</summary>
    [Range(0, 1)]
    public double SensitiveThreshold { get; set; } = 0.5;

    /// <summary>Frames of an animated image that are classified (evenly spaced); the most explicit frame decides.</summary>
    [Range(1, 64)]
    public int MaxFrames { get; set; } = 4;

    /// <summary>
    /// Seconds without a scan after which the model is unloaded (about 45 MB resident), to be loaded again (and checked)
    /// by the next scan, which waits ~0.1 s for it. 0 keeps it loaded.
    /// </summary>
    [Range(0, 86_400)]
    public int UnloadAfterIdleSeconds { get; set; } = 120;
}

public static class ReportCategories
{
    public static readonly string[] All =
    [
        "child_safety", "terrorism", "illegal", "sexual", "violence", "harassment", "privacy", "copyright", "malware", "spam", "other",
    ];
}
