using System.Security.Claims;
using Imagebin.Data;
using Imagebin.Features.Authority;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Antiforgery;

namespace Imagebin.Features.Accounts;

/// <summary>
/// The site's own pages call <c>/api/v1</c> with the browser's session cookie instead of a key (DESIGN.md §5). Such a
/// caller acts as its account with every scope a key could have (and <c>admin</c> for an admin account, which the admin
/// pages need); a state-changing call must also come from this site: the <c>x-csrf-token</c> header with the page's
/// anti-forgery token, and no foreign <c>Origin</c> or <c>Sec-Fetch-Site</c>, or it is refused with 403 <c>bad_origin</c>.
/// Reads need no token: a cross-site page can make the browser send them but cannot read the answer (no CORS here).
/// </summary>
public static class BrowserSessions
{
    public const string CsrfHeader = "x-csrf-token";

    public const string SchemeName = "BrowserSession";

    /// <summary>Only API requests without an Authorization header that carry the session cookie; never an image fetch.</summary>
    public static bool Applies(HttpContext context) =>
        context.Request.Headers.Authorization.Count == 0
        && context.Request.Path.StartsWithSegments("/api/v1")
        && context.Request.Cookies.ContainsKey(Sessions.CookieName);

    public static async Task AuthenticateAsync(HttpContext context, RequestDelegate next)
    {
        var account = await Sessions.CurrentAccountAsync(context);
        if (account is null)
        {
            // An ended or forged session is no session: the request goes on as anonymous, as it would without the cookie.
            await next(context);
            return;
        }

        var method = context.Request.Method;
        if (!(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method))
            && !await IsFromThisSiteAsync(context))
        {
            await new ApiError(ErrorCodes.BadOrigin, "This request did not come from this site's pages, or the page is too old: reload it and try again.")
                .WriteAsync(context);
            return;
        }

        context.User = new ClaimsPrincipal(ToIdentity(account));
        await next(context);
    }

    /// <summary>
    /// Same origin by the browser's own headers, and the anti-forgery token in the header (never read from a form: that
    /// would buffer an upload's body). Checked before the session's principal is set, as the page that issued the token did.
    /// </summary>
    private static async Task<bool> IsFromThisSiteAsync(HttpContext context)
    {
        var request = context.Request;
        if (request.Headers["Sec-Fetch-Site"] is [{ } fetchSite] && fetchSite is not ("same-origin" or "none"))
        {
            return false;
        }

        if (request.Headers.Origin.Count > 0)
        {
            var site = context.RequestServices.GetRequiredService<SiteUrls>();
            if (request.Headers.Origin is not [{ } origin] || !string.Equals(origin.TrimEnd('/'), Origin(site.PublicBase), StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        if (string.IsNullOrEmpty(request.Headers[CsrfHeader]))
        {
            return false;
        }

        return await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context);
    }

    private static string Origin(string publicBase) =>
        Uri.TryCreate(publicBase, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Authority) : publicBase;

    private static ClaimsIdentity ToIdentity(Account account)
    {
        var claims = new List<Claim>
        {
            new(ImagebinClaims.Subject, account.Id),
            new(ImagebinClaims.Name, account.Name),
            new(ImagebinClaims.Role, account.Role),
        };
        claims.AddRange((account.Role == AccountRoles.Admin ? Scopes.Known : Scopes.All).Select(s => new Claim(ImagebinClaims.Scope, s)));
        return new ClaimsIdentity(claims, SchemeName, ImagebinClaims.Name, ImagebinClaims.Role);
    }
}
