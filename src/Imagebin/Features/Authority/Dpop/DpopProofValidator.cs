using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Imagebin.Data;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Imagebin.Features.Authority.Dpop;

/// <summary>
/// Checks DPoP proofs (RFC 9449 §4.3): one compact JWS of type <c>dpop+jwt</c>, signed by the public key in its own
/// header, for this method and URL, recent, bound to the access token (<c>ath</c>) and to the token's key
/// (<c>cnf.jkt</c>) when given, with a current server nonce when required, and used once across all nodes.
/// </summary>
/// <remarks>
/// Nonces are stateless: the HMAC of the current time step, so issuing one writes nothing and any node with the same
/// <see cref="DpopOptions.NonceSecret"/> accepts it during its step and the next.
/// </remarks>
public sealed class DpopProofValidator
{
    public const int MaxProofLength = 8 * 1024;
    public const int MaxJtiLength = 128;
    private const int NonceMacLength = 24;

    private static readonly JsonDocumentOptions ProofJson = new() { MaxDepth = 8, AllowDuplicateProperties = false };

    private readonly SharedState _shared;
    private readonly TimeProvider _time;
    private readonly DpopOptions _options;
    private readonly byte[] _nonceKey;

    public DpopProofValidator(SharedState shared, TimeProvider time, IOptions<DpopOptions> options)
    {
        _shared = shared;
        _time = time;
        _options = options.Value;
        _nonceKey = _options.NonceSecret is { } secret
            ? SHA256.HashData(Encoding.UTF8.GetBytes($"imagebin-dpop-nonce:{secret}"))
            : RandomNumberGenerator.GetBytes(32);
    }

    /// <summary>A nonce for the <c>DPoP-Nonce</c> response header, accepted by this validator for one to two time steps.</summary>
    public string CreateNonce() => NonceFor(CurrentNonceStep());

    /// <summary>
    /// Validates the request's <c>DPoP</c> header values. <paramref name="requestUrl"/> is the absolute URL the request
    /// was sent to (its query and fragment are ignored); <paramref name="accessToken"/>, when given, must be the one the
    /// proof's <c>ath</c> hashes; <paramref name="expectedJkt"/>, when given, the thumbprint of the proof's key. A proof
    /// that passes every check is recorded and refused from then on, on any node.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="requestUrl"/> is not an absolute http(s) URL.</exception>
    public async Task<DpopValidation> ValidateAsync(
        StringValues dpopHeaders,
        string method,
        string requestUrl,
        string? accessToken,
        string? expectedJkt,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        var target = NormalizeHtu(requestUrl) ?? throw new ArgumentException("The request URL must be an absolute http(s) URL.", nameof(requestUrl));
        if (dpopHeaders.Count == 0)
        {
            return DpopValidation.Missing;
        }

        if (dpopHeaders.Count > 1)
        {
            return DpopValidation.Invalid("more than one DPoP header");
        }

        var result = Check(dpopHeaders[0], method, target, accessToken, expectedJkt, out var issuedAt);
        if (!result.IsValid)
        {
            return result;
        }

        // Past this the proof's iat is out of the window anyway; the skew is margin for another node's clock.
        var until = issuedAt.AddSeconds(_options.MaxAgeSeconds + _options.ClockSkewSeconds);
        return await _shared.TryRecordOnceAsync($"dpop:{result.Jkt}:{result.Jti}", until, cancellationToken)
            ? result
            : DpopValidation.Invalid("the DPoP proof was already used (replayed)");
    }

