using System.Security.Cryptography;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Discovery;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Items;

/// <summary>
/// Uploads without credentials (DESIGN.md §5, issue 8): the web page solves a proof-of-work challenge of its own purpose
/// and sends the solution with the upload (<c>x-challenge-id</c>, <c>x-challenge-nonce</c>). Such an upload has no owner,
/// a lower size limit, a per-address hourly limit, a forced expiry, and a delete token shown once and stored as its SHA-256.
/// </summary>
public static class AnonymousUploads
{
    public const string ChallengeIdHeader = "x-challenge-id";
    public const string ChallengeNonceHeader = "x-challenge-nonce";
    public const string DeleteTokenHeader = "x-delete-token";

    private const string Refused = "Uploads without an API key are only accepted from the web page, after its browser challenge.";

    /// <summary>A solved challenge, admitted to upload at most <see cref="MaxBytes"/>.</summary>
    public sealed record Admission(long MaxBytes, long MaxExpiresIn);

    public static RouteGroupBuilder MapAnonymousUploadsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/uploads/challenge", ChallengeAsync).WithSummary("Get a proof-of-work challenge for an upload without credentials")
            .WithDescription("Find a nonce such that sha256(prefix + nonce) has difficulty_bits leading zero bits, then send "
                + $"'{ChallengeIdHeader}' and '{ChallengeNonceHeader}' with POST /api/v1/items. Each challenge admits one upload.")
            .ProducesErrors(ErrorCodes.RateLimited, ErrorCodes.NotFound);
        return api;
    }

    private static async Task<Results<Ok<PowChallengeDto>, ApiError>> ChallengeAsync(
        HttpContext context, PowChallenges challenges, SharedState shared, IOptions<AnonymousUploadOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        context.Response.Headers.CacheControl = "no-store";
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return new ApiError(ErrorCodes.NotFound, "Uploads without an account are switched off on this site.");
        }

        if (await shared.HitAsync($"uploads:anonymous:challenge:{PowApi.ClientAddress(context)}", TimeSpan.FromMinutes(1), cancellationToken) > settings.ChallengesPerMinute)
        {
            return RateLimited($"At most {settings.ChallengesPerMinute} upload challenges a minute from one address.", TimeSpan.FromMinutes(1), time);
        }

        var challenge = await challenges.IssueAsync(PowPurpose.AnonymousUpload, settings.DifficultyBits, TimeSpan.FromSeconds(settings.ChallengeSeconds), cancellationToken);
        return TypedResults.Ok(new PowChallengeDto(challenge.Id, challenge.Prefix, challenge.DifficultyBits, challenge.ExpiresAt));
    }

    /// <summary>
    /// Admits a keyless upload: the challenge is checked (signature, purpose, expiry, work), the address's hourly count
    /// taken, an announced length checked, and only then the challenge spent, so a refused upload reads no body.
    /// </summary>
    public static async Task<(Admission? Admission, ApiError? Error)> AdmitAsync(
        HttpContext context,
        string? challengeId,
        string? nonce,
        PowChallenges challenges,
        SharedState shared,
        AnonymousUploadOptions options,
        LimitsOptions limits,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (!options.Enabled)
        {
            return (null, new ApiError(ErrorCodes.TurnstileFailed, Refused));
        }

        // With Turnstile configured its token replaces the proof of work; otherwise the proof of work is the challenge.
        var turnstile = context.RequestServices.GetRequiredService<TurnstileVerifier>();
        PowChallenges.Challenge? challenge = null;
        if (turnstile.Enabled)
        {
            if (!await turnstile.VerifyAsync(context.Request.Headers[TurnstileVerifier.TokenHeader], context.Connection.RemoteIpAddress?.ToString(), cancellationToken))
            {
                return (null, new ApiError(ErrorCodes.TurnstileFailed,
                    $"The Turnstile token ('{TurnstileVerifier.TokenHeader}') is missing, wrong, expired or already used; solve the page's challenge again."));
            }
        }
        else
        {
            if (string.IsNullOrEmpty(challengeId) || nonce is null || !PowChallenges.IsValidNonce(nonce))
            {
                return (null, new ApiError(ErrorCodes.TurnstileFailed, Refused));
            }

            (challenge, var failure) = await challenges.VerifyAsync(PowPurpose.AnonymousUpload, challengeId, nonce, cancellationToken);
            if (failure != PowChallenges.Failure.None)
            {
                return (null, new ApiError(ErrorCodes.TurnstileFailed, failure switch
                {
                    PowChallenges.Failure.Expired => "The upload challenge has expired; fetch a new one from GET /api/v1/uploads/challenge.",
                    PowChallenges.Failure.InsufficientWork => "sha256(prefix + nonce) does not have the challenge's difficulty_bits leading zero bits.",
                    _ => "'x-challenge-id' is not an upload challenge this site issued; fetch one from GET /api/v1/uploads/challenge.",
                }));
            }
        }

        if (await shared.HitAsync($"uploads:anonymous:{PowApi.ClientAddress(context)}", TimeSpan.FromHours(1), cancellationToken) > options.UploadsPerHour)
        {
            return (null, RateLimited($"At most {options.UploadsPerHour} uploads an hour without an account from one address.", TimeSpan.FromHours(1), time));
        }

        var maxBytes = Math.Min(options.MaxBytes, limits.MaxUploadBytes);
        if (context.Request.ContentLength > maxBytes + (context.Request.HasFormContentType ? 64 * 1024 : 0))
        {
            return (null, TooLarge(maxBytes));
        }

        if (challenge is not null && !await challenges.ConsumeAsync(challenge, cancellationToken))
        {
            return (null, new ApiError(ErrorCodes.TurnstileFailed, "The upload challenge has already been used; fetch a new one."));
        }

        return (new Admission(maxBytes, options.ExpiryDays * 24L * 3600), null);
    }

    /// <summary>An anonymous item always expires: a shorter <c>expires_in</c> is kept, a longer or missing one becomes the cap.</summary>
    public static void CapExpiry(ItemFields fields, Admission admission) =>
        fields.ExpiresIn = Math.Min(fields.ExpiresIn.Or(null) ?? long.MaxValue, admission.MaxExpiresIn);

    public static ApiError TooLarge(long maxBytes) =>
        new(ErrorCodes.RequestTooLarge, $"Uploads without an account are limited to {maxBytes:N0} bytes; sign in for more.");

    /// <summary>A new delete token (256 random bits, base62) and the hash that is stored in its place.</summary>
    public static (string Token, string Hash) NewDeleteToken()
    {
        var token = Ids.RandomBase62(43);
        return (token, HashDeleteToken(token));
    }

    public static string HashDeleteToken(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Whether <paramref name="token"/> hashes to <paramref name="storedHash"/>, compared in constant time.</summary>
    public static bool DeleteTokenMatches(string storedHash, string token) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(storedHash), Encoding.ASCII.GetBytes(HashDeleteToken(token)));

    /// <summary>Where the uploader deletes the item from a browser: the token rides in the fragment, which no request, log or Referer carries.</summary>
    public static string DeleteUrl(SiteUrls site, string id, string token) => $"{site.PublicBase}/delete/{id}#token={token}";

    private static ApiError RateLimited(string message, TimeSpan window, TimeProvider time)
    {
        var seconds = (long)window.TotalSeconds;
        return new ApiError(ErrorCodes.RateLimited, message) { RetryAfterSeconds = (int)(seconds - time.GetUtcNow().ToUnixTimeSeconds() % seconds) };
    }
}
