using System.Security.Cryptography;
using System.Text;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Accounts;

/// <summary>
/// API keys: <c>pbca_live_&lt;id&gt;_&lt;secret&gt;</c>, base62, a 12-character public id and a 43-character secret (≈ 256 bits).
/// Only the SHA-256 of the secret is stored; a high-entropy secret needs no slow KDF, and the comparison is constant-time.
/// </summary>
public sealed class ApiKeys(ImagebinDb db, SiteUrls site, IOptions<AuthorityOptions> authority, TimeProvider time)
{
    public const string Prefix = "pbca_live_";
    private const int IdLength = 12;
    private const int SecretLength = 43;
    private static readonly byte[] DummyHash = SHA256.HashData("no such key"u8);

    public sealed record Created(string Token, ApiKey Key);

    public async Task<Created> CreateAsync(
        string accountId, IReadOnlyCollection<string> scopes, string? audience, TimeSpan? lifetime, CancellationToken cancellationToken)
    {
        var unknown = scopes.Except(Scopes.Known).ToList();
        if (scopes.Count == 0 || unknown.Count > 0)
        {
            throw new ArgumentException(
                $"Scopes must be a non-empty subset of {string.Join(",", Scopes.Known)}; unknown: {string.Join(",", unknown)}");
        }

        if (scopes.Contains(Scopes.Admin)
            && !await db.Accounts.AnyAsync(a => a.Id == accountId && a.Role == AccountRoles.Admin, cancellationToken))
        {
            throw new ArgumentException("Only an admin account's keys may carry the 'admin' scope.");
        }

        var now = time.GetUtcNow();
        var secret = Ids.RandomBase62(SecretLength);
        var key = new ApiKey
        {
            Id = Ids.RandomBase62(IdLength),
            AccountId = accountId,
            SecretHash = SHA256.HashData(Encoding.ASCII.GetBytes(secret)),
            Scopes = string.Join(' ', scopes.Distinct()),
            Audience = SiteUrls.Normalize(audience ?? authority.Value.ResourceBase(site)),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            ExpiresAt = lifetime is { } life ? (now + life).ToUnixTimeMilliseconds() : null,
        };
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);
        return new Created($"{Prefix}{key.Id}_{secret}", key);
    }

    public async Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return await db.ApiKeys.Where(k => k.Id == keyId && k.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(k => k.RevokedAt, now), cancellationToken) > 0;
    }

    /// <summary>Revokes a key of this account (again: no change); false when the account has no such key.</summary>
    public async Task<bool> RevokeOwnAsync(string accountId, string keyId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return await db.ApiKeys.Where(k => k.Id == keyId && k.AccountId == accountId)
            .ExecuteUpdateAsync(set => set.SetProperty(k => k.RevokedAt, k => k.RevokedAt ?? now), cancellationToken) > 0;
    }

    public enum Outcome
    {
        Valid,
        Invalid,
        Banned,
    }

    public sealed record Verification(Outcome Outcome, ApiKey? Key = null, Account? Account = null);

    /// <summary>Checks a presented token: shape, secret, revocation, expiry and the owner's standing (the caller checks the audience).</summary>
    public async Task<Verification> VerifyAsync(string token, CancellationToken cancellationToken)
    {
        if (!TryParse(token, out var id, out var secret))
        {
            return new Verification(Outcome.Invalid);
        }

        var found = await db.ApiKeys.AsNoTracking()
            .Where(k => k.Id == id)
            .Join(db.Accounts, k => k.AccountId, a => a.Id, (k, a) => new { Key = k, Account = a })
            .FirstOrDefaultAsync(cancellationToken);

        // Hash and compare even when the id is unknown, so timing does not tell which ids exist.
        var presented = SHA256.HashData(Encoding.ASCII.GetBytes(secret));
        var matches = CryptographicOperations.FixedTimeEquals(presented, found?.Key.SecretHash ?? DummyHash);
        if (found is null || !matches)
        {
            return new Verification(Outcome.Invalid);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (found.Key.RevokedAt is not null || found.Key.ExpiresAt <= now)
        {
            return new Verification(Outcome.Invalid);
        }

        if (found.Account.Banned)
        {
            return new Verification(Outcome.Banned);
        }

        // Recording use costs a write; once a minute per key is enough to answer "when was this key last used".
        if (found.Key.LastUsedAt is null || now - found.Key.LastUsedAt > 60_000)
        {
            await db.ApiKeys.Where(k => k.Id == id).ExecuteUpdateAsync(set => set.SetProperty(k => k.LastUsedAt, now), cancellationToken);
        }

        return new Verification(Outcome.Valid, found.Key, found.Account);
    }

    private static bool TryParse(string token, out string id, out string secret)
    {
        id = secret = "";
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length != Prefix.Length + IdLength + 1 + SecretLength)
        {
            return false;
        }

        var body = token.AsSpan(Prefix.Length);
        if (body[IdLength] != '_' || !Ids.IsBase62(body[..IdLength]) || !Ids.IsBase62(body[(IdLength + 1)..]))
        {
            return false;
        }

        id = body[..IdLength].ToString();
        secret = body[(IdLength + 1)..].ToString();
        return true;
    }
}
