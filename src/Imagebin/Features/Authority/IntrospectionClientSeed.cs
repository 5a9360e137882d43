using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Imagebin.Features.Authority;

/// <summary>
/// Keeps the confidential client that resource servers (api nodes in External mode) use for introspection and
/// revocation in step with <c>Authority:IntrospectionClientId</c>/<c>Secret</c>; OpenIddict stores only the secret's hash.
/// </summary>
public sealed class IntrospectionClientSeed(IServiceScopeFactory scopes, IOptions<ImagebinOptions> site, IOptions<AuthorityOptions> authority) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = authority.Value;
        if (!site.Value.HasRole("authority") || settings.Mode != AuthorityMode.Embedded
            || string.IsNullOrEmpty(settings.IntrospectionClientId) || string.IsNullOrEmpty(settings.IntrospectionClientSecret))
        {
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = settings.IntrospectionClientId,
            ClientSecret = settings.IntrospectionClientSecret,
            ClientType = ClientTypes.Confidential,
            DisplayName = "Resource servers (introspection)",
            Permissions = { Permissions.Endpoints.Introspection, Permissions.Endpoints.Revocation },
        };
        var existing = await applications.FindByClientIdAsync(settings.IntrospectionClientId, cancellationToken);
        try
        {
            if (existing is null)
            {
                await applications.CreateAsync(descriptor, cancellationToken);
            }
            else if (!await applications.ValidateClientSecretAsync(existing, settings.IntrospectionClientSecret, cancellationToken))
            {
                await applications.PopulateAsync(existing, descriptor, cancellationToken);
                await applications.UpdateAsync(existing, settings.IntrospectionClientSecret, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is Microsoft.EntityFrameworkCore.DbUpdateException or OpenIddictExceptions.ConcurrencyException)
        {
            // Another authority node starting at the same moment wrote it.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
