using System.Security.Claims;
using System.Text.Encodings.Web;
using Imagebin.Features.Authority;
using Imagebin.Features.Authority.Dpop;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Accounts;

/// <summary>
/// Authenticates the api role's callers: <c>Authorization: Bearer pbca_live_…</c> (an API key), <c>Bearer &lt;jwt&gt;</c>
/// (an OAuth access token) or <c>DPoP &lt;jwt&gt;</c> with a <c>DPoP</c> proof (RFC 9449). A credential must be for
/// the resource the request is for: the API's origin, or its <c>/mcp</c> URL under <c>/mcp</c>. A token bound to a
/// DPoP key is refused as a Bearer token; tokens in the URL are refused outright.
/// </summary>
public sealed class CredentialsAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Credentials";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        var space = header.IndexOf(' ');
        var scheme = space > 0 ? header[..space] : header;
        var credential = space > 0 ? header[(space + 1)..].Trim() : "";
        var dpop = scheme.Equals("DPoP", StringComparison.OrdinalIgnoreCase);
        if (!dpop && !scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || credential.Length == 0)
        {
            return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
        }

        // Resolved only now: most requests (every image fetch) carry no credentials and need no verifier.
        var verifier = Context.RequestServices.GetRequiredService<ITokenVerifier>();
        var isKey = credential.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal);
        if (isKey && dpop)
        {
            return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
        }

        var verification = isKey
            ? await verifier.VerifyApiKeyAsync(credential, Context.RequestAborted)
            : await verifier.VerifyAccessTokenAsync(credential, Context.RequestAborted);
        switch (verification.Outcome)
        {
            case VerificationOutcome.Banned:
                return AuthenticateResult.Fail(ErrorCodes.AccountBanned);
            case VerificationOutcome.Unavailable:
                return AuthenticateResult.Fail(ErrorCodes.AuthorityUnavailable);
            case VerificationOutcome.Invalid:
                return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
        }

        var caller = verification.Caller!;
        var site = Context.RequestServices.GetRequiredService<SiteUrls>();
        var resource = Request.Path.StartsWithSegments(BearerChallenge.McpPath, StringComparison.OrdinalIgnoreCase)
            ? site.PublicBase + BearerChallenge.McpPath
            : site.PublicBase;
        if (!caller.Audiences.Any(audience => SiteUrls.Normalize(audience) == resource))
        {
            return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
        }

        if (caller.DpopJkt is not null || dpop)
        {
            if (caller.DpopJkt is null || !dpop)
            {
                // A DPoP-bound token sent as Bearer (stolen without its key), or DPoP claimed for an unbound token.
                return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
            }

            var proofs = Context.RequestServices.GetRequiredService<DpopProofValidator>();
            var proof = await proofs.ValidateAsync(
                Request.Headers["DPoP"], Request.Method, site.PublicBase + Request.PathBase + Request.Path, credential, caller.DpopJkt, Context.RequestAborted);
            if (proof.Kind == DpopValidationKind.UseNonce)
            {
                return AuthenticateResult.Fail(DpopErrors.UseDpopNonce);
            }

            if (proof.Kind != DpopValidationKind.Valid)
            {
                return AuthenticateResult.Fail(ErrorCodes.InvalidDpopProof);
            }
        }

        var identity = AccessTokenJwt.ToIdentity(caller, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        new ApiError(ErrorCodes.AuthRequired, "Send an API key or an access token: Authorization: Bearer …").WriteAsync(Context);
}

/// <summary>A scope an endpoint requires, as an authorization requirement (so 403s can name it).</summary>
public sealed class ScopeRequirement(string scope) : AuthorizationHandler<ScopeRequirement>, IAuthorizationRequirement
{
    public string Scope { get; } = scope;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User.HasScope(requirement.Scope))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Answers failed authentication and authorization with the contract's error codes.</summary>
public sealed class ApiAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged)
        {
            await new ApiError(ErrorCodes.AuthRequired, "Send an API key or an access token: Authorization: Bearer …").WriteAsync(context);
            return;
        }

        if (authorizeResult.Forbidden)
        {
            var scope = authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<ScopeRequirement>().FirstOrDefault()?.Scope;
            var error = scope is null
                ? new ApiError(ErrorCodes.Forbidden)
                : new ApiError(ErrorCodes.InsufficientScope, $"This operation needs the '{scope}' scope.") { Scope = scope };
            await error.WriteAsync(context);
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}

public static class CredentialsPipeline
{
    /// <summary>
    /// Authenticates requests that carry an <c>Authorization</c> header and refuses those whose credentials fail, even on
    /// endpoints that allow anonymous callers: a client with a bad key must learn it instead of silently acting as
    /// anonymous. Requests without the header (every plain image fetch) skip authentication entirely.
    /// </summary>
    public static IApplicationBuilder UseCredentials(this IApplicationBuilder app) => app.MarkAuthenticationPlaced()
        // RFC 6750 §2.3 allows a token in the query; OAuth 2.1 and the MCP spec forbid it: URLs end up in logs and Referers.
        .UseWhen(
            context => context.Request.QueryString.HasValue && context.Request.Query.ContainsKey("access_token")
                && !AuthoritySetup.IsAuthorityPath(context.Request.Path),
            branch => branch.Run(context =>
                new ApiError(ErrorCodes.InvalidToken, "Access tokens are accepted only in the Authorization header, never in the URL.").WriteAsync(context)))
        .UseWhen(
            context => context.Request.Headers.Authorization.Count > 0 && !AuthoritySetup.IsAuthorityPath(context.Request.Path),
            branch => branch.UseAuthentication().Use(async (context, next) =>
            {
                var result = await context.AuthenticateAsync(CredentialsAuthenticationHandler.SchemeName);
                if (result.Failure?.Message == DpopErrors.UseDpopNonce)
                {
                    var site = context.RequestServices.GetRequiredService<SiteUrls>();
                    context.Response.Headers["DPoP-Nonce"] = context.RequestServices.GetRequiredService<DpopProofValidator>().CreateNonce();
                    await new ApiError(ErrorCodes.InvalidDpopProof, "Retry with a proof carrying the server's nonce (the DPoP-Nonce header).")
                    {
                        WwwAuthenticate = BearerChallenge.UseDpopNonce(site.PublicBase, context.Request.Path),
                    }.WriteAsync(context);
                    return;
                }

                if (result.Failure is { } failure)
                {
                    var code = failure.Message;
                    await new ApiError(code, code switch
                    {
                        ErrorCodes.InvalidToken => "The key or token is unknown, revoked, expired, for another resource, or bound to a DPoP key it was not sent with.",
                        ErrorCodes.InvalidDpopProof => "The DPoP proof is missing, malformed, replayed, or does not match this request or the token's key.",
                        ErrorCodes.AuthorityUnavailable => "The authorization server could not be reached to check this credential; it was not refused.",
                        _ => null,
                    })
                    {
                        RetryAfterSeconds = code == ErrorCodes.AuthorityUnavailable ? 5 : null,
                    }.WriteAsync(context);
                    return;
                }

                await next(context);
            }))
        .UseWhen(BrowserSessions.Applies, branch => branch.Use(BrowserSessions.AuthenticateAsync));
}
