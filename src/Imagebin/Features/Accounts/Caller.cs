using System.Security.Claims;

namespace Imagebin.Features.Accounts;

public static class Caller
{
    public static string? AccountId(this ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.FindFirstValue(ImagebinClaims.Subject) : null;

    public static bool HasScope(this ClaimsPrincipal user, string scope) => user.HasClaim(ImagebinClaims.Scope, scope);
}
