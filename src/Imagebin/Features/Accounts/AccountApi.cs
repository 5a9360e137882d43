using System.Security.Claims;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Accounts;

/// <summary>The caller's own account: <c>GET /api/v1/account</c> and the defaults it sets for new uploads.</summary>
public sealed record AccountDto(string Id, string Name, string Role, bool AiOptout, long CreatedAt)
{
    public static AccountDto From(Account account) => new(account.Id, account.Name, account.Role, account.AiOptOut, account.CreatedAt);
}

public static class AccountApi
{
    private const int MaxBody = 16 * 1024;

    public static IEndpointRouteBuilder MapAccountApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/account").WithTags("Account");
        api.MapGet("", GetAsync).RequireAuthorization(Scopes.ImageRead).WithSummary("Your account").ProducesErrors(ErrorCodes.NotFound);
        api.MapPatch("", PatchAsync).RequireAuthorization(Scopes.ImageCreate).DisableAntiforgery()
            .WithSummary("Change your account's defaults for new uploads")
            .DocumentsBody<AccountPatchRequest, RouteHandlerBuilder>("application/json", "application/merge-patch+json")
            .ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.NotFound);
        return app;
    }

    private static async Task<Results<Ok<AccountDto>, ApiError>> GetAsync(
        ClaimsPrincipal user, ImagebinDb db, IOptions<AuthorityOptions> authority, TimeProvider time, CancellationToken cancellationToken)
    {
        var account = await FindAsync(user, db, authority.Value, time, cancellationToken);
        return account is null ? new ApiError(ErrorCodes.NotFound, "No such account.") : TypedResults.Ok(AccountDto.From(account));
    }

    /// <summary>
    /// The caller's account row. With an external authority this node's store holds no accounts of its own: the row is
    /// a local profile (this site's preferences) made on first use from what the authority vouched for.
    /// </summary>
    private static async Task<Account?> FindAsync(ClaimsPrincipal user, ImagebinDb db, AuthorityOptions authority, TimeProvider time, CancellationToken cancellationToken)
    {
        var id = user.AccountId();
        var account = await db.Accounts.FirstOrDefaultAsync(a => a.Id == id, cancellationToken);
        if (account is not null || authority.Mode != AuthorityMode.External || id is null)
        {
            return account;
        }

        account = new Account
        {
            Id = id,
            Name = $"{user.Identity?.Name ?? "account"}@{id}",
            Role = AccountRoles.User,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        db.Accounts.Add(account);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return account;
        }
        catch (DbUpdateException)
        {
            // A concurrent first request made it.
            db.ChangeTracker.Clear();
            return await db.Accounts.FirstOrDefaultAsync(a => a.Id == id, cancellationToken);
        }
    }

    /// <summary>
    /// Changes the account's defaults: <c>{"ai_optout": true}</c> makes new uploads opt out of AI captions (existing items
    /// keep their own setting; change those with <c>PATCH /api/v1/items/{id}</c>).
    /// </summary>
    private static async Task<Results<Ok<AccountDto>, ApiError>> PatchAsync(
        HttpRequest request, ClaimsPrincipal user, ImagebinDb db, IOptions<AuthorityOptions> authority, TimeProvider time, CancellationToken cancellationToken)
    {
        var (bytes, error) = await RequestBodies.ReadJsonAsync(request, MaxBody, cancellationToken, allowMergePatch: true);
        if (error is not null)
        {
            return error;
        }

        bool? aiOptOut = null;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return RequestBodies.NotAnObject();
            }

            foreach (var member in document.RootElement.EnumerateObject())
            {
                if (member.Name != "ai_optout")
                {
                    return new ApiError(ErrorCodes.InvalidRequest, $"Unknown member '{(member.Name.Length > 40 ? member.Name[..40] + "…" : member.Name)}'; the account has: ai_optout.");
                }

                if (member.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return new ApiError(ErrorCodes.InvalidRequest, "'ai_optout' must be true or false.");
                }

                aiOptOut = member.Value.GetBoolean();
            }
        }
        catch (JsonException exception)
        {
            return RequestBodies.InvalidJson(exception);
        }

        var account = await FindAsync(user, db, authority.Value, time, cancellationToken);
        if (account is null)
        {
            return new ApiError(ErrorCodes.NotFound, "No such account.");
        }

        if (aiOptOut is { } value)
        {
            account.AiOptOut = value;
            await db.SaveChangesAsync(cancellationToken);
        }

        return TypedResults.Ok(AccountDto.From(account));
    }
}
