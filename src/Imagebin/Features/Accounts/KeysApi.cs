using System.Security.Claims;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Accounts;

/// <summary>An API key as its owner sees it: never its secret, nor the hash of it.</summary>
public sealed record ApiKeyDto(string Id, string[] Scopes, string Audience, long CreatedAt, long? ExpiresAt, long? LastUsedAt, long? RevokedAt)
{
    public static ApiKeyDto From(ApiKey key) => new(
        key.Id, key.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries), key.Audience, key.CreatedAt, key.ExpiresAt, key.LastUsedAt, key.RevokedAt);
}

public sealed record ApiKeyListDto(ApiKeyDto[] Keys);

/// <summary>The answer to a create: the key, and the token itself, shown this once.</summary>
public sealed record CreatedApiKeyDto(ApiKeyDto Key, string ApiKey);

/// <summary>
/// The caller's own API keys: list, create (least privilege: never more scopes than the credential in use), revoke.
/// Reading needs any image scope; creating and revoking need <c>image:create</c> (docs/accounts.md says why).
/// </summary>
public static class KeysApi
{
    private const int MaxBody = 16 * 1024;
    public const long MinLifetimeSeconds = 60;
    public const long MaxLifetimeSeconds = 5L * 365 * 24 * 3600;

    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/v1/account/keys").WithTags("Account").DisableAntiforgery();
        keys.MapGet("", ListAsync).RequireAuthorization().WithSummary("List your API keys");
        keys.MapPost("", CreateAsync).RequireAuthorization(Scopes.ImageCreate)
            .WithSummary("Create an API key").WithDescription("The token is in the answer once and never again.")
            .DocumentsBody<ApiKeyCreateRequest, RouteHandlerBuilder>("application/json").ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest);
        keys.MapDelete("/{id}", RevokeAsync).RequireAuthorization(Scopes.ImageCreate)
            .WithSummary("Revoke one of your API keys").ProducesErrors(ErrorCodes.NotFound);
        return app;
    }

    private static async Task<Results<Ok<ApiKeyListDto>, ApiError>> ListAsync(
        HttpContext context, ClaimsPrincipal user, ImagebinDb db, CancellationToken cancellationToken)
    {
        if (!Scopes.All.Any(user.HasScope))
        {
            return new ApiError(ErrorCodes.InsufficientScope, "Listing keys needs one of the image scopes.") { Scope = Scopes.ImageRead };
        }

        var accountId = user.AccountId();
        var keys = await db.ApiKeys.AsNoTracking()
            .Where(k => k.AccountId == accountId)
            .OrderByDescending(k => k.CreatedAt).ThenByDescending(k => k.Id)
            .ToListAsync(cancellationToken);
        context.Response.Headers.CacheControl = "private, no-store";
        return TypedResults.Ok(new ApiKeyListDto([.. keys.Select(ApiKeyDto.From)]));
    }

    private sealed record CreateRequest(string[] Scopes, string? Audience, long? ExpiresIn);

    private static async Task<Results<Created<CreatedApiKeyDto>, ApiError>> CreateAsync(
        HttpContext context, ClaimsPrincipal user, ApiKeys apiKeys, SiteUrls site, IOptions<AuthorityOptions> authority, CancellationToken cancellationToken)
    {
        var (request, error) = await ReadCreateRequestAsync(context.Request, site, authority.Value, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        if (request!.Scopes.Contains(Scopes.Admin) && !user.IsInRole(AccountRoles.Admin))
        {
            return new ApiError(ErrorCodes.InvalidRequest, "Only an admin account's keys may carry the 'admin' scope.");
        }

        // Least privilege: a credential hands on at most what it holds itself.
        var missing = request.Scopes.Where(s => !user.HasScope(s)).ToArray();
        if (missing.Length > 0)
        {
            return new ApiError(ErrorCodes.InsufficientScope,
                $"A key may only be given scopes the credential creating it has; this one lacks {string.Join(", ", missing)}.")
            {
                Scope = string.Join(' ', missing),
            };
        }

        ApiKeys.Created created;
        try
        {
            created = await apiKeys.CreateAsync(
                user.AccountId()!, request.Scopes, request.Audience,
                request.ExpiresIn is { } seconds ? TimeSpan.FromSeconds(seconds) : null, cancellationToken);
        }
        catch (ArgumentException exception)
        {
            return new ApiError(ErrorCodes.InvalidRequest, exception.Message);
        }

        context.Response.Headers.CacheControl = "private, no-store";
        return TypedResults.Created((string?)null, new CreatedApiKeyDto(ApiKeyDto.From(created.Key), created.Token));
    }

    /// <summary>Revokes one of the caller's keys; someone else's key is a 404, exactly like a missing one.</summary>
    private static async Task<Results<NoContent, ApiError>> RevokeAsync(
        string id, ClaimsPrincipal user, ApiKeys apiKeys, CancellationToken cancellationToken) =>
        await apiKeys.RevokeOwnAsync(user.AccountId()!, id, cancellationToken)
            ? TypedResults.NoContent()
            : new ApiError(ErrorCodes.NotFound, "No such key.");

    /// <summary>Parses and checks <c>{"scopes": […], "audience": "…", "expires_in": seconds}</c>; nothing is written yet.</summary>
    private static async Task<(CreateRequest? Request, ApiError? Error)> ReadCreateRequestAsync(
        HttpRequest request, SiteUrls site, AuthorityOptions authority, CancellationToken cancellationToken)
    {
        var (bytes, error) = await RequestBodies.ReadJsonAsync(request, MaxBody, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        string[]? scopes = null;
        string? audience = null;
        long? expiresIn = null;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, RequestBodies.NotAnObject());
            }

            foreach (var member in document.RootElement.EnumerateObject())
            {
                var value = member.Value;
                switch (member.Name)
                {
                    case "scopes" when value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(s => s.ValueKind == JsonValueKind.String):
                        scopes = [.. value.EnumerateArray().Select(s => s.GetString()!).Distinct(StringComparer.Ordinal)];
                        break;
                    case "scopes":
                        return (null, Invalid("'scopes' must be an array of strings."));
                    case "audience" when value.ValueKind is JsonValueKind.String or JsonValueKind.Null:
                        audience = value.GetString();
                        break;
                    case "audience":
                        return (null, Invalid("'audience' must be a string."));
                    case "expires_in" when value.ValueKind == JsonValueKind.Null:
                        break;
                    case "expires_in" when value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds)
                        && seconds is >= MinLifetimeSeconds and <= MaxLifetimeSeconds:
                        expiresIn = seconds;
                        break;
                    case "expires_in":
                        return (null, Invalid($"'expires_in' must be a whole number of seconds from {MinLifetimeSeconds} to {MaxLifetimeSeconds} (5 years)."));
                    default:
                        return (null, Invalid($"Unknown member '{(member.Name.Length > 40 ? member.Name[..40] + "…" : member.Name)}'; a key has: scopes, audience, expires_in."));
                }
            }
        }
        catch (JsonException exception)
        {
            return (null, RequestBodies.InvalidJson(exception));
        }

        if (scopes is null || scopes.Length == 0)
        {
            return (null, Invalid($"'scopes' is required: one or more of {string.Join(", ", Scopes.Known)}."));
        }

        var unknown = scopes.Except(Scopes.Known).ToArray();
        if (unknown.Length > 0)
        {
            return (null, Invalid($"Unknown scope '{Clip(unknown[0])}'; known: {string.Join(", ", Scopes.Known)}."));
        }

        var resources = authority.Resources(site);
        if (audience is not null && !IsResource(audience, resources))
        {
            return (null, Invalid($"'audience' must be the API ({resources[0]}) or its MCP endpoint ({resources[1]})."));
        }

        return (new CreateRequest(scopes, audience, expiresIn), null);
    }

    /// <summary>One of the resources keys are for: the API's origin or its <c>/mcp</c> URL (a trailing slash and host case aside).</summary>
    private static bool IsResource(string audience, string[] resources)
    {
        if (!Uri.TryCreate(audience, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return false;
        }

        var normalized = SiteUrls.Normalize(audience);
        return resources.Contains(normalized, StringComparer.Ordinal);
    }

    private static ApiError Invalid(string detail) => new(ErrorCodes.InvalidRequest, detail);

    private static string Clip(string value) => value.Length > 40 ? value[..40] + "…" : value;
}
