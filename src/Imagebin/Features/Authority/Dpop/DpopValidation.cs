using System.Diagnostics.CodeAnalysis;

namespace Imagebin.Features.Authority.Dpop;

public enum DpopValidationKind
{
    /// <summary>One proof, and it holds for this request.</summary>
    Valid,

    /// <summary>No <c>DPoP</c> header at all: the request may still be fine without one (a Bearer token).</summary>
    Missing,

    /// <summary>A proof that does not hold: answer <c>invalid_dpop_proof</c>.</summary>
    Invalid,

    /// <summary>A sound proof without a current server nonce: answer <c>use_dpop_nonce</c> with a fresh <c>DPoP-Nonce</c>.</summary>
    UseNonce,
}

/// <summary>What <see cref="DpopProofValidator.ValidateAsync"/> found; on failure, <see cref="Reason"/> says why in a few words.</summary>
public sealed record DpopValidation
{
    private DpopValidation(DpopValidationKind kind, string? jkt, string? jti, string? reason)
    {
        Kind = kind;
        Jkt = jkt;
        Jti = jti;
        Reason = reason;
    }

    public DpopValidationKind Kind { get; }

    /// <summary>The proof key's RFC 7638 SHA-256 thumbprint (base64url), what <c>cnf.jkt</c> binds a token to.</summary>
    public string? Jkt { get; }

    public string? Jti { get; }

    public string? Reason { get; }

    [MemberNotNullWhen(true, nameof(Jkt), nameof(Jti))]
    public bool IsValid => Kind == DpopValidationKind.Valid;

    internal static DpopValidation Missing { get; } = new(DpopValidationKind.Missing, null, null, "no DPoP header");

    internal static DpopValidation Valid(string jkt, string jti) => new(DpopValidationKind.Valid, jkt, jti, null);

    internal static DpopValidation Invalid(string reason) => new(DpopValidationKind.Invalid, null, null, reason);

    internal static DpopValidation UseNonce(string reason) => new(DpopValidationKind.UseNonce, null, null, reason);
}
