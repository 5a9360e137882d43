using Imagebin.Data;
using Imagebin.Features.Media;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Moderation;

/// <summary>
/// Abuse reports. A report puts the item in the review queue; <see cref="ModerationOptions.ReportsToHide"/> distinct
/// reporters hide a public item (<c>held</c>) until a moderator decides. A reporter counts once per item.
/// </summary>
public sealed class Reports(ImagebinDb db, SharedState shared, MediaCatalog catalog, IOptions<ModerationOptions> options, TimeProvider time, ILogger<Reports> logger)
{
    public const int MaxDetails = 2000;

    public async Task<(ReportReceiptDto? Receipt, bool Created, ApiError? Error)> FileAsync(ReportRequest request, Reporter reporter, CancellationToken cancellationToken)
    {
        if (request.Category is not { } category || !ReportCategories.All.Contains(category))
        {
            return Fail(new ApiError(ErrorCodes.InvalidRequest, $"'category' must be one of {string.Join(", ", ReportCategories.All)}."));
        }

        var details = request.Details?.Trim();
        if (details?.Length > MaxDetails)
        {
            return Fail(new ApiError(ErrorCodes.InvalidRequest, $"'details' is limited to {MaxDetails} characters."));
        }

        if (!TryParseItem(request.Item, out var itemId, out var secret))
        {
            return Fail(new ApiError(ErrorCodes.InvalidRequest, "'item' must be an image id or one of its URLs."));
        }

        var item = await db.Items.AsNoTracking().Where(i => i.Id == itemId)
            .Select(i => new { i.Id, i.OwnerId, i.Private, i.ShareSecret, i.ScanState, i.ExpiresAt }).FirstOrDefaultAsync(cancellationToken);
        if (item is null || (item.Private && (reporter.AccountId is null || item.OwnerId != reporter.AccountId) && !ShareSecrets.Matches(item.ShareSecret, secret)))
        {
            return Fail(new ApiError(ErrorCodes.NotFound, "No such image."));
        }

        var now = time.GetUtcNow();
        if (item.ExpiresAt <= now.ToUnixTimeMilliseconds() || ScanStates.IsWithdrawn(item.ScanState))
        {
            return Fail(new ApiError(ErrorCodes.Gone, "This image is no longer available."));
        }

        var perHour = options.Value.ReportsPerHour;
        if (await shared.HitAsync($"reports:{reporter.Key}", TimeSpan.FromHours(1), cancellationToken) > perHour)
        {
            var retry = 3600 - (int)(now.ToUnixTimeSeconds() % 3600);
            return Fail(new ApiError(ErrorCodes.RateLimited, $"At most {perHour} reports an hour.") { RetryAfterSeconds = retry });
        }

        var existing = await db.Reports.AsNoTracking().FirstOrDefaultAsync(r => r.ItemId == itemId && r.Reporter == reporter.Key, cancellationToken);
        if (existing is not null)
        {
            return (new ReportReceiptDto(existing.Id, itemId, existing.Category, "already_reported"), false, null);
        }

        var report = new Report
        {
            Id = Ids.RandomBase62(12),
            ItemId = itemId,
            Reporter = reporter.Key,
            ReporterAccountId = reporter.AccountId,
            Category = category,
            Details = string.IsNullOrEmpty(details) ? null : details,
            CreatedAt = now.ToUnixTimeMilliseconds(),
        };

        var hidden = false;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            db.Reports.Add(report);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException)
            {
                // The same reporter, at the same moment, on another request.
                return (new ReportReceiptDto(report.Id, itemId, category, "already_reported"), false, null);
            }

            var at = report.CreatedAt;
            await db.Items.Where(i => i.Id == itemId).ExecuteUpdateAsync(set => set
                .SetProperty(i => i.OpenReports, i => i.OpenReports + 1)
                .SetProperty(i => i.ReviewRank, i => i.ReviewRank ?? ReviewRanks.Reported)
                .SetProperty(i => i.ReviewSince, i => i.ReviewSince ?? at), cancellationToken);
            var threshold = options.Value.ReportsToHide;
            hidden = await db.Items
                .Where(i => i.Id == itemId && i.OpenReports >= threshold && (i.ScanState == ScanState.Passed || i.ScanState == ScanState.Pending || i.ScanState == ScanState.Scanning))
                .ExecuteUpdateAsync(set => set
                    .SetProperty(i => i.ScanState, ScanState.Held)
                    .SetProperty(i => i.ScanReason, $"Hidden after {threshold} reports, until a moderator reviews it.")
                    .SetProperty(i => i.ReviewRank, ReviewRanks.Held), cancellationToken) > 0;
            Audit.Record(db, at, reporter.AccountId, Audit.ReportFiled, itemId, new() { ["report_id"] = report.Id, ["category"] = category });
            if (hidden)
            {
                Audit.Record(db, at, null, Audit.ReportsHid, itemId, new() { ["reports"] = threshold.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }

            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        if (hidden)
        {
            await catalog.ChangedAsync(itemId, CancellationToken.None);
            logger.LogInformation("Item {ItemId} hidden after {Count} reports", itemId, options.Value.ReportsToHide);
        }

        return (new ReportReceiptDto(report.Id, itemId, category, "received"), true, null);

        static (ReportReceiptDto?, bool, ApiError?) Fail(ApiError error) => (null, false, error);
    }

    /// <summary>Accepts <c>abc123</c>, <c>https://host/abc123</c>, <c>…/v/abc123</c> and <c>…/i/abc123.jpg?s=secret</c>.</summary>
    public static bool TryParseItem(string? value, out string id, out string? secret)
    {
        id = "";
        secret = null;
        value = value?.Trim();
        if (string.IsNullOrEmpty(value) || value.Length > 2048)
        {
            return false;
        }

        var candidate = value;
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
        {
            candidate = uri.AbsolutePath.TrimEnd('/');
            candidate = candidate[(candidate.LastIndexOf('/') + 1)..];
            var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(uri.Query);
            secret = query.TryGetValue("s", out var s) ? s.ToString() : null;
        }

        var dot = candidate.IndexOf('.');
        if (dot > 0)
        {
            candidate = candidate[..dot];
        }

        if (!Ids.IsBase62(candidate) || candidate.Length > 16)
        {
            return false;
        }

        id = candidate;
        return true;
    }
}

/// <summary>
/// Who files a report, for counting distinct reporters and the hourly limit: an account, or a browser that solved the
/// report form's challenge, known by its address (IPv4, or IPv6 /64).
/// </summary>
public sealed record Reporter(string Key, string? AccountId)
{
    public static Reporter Account(string accountId) => new($"account:{accountId}", accountId);

    public static Reporter Address(string address) => new($"address:{address}", null);
}
