using System.Collections.Immutable;
using System.Security.Claims;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using OidcScopes = OpenIddict.Abstractions.OpenIddictConstants.Scopes;

namespace Imagebin.Features.Authority;

/// <summary>
/// The authorization endpoint after OpenIddict has checked the request (client, redirect URI, PKCE S256, scopes,
/// resources): the user signs in, then sees who asks for what and grants all or part of it.
/// </summary>
public static class AuthorizeEndpoint
{
    private const string ConsentField = "consent";
    private const string GrantedScopeField = "granted_scope";

    public static IEndpointRouteBuilder MapAuthorizeEndpoint(this IEndpointRouteBuilder app)
    {
        app.MapMethods(AuthoritySetup.AuthorizePath, [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync).ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> AuthorizeAsync(
        HttpContext context, IAntiforgery antiforgery, IOpenIddictApplicationManager applications, SiteUrls site, IOptions<AuthorityOptions> authority)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("The OpenIddict server request cannot be retrieved.");
        var account = await Sessions.CurrentAccountAsync(context);
        if (account is null)
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.LoginRequired, "The user is not signed in.");
            }

            return SignInPages.SignInFirst(ReturnUrl(request));
        }

        var application = await applications.FindByClientIdAsync(request.ClientId!, context.RequestAborted)
            ?? throw new InvalidOperationException("OpenIddict validated a client that does not exist.");
        var clientName = await applications.GetDisplayNameAsync(application, context.RequestAborted) ?? request.ClientId!;
        var grantable = request.GetScopes().Where(scope => AuthorityPrincipal.MayHold(scope)).ToList();
        // Written as configured (OpenIddict has already refused any other resource, as invalid_target).
        var known = authority.Value.Resources(site);
        var resources = request.GetResources() is { Length: > 0 } asked
            ? asked.Select(r => known.FirstOrDefault(k => new Uri(k) == new Uri(r)) ?? r).Distinct().ToArray()
            : [known[0]];

        var consent = context.Request.HasFormContentType ? context.Request.Form[ConsentField].ToString() : "";
        if (consent.Length == 0)
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.ConsentRequired, "The user has not granted this client access yet.");
            }

            return ConsentPage(context, antiforgery, request, account, clientName, grantable, resources);
        }

        if (!await SignInPages.IsValidFormAsync(context, antiforgery))
        {
            return Html.Page("Authorize", "<p class=\"error\" role=\"alert\">The form expired or came from another site. Start again from the application.</p>", 400);
        }

        if (consent != "approve")
        {
            return Refuse(Errors.AccessDenied, "The user declined.");
        }

        var chosen = context.Request.Form[GrantedScopeField].Select(s => s ?? "").ToHashSet(StringComparer.Ordinal);
        var granted = grantable.Where(chosen.Contains).ToList();
        if (await applications.HasPermissionAsync(application, Permissions.GrantTypes.RefreshToken, context.RequestAborted))
        {
            // Clients that may refresh always get a refresh token: MCP clients rarely ask for offline_access.
            granted.Add(OidcScopes.OfflineAccess);
        }

        var principal = AuthorityPrincipal.Create(account, granted, resources, dpopJkt: null);
        return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>An OAuth error sent back to the client's redirect URI by OpenIddict.</summary>
    public static IResult Refuse(string error, string description) =>
        Results.Forbid(
            new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
            }),
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    private static string ReturnUrl(OpenIddictRequest request)
    {
        var query = new StringBuilder();
        foreach (var (name, item) in ClientParameters(request))
        {
            query.Append(query.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(item));
        }

        return AuthoritySetup.AuthorizePath + query;
    }

    /// <summary>The authorization request as the client sent it, without the consent form's own fields.</summary>
    private static IEnumerable<(string Name, string Value)> ClientParameters(OpenIddictRequest request) =>
        from parameter in request.GetParameters()
        where parameter.Key is not (ConsentField or GrantedScopeField or "csrf")
        from value in (StringValues)parameter.Value
        select (parameter.Key, value ?? "");

    private static IResult ConsentPage(
        HttpContext context, IAntiforgery antiforgery, OpenIddictRequest request, Account account, string clientName,
        IReadOnlyList<string> grantable, string[] resources)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        var redirectHost = Uri.TryCreate(request.RedirectUri, UriKind.Absolute, out var redirect) ? redirect.Authority : request.RedirectUri;
        var hidden = new StringBuilder();
        foreach (var (name, item) in ClientParameters(request))
        {
            hidden.Append($"<input type=\"hidden\" name=\"{Html.Encode(name)}\" value=\"{Html.Encode(item)}\">");
        }

        var scopes = new StringBuilder();
        foreach (var scope in grantable.Where(s => s is not OidcScopes.OfflineAccess))
        {
            scopes.Append($"<label class=\"scope\"><input type=\"checkbox\" name=\"{GrantedScopeField}\" value=\"{Html.Encode(scope)}\" checked> <code>{Html.Encode(scope)}</code> — {Html.Encode(Describe(scope))}</label>");
        }

        var isUrlClient = request.ClientId!.StartsWith("https://", StringComparison.Ordinal);
        return Html.ConsentPage("Authorize access", $"""
            <p><strong>{Html.Encode(clientName)}</strong>{(isUrlClient ? $" (<code>{Html.Encode(request.ClientId)}</code>)" : "")} wants to use your Imagebin account <strong>{Html.Encode(account.Name)}</strong>.</p>
            <p>After you answer you will be sent to <strong>{Html.Encode(redirectHost)}</strong>.</p>
            <p>Access to: {string.Join(", ", resources.Select(r => $"<code>{Html.Encode(r)}</code>"))}</p>
            <form method="post" action="{AuthoritySetup.AuthorizePath}">
            <input type="hidden" name="{tokens.FormFieldName}" value="{Html.Encode(tokens.RequestToken)}">
            {hidden}
            <fieldset><legend>It may</legend>{(scopes.Length == 0 ? "<p>(nothing beyond knowing who you are)</p>" : scopes.ToString())}</fieldset>
            <button type="submit" name="{ConsentField}" value="approve">Allow</button>
            <button type="submit" name="{ConsentField}" value="deny">Deny</button>
            </form>
            """);
    }

    private static string Describe(string scope) => scope switch
    {
        Accounts.Scopes.ImageCreate => "upload images to your account",
        Accounts.Scopes.ImageRead => "see your images, private ones included",
        Accounts.Scopes.ImageDelete => "edit and delete your images",
        OidcScopes.OpenId => "know your account name",
        _ => scope,
    };
}

