using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Imagebin.Features.Authority.Dpop;

/// <summary>JSON Web Keys (RFC 7517/7518) as DPoP proofs carry them: thumbprints, and public keys to verify with.</summary>
public static class Jwk
{
    public const int MinRsaBits = 2048;

    /// <summary>Above this an RSA key is refused: verifying with a huge modulus costs the server, not the client.</summary>
    public const int MaxRsaBits = 8192;

    /// <summary>Members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4).</summary>
    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

    /// <summary>
    /// The RFC 7638 thumbprint: the key type's required members only, in lexicographic order, without whitespace,
    /// hashed with SHA-256 and encoded base64url.
    /// </summary>
    /// <exception cref="ArgumentException">Not a JWK object, an unknown <c>kty</c>, or a required member missing or not a string.</exception>
    public static string Thumbprint(JsonElement jwk)
    {
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("A JWK is a JSON object.", nameof(jwk));
        }

        string[] required = StringMember(jwk, "kty") switch
        {
            "EC" => ["crv", "kty", "x", "y"],
            "RSA" => ["e", "kty", "n"],
            "oct" => ["k", "kty"],
            "OKP" => ["crv", "kty", "x"],
            var kty => throw new ArgumentException($"No RFC 7638 members are known for kty '{kty}'.", nameof(jwk)),
        };
        var canonical = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(canonical, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            foreach (var name in required)
            {
                writer.WriteString(name, StringMember(jwk, name) ?? throw new ArgumentException($"The JWK has no string member '{name}'.", nameof(jwk)));
            }

            writer.WriteEndObject();
        }

        return Base64Url.EncodeToString(SHA256.HashData(canonical.WrittenSpan));
    }

    /// <summary>
    /// Imports the public key <paramref name="jwk"/> describes, for the JWS algorithm <paramref name="alg"/>; returns why
    /// not when it cannot (private members, another key type or curve, a short RSA modulus, a point off the curve).
    /// </summary>
    internal static string? TryImportPublicKey(JsonElement jwk, string alg, out AsymmetricAlgorithm? key)
    {
        key = null;
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            return "the jwk header is not a JSON object";
        }

        if (PrivateMembers.Any(name => jwk.TryGetProperty(name, out _)))
        {
            return "the jwk header holds private key material";
        }

        return (StringMember(jwk, "kty"), alg) switch
        {
            ("EC", DpopAlgorithms.ES256) => TryImportEc(jwk, "P-256", ECCurve.NamedCurves.nistP256, 32, out key),
            ("EC", DpopAlgorithms.ES384) => TryImportEc(jwk, "P-384", ECCurve.NamedCurves.nistP384, 48, out key),
            ("RSA", DpopAlgorithms.RS256 or DpopAlgorithms.PS256) => TryImportRsa(jwk, out key),
            ("EC" or "RSA", _) => "the jwk's key type does not match alg",
            _ => "the jwk's kty is neither EC nor RSA",
        };
    }

    /// <summary>Strict base64url: the URL-safe alphabet only, no padding or whitespace, no stray trailing bits; null otherwise.</summary>
    internal static byte[]? DecodeBase64Url(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return null;
            }
        }

        try
        {
            return Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string? TryImportEc(JsonElement jwk, string curveName, ECCurve curve, int coordinateLength, out AsymmetricAlgorithm? key)
    {
        key = null;
        if (StringMember(jwk, "crv") != curveName)
        {
            return $"the jwk's curve is not {curveName}";
        }

        // RFC 7518 §6.2.1.2: each coordinate is exactly the curve's size, leading zeros included.
        var x = BytesMember(jwk, "x");
        var y = BytesMember(jwk, "y");
        if (x?.Length != coordinateLength || y?.Length != coordinateLength)
        {
            return $"the jwk's x and y are not {coordinateLength}-byte base64url coordinates";
        }

        try
        {
            key = ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = x, Y = y } });
            return null;
        }
        catch (CryptographicException)
        {
            return "the jwk is not a point on its curve";
        }
    }

    private static string? TryImportRsa(JsonElement jwk, out AsymmetricAlgorithm? key)
    {
        key = null;
        var modulus = BytesMember(jwk, "n");
        var exponent = BytesMember(jwk, "e");
        // RFC 7518 §6.3.1: minimal encodings, so that one key has one thumbprint. A small exponent keeps verifying cheap.
        if (modulus is not [not 0, ..] || exponent is not [not 0, ..] || exponent.Length > 4)
        {
            return "the jwk's n and e are not minimal base64url integers";
        }

        var bits = modulus.Length * 8 - BitOperations.LeadingZeroCount((uint)modulus[0]) + 24;
        if (bits is < MinRsaBits or > MaxRsaBits)
        {
            return $"the jwk's RSA modulus has {bits} bits, not {MinRsaBits} to {MaxRsaBits}";
        }

        try
        {
            key = RSA.Create(new RSAParameters { Modulus = modulus, Exponent = exponent });
            return null;
        }
        catch (CryptographicException)
        {
            return "the jwk is not a usable RSA public key";
        }
    }

    private static string? StringMember(JsonElement jwk, string name) =>
        jwk.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? BytesMember(JsonElement jwk, string name) => StringMember(jwk, name) is { } text ? DecodeBase64Url(text) : null;
}
