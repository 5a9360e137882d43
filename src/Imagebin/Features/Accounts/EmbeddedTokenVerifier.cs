using Imagebin.Data;
using Imagebin.Features.Authority;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;

namespace Imagebin.Features.Accounts;

/// <summary>
/// Verification against the store this node shares with the authority: API keys from <c>api_keys</c>, access tokens
/// with the key ring's public keys and the token's entry (revoked?) and account (banned?), the latter answer reused for
/// <see cref="AuthorityOptions.IntrospectionCacheSeconds"/> so that a busy token costs no query per request.
/// </summary>
public sealed class EmbeddedTokenVerifier(
    ApiKeys apiKeys,
    ImagebinDb db,
    IOpenIddictTokenManager tokens,
    AuthorityKeyRing keys,
    AuthorityUrls urls,
    IMemoryCache cache,
    IOptions<AuthorityOptions> options,
    TimeProvider time) : ITokenVerifier
{
    public async Task<CredentialVerification> VerifyApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        var verification = await apiKeys.VerifyAsync(key, cancellationToken);
        return verification.Outcome switch
        {
            ApiKeys.Outcome.Valid => new CredentialVerification(VerificationOutcome.Valid, new VerifiedCaller(
                verification.Account!.Id,
                verification.Account.Name,
                verification.Account.Role,
                verification.Key!.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries),
                [verification.Key.Audience],
                verification.Key.Id,
                DpopJkt: null)),
            ApiKeys.Outcome.Banned => CredentialVerification.Banned,
            _ => CredentialVerification.Invalid,
        };
    }

    public async Task<CredentialVerification> VerifyAccessTokenAsync(string token, CancellationToken cancellationToken)
    {
        if (!AccessTokenJwt.LooksLikeJwt(token))
        {
            return CredentialVerification.Invalid;
        }

        var (caller, tokenId, expires) = await AccessTokenJwt.ValidateAsync(token, urls.Issuer, keys.VerificationKeys, time);
        if (caller is null && AccessTokenJwt.KeyId(token) is { } kid && keys.VerificationKeys.All(k => k.KeyId != kid)
            && await keys.RefreshAsync(cancellationToken))
        {
            // Signed with a key another node published after this one last read the ring.
            (caller, tokenId, expires) = await AccessTokenJwt.ValidateAsync(token, urls.Issuer, keys.VerificationKeys, time);
        }

        if (caller is null || tokenId is null)
        {
            return CredentialVerification.Invalid;
        }

        var outcome = await StandingAsync(tokenId, caller.AccountId, expires, cancellationToken);
        return outcome == VerificationOutcome.Valid ? new CredentialVerification(outcome, caller) : new CredentialVerification(outcome);
    }

    private async Task<VerificationOutcome> StandingAsync(string tokenId, string accountId, long expires, CancellationToken cancellationToken)
    {
        var cacheKey = "token-standing:" + tokenId;
        if (cache.TryGetValue(cacheKey, out VerificationOutcome known))
        {
            return known;
        }

        var entry = await tokens.FindByIdAsync(tokenId, cancellationToken);
        var outcome = entry is null || !await tokens.HasStatusAsync(entry, OpenIddictConstants.Statuses.Valid, cancellationToken)
            ? VerificationOutcome.Invalid
            : await db.Accounts.AsNoTracking().Where(a => a.Id == accountId).Select(a => (bool?)a.Banned).FirstOrDefaultAsync(cancellationToken) switch
            {
                null => VerificationOutcome.Invalid,
                true => VerificationOutcome.Banned,
                false => VerificationOutcome.Valid,
            };
        var ttl = TimeSpan.FromSeconds(Math.Min(options.Value.IntrospectionCacheSeconds, Math.Max(0, expires - time.GetUtcNow().ToUnixTimeSeconds())));
        if (ttl > TimeSpan.Zero)
        {
            cache.Set(cacheKey, outcome, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = ttl, Size = 1 });
        }

        return outcome;
    }
}
