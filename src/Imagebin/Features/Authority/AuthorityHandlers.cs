using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace Imagebin.Features.Authority;

/// <summary>What the authority adds to OpenIddict's request pipeline.</summary>
public static class AuthorityHandlers
{
    public static void Register(OpenIddictServerBuilder server)
    {
        // RFC 8414 members OpenIddict does not know: registration, client ID metadata documents, DPoP.
        server.AddEventHandler<HandleConfigurationRequestContext>(handler => handler.UseInlineHandler(context =>
        {
            var urls = context.Transaction.GetHttpRequest()!.HttpContext.RequestServices.GetRequiredService<AuthorityUrls>();
            // OpenIddict derives endpoint URLs from the request's host; ours come from the configured issuer only, so that a
            // spoofed Host header cannot send a client's credentials elsewhere.
            context.AuthorizationEndpoint = new Uri(urls.Endpoint(AuthoritySetup.AuthorizePath));
            context.TokenEndpoint = new Uri(urls.Token);
            context.IntrospectionEndpoint = new Uri(urls.Endpoint(AuthoritySetup.IntrospectPath));
            context.RevocationEndpoint = new Uri(urls.Endpoint(AuthoritySetup.RevokePath));
            context.JsonWebKeySetEndpoint = new Uri(urls.Endpoint(AuthoritySetup.JwksPath));
            context.Metadata["registration_endpoint"] = urls.Register;
            context.Metadata["client_id_metadata_document_supported"] = true;
            context.Metadata["dpop_signing_alg_values_supported"] = Dpop.DpopAlgorithms.All.Select(alg => (string?)alg).ToImmutableArray();
            context.Metadata["authorization_response_iss_parameter_supported"] = true;
            return default;
        }));

        // A DPoP-bound grant yields access tokens with cnf.jkt (RFC 9449 §6.1). OpenIddict builds the access token's
        // principal itself (and keeps cnf for its own mTLS binding), so the claim is added to that principal.
        server.AddEventHandler<ProcessSignInContext>(handler => handler.UseInlineHandler(context =>
        {
            if (context.AccessTokenPrincipal is { } access && context.Principal?.GetClaim(AuthorityPrincipal.DpopBindingClaim) is { } jkt)
            {
                access.SetClaim(Claims.Confirmation, JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["jkt"] = jkt }));
            }

            return default;
        }).SetOrder(OpenIddictServerHandlers.PrepareAccessTokenPrincipal.Descriptor.Order + 1));

        // Tokens bound to a DPoP key are of type DPoP (RFC 9449 §5).
        server.AddEventHandler<ApplyTokenResponseContext>(handler => handler.UseInlineHandler(context =>
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            if (http?.Items.ContainsKey(TokenEndpoint.DpopBoundItem) == true && context.Response.AccessToken is not null)
            {
                context.Response.TokenType = "DPoP";
            }

            return default;
        }).SetOrder(int.MinValue + 100_000));

        // A client_id that is an https URL is a client ID metadata document: fetched, checked and kept as an application
        // before OpenIddict looks the client up.
        server.AddEventHandler<ValidateAuthorizationRequestContext>(handler =>
            handler.UseScopedHandler<ClientMetadataApplications>().SetOrder(int.MinValue + 1_000));

        // Resource servers introspect tokens issued for a resource, not for them: the introspection permission of a
        // confidential client is what authorizes the call (OpenIddict's own check wants the caller among the audiences).
        server.RemoveEventHandler(OpenIddictServerHandlers.Introspection.ValidateAuthorizedParty.Descriptor);
    }
}

/// <summary>Turns a client ID metadata document into (or refreshes) the OpenIddict application of that client.</summary>
public sealed class ClientMetadataApplications(ClientMetadataDocuments documents, IOpenIddictApplicationManager applications)
    : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
{
    public async ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
    {
        var clientId = context.Request.ClientId;
        if (clientId is null || !clientId.StartsWith("https://", StringComparison.OrdinalIgnoreCase) && !clientId.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var cancellationToken = context.CancellationToken;
        var fetched = await documents.GetAsync(clientId, cancellationToken);
        if (fetched.Metadata is not { } metadata)
        {
            context.Reject(Errors.InvalidClient, $"The client ID metadata document was refused: {fetched.Error}");
            return;
        }

        var descriptor = ClientRegistration.PublicClient(metadata.ClientId, metadata.ClientName ?? new Uri(metadata.ClientId).Host, metadata.RedirectUris);
        var existing = await applications.FindByClientIdAsync(clientId, cancellationToken);
        if (existing is not null && await IsUnchangedAsync(existing, descriptor, cancellationToken))
        {
            return;
        }

        try
        {
            if (existing is null)
            {
                await applications.CreateAsync(descriptor, cancellationToken);
            }
            else
            {
                await applications.PopulateAsync(existing, descriptor, cancellationToken);
                await applications.UpdateAsync(existing, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is Microsoft.EntityFrameworkCore.DbUpdateException or OpenIddictExceptions.ConcurrencyException)
        {
            // Another request (or node) stored the same document at the same moment; its copy serves.
        }
    }

    /// <summary>The stored application already says what the document says (most authorizations): nothing to write.</summary>
    private async Task<bool> IsUnchangedAsync(object application, OpenIddictApplicationDescriptor descriptor, CancellationToken cancellationToken) =>
        await applications.GetDisplayNameAsync(application, cancellationToken) == descriptor.DisplayName
        && (await applications.GetRedirectUrisAsync(application, cancellationToken)).Order(StringComparer.Ordinal)
            .SequenceEqual(descriptor.RedirectUris.Select(uri => uri.OriginalString).Order(StringComparer.Ordinal));
}
