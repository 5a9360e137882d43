using Imagebin.Data;
using Imagebin.Features.Items;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Moderation;

/// <summary>An account as moderators see it in the accounts list.</summary>
public sealed record AdminAccountDto(string Id, string Name, string Role, long CreatedAt, bool Banned, int ItemCount);

public sealed record AdminAccountListDto(IReadOnlyList<AdminAccountDto> Accounts, string? NextCursor);

/// <summary>The body of <c>POST /api/v1/admin/accounts/{account_id}/ban</c> and <c>…/unban</c>.</summary>
public sealed class AccountBanRequest
{
    /// <summary>Why: it goes in the audit trail (1 to 1000 characters).</summary>
    public string? Reason { get; set; }
}

/// <summary>
/// Finding accounts, banning and unbanning them. A ban refuses the account's keys and tokens (<c>account_banned</c>, checked
/// by the verifiers on every request) and ends its browser sessions at once; its items stay as they are (a moderator
/// removes what breaks the rules through the review queue). An admin account is never banned here, nor is the caller:
/// a moderator could otherwise lock every moderator out. Unbanning restores the keys; ended sessions stay ended.
/// </summary>
public sealed class AccountBans(ImagebinDb db, TimeProvider time)
{
    public const int MaxQuery = 64;
    public const int MaxReason = 1000;

    /// <summary>Accounts newest first, optionally only those whose name contains <paramref name="query"/> (any case).</summary>
    public async Task<AdminAccountListDto> ListAsync(string? query, int limit, ListCursor.Position? after, CancellationToken cancellationToken)
    {
        var accounts = db.Accounts.AsNoTracking();
        if (!string.IsNullOrEmpty(query))
        {
            var lowered = query.ToLowerInvariant();
            accounts = accounts.Where(a => a.Name.ToLower().Contains(lowered));
        }

        if (after is { } cursor)
        {
            accounts = accounts.Where(a => a.CreatedAt < cursor.CreatedAt || (a.CreatedAt == cursor.CreatedAt && string.Compare(a.Id, cursor.Id) < 0));
        }

        var page = await accounts.OrderByDescending(a => a.CreatedAt).ThenByDescending(a => a.Id).Take(limit + 1)
            .Select(a => new AdminAccountDto(a.Id, a.Name, a.Role, a.CreatedAt, a.Banned, db.Items.Count(i => i.OwnerId == a.Id)))
            .ToListAsync(cancellationToken);
        var shown = page.Take(limit).ToList();
        var next = page.Count > limit ? ListCursor.Encode(shown[^1].CreatedAt, shown[^1].Id) : null;
        return new AdminAccountListDto(shown, next);
    }

    /// <summary>
    /// Bans (<paramref name="banned"/>) or unbans an account for <paramref name="actorId"/> (null: the operator's command
    /// line). Returns it as it now stands, or an error to answer with.
    /// </summary>
    public async Task<(AdminAccountDto? Account, ApiError? Error)> SetBannedAsync(
        string accountId, bool banned, AccountBanRequest request, string? actorId, CancellationToken cancellationToken)
    {
        var reason = request.Reason?.Trim();
        if (string.IsNullOrEmpty(reason) || reason.Length > MaxReason)
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, $"'reason' is required (1 to {MaxReason} characters): it goes in the audit trail."));
        }

        var account = await db.Accounts.FirstOrDefaultAsync(a => a.Id == accountId, cancellationToken);
        if (account is null)
        {
            return (null, new ApiError(ErrorCodes.NotFound, "No such account."));
        }

        if (banned && account.Id == actorId)
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, "You cannot ban your own account."));
        }

        if (banned && account.Role == AccountRoles.Admin)
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, "Admin accounts cannot be banned here; the site's operator manages them."));
        }

        if (account.Banned != banned)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            account.Banned = banned;
            var sessionsEnded = banned
                ? await db.AccountSessions.Where(s => s.AccountId == account.Id && s.RevokedAt == null)
                    .ExecuteUpdateAsync(set => set.SetProperty(s => s.RevokedAt, now), cancellationToken)
                : 0;
            var detail = new Dictionary<string, string> { ["account_id"] = account.Id, ["name"] = account.Name, ["reason"] = reason };
            if (banned)
            {
                detail["sessions_ended"] = sessionsEnded.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            Audit.Record(db, now, actorId, banned ? Audit.AccountBan : Audit.AccountUnban, null, detail);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        var items = await db.Items.CountAsync(i => i.OwnerId == account.Id, cancellationToken);
        return (new AdminAccountDto(account.Id, account.Name, account.Role, account.CreatedAt, account.Banned, items), null);
    }
}
