using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Imagebin.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Accounts;

/// <summary>
/// Proof-of-work challenges, issued without writing anything: a challenge id is
/// <c>base64url(payload) "." base64url(HMAC-SHA256(secret, payload))</c>, the payload being a version byte, 16 random
/// bytes (the <c>prefix</c> is their base64url), the difficulty and the expiry (epoch ms, big-endian). Any node with the
/// same secret can check one; <see cref="SharedState.TryRecordOnceAsync"/> makes each usable once across nodes.
/// Each <see cref="PowPurpose"/> signs with its own key derived from the secret, so a challenge issued for one purpose
/// is malformed for every other (sign-up keeps the undivided key, so its challenges read as they always did).
/// </summary>
public sealed class PowChallenges(PowSecret secret, SharedState shared, IOptions<PowOptions> options, TimeProvider time)
{
    public const int MaxNonceLength = 64;
    private const byte Version = 1;
    private const int RandomLength = 16;
    private const int PayloadLength = 1 + RandomLength + 1 + 8;
    private const int MacLength = 32;

    private const int EncodedPayloadLength = (PayloadLength * 4 + 2) / 3;
    private const int EncodedMacLength = (MacLength * 4 + 2) / 3;

    /// <summary>The length of every challenge id this server issues (a longer one is refused before any decoding).</summary>
    private const int MaxIdLength = EncodedPayloadLength + 1 + EncodedMacLength;

    public sealed record Challenge(string Id, string Prefix, int DifficultyBits, long ExpiresAt);

    public enum Failure
    {
        None,
        Malformed,
        Expired,
        InsufficientWork,
        Reused,
    }

    /// <summary>A sign-up challenge, at the difficulty and lifetime of <see cref="PowOptions"/>.</summary>
    public Task<Challenge> IssueAsync(CancellationToken cancellationToken) =>
        IssueAsync(PowPurpose.Signup, options.Value.DifficultyBits, TimeSpan.FromSeconds(options.Value.ChallengeSeconds), cancellationToken);

    public async Task<Challenge> IssueAsync(PowPurpose purpose, int difficulty, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var key = await KeyAsync(purpose, cancellationToken);
        var expiresAt = time.GetUtcNow().Add(lifetime).ToUnixTimeMilliseconds();
        var payload = new byte[PayloadLength];
        payload[0] = Version;
        RandomNumberGenerator.Fill(payload.AsSpan(1, RandomLength));
        payload[1 + RandomLength] = (byte)difficulty;
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(2 + RandomLength), expiresAt);
        var mac = HMACSHA256.HashData(key, payload);
        var id = $"{Base64Url.EncodeToString(payload)}.{Base64Url.EncodeToString(mac)}";
        return new Challenge(id, PrefixOf(payload), difficulty, expiresAt);
    }

    /// <summary>
    /// Checks a solution without side effects: the signature (in constant time), the expiry and the work. Returns the
    /// challenge on success, for <see cref="ConsumeAsync"/>.
    /// </summary>
    public async Task<(Challenge? Challenge, Failure Failure)> VerifyAsync(
        PowPurpose purpose, string challengeId, string nonce, CancellationToken cancellationToken)
    {
        if (challengeId.Length > MaxIdLength || challengeId.Split('.') is not [var encodedPayload, var encodedMac])
        {
            return (null, Failure.Malformed);
        }

        var payload = new byte[PayloadLength];
        var mac = new byte[MacLength];
        if (encodedPayload.Length != EncodedPayloadLength || encodedMac.Length != EncodedMacLength
            || !Base64Url.IsValid(encodedPayload) || !Base64Url.IsValid(encodedMac)
            || Base64Url.DecodeFromChars(encodedPayload, payload) != PayloadLength
            || Base64Url.DecodeFromChars(encodedMac, mac) != MacLength)
        {
            return (null, Failure.Malformed);
        }

        var expected = HMACSHA256.HashData(await KeyAsync(purpose, cancellationToken), payload);
        // Also refuses non-canonical encodings (trailing bits): the id must be exactly what this server wrote.
        if (!CryptographicOperations.FixedTimeEquals(expected, mac)
            || payload[0] != Version
            || !string.Equals($"{Base64Url.EncodeToString(payload)}.{Base64Url.EncodeToString(expected)}", challengeId, StringComparison.Ordinal))
        {
            return (null, Failure.Malformed);
        }

        var challenge = new Challenge(challengeId, PrefixOf(payload), payload[1 + RandomLength], BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(2 + RandomLength)));
        if (challenge.ExpiresAt <= time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            return (null, Failure.Expired);
        }

        return LeadingZeroBits(SHA256.HashData(Encoding.UTF8.GetBytes(challenge.Prefix + nonce))) >= challenge.DifficultyBits
            ? (challenge, Failure.None)
            : (null, Failure.InsufficientWork);
    }

    /// <summary>Marks a verified challenge used; true once, on whichever node asks first.</summary>
    public Task<bool> ConsumeAsync(Challenge challenge, CancellationToken cancellationToken) =>
        shared.TryRecordOnceAsync($"pow:{challenge.Prefix}", DateTimeOffset.FromUnixTimeMilliseconds(challenge.ExpiresAt), cancellationToken);

    /// <summary>A nonce is 1–64 printable ASCII characters.</summary>
    public static bool IsValidNonce(string nonce) => nonce.Length is >= 1 and <= MaxNonceLength && nonce.All(c => c is >= ' ' and <= '~');

    public static int LeadingZeroBits(ReadOnlySpan<byte> hash)
    {
        var bits = 0;
        foreach (var b in hash)
        {
            if (b != 0)
            {
                return bits + System.Numerics.BitOperations.LeadingZeroCount((uint)b) - 24;
            }

            bits += 8;
        }

        return bits;
    }

    private async ValueTask<byte[]> KeyAsync(PowPurpose purpose, CancellationToken cancellationToken)
    {
        var key = await secret.GetKeyAsync(cancellationToken);
        return purpose == PowPurpose.Signup ? key : HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"imagebin pow purpose: {purpose}"));
    }

    private static string PrefixOf(byte[] payload) => Base64Url.EncodeToString(payload.AsSpan(1, RandomLength));
}

