using System.Security.Claims;
using Imagebin.Data;
using Imagebin.Features.Authority.Dpop;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Imagebin.Features.Authority;

/// <summary>
/// The token endpoint after OpenIddict has checked the grant (code + PKCE verifier, or a refresh token not yet redeemed):
/// the account must still be in good standing, scopes are re-checked against it, a DPoP proof binds the new tokens to
/// the client's key, and a refresh token bound to a key is only redeemed with a proof from that key.
/// </summary>
public static class TokenEndpoint
{
    /// <summary>Set when the response's tokens are DPoP-bound, so that <c>token_type</c> becomes <c>DPoP</c>.</summary>
    public const string DpopBoundItem = "imagebin.dpop_bound";

    public static IEndpointRouteBuilder MapTokenEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapPost(AuthoritySetup.TokenPath, ExchangeAsync).ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> ExchangeAsync(HttpContext context, ImagebinDb db, DpopProofValidator dpop, AuthorityUrls urls)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenIddict server request cannot be retrieved.");
        if (!request.IsAuthorizationCodeGrantType() && !request.IsRefreshTokenGrantType())
        {
            return Refuse(Errors.UnsupportedGrantType, "Only authorization_code and refresh_token grants are supported.");
        }

        var grant = (await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal
            ?? throw new InvalidOperationException("OpenIddict validated a grant without a principal.");

        var boundTo = grant.GetClaim(AuthorityPrincipal.DpopBindingClaim);
        string? jkt = null;
        var proof = await dpop.ValidateAsync(context.Request.Headers["DPoP"], HttpMethods.Post, urls.Token, accessToken: null, expectedJkt: boundTo, context.RequestAborted);
        switch (proof.Kind)
        {
            case DpopValidationKind.Missing when boundTo is not null:
                return Refuse(DpopErrors.InvalidDpopProof, "This refresh token is bound to a DPoP key: send a DPoP proof made with it.");
            case DpopValidationKind.Missing:
                break;
            case DpopValidationKind.Valid:
                jkt = proof.Jkt;
                break;
            case DpopValidationKind.UseNonce:
                context.Response.Headers["DPoP-Nonce"] = dpop.CreateNonce();
                return Refuse(DpopErrors.UseDpopNonce, "Retry with the server's DPoP nonce.");
            default:
                return Refuse(DpopErrors.InvalidDpopProof, proof.Reason ?? "The DPoP proof is invalid.");
        }

        var accountId = grant.GetClaim(Claims.Subject);
        var account = await db.Accounts.AsNoTracking().FirstOrDefaultAsync(a => a.Id == accountId, context.RequestAborted);
        if (account is null || account.Banned)
        {
            return Refuse(Errors.InvalidGrant, "The account no longer exists or is banned.");
        }

        // RFC 8707 §2.2: a token request may narrow the resources granted at authorization, never widen them.
        var resources = grant.GetResources().ToList();
        if (request.GetResources() is { Length: > 0 } asked)
        {
            if (asked.Except(resources, StringComparer.Ordinal).Any())
            {
                return Refuse(Errors.InvalidTarget, "A resource was asked for that the grant does not cover.");
            }

            resources = [.. asked];
        }

        var scopes = grant.GetScopes().Where(scope => AuthorityPrincipal.MayHold(scope)).ToList();
        var principal = AuthorityPrincipal.Create(account, scopes, resources, jkt);
        if (jkt is not null)
        {
            context.Items[DpopBoundItem] = true;
        }

        return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static IResult Refuse(string error, string description) => AuthorizeEndpoint.Refuse(error, description);
}
