using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;
using OidcScopes = OpenIddict.Abstractions.OpenIddictConstants.Scopes;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Authority;

/// <summary>
/// RFC 7591 dynamic client registration for public clients (MCP clients register themselves): redirect URIs must be
/// https, loopback or a private-use scheme, the only token endpoint authentication is <c>none</c> (PKCE protects the
/// code), and the grants are the authorization code and refresh token. Rate-limited per address across nodes.
/// </summary>
public sealed class ClientRegistration(IOpenIddictApplicationManager applications, SharedState shared, TimeProvider time)
{
    private const int MaxBody = 16 * 1024;
    private const int MaxRedirectUris = 10;
    private const int RegistrationsPerHour = 30;

    public static OpenIddictApplicationDescriptor PublicClient(string clientId, string name, IEnumerable<string> redirectUris)
    {
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Public,
            ApplicationType = ApplicationTypes.Native,
            ConsentType = ConsentTypes.Explicit,
            DisplayName = name,
            Permissions =
            {
                Permissions.Endpoints.Authorization,
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.GrantTypes.RefreshToken,
                Permissions.ResponseTypes.Code,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        foreach (var scope in Accounts.Scopes.All.Append(OidcScopes.OpenId).Append(OidcScopes.OfflineAccess))
        {
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + scope);
        }

        foreach (var uri in redirectUris)
        {
            descriptor.RedirectUris.Add(new Uri(uri));
        }

        return descriptor;
    }

    public sealed record Registered(Dictionary<string, object?> Body);

    public async Task<(Registered? Client, string? Error, string? Description)> RegisterAsync(JsonElement metadata, string clientAddress, CancellationToken cancellationToken)
    {
        if (await shared.HitAsync($"oauth:register:{clientAddress}", TimeSpan.FromHours(1), cancellationToken) > RegistrationsPerHour)
        {
            return (null, "rate_limited", $"At most {RegistrationsPerHour} registrations an hour from one address.");
        }

        if (metadata.ValueKind != JsonValueKind.Object)
        {
            return (null, "invalid_client_metadata", "The body must be a JSON object.");
        }

        if (!metadata.TryGetProperty("redirect_uris", out var redirects) || redirects.ValueKind != JsonValueKind.Array
            || redirects.GetArrayLength() is 0 or > MaxRedirectUris || redirects.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
        {
            return (null, "invalid_redirect_uri", $"redirect_uris must be an array of 1 to {MaxRedirectUris} strings.");
        }

        var redirectUris = redirects.EnumerateArray().Select(r => r.GetString()!).ToList();
        if (redirectUris.FirstOrDefault(uri => !RedirectUriRules.IsAcceptable(uri)) is { } bad)
        {
            return (null, "invalid_redirect_uri", $"'{bad}' is not an https, loopback or private-use-scheme redirect URI without a fragment.");
        }

        var method = String(metadata, "token_endpoint_auth_method") ?? "none";
        if (method != "none")
        {
            return (null, "invalid_client_metadata", "Only public clients register here: token_endpoint_auth_method must be 'none'.");
        }

        var grants = Strings(metadata, "grant_types") ?? [GrantTypes.AuthorizationCode, GrantTypes.RefreshToken];
        if (grants.Except([GrantTypes.AuthorizationCode, GrantTypes.RefreshToken]).Any())
        {
            return (null, "invalid_client_metadata", "grant_types may only hold authorization_code and refresh_token.");
        }

        var responseTypes = Strings(metadata, "response_types") ?? [ResponseTypes.Code];
        if (responseTypes.Except([ResponseTypes.Code]).Any())
        {
            return (null, "invalid_client_metadata", "response_types may only hold code.");
        }

        var name = String(metadata, "client_name") is { Length: > 0 } given ? given[..Math.Min(given.Length, 100)] : "Unnamed client";
        var clientId = "ibc_" + Ids.RandomBase62(22);
        var descriptor = PublicClient(clientId, name, redirectUris);
        if (!grants.Contains(GrantTypes.RefreshToken))
        {
            descriptor.Permissions.Remove(Permissions.GrantTypes.RefreshToken);
        }

        await applications.CreateAsync(descriptor, cancellationToken);
        return (new Registered(new Dictionary<string, object?>
        {
            ["client_id"] = clientId,
            ["client_id_issued_at"] = time.GetUtcNow().ToUnixTimeSeconds(),
            ["client_name"] = name,
            ["redirect_uris"] = redirectUris,
            ["grant_types"] = grants,
            ["response_types"] = responseTypes,
            ["token_endpoint_auth_method"] = "none",
        }), null, null);
    }

    private static string? String(JsonElement metadata, string name) =>
        metadata.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static List<string>? Strings(JsonElement metadata, string name) =>
        metadata.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : "").ToList()
            : null;
}

public static class ClientRegistrationApi
{
    public static IEndpointRouteBuilder MapClientRegistration(this IEndpointRouteBuilder app)
    {
        app.MapPost(AuthoritySetup.RegisterPath, RegisterAsync).WithTags("OAuth").DisableAntiforgery()
            .WithSummary("Register a public OAuth client (RFC 7591)").DocumentsBody<ClientRegistrationRequest, RouteHandlerBuilder>("application/json")
            .Produces<ClientRegistrationResponse>(StatusCodes.Status201Created)
            .Produces<OAuthErrorResponse>(StatusCodes.Status400BadRequest).Produces<OAuthErrorResponse>(StatusCodes.Status403Forbidden)
            .Produces<OAuthErrorResponse>(StatusCodes.Status429TooManyRequests);
        return app;
    }

    private static async Task<IResult> RegisterAsync(HttpContext context, ClientRegistration registration, IOptions<AuthorityOptions> options, CancellationToken cancellationToken)
    {
        context.Response.Headers.CacheControl = "no-store";
        if (!options.Value.DynamicRegistrationEnabled)
        {
            return Error(StatusCodes.Status403Forbidden, "access_denied", "Dynamic client registration is turned off on this site.");
        }

        if (!RequestBodies.HasMediaType(context.Request, "application/json"))
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_client_metadata", "Send the client metadata as application/json.");
        }

        var (body, error) = await RequestBodies.ReadAsync(context.Request, 16 * 1024, cancellationToken);
        if (error is not null)
        {
            return Error(error.StatusCode, "invalid_client_metadata", error.Detail ?? "The body could not be read.");
        }

        JsonElement metadata;
        try
        {
            metadata = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            return Error(StatusCodes.Status400BadRequest, "invalid_client_metadata", "The body is not valid JSON.");
        }

        var (client, code, description) = await registration.RegisterAsync(metadata, PowApi.ClientAddress(context), cancellationToken);
        if (client is null)
        {
            return Error(code == "rate_limited" ? StatusCodes.Status429TooManyRequests : StatusCodes.Status400BadRequest, code!, description!);
        }

        return Results.Json(client.Body, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>An RFC 7591 §3.2.2 error: <c>{"error", "error_description"}</c>.</summary>
    private static IResult Error(int status, string error, string description) =>
        Results.Json(new Dictionary<string, string> { ["error"] = error, ["error_description"] = description }, statusCode: status);
}
