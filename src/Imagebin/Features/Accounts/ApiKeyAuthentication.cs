using System.Security.Claims;
using System.Text.Encodings.Web;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Accounts;

/// <summary>Authenticates <c>Authorization: Bearer pbca_live_…</c>. Anything else in a Bearer header is an invalid token.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    /// <summary>Set on a failed authentication so the response can name the reason.</summary>
    public const string BannedFailure = ErrorCodes.AccountBanned;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
        }

        // Resolved only now: most requests (every image fetch) carry no credentials and need no database context.
        var keys = Context.RequestServices.GetRequiredService<ApiKeys>();
        var verification = await keys.VerifyAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted);
        switch (verification.Outcome)
        {
            case ApiKeys.Outcome.Banned:
                return AuthenticateResult.Fail(BannedFailure);
            case ApiKeys.Outcome.Invalid:
                return AuthenticateResult.Fail(ErrorCodes.InvalidToken);
        }

        var key = verification.Key!;
        var account = verification.Account!;
        var claims = new List<Claim>
        {
            new(ImagebinClaims.Subject, account.Id),
            new(ImagebinClaims.Name, account.Name),
            new(ImagebinClaims.Role, account.Role),
            new(ImagebinClaims.KeyId, key.Id),
        };
        claims.AddRange(key.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => new Claim(ImagebinClaims.Scope, s)));
        var identity = new ClaimsIdentity(claims, SchemeName, ImagebinClaims.Name, ImagebinClaims.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        new ApiError(ErrorCodes.AuthRequired, "Send an API key: Authorization: Bearer pbca_live_…").WriteAsync(Context);
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
            await new ApiError(ErrorCodes.AuthRequired, "Send an API key: Authorization: Bearer pbca_live_…").WriteAsync(context);
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
    public static IApplicationBuilder UseCredentials(this IApplicationBuilder app) =>
        app.UseWhen(
            context => context.Request.Headers.Authorization.Count > 0,
            branch => branch.UseAuthentication().Use(async (context, next) =>
            {
                var result = await context.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName);
                if (result.Failure is { } failure)
                {
                    var code = failure.Message == ApiKeyAuthenticationHandler.BannedFailure ? ErrorCodes.AccountBanned : ErrorCodes.InvalidToken;
                    await new ApiError(code, code == ErrorCodes.InvalidToken ? "The API key is unknown, revoked, expired or for another site." : null)
                        .WriteAsync(context);
                    return;
                }

                await next(context);
            }));
}
