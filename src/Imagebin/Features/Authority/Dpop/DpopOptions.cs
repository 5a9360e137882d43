using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Authority.Dpop;

/// <summary>How DPoP proofs (RFC 9449) are checked (<c>Authority:Dpop:*</c>).</summary>
public sealed class DpopOptions
{
    public const string Section = "Authority:Dpop";

    /// <summary>How old a proof's <c>iat</c> may be.</summary>
    [Range(1, 3600)]
    public int MaxAgeSeconds { get; set; } = 300;

    /// <summary>How far in the future a proof's <c>iat</c> may be (the client's clock running ahead).</summary>
    [Range(0, 600)]
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>Whether every proof must carry a <c>nonce</c> this server issued (RFC 9449 §8).</summary>
    public bool RequireNonce { get; set; }

    /// <summary>
    /// How long one nonce is issued for; a nonce is accepted during its own step and the next, so it lives one to two steps.
    /// </summary>
    [Range(10, 3600)]
    public int NonceStepSeconds { get; set; } = 300;

    /// <summary>
    /// The HMAC secret nonces are derived from. Unset, each process makes its own, so a nonce issued by one node is
    /// refused by another: set it (the same on every node) before requiring nonces on more than one node.
    /// </summary>
    [MinLength(32)]
    public string? NonceSecret { get; set; }
}

/// <summary>The JWS algorithms a DPoP proof may be signed with, as advertised in discovery documents.</summary>
public static class DpopAlgorithms
{
    public const string ES256 = "ES256";
    public const string ES384 = "ES384";
    public const string RS256 = "RS256";
    public const string PS256 = "PS256";

    public static IReadOnlyList<string> All { get; } = [ES256, ES384, RS256, PS256];
}
