using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Items;

/// <summary>Uploads without credentials, from the web page after a proof-of-work challenge (<c>Uploads:Anonymous:*</c>, issue 8).</summary>
public sealed class AnonymousUploadOptions
{
    public const string Section = "Uploads:Anonymous";

    /// <summary>Off, a keyless upload is always <c>403 turnstile_failed</c>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Leading zero bits sha256(prefix + nonce) must have; lower than sign-up's, since a browser solves it per upload.</summary>
    [Range(1, 32)]
    public int DifficultyBits { get; set; } = 16;

    /// <summary>How long an upload challenge may be answered.</summary>
    [Range(1, 3600)]
    public int ChallengeSeconds { get; set; } = 300;

    /// <summary>Upload challenges one client address may fetch per minute.</summary>
    [Range(1, 1_000_000)]
    public int ChallengesPerMinute { get; set; } = 60;

    /// <summary>The largest anonymous upload; <c>Limits:MaxUploadBytes</c> still applies when it is lower.</summary>
    [Range(1, long.MaxValue)]
    public long MaxBytes { get; set; } = 10L * 1024 * 1024;

    /// <summary>Anonymous uploads (with a valid challenge) one client address may make per hour, counted across nodes.</summary>
    [Range(1, 1_000_000)]
    public int UploadsPerHour { get; set; } = 20;

    /// <summary>Anonymous items expire after this many days; a shorter <c>expires_in</c> is honoured, a longer one capped.</summary>
    [Range(1, 3660)]
    public int ExpiryDays { get; set; } = 30;
}
