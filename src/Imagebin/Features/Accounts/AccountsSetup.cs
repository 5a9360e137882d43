using Imagebin.Data;
using Microsoft.AspNetCore.Authentication;

namespace Imagebin.Features.Accounts;

public static class AccountsSetup
{
    public static WebApplicationBuilder AddAccounts(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuthorityOptions>().BindConfiguration(AuthorityOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<ApiKeys>();
        builder.Services.AddScoped<AccountService>();
        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
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
