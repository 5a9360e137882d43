using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Imagebin.Tests.Support;

/// <summary>
/// DPoP proofs (RFC 9449) as a client makes them, signed with real keys: <see cref="Create"/> fills a valid header and
/// payload for the key, lets a test change either, and signs what results.
/// </summary>
public static class DpopProofs
{
    /// <summary>
    /// A proof for <paramref name="method"/> <paramref name="url"/> (with <c>ath</c> when <paramref name="accessToken"/>
    /// is given), signed by <paramref name="key"/> (<see cref="ECDsa"/> P-256/P-384 or <see cref="RSA"/>) with the
    /// header's final <c>alg</c> when that suits the key, else with the key's own algorithm (ES256, ES384 or RS256), so
    /// a header that lies about its algorithm still carries a real signature. <c>none</c> signs with nothing.
    /// </summary>
    public static string Create(
        AsymmetricAlgorithm key,
        string method,
        string url,
        string? accessToken = null,
        Action<JsonObject>? header = null,
        Action<JsonObject>? payload = null)
    {
        var headerJson = new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = DefaultAlgorithm(key), ["jwk"] = PublicJwk(key) };
        var payloadJson = new JsonObject
        {
            ["jti"] = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
            ["htm"] = method,
            ["htu"] = url,
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        };
        if (accessToken is not null)
        {
            payloadJson["ath"] = Ath(accessToken);
        }

        header?.Invoke(headerJson);
        payload?.Invoke(payloadJson);
        var signingInput = Encoding.ASCII.GetBytes(SigningInput(headerJson, payloadJson));
        return Compact(headerJson, payloadJson, Sign(key, headerJson["alg"]?.GetValue<string>(), signingInput));
    }

    /// <summary>A compact JWS from its parts as given: for proofs no key of this class signs (HS256, forged signatures).</summary>
    public static string Compact(JsonObject header, JsonObject payload, ReadOnlySpan<byte> signature) =>
        $"{SigningInput(header, payload)}.{Base64Url.EncodeToString(signature)}";

    /// <summary>What a JWS signature covers: <c>base64url(header) "." base64url(payload)</c>.</summary>
    public static string SigningInput(JsonObject header, JsonObject payload) => $"{Encode(header)}.{Encode(payload)}";

    /// <summary>The public JWK of <paramref name="key"/>, coordinates at full curve size as RFC 7518 requires.</summary>
    public static JsonObject PublicJwk(AsymmetricAlgorithm key)
    {
        switch (key)
        {
            case ECDsa ec:
                var point = ec.ExportParameters(includePrivateParameters: false);
                return new JsonObject
                {
                    ["kty"] = "EC",
                    ["crv"] = CurveName(ec),
                    ["x"] = Base64Url.EncodeToString(point.Q.X),
                    ["y"] = Base64Url.EncodeToString(point.Q.Y),
                };
            case RSA rsa:
                var parameters = rsa.ExportParameters(includePrivateParameters: false);
                return new JsonObject
                {
                    ["kty"] = "RSA",
                    ["n"] = Base64Url.EncodeToString(parameters.Modulus),
                    ["e"] = Base64Url.EncodeToString(parameters.Exponent),
                };
            default:
                throw new ArgumentException($"No JWK for {key.GetType().Name}.", nameof(key));
        }
    }

    /// <summary>The RFC 7638 thumbprint of <paramref name="key"/>, written out here rather than by the code under test.</summary>
    public static string Jkt(AsymmetricAlgorithm key)
    {
        var jwk = PublicJwk(key);
        var canonical = key is ECDsa
            ? $$"""{"crv":"{{jwk["crv"]}}","kty":"EC","x":"{{jwk["x"]}}","y":"{{jwk["y"]}}"}"""
            : $$"""{"e":"{{jwk["e"]}}","kty":"RSA","n":"{{jwk["n"]}}"}""";
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>What a proof's <c>ath</c> holds for <paramref name="accessToken"/>.</summary>
    public static string Ath(string accessToken) => Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));

    private static string Encode(JsonObject json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json.ToJsonString()));

    private static string CurveName(ECDsa key) => key.KeySize switch
    {
        256 => "P-256",
        384 => "P-384",
        521 => "P-521",
        _ => throw new ArgumentException($"No JWK curve name for a {key.KeySize}-bit key.", nameof(key)),
    };

    private static string DefaultAlgorithm(AsymmetricAlgorithm key) => key switch
    {
        ECDsa { KeySize: 384 } => "ES384",
        ECDsa => "ES256",
        _ => "RS256",
    };

    private static byte[] Sign(AsymmetricAlgorithm key, string? alg, byte[] data) => (key, alg) switch
    {
        (_, "none") => [],
        (ECDsa ec, "ES256") => ec.SignData(data, HashAlgorithmName.SHA256),
        (ECDsa ec, "ES384") => ec.SignData(data, HashAlgorithmName.SHA384),
        (RSA rsa, "RS256") => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        (RSA rsa, "PS256") => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
        _ => Sign(key, DefaultAlgorithm(key), data),
    };
}
