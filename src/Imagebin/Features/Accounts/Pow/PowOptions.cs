using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Accounts;

/// <summary>Agent sign-up by proof of work (<c>Authority:Pow:*</c>, issue 6).</summary>
public sealed class PowOptions : IValidatableObject
{
    public const string Section = "Authority:Pow";

    /// <summary>The key of the challenge-signing secret, outside this section for symmetry with the authority's other secrets.</summary>
    public const string SecretKey = "Authority:PowSecret";

    /// <summary>Leading zero bits sha256(prefix + nonce) must have; each bit doubles the expected work (20 ≈ 1M hashes).</summary>
    [Range(1, 32)]
    public int DifficultyBits { get; set; } = 20;

    /// <summary>How long a challenge may be answered.</summary>
    [Range(1, 3600)]
    public int ChallengeSeconds { get; set; } = 300;

    /// <summary>Challenges one client address may fetch per minute.</summary>
    [Range(1, 1_000_000)]
    public int ChallengesPerMinute { get; set; } = 30;

    /// <summary>Sign-up attempts (successful or not) one client address may make per hour.</summary>
    [Range(1, 1_000_000)]
    public int SignupsPerHour { get; set; } = 10;

    /// <summary>
    /// The HMAC secret that signs challenges (from <see cref="SecretKey"/>); unset, one is generated and kept in the shared
    /// store, so every node over the same database agrees on it.
    /// </summary>
    public string? Secret { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Secret is { } secret && secret.Length < 32)
        {
            yield return new ValidationResult($"{SecretKey} must be at least 32 characters (a random string); leave it unset to have one generated.");
        }
    }
}
