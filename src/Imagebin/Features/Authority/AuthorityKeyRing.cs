using System.Security.Cryptography;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Imagebin.Features.Authority;

/// <summary>
/// The authority's keys, kept in the store so that every node signs with the same key and publishes the same JWKS.
/// Rotation without downtime: a new signing key is written <see cref="AuthorityOptions.SigningKeyPublishAheadHours"/>
/// before it starts signing (every node publishes it meanwhile), and the old key stays published until the last token it
/// signed has expired. One symmetric key encrypts the authority's own authorization codes and refresh tokens.
/// </summary>
public sealed class AuthorityKeyRing(IDbContextFactory<ImagebinDb> contexts, IOptions<AuthorityOptions> options, TimeProvider time, ILogger<AuthorityKeyRing> logger)
{
    public const string Signing = "sig";
    public const string Encryption = "enc";
    private const string InitialSigningId = "sig-initial";
    private const string EncryptionId = "enc-1";
    private static readonly TimeSpan MinReloadInterval = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile Snapshot? _snapshot;
    private volatile string? _serverConfiguredWith;

    /// <summary>The keys as last read: the one that signs now, every published signing key, the encryption key.</summary>
    public sealed record Snapshot(RsaSecurityKey Signer, IReadOnlyList<RsaSecurityKey> Published, SymmetricSecurityKey EncryptionKey, DateTimeOffset ReadAt)
    {
        public string Fingerprint => string.Join(',', Published.Select(k => k.KeyId)) + "|" + Signer.KeyId;
    }

    public Snapshot Current => _snapshot ?? LoadAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Called when the authorization server's options are built from <paramref name="snapshot"/>.</summary>
    public void ServerConfiguredWith(Snapshot snapshot) => _serverConfiguredWith = snapshot.Fingerprint;

    /// <summary>Whether the server's options were built from other keys than the current ones (then they must be rebuilt).</summary>
    public bool ServerIsBehind => _serverConfiguredWith is { } configured && configured != Current.Fingerprint;

    /// <summary>Every public signing key a token may be verified with.</summary>
    public IReadOnlyList<SecurityKey> VerificationKeys => Current.Published;

    /// <summary>Creates the first keys of a new store (idempotent across nodes starting together) and reads them.</summary>
    public async Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var now = time.GetUtcNow();
            var keys = await PublishedAsync(db, now, cancellationToken);
            if (!keys.Any(k => k.Purpose == Signing && k.ActiveFrom <= now.ToUnixTimeMilliseconds()) || !keys.Any(k => k.Purpose == Encryption))
            {
                await CreateInitialAsync(db, now, cancellationToken);
                keys = await PublishedAsync(db, now, cancellationToken);
            }

            var snapshot = Build(keys, now);
            _snapshot = snapshot;
            return snapshot;
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>Reads the keys again unless that happened less than 30 s ago; true when what is published or who signs changed.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        var before = _snapshot;
        if (before is not null && time.GetUtcNow() - before.ReadAt < MinReloadInterval)
        {
            return false;
        }

        var after = await LoadAsync(cancellationToken);
        return before is null || before.Fingerprint != after.Fingerprint;
    }

    /// <summary>
    /// Writes the next signing key when the current one is due to hand over; called periodically by authority nodes.
    /// The unique id per period makes nodes that rotate together write one key.
    /// </summary>
    public async Task<bool> RotateIfDueAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var signing = (await PublishedAsync(db, now, cancellationToken)).Where(k => k.Purpose == Signing).OrderByDescending(k => k.ActiveFrom).ToList();
        var newest = signing.FirstOrDefault();
        if (newest is null)
        {
            return false;
        }

        var ahead = TimeSpan.FromHours(settings.SigningKeyPublishAheadHours);
        var handOver = DateTimeOffset.FromUnixTimeMilliseconds(newest.ActiveFrom) + TimeSpan.FromDays(settings.SigningKeyDays);
        if (now + ahead < handOver)
        {
            return false;
        }

        var activeFrom = Max(handOver, now + ahead);
        await AddSigningKeyAsync(db, $"sig-{activeFrom.ToUnixTimeSeconds()}", activeFrom, cancellationToken);
        // The keys it replaces stay published until every token they signed has expired.
        var retire = (activeFrom + TimeSpan.FromMinutes(settings.AccessTokenMinutes) + TimeSpan.FromHours(1)).ToUnixTimeMilliseconds();
        await db.AuthorityKeys.Where(k => k.Purpose == Signing && k.ActiveFrom < activeFrom.ToUnixTimeMilliseconds() && k.RetiresAt > retire)
            .ExecuteUpdateAsync(set => set.SetProperty(k => k.RetiresAt, retire), cancellationToken);
        logger.LogInformation("Published the next signing key; it signs from {ActiveFrom:u}", activeFrom);
        return true;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static Task<List<AuthorityKey>> PublishedAsync(ImagebinDb db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var at = now.ToUnixTimeMilliseconds();
        return db.AuthorityKeys.AsNoTracking().Where(k => k.RetiresAt > at).ToListAsync(cancellationToken);
    }

    private async Task CreateInitialAsync(ImagebinDb db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await AddSigningKeyAsync(db, InitialSigningId, now, cancellationToken);
        await InsertIfAbsentAsync(db, new AuthorityKey
        {
            Id = EncryptionId,
            Purpose = Encryption,
            Material = RandomNumberGenerator.GetBytes(32),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            ActiveFrom = now.ToUnixTimeMilliseconds(),
            RetiresAt = long.MaxValue,
        }, cancellationToken);
    }

    private static async Task AddSigningKeyAsync(ImagebinDb db, string id, DateTimeOffset activeFrom, CancellationToken cancellationToken)
    {
        using var rsa = RSA.Create(2048);
        await InsertIfAbsentAsync(db, new AuthorityKey
        {
            Id = id,
            Purpose = Signing,
            Material = rsa.ExportPkcs8PrivateKey(),
            CreatedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ActiveFrom = activeFrom.ToUnixTimeMilliseconds(),
            RetiresAt = long.MaxValue,
        }, cancellationToken);
    }

    /// <summary>Inserts the key unless a node wrote one with that id first (then its key is the one everybody uses).</summary>
    private static async Task InsertIfAbsentAsync(ImagebinDb db, AuthorityKey key, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlAsync(
            $"""
            INSERT INTO authority_keys (id, purpose, material, created_at, active_from, retires_at)
            VALUES ({key.Id}, {key.Purpose}, {key.Material}, {key.CreatedAt}, {key.ActiveFrom}, {key.RetiresAt})
            ON CONFLICT (id) DO NOTHING
            """,
            cancellationToken);
    }

    private Snapshot Build(List<AuthorityKey> keys, DateTimeOffset now)
    {
        var at = now.ToUnixTimeMilliseconds();
        var published = keys.Where(k => k.Purpose == Signing).OrderByDescending(k => k.ActiveFrom).Select(ToRsaKey).ToList();
        var signerId = keys.Where(k => k.Purpose == Signing && k.ActiveFrom <= at).MaxBy(k => k.ActiveFrom)!.Id;
        var encryption = keys.Where(k => k.Purpose == Encryption).MaxBy(k => k.ActiveFrom)!;
        return new Snapshot(
            published.Single(k => k.KeyId == signerId),
            published,
            new SymmetricSecurityKey(encryption.Material) { KeyId = encryption.Id },
            now);
    }

    private static RsaSecurityKey ToRsaKey(AuthorityKey key)
    {
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(key.Material, out _);
        return new RsaSecurityKey(rsa) { KeyId = key.Id };
    }
}
