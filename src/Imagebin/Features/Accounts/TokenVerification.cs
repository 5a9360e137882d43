using System.Security.Claims;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Imagebin.Features.Accounts;

/// <summary>Who a verified credential speaks for and what it allows.</summary>
public sealed record VerifiedCaller(
    string AccountId,
    string? Name,
    string Role,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> Audiences,
    string? KeyId,
    string? DpopJkt);

public enum VerificationOutcome
{
    Valid,
    Invalid,
    Banned,

    /// <summary>The authority could not be asked (External mode): neither valid nor refused.</summary>
    Unavailable,
}

public sealed record CredentialVerification(VerificationOutcome Outcome, VerifiedCaller? Caller = null)
{
    public static readonly CredentialVerification Invalid = new(VerificationOutcome.Invalid);
    public static readonly CredentialVerification Banned = new(VerificationOutcome.Banned);
    public static readonly CredentialVerification Unavailable = new(VerificationOutcome.Unavailable);
}

/// <summary>
/// The api role's view of the authority (DESIGN.md §10): checks API keys and OAuth access tokens. Embedded reads the
/// store it shares with the authority; Remote knows the authority only through discovery, JWKS and introspection.
/// </summary>
public interface ITokenVerifier
{
    Task<CredentialVerification> VerifyApiKeyAsync(string key, CancellationToken cancellationToken);

    /// <summary>Signature, issuer, type <c>at+jwt</c>, lifetime and revocation; the caller checks audience, scopes and DPoP.</summary>
    Task<CredentialVerification> VerifyAccessTokenAsync(string token, CancellationToken cancellationToken);
}

/// <summary>What both verifiers do with a JWT access token once they know the signing keys.</summary>
public static class AccessTokenJwt
{
    /// <summary>OpenIddict's claim naming the token's entry in the authority's store.</summary>
    public const string TokenIdClaim = "oi_tkn_id";

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    /// <summary>Quick shape check: three base64url parts, so that garbage never reaches key lookups.</summary>
    public static bool LooksLikeJwt(string token) => token.Length < 16 * 1024 && token.Count(c => c == '.') == 2;

    /// <summary>The key id the token names, to tell "signed by a key I do not know yet" from "forged".</summary>
    public static string? KeyId(string token)
    {
        try
        {
            return new JsonWebToken(token).Kid;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    public static async Task<(VerifiedCaller? Caller, string? TokenId, long Expires)> ValidateAsync(
        string token, string issuer, IEnumerable<SecurityKey> keys, TimeProvider time)
    {
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidateAudience = false,
            ValidTypes = ["at+jwt"],
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256],
            IssuerSigningKeys = keys,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            LifetimeValidator = (notBefore, expires, _, _) =>
            {
                var now = time.GetUtcNow().UtcDateTime;
                return expires is { } end && end > now - TimeSpan.FromSeconds(30) && (notBefore is not { } start || start <= now + TimeSpan.FromSeconds(30));
            },
        };
        var result = await Handler.ValidateTokenAsync(token, parameters);
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return (null, null, 0);
        }

        // A token must name its resources (aud) and subject, and must not be encrypted (JWE) or unsigned.
        var audiences = jwt.Audiences.ToList();
        if (jwt.Subject is not { Length: > 0 } subject || audiences.Count == 0)
        {
            return (null, null, 0);
        }

        var scopes = jwt.Claims.Where(c => c.Type is "scope" or "scp").SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Distinct().ToList();
        var jkt = Confirmation(jwt);
        var caller = new VerifiedCaller(
            subject,
            jwt.TryGetPayloadValue<string>("name", out var name) ? name : null,
            jwt.TryGetPayloadValue<string>("role", out var role) ? role : Data.AccountRoles.User,
            scopes,
            audiences,
            KeyId: null,
            jkt);
        var tokenId = jwt.TryGetPayloadValue<string>(TokenIdClaim, out var id) ? id : jwt.Id;
        return (caller, tokenId, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero).ToUnixTimeSeconds());
    }

    /// <summary>The <c>cnf.jkt</c> a DPoP-bound token carries (RFC 9449 §6.1).</summary>
    private static string? Confirmation(JsonWebToken jwt)
    {
        if (!jwt.TryGetPayloadValue<JsonElement>("cnf", out var cnf) || cnf.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        return cnf.TryGetProperty("jkt", out var jkt) && jkt.ValueKind == JsonValueKind.String ? jkt.GetString() : null;
    }

    public static ClaimsIdentity ToIdentity(VerifiedCaller caller, string scheme)
    {
        var claims = new List<Claim>
        {
            new(ImagebinClaims.Subject, caller.AccountId),
            new(ImagebinClaims.Role, caller.Role),
        };
        if (caller.Name is not null)
        {
            claims.Add(new Claim(ImagebinClaims.Name, caller.Name));
        }

        if (caller.KeyId is not null)
        {
            claims.Add(new Claim(ImagebinClaims.KeyId, caller.KeyId));
        }

        claims.AddRange(caller.Scopes.Select(s => new Claim(ImagebinClaims.Scope, s)));
        return new ClaimsIdentity(claims, scheme, ImagebinClaims.Name, ImagebinClaims.Role);
    }
}
