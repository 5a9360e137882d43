using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Accounts;

/// <summary>The answer of <c>GET /api/v1/auth/pow/challenge</c>.</summary>
public sealed record PowChallengeDto(string ChallengeId, string Prefix, int DifficultyBits, long ExpiresAt);

/// <summary>The body of <c>POST /api/v1/auth/pow/signup</c>.</summary>
public sealed class PowSignupRequest
{
    public string? ChallengeId { get; set; }

    public string? Nonce { get; set; }

    public string? DisplayName { get; set; }
}

/// <summary>The answer of a sign-up: the new account and its only credential, shown this once.</summary>
public sealed record PowSignupDto(AccountDto Account, string ApiKey, string KeyId, string[] Scopes, string Audience);

/// <summary>
/// Agent sign-up without a browser, as pastebin.ca offers it: fetch a challenge, find a nonce such that
/// sha256(prefix + nonce) has the asked number of leading zero bits, and trade it for an account and an API key.
/// Neither endpoint needs credentials; both are rate-limited per client address across all nodes.
/// </summary>
public static class PowApi
{
    private const int MaxBody = 4 * 1024;

    public static WebApplicationBuilder AddPow(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<PowOptions>().BindConfiguration(PowOptions.Section)
            .Configure<IConfiguration>((options, configuration) => options.Secret = NullIfEmpty(configuration[PowOptions.SecretKey]))
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<PowSecret>();
        builder.Services.AddSingleton<PowChallenges>();
        return builder;
    }

    public static IEndpointRouteBuilder MapPowApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/auth/pow").WithTags("Accounts");
        api.MapGet("/challenge", ChallengeAsync).WithSummary("Get a proof-of-work challenge")
            .WithDescription("Find a nonce such that sha256(prefix + nonce) has difficulty_bits leading zero bits.").ProducesErrors(ErrorCodes.RateLimited);
        api.MapPost("/signup", SignupAsync).DisableAntiforgery().WithSummary("Trade a solved challenge for an account and an API key")
            .DocumentsBody<PowSignupRequest, RouteHandlerBuilder>("application/json").ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.RateLimited);
        return app;
    }

    private static async Task<Results<Ok<PowChallengeDto>, ApiError>> ChallengeAsync(
        HttpContext context, PowChallenges challenges, SharedState shared, IOptions<PowOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        context.Response.Headers.CacheControl = "no-store";
        var limit = options.Value.ChallengesPerMinute;
        if (await shared.HitAsync($"pow:challenge:{ClientAddress(context)}", TimeSpan.FromMinutes(1), cancellationToken) > limit)
        {
            return new ApiError(ErrorCodes.RateLimited, $"At most {limit} challenges a minute from one address.")
            {
                RetryAfterSeconds = 60 - (int)(time.GetUtcNow().ToUnixTimeSeconds() % 60),
            };
        }

        var challenge = await challenges.IssueAsync(cancellationToken);
        return TypedResults.Ok(new PowChallengeDto(challenge.Id, challenge.Prefix, challenge.DifficultyBits, challenge.ExpiresAt));
    }

    private static async Task<Results<Created<PowSignupDto>, ApiError>> SignupAsync(
        HttpContext context,
        PowChallenges challenges,
        SharedState shared,
        ImagebinDb db,
        AccountService accounts,
        ApiKeys keys,
        SiteUrls site,
        IOptions<PowOptions> options,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        context.Response.Headers.CacheControl = "no-store";
        // Every attempt counts, failed ones included: the limit also bounds guessing.
        var limit = options.Value.SignupsPerHour;
        if (await shared.HitAsync($"pow:signup:{ClientAddress(context)}", TimeSpan.FromHours(1), cancellationToken) > limit)
        {
            return new ApiError(ErrorCodes.RateLimited, $"At most {limit} sign-up attempts an hour from one address.")
            {
                RetryAfterSeconds = 3600 - (int)(time.GetUtcNow().ToUnixTimeSeconds() % 3600),
            };
        }

        var (body, error) = await RequestBodies.ReadJsonAsync(context.Request, ImagebinJson.Default.PowSignupRequest, MaxBody, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (body!.ChallengeId is not { } challengeId || body.Nonce is not { } nonce || body.DisplayName is not { } name)
        {
            return new ApiError(ErrorCodes.InvalidRequest, "'challenge_id', 'nonce' and 'display_name' are required strings.");
        }

        if (!PowChallenges.IsValidNonce(nonce))
        {
            return new ApiError(ErrorCodes.InvalidRequest, $"'nonce' must be 1-{PowChallenges.MaxNonceLength} printable ASCII characters.");
        }

        if (!IsValidAccountName(name))
        {
            return new ApiError(ErrorCodes.InvalidRequest, "'display_name' must be 1-64 characters of letters, digits, '-', '_' and '.'.");
        }

        var (challenge, failure) = await challenges.VerifyAsync(PowPurpose.Signup, challengeId, nonce, cancellationToken);
        switch (failure)
        {
            case PowChallenges.Failure.Malformed:
                return new ApiError(ErrorCodes.InvalidRequest, "'challenge_id' is not a challenge this site issued; fetch one from GET /api/v1/auth/pow/challenge.");
            case PowChallenges.Failure.Expired:
                return new ApiError(ErrorCodes.InvalidRequest, "The challenge has expired; fetch a new one.");
            case PowChallenges.Failure.InsufficientWork:
                return new ApiError(ErrorCodes.InvalidRequest, "sha256(prefix + nonce) does not have the challenge's difficulty_bits leading zero bits.");
        }

        // Checked before the challenge is spent, so a taken name costs the client a retry, not a new proof.
        if (await db.Accounts.AnyAsync(a => a.Name == name, cancellationToken))
        {
            return NameTaken(name);
        }

        // Spent before anything is written (the write gate forbids a write on another context inside our transaction).
        if (!await challenges.ConsumeAsync(challenge!, cancellationToken))
        {
            return new ApiError(ErrorCodes.InvalidRequest, "The challenge has already been used; fetch a new one.");
        }

        AccountService.Created created;
        ApiKeys.Created key;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            try
            {
                created = await accounts.CreateAsync(name, admin: false, password: null, cancellationToken);
                key = await keys.CreateAsync(created.Account.Id, Scopes.All, audience: null, lifetime: null, cancellationToken);
            }
            catch (ArgumentException exception)
            {
                // Another sign-up took the name between the check and AccountService's own check.
                return new ApiError(ErrorCodes.InvalidRequest, exception.Message);
            }
            catch (DbUpdateException)
            {
                // … or between AccountService's check and the insert: the unique index refused this one.
                return NameTaken(name);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        var answer = new PowSignupDto(AccountDto.From(created.Account), key.Token, key.Key.Id, [.. Scopes.All], key.Key.Audience);
        return TypedResults.Created($"{site.PublicBase}/api/v1/account", answer);
    }

    /// <summary>AccountService's rule for names, checked here first so a bad name is refused before the challenge is spent.</summary>
    private static bool IsValidAccountName(string name) =>
        name.Length is >= 1 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static ApiError NameTaken(string name) =>
        new(ErrorCodes.InvalidRequest, $"The display name '{name}' is taken; choose another.");

    /// <summary>The rate-limit identity of a caller: its IPv4 address, or its IPv6 /64 (one subscriber's usual allocation).</summary>
    internal static string ClientAddress(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is not { } address)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return $"{new IPAddress(bytes)}/64";
        }

        return address.ToString();
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