/// <summary>What a proof-of-work challenge may be traded for; a challenge is accepted only for the purpose it was issued for.</summary>
public enum PowPurpose
{
    Signup,
    AnonymousUpload,
    Report,
}

/// <summary>
/// The challenge-signing key: <c>Authority:PowSecret</c> when set; otherwise 248 random bits kept in the shared store,
/// written once by whichever node needs them first and read by every other.
/// </summary>
/// <remarks>
/// No settings table exists and none is added for this: the bits live in four <c>replay_cache</c> rows
/// (<c>pow-secret:0</c>…<c>3</c>), 62 random bits in each row's <c>expires_at</c>, offset by 2^62 so they lie ~146
/// million years ahead and the purge never removes them. Each row is inserted with <c>ON CONFLICT DO NOTHING</c> and
/// then read back, so the first writer of each row wins and concurrent first starts on two nodes still agree. Anyone
/// who can read the database can forge challenges; such a reader can create accounts directly anyway.
/// </remarks>
public sealed class PowSecret(IDbContextFactory<ImagebinDb> contexts, IOptions<PowOptions> options)
{
    private const int Rows = 4;
    private const long Offset = 1L << 62;
    private readonly SemaphoreSlim _load = new(1, 1);
    private byte[]? _key;

    public async ValueTask<byte[]> GetKeyAsync(CancellationToken cancellationToken)
    {
        if (_key is { } key)
        {
            return key;
        }

        await _load.WaitAsync(cancellationToken);
        try
        {
            return _key ??= options.Value.Secret is { } configured
                ? SHA256.HashData(Encoding.UTF8.GetBytes(configured))
                : await LoadOrCreateAsync(cancellationToken);
        }
        finally
        {
            _load.Release();
        }
    }

    private async Task<byte[]> LoadOrCreateAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var material = new byte[Rows * 8];
        for (var i = 0; i < Rows; i++)
        {
            var name = $"pow-secret:{i}";
            var candidate = Offset + (BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8)) & (Offset - 1));
            await db.Database.ExecuteSqlAsync(
                $"INSERT INTO replay_cache (key, expires_at) VALUES ({name}, {candidate}) ON CONFLICT (key) DO NOTHING", cancellationToken);
            var stored = await db.Database.SqlQuery<long>($"SELECT expires_at AS \"Value\" FROM replay_cache WHERE key = {name}")
                .SingleAsync(cancellationToken);
            BinaryPrimitives.WriteInt64BigEndian(material.AsSpan(i * 8), stored);
        }

        return SHA256.HashData(material);
    }
}
