using System.Security.Claims;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Authority;

/// <summary>
/// Browser sessions of the authority: a cookie that names a row of <c>account_sessions</c>, checked on every authority
/// request, so that signing out (or a ban) ends the session on every node at once and not when the cookie expires.
/// </summary>
public sealed class Sessions(ImagebinDb db, TimeProvider time, IOptions<AuthorityOptions> options)
{
    public const string Scheme = "Session";
    public const string SessionIdClaim = "sid";

    public async Task<ClaimsPrincipal> StartAsync(Account account, string? userAgent, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var session = new AccountSession
        {
            Id = Ids.RandomBase62(24),
            AccountId = account.Id,
            CreatedAt = now.ToUnixTimeMilliseconds(),
            ExpiresAt = (now + TimeSpan.FromDays(options.Value.SessionDays)).ToUnixTimeMilliseconds(),
            UserAgent = userAgent is { Length: > 200 } ? userAgent[..200] : userAgent,
        };
        db.AccountSessions.Add(session);
        await db.SaveChangesAsync(cancellationToken);
        var identity = new ClaimsIdentity(
            [
                new Claim(ImagebinClaims.Subject, account.Id),
                new Claim(ImagebinClaims.Name, account.Name),
                new Claim(SessionIdClaim, session.Id),
            ],
            Scheme, ImagebinClaims.Name, ImagebinClaims.Role);
        return new ClaimsPrincipal(identity);
    }

    public async Task EndAsync(ClaimsPrincipal principal, CancellationToken cancellationToken)
    {
        var id = principal.FindFirstValue(SessionIdClaim);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await db.AccountSessions.Where(s => s.Id == id && s.RevokedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.RevokedAt, now), cancellationToken);
    }

    /// <summary>The session cookie's name (set up in <see cref="AuthoritySetup"/>).</summary>
    public const string CookieName = "imagebin_session";

    private static readonly object CurrentAccountKey = new();

    /// <summary>
    /// The signed-in account of this request, if its session is still open and the account in good standing; looked up
    /// once per request (the layout and the page both ask), and not at all without the cookie.
    /// </summary>
    public static async Task<Account?> CurrentAccountAsync(HttpContext context)
    {
        if (context.Items.TryGetValue(CurrentAccountKey, out var known))
        {
            return (Account?)known;
        }

        Account? account = null;
        if (context.Request.Cookies.ContainsKey(CookieName)
            && (await context.AuthenticateAsync(Scheme)).Principal?.FindFirstValue(ImagebinClaims.Subject) is { } accountId)
        {
            var db = context.RequestServices.GetRequiredService<ImagebinDb>();
            account = await db.Accounts.AsNoTracking().FirstOrDefaultAsync(a => a.Id == accountId && !a.Banned, context.RequestAborted);
        }

        context.Items[CurrentAccountKey] = account;
        return account;
    }

    /// <summary>The cookie handler's check: the session row must be open, unexpired, and its account not banned.</summary>
    public static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var id = context.Principal?.FindFirstValue(SessionIdClaim);
        var db = context.HttpContext.RequestServices.GetRequiredService<ImagebinDb>();
        var now = context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds();
        var open = id is not null && await db.AccountSessions.AsNoTracking()
            .Where(s => s.Id == id && s.RevokedAt == null && s.ExpiresAt > now)
            .Join(db.Accounts, s => s.AccountId, a => a.Id, (s, a) => a)
            .AnyAsync(a => !a.Banned, context.HttpContext.RequestAborted);
        if (!open)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }
}