    /// <summary>
    /// The URL as RFC 9449 §4.3 compares it: scheme and host lower-cased, the default port dropped, dot segments and
    /// needless percent-encoding resolved, query and fragment removed. Null for anything but an absolute http(s) URL.
    /// </summary>
    internal static string? NormalizeHtu(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            ? uri.GetComponents(
                UriComponents.Scheme | UriComponents.UserInfo | UriComponents.Host | UriComponents.Port | UriComponents.Path,
                UriFormat.UriEscaped)
            : null;

    private DpopValidation Check(string? proof, string method, string target, string? accessToken, string? expectedJkt, out DateTimeOffset issuedAt)
    {
        issuedAt = default;
        if (string.IsNullOrEmpty(proof) || proof.Length > MaxProofLength)
        {
            return DpopValidation.Invalid($"the DPoP proof is empty or longer than {MaxProofLength} characters");
        }

        if (proof.Split('.') is not [var encodedHeader, var encodedPayload, var encodedSignature])
        {
            return DpopValidation.Invalid("the DPoP proof is not a compact JWS of three parts");
        }

        using var headerDocument = ParseObject(encodedHeader);
        if (headerDocument?.RootElement is not { } header)
        {
            return DpopValidation.Invalid("the DPoP proof's header is not a base64url JSON object");
        }

        if (!IsDpopType(StringClaim(header, "typ")))
        {
            return DpopValidation.Invalid("the DPoP proof's typ is not dpop+jwt");
        }

        // RFC 7515 §4.1.11: an extension the recipient must understand; this one understands none.
        if (header.TryGetProperty("crit", out _))
        {
            return DpopValidation.Invalid("the DPoP proof's header has crit extensions");
        }

        if (StringClaim(header, "alg") is not { } alg || !DpopAlgorithms.All.Contains(alg, StringComparer.Ordinal))
        {
            return DpopValidation.Invalid($"the DPoP proof's alg is not one of {string.Join(", ", DpopAlgorithms.All)}");
        }

        if (!header.TryGetProperty("jwk", out var jwk))
        {
            return DpopValidation.Invalid("the DPoP proof's header has no jwk");
        }

        if (Jwk.TryImportPublicKey(jwk, alg, out var key) is { } keyProblem)
        {
            return DpopValidation.Invalid(keyProblem);
        }

        // Parsed before the signature is checked so that the signing input is known to be ASCII; read only after.
        using var payloadDocument = ParseObject(encodedPayload);
        if (payloadDocument?.RootElement is not { } payload)
        {
            return DpopValidation.Invalid("the DPoP proof's payload is not a base64url JSON object");
        }

        using (key)
        {
            var signature = Jwk.DecodeBase64Url(encodedSignature);
            var signingInput = Encoding.ASCII.GetBytes(proof[..(encodedHeader.Length + 1 + encodedPayload.Length)]);
            if (signature is null || !Verify(key!, alg, signingInput, signature))
            {
                return DpopValidation.Invalid("the DPoP proof's signature does not verify with its jwk");
            }
        }

        if (StringClaim(payload, "jti") is not { Length: >= 1 and <= MaxJtiLength } jti)
        {
            return DpopValidation.Invalid($"the DPoP proof's jti is not a string of 1 to {MaxJtiLength} characters");
        }

        if (StringClaim(payload, "htm") != method)
        {
            return DpopValidation.Invalid("the DPoP proof's htm is not the request's method");
        }

        if (NormalizeHtu(StringClaim(payload, "htu")) != target)
        {
            return DpopValidation.Invalid("the DPoP proof's htu is not the request's URL");
        }

        if (!payload.TryGetProperty("iat", out var iat) || iat.ValueKind != JsonValueKind.Number || !iat.TryGetDouble(out var iatSeconds))
        {
            return DpopValidation.Invalid("the DPoP proof's iat is not a number");
        }

        var age = (_time.GetUtcNow().ToUnixTimeMilliseconds() - iatSeconds * 1000) / 1000;
        if (age > _options.MaxAgeSeconds)
        {
            return DpopValidation.Invalid($"the DPoP proof's iat is more than {_options.MaxAgeSeconds} s old");
        }

        if (-age > _options.ClockSkewSeconds)
        {
            return DpopValidation.Invalid($"the DPoP proof's iat is more than {_options.ClockSkewSeconds} s in the future");
        }

        if (accessToken is not null && !FixedTimeEquals(StringClaim(payload, "ath"), Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(accessToken)))))
        {
            return DpopValidation.Invalid("the DPoP proof's ath is not the hash of the access token");
        }

        var jkt = Jwk.Thumbprint(jwk);
        if (expectedJkt is not null && !FixedTimeEquals(jkt, expectedJkt))
        {
            return DpopValidation.Invalid("the DPoP proof's key is not the one the access token is bound to");
        }

        if (_options.RequireNonce && !IsCurrentNonce(StringClaim(payload, "nonce")))
        {
            return DpopValidation.UseNonce("the DPoP proof has no current server nonce");
        }

        issuedAt = DateTimeOffset.FromUnixTimeMilliseconds((long)(iatSeconds * 1000));
        return DpopValidation.Valid(jkt, jti);
    }

    private static bool Verify(AsymmetricAlgorithm key, string alg, byte[] signingInput, byte[] signature) => (key, alg) switch
    {
        // JWS ECDSA signatures are r || s at the curve's size (IEEE P1363), .NET's default format.
        (ECDsa ec, DpopAlgorithms.ES256) => signature.Length == 64 && ec.VerifyData(signingInput, signature, HashAlgorithmName.SHA256),
        (ECDsa ec, DpopAlgorithms.ES384) => signature.Length == 96 && ec.VerifyData(signingInput, signature, HashAlgorithmName.SHA384),
        (RSA rsa, DpopAlgorithms.RS256) => signature.Length == (rsa.KeySize + 7) / 8
            && rsa.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        // PSS with a salt as long as the hash, as RFC 7518 §3.5 requires.
        (RSA rsa, DpopAlgorithms.PS256) => signature.Length == (rsa.KeySize + 7) / 8
            && rsa.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
        _ => false,
    };

    /// <summary>RFC 7515 §4.1.9: a media type, compared case-insensitively, <c>application/</c> implied.</summary>
    private static bool IsDpopType(string? typ) =>
        string.Equals(typ, "dpop+jwt", StringComparison.OrdinalIgnoreCase)
        || string.Equals(typ, "application/dpop+jwt", StringComparison.OrdinalIgnoreCase);

    /// <summary>A JSON object from one base64url part; duplicate member names are refused (RFC 7515 §4).</summary>
    private static JsonDocument? ParseObject(string encoded)
    {
        if (Jwk.DecodeBase64Url(encoded) is not { } bytes)
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(bytes, ProofJson);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? StringClaim(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool FixedTimeEquals(string? actual, string expected) =>
        actual is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(actual), Encoding.UTF8.GetBytes(expected));

    private long CurrentNonceStep() => _time.GetUtcNow().ToUnixTimeSeconds() / _options.NonceStepSeconds;

    private string NonceFor(long step)
    {
        Span<byte> message = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(message, step);
        return Base64Url.EncodeToString(HMACSHA256.HashData(_nonceKey, message).AsSpan(0, NonceMacLength));
    }

    private bool IsCurrentNonce(string? nonce)
    {
        var step = CurrentNonceStep();
        // Both compared, so the time taken does not tell which step matched.
        return FixedTimeEquals(nonce, NonceFor(step)) | FixedTimeEquals(nonce, NonceFor(step - 1));
    }
}
