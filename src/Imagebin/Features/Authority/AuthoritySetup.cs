using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using OidcScopes = OpenIddict.Abstractions.OpenIddictConstants.Scopes;

namespace Imagebin.Features.Authority;

/// <summary>
/// The <c>authority</c> role (DESIGN.md §10): accounts' browser sessions, and an OAuth 2.1 authorization server on
/// OpenIddict, plus what OpenIddict lacks (dynamic client registration, client ID metadata documents, DPoP), written here.
/// </summary>
public static class AuthoritySetup
{
    public const string AuthorizePath = "/oauth/authorize";
    public const string TokenPath = "/oauth/token";
    public const string IntrospectPath = "/oauth/introspect";
    public const string RevokePath = "/oauth/revoke";
    public const string JwksPath = "/oauth/jwks";
    public const string RegisterPath = "/oauth/register";

    /// <summary>Requests this role answers; they are the only ones that go through OpenIddict and the session cookie.</summary>
    public static bool IsAuthorityPath(PathString path) =>
        path.StartsWithSegments("/oauth") || path.StartsWithSegments("/account")
        || path.StartsWithSegments("/.well-known/openid-configuration") || path.StartsWithSegments("/.well-known/oauth-authorization-server");

    public static WebApplicationBuilder AddAuthority(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<AuthorityKeyRing>();
        services.AddHostedService<AuthorityKeyRotation>();
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "imagebin_csrf";
            options.FormFieldName = "csrf";
            // The pages' scripts send the token in this header with every state-changing API call on the session
            // (BrowserSessions).
            options.HeaderName = BrowserSessions.CsrfHeader;
        });
        services.AddAuthentication().AddCookie(Sessions.Scheme, options =>
        {
            options.Cookie.Name = Sessions.CookieName;
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Lax;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.LoginPath = SignInPages.SignInPath;
            options.ReturnUrlParameter = "return_url";
            options.SlidingExpiration = false;
            options.Events = new CookieAuthenticationEvents { OnValidatePrincipal = Sessions.ValidateAsync };
        });
        services.AddScoped<Sessions>();

        services.AddOpenIddict()
            .AddCore(core => core.UseEntityFrameworkCore().UseDbContext<ImagebinDb>())
            .AddServer(server =>
            {
                server.SetAuthorizationEndpointUris(AuthorizePath[1..])
                    .SetTokenEndpointUris(TokenPath[1..])
                    .SetIntrospectionEndpointUris(IntrospectPath[1..])
                    .SetRevocationEndpointUris(RevokePath[1..])
                    .SetJsonWebKeySetEndpointUris(JwksPath[1..])
                    .SetConfigurationEndpointUris(".well-known/oauth-authorization-server", ".well-known/openid-configuration");
                server.AllowAuthorizationCodeFlow().AllowRefreshTokenFlow();
                server.RequireProofKeyForCodeExchange();
                // Every client may ask for either of this site's two resources (the API and /mcp); no other resource
                // exists (options.Resources), so per-client resource permissions would add nothing.
                server.IgnoreResourcePermissions();
                server.DisableAccessTokenEncryption();
                // A redeemed refresh token presented again revokes its whole family at once: no grace period.
                server.SetRefreshTokenReuseLeeway(TimeSpan.Zero);
                // "admin" is never granted through OAuth: moderators use API keys of admin accounts.
                server.RegisterScopes([.. Accounts.Scopes.All, OidcScopes.OpenId, OidcScopes.OfflineAccess]);
                server.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    // TLS ends at the operator's proxy; every URL the authority writes comes from the configured issuer.
                    .DisableTransportSecurityRequirement();
                AuthorityHandlers.Register(server);
            });
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ServerConfiguration>();
        services.AddHostedService<IntrospectionClientSeed>();
        services.AddScoped<ClientRegistration>();
        services.AddSingleton<AuthorityUrls>();
        services.AddClientMetadata();
        return builder;
    }

    /// <summary>The parts of the server's configuration known only at run time: the issuer, resources, lifetimes and keys.</summary>
    private sealed class ServerConfiguration(SiteUrls site, IOptions<AuthorityOptions> authority, AuthorityKeyRing keys) : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            var settings = authority.Value;
            options.Issuer = new Uri(settings.ResolveIssuer(site));
            foreach (var resource in settings.Resources(site))
            {
                options.Resources.Add(new Uri(resource));
            }

            // S256 only: "plain" would let whoever sees the authorization request redeem the code.
            options.CodeChallengeMethods.Clear();
            options.CodeChallengeMethods.Add(CodeChallengeMethods.Sha256);
            options.AccessTokenLifetime = TimeSpan.FromMinutes(settings.AccessTokenMinutes);
            options.RefreshTokenLifetime = TimeSpan.FromDays(settings.RefreshTokenDays);
            options.AuthorizationCodeLifetime = TimeSpan.FromMinutes(2);

            var snapshot = keys.Current;
            keys.ServerConfiguredWith(snapshot);
            options.SigningCredentials.Clear();
            options.SigningCredentials.Add(new(snapshot.Signer, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256));
            foreach (var key in snapshot.Published.Where(k => k.KeyId != snapshot.Signer.KeyId))
            {
                options.SigningCredentials.Add(new(key, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.RsaSha256));
            }

            options.EncryptionCredentials.Clear();
            options.EncryptionCredentials.Add(new(snapshot.EncryptionKey, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.Aes256KW,
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.Aes256CbcHmacSha512));
        }
    }

    /// <summary>
    /// Authority requests go through authentication (OpenIddict answers its endpoints from there) and nothing else does:
    /// image fetches never touch cookies, sessions or OpenIddict.
    /// </summary>
    public static IApplicationBuilder UseAuthority(this IApplicationBuilder app) =>
        app.MarkAuthenticationPlaced().UseWhen(context => IsAuthorityPath(context.Request.Path), branch => branch
            .UseMiddleware<ApiKeyIntrospection>()
            .UseAuthentication());

    /// <summary>
    /// WebApplication puts authentication in front of every request unless the app placed it itself; ours runs inside
    /// <c>UseWhen</c> branches, whose property writes do not reach the root, so the root is told here. Without this,
    /// every image fetch would run the authentication middleware and OpenIddict's request matching.
    /// </summary>
    public static IApplicationBuilder MarkAuthenticationPlaced(this IApplicationBuilder app)
    {
        app.Properties["__AuthenticationMiddlewareSet"] = true;
        return app;
    }

    public static IEndpointRouteBuilder MapAuthority(this IEndpointRouteBuilder app)
    {
        app.MapAuthorizeEndpoint();
        app.MapTokenEndpoint();
        app.MapClientRegistration();
        app.MapSignInPages();
        return app;
    }
}