/// <summary>The identity the authority puts in its codes and tokens.</summary>
public static class AuthorityPrincipal
{
    /// <summary>A private claim (no destination: kept in codes and refresh tokens only) binding a refresh token to a DPoP key.</summary>
    public const string DpopBindingClaim = "imagebin_dpop_jkt";

    /// <summary>What a token of this account may carry: never <c>admin</c> (moderators use keys of admin accounts).</summary>
    public static bool MayHold(string scope) =>
        scope is OidcScopes.OpenId or OidcScopes.OfflineAccess || Accounts.Scopes.All.Contains(scope);

    public static ClaimsPrincipal Create(Account account, IEnumerable<string> scopes, IEnumerable<string> resources, string? dpopJkt)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, account.Id)
            .SetClaim(Claims.Name, account.Name)
            .SetClaim(Claims.Role, account.Role);
        if (dpopJkt is not null)
        {
            // Kept in the refresh token; the access token's cnf is added when OpenIddict builds it (AuthorityHandlers).
            identity.SetClaim(DpopBindingClaim, dpopJkt);
        }

        identity.SetScopes(scopes.Distinct().ToImmutableArray());
        identity.SetResources(resources.Distinct().ToImmutableArray());
        identity.SetDestinations(claim => claim.Type switch
        {
            Claims.Subject or Claims.Name => [Destinations.AccessToken, Destinations.IdentityToken],
            Claims.Role => [Destinations.AccessToken],
            _ => [],
        });
        return new ClaimsPrincipal(identity);
    }
}
