using Imagebin.Data;
using Imagebin.Features.Authority.Dpop;
using Microsoft.AspNetCore.Authentication;

namespace Imagebin.Features.Accounts;

public static class AccountsSetup
{
    public static WebApplicationBuilder AddAccounts(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthorityOptions>().BindConfiguration(AuthorityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<ApiKeys>();
        builder.Services.AddMemoryCache();
        builder.Services.AddDpop();
        if (builder.Configuration.GetValue<AuthorityMode?>($"{AuthorityOptions.Section}:Mode") == AuthorityMode.External)
        {
            // The authority is configured by the operator, not named by a user: no SSRF guard, but no redirects either.
            var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                Timeout = TimeSpan.FromSeconds(10),
            };
            builder.Services.AddSingleton<ITokenVerifier>(provider => ActivatorUtilities.CreateInstance<RemoteTokenVerifier>(provider, http));
        }
        else
        {
            builder.Services.AddScoped<ITokenVerifier, EmbeddedTokenVerifier>();
        }

        builder.Services.AddScoped<AccountService>();
        builder.Services.AddAuthentication(CredentialsAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, CredentialsAuthenticationHandler>(CredentialsAuthenticationHandler.SchemeName, null);
        var authorization = builder.Services.AddAuthorizationBuilder();
        foreach (var scope in Scopes.All)
        {
            authorization.AddPolicy(scope, policy => policy.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
        }

        // Both: the scope on the credential, and an admin account behind it (checked on every request, so a demoted
        // admin's keys lose it at once).
        authorization.AddPolicy(Scopes.Admin, policy => policy.RequireAuthenticatedUser()
            .AddRequirements(new ScopeRequirement(Scopes.Admin)).RequireRole(AccountRoles.Admin));

        builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, ApiAuthorizationResultHandler>();
        builder.Services.AddHostedService<FirstRunAdmin>();
        return builder;
    }
}
