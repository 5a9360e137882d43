using System.Security.Claims;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Items;
using Imagebin.Features.Items.Ingest;
using Imagebin.Features.Media;
using Imagebin.Infrastructure;
using Imagebin.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Imagebin.Features.Discovery;

namespace Imagebin.Features.Moderation;

/// <summary>Abuse reports for everyone, and the moderators' API under <c>/api/v1/admin</c> (DESIGN.md §8).</summary>
public static class ModerationApi
{
    private const int MaxJsonBody = 64 * 1024;
    private const int MaxCsvBody = 32 * 1024 * 1024;

    public static IEndpointRouteBuilder MapModerationApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/reports", FileReportAsync).WithTags("Reports").DisableAntiforgery()
            .WithSummary("Report an image").WithDescription("201 for a new report, 200 when the caller already reported it.")
            .DocumentsCredentials(optional: false).DocumentsBody<ReportRequest, RouteHandlerBuilder>("application/json")
            .ProducesErrors(ErrorCodes.TurnstileFailed, ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.NotFound, ErrorCodes.Gone, ErrorCodes.RateLimited);

        var admin = app.MapGroup("/api/v1/admin").WithTags("Admin").RequireAuthorization(Scopes.Admin).DisableAntiforgery();
        admin.MapGet("/reviews", ListReviewsAsync).WithSummary("The review queue").ProducesErrors(ErrorCodes.InvalidRequest);
        admin.MapPost("/reviews/{itemId}", DecideAsync).WithSummary("Approve or remove an item")
            .DocumentsBody<ReviewDecisionRequest, RouteHandlerBuilder>("application/json").ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.NotFound);
        admin.MapGet("/items/{itemId}", DescribeAsync).WithSummary("An item as moderators see it").ProducesErrors(ErrorCodes.NotFound);
        admin.MapGet("/items/{itemId}/file", ServeFileAsync).WithSummary("An item's bytes for moderators, whatever its state")
            .WithDescription("For the review pages: held and pending items are not served on their direct URL to anyone but the owner. "
                + "`w`, `format` and `auto` ask for a variant, as on the direct URL (made once and kept in the same cache). Never cached by the client; not for blocked or rejected files.")
            .Produces<byte[]>(StatusCodes.Status200OK, "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif")
            .ProducesErrors(ErrorCodes.InvalidRequest, ErrorCodes.NotFound).AddOpenApiOperationTransformer(OpenApiOperations.AdminFile);
        admin.MapGet("/reports", ListReportsAsync).WithSummary("Abuse reports, newest first (at most 500)").ProducesErrors(ErrorCodes.InvalidRequest);
        admin.MapGet("/hashes", ExportHashesAsync).WithSummary("Export the hash lists as CSV").Produces<string>(StatusCodes.Status200OK, "text/csv");
        admin.MapPost("/hashes", ImportHashesAsync).WithSummary("Import hash list entries (CSV: kind,hash,action,reason)")
            .DocumentsBody<string, RouteHandlerBuilder>("text/csv").ProducesErrors(ErrorCodes.UnsupportedMediaType, ErrorCodes.RequestTooLarge, ErrorCodes.InvalidRequest);
        admin.MapDelete("/hashes/{kind}/{hash}", DeleteHashAsync).WithSummary("Delete a hash list entry").ProducesErrors(ErrorCodes.NotFound);
        admin.MapGet("/accounts", ListAccountsAsync).WithSummary("Accounts, newest first, optionally by name").ProducesErrors(ErrorCodes.InvalidRequest);
        admin.MapPost("/accounts/{accountId}/ban", BanAsync).WithSummary("Ban an account")
            .WithDescription("Its keys and tokens are refused (account_banned) and its browser sessions end; its items stay. Not for admin accounts or yourself.")
            .DocumentsBody<AccountBanRequest, RouteHandlerBuilder>("application/json").ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.NotFound);
        admin.MapPost("/accounts/{accountId}/unban", UnbanAsync).WithSummary("Unban an account")
            .WithDescription("Its keys work again; sessions the ban ended stay ended.")
            .DocumentsBody<AccountBanRequest, RouteHandlerBuilder>("application/json").ProducesErrors(ErrorCodes.InvalidJson, ErrorCodes.RequestTooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.InvalidRequest, ErrorCodes.NotFound);
        admin.MapGet("/audit", ListAuditAsync).WithSummary("The audit log, newest first").ProducesErrors(ErrorCodes.InvalidRequest);
        return app;
    }

    private static async Task<Results<Created<ReportReceiptDto>, Ok<ReportReceiptDto>, ApiError>> FileReportAsync(
        HttpRequest request, ClaimsPrincipal user, Reports reports, CancellationToken cancellationToken)
    {
        if (user.AccountId() is not { } accountId)
        {
            return new ApiError(ErrorCodes.TurnstileFailed, "Reports without an API key are only accepted from the web page, after its browser challenge.");
        }

        var (body, error) = await RequestBodies.ReadJsonAsync(request, ImagebinJson.Default.ReportRequest, MaxJsonBody, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var (receipt, created, failure) = await reports.FileAsync(body!, Reporter.Account(accountId), cancellationToken);
        if (failure is not null)
        {
            return failure;
        }

        return created ? TypedResults.Created((string?)null, receipt!) : TypedResults.Ok(receipt!);
    }

    private static async Task<Results<Ok<ReviewListDto>, ApiError>> ListReviewsAsync(
        Reviews reviews, [FromQuery] string? limit, [FromQuery] string? cursor, CancellationToken cancellationToken)
    {
        var pageSize = ItemsApi.DefaultPageSize;
        if (limit is not null && !(int.TryParse(limit, out pageSize) && pageSize is >= 1 and <= ItemsApi.MaxPageSize))
        {
            return new ApiError(ErrorCodes.InvalidRequest, $"'limit' must be a whole number from 1 to {ItemsApi.MaxPageSize}.");
        }

        ListCursor.Position? after = null;
        if (cursor is not null)
        {
            if (!ListCursor.TryDecode(cursor, out var position))
            {
                return new ApiError(ErrorCodes.InvalidRequest, "'cursor' is not a cursor this server issued.");
            }

            after = position;
        }

        return TypedResults.Ok(await reviews.QueueAsync(pageSize, after, cancellationToken));
    }

    private static async Task<Results<Ok<AdminItemDto>, ApiError>> DecideAsync(
        string itemId, HttpRequest request, ClaimsPrincipal user, Reviews reviews, CancellationToken cancellationToken)
    {
        var (body, error) = await RequestBodies.ReadJsonAsync(request, ImagebinJson.Default.ReviewDecisionRequest, MaxJsonBody, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var (item, failure) = await reviews.DecideAsync(itemId, body!, user.AccountId()!, cancellationToken);
        return failure is not null ? failure : TypedResults.Ok(item!);
    }

    private static async Task<Results<Ok<AdminItemDto>, ApiError>> DescribeAsync(string itemId, Reviews reviews, CancellationToken cancellationToken) =>
        await reviews.DescribeAsync(itemId, cancellationToken) is { } item ? TypedResults.Ok(item) : new ApiError(ErrorCodes.NotFound, "No such image.");

    /// <summary>
    /// The original bytes, so a moderator can judge a held item: its direct URL answers only its owner until it passes.
    /// Files the scanner blocked (malware, a block list) or could not decode are not handed out again, even here.
    /// </summary>
    private static async Task<Results<FileStreamHttpResult, ApiError>> ServeFileAsync(
        string itemId, HttpContext context, ImagebinDb db, IBlobStore store, VariantStore variants, CancellationToken cancellationToken)
    {
        var item = await db.Items.AsNoTracking().Where(i => i.Id == itemId)
            .Select(i => new { i.BlobSha256, i.ContentType, i.Extension, i.ScanState }).FirstOrDefaultAsync(cancellationToken);
        var key = item is null ? null : BlobKeys.ForSha256(item.BlobSha256);
        if (item is null || item.ScanState is ScanState.Blocked or ScanState.Rejected || !await store.ExistsAsync(key!, cancellationToken))
        {
            return new ApiError(ErrorCodes.NotFound, "No such image, or its file is not shown.");
        }

        var request = context.Request;
        var format = ImageFormats.FromExtension(item.Extension);
        VariantSpec? variant = null;
        if (VariantSpec.IsRequested(request.Query))
        {
            var (spec, error) = VariantSpec.Parse(request.Query, request.Headers.Accept, format);
            if (spec is null)
            {
                return new ApiError(ErrorCodes.InvalidRequest, error!);
            }

            variant = spec.Width is not null || spec.Format != format ? spec : null;
        }

        context.Response.Headers.CacheControl = "private, no-store";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; sandbox";
        if (variant is null)
        {
            return TypedResults.Stream(await store.OpenReadAsync(key!, 0, null, cancellationToken), item.ContentType);
        }

        // The variant cache of the direct path: the same keys, so a variant made here for a held image is the one served
        // once it is approved. The answer itself stays admin-only and uncached, like the original's.
        var opened = await variants.OpenAsync(new VariantSource(item.BlobSha256, key!, format), variant, cancellationToken);
        return TypedResults.Stream(opened.Stream ?? new FileStream(opened.Handle!, FileAccess.Read), variant.Format.ContentType());
    }

    private static async Task<Results<Ok<AdminAccountListDto>, ApiError>> ListAccountsAsync(
        AccountBans bans, [FromQuery] string? q, [FromQuery] string? limit, [FromQuery] string? cursor, CancellationToken cancellationToken)
    {
        var pageSize = ItemsApi.DefaultPageSize;
        if (limit is not null && !(int.TryParse(limit, out pageSize) && pageSize is >= 1 and <= ItemsApi.MaxPageSize))
        {
            return new ApiError(ErrorCodes.InvalidRequest, $"'limit' must be a whole number from 1 to {ItemsApi.MaxPageSize}.");
        }

        if (q?.Trim() is { Length: > AccountBans.MaxQuery })
        {
            return new ApiError(ErrorCodes.InvalidRequest, $"'q' is limited to {AccountBans.MaxQuery} characters.");
        }

        ListCursor.Position? after = null;
        if (cursor is not null)
        {
            if (!ListCursor.TryDecode(cursor, out var position))
            {
                return new ApiError(ErrorCodes.InvalidRequest, "'cursor' is not a cursor this server issued.");
            }

            after = position;
        }

        return TypedResults.Ok(await bans.ListAsync(q?.Trim(), pageSize, after, cancellationToken));
    }

    private static Task<Results<Ok<AdminAccountDto>, ApiError>> BanAsync(
        string accountId, HttpRequest request, ClaimsPrincipal user, AccountBans bans, CancellationToken cancellationToken) =>
        SetBannedAsync(accountId, banned: true, request, user, bans, cancellationToken);

    private static Task<Results<Ok<AdminAccountDto>, ApiError>> UnbanAsync(
        string accountId, HttpRequest request, ClaimsPrincipal user, AccountBans bans, CancellationToken cancellationToken) =>
        SetBannedAsync(accountId, banned: false, request, user, bans, cancellationToken);

    private static async Task<Results<Ok<AdminAccountDto>, ApiError>> SetBannedAsync(
        string accountId, bool banned, HttpRequest request, ClaimsPrincipal user, AccountBans bans, CancellationToken cancellationToken)
    {
        var (body, error) = await RequestBodies.ReadJsonAsync(request, ImagebinJson.Default.AccountBanRequest, MaxJsonBody, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        var (account, failure) = await bans.SetBannedAsync(accountId, banned, body!, user.AccountId()!, cancellationToken);
        return failure is not null ? failure : TypedResults.Ok(account!);
    }

    private static async Task<Results<Ok<ReportListDto>, ApiError>> ListReportsAsync(
        ImagebinDb db, [FromQuery(Name = "item_id")] string? itemId, [FromQuery(Name = "open")] string? open, CancellationToken cancellationToken)
    {
        var query = db.Reports.AsNoTracking();
        if (itemId is not null)
        {
            query = query.Where(r => r.ItemId == itemId);
        }

        if (open is not null)
        {
            if (open is not ("true" or "false"))
            {
                return new ApiError(ErrorCodes.InvalidRequest, "'open' must be true or false.");
            }

            query = open == "true" ? query.Where(r => r.ResolvedAt == null) : query.Where(r => r.ResolvedAt != null);
        }

        var reports = await query.OrderByDescending(r => r.CreatedAt).Take(500).ToListAsync(cancellationToken);
        return TypedResults.Ok(new ReportListDto([.. reports.Select(ReportDto.From)]));
    }

    /// <summary>The whole list as CSV (<c>kind,hash,action,reason,source,created_at</c>), streamed.</summary>
    private static async Task ExportHashesAsync(HttpContext context, ImagebinDb db, CancellationToken cancellationToken)
    {
        context.Response.ContentType = "text/csv; charset=utf-8";
        context.Response.Headers.ContentDisposition = "attachment; filename=\"imagebin-hashes.csv\"";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new StreamWriter(context.Response.Body, new UTF8Encoding(false), 64 * 1024);
        await HashLists.WriteCsvAsync(db.HashListEntries.AsNoTracking().OrderBy(e => e.Id).AsAsyncEnumerable(), writer, cancellationToken);
    }

    private static async Task<Results<Ok<HashImportResultDto>, ApiError>> ImportHashesAsync(
        HttpRequest request, ClaimsPrincipal user, ImagebinDb db, HashLists hashLists, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!RequestBodies.HasMediaType(request, "text/csv", "text/plain"))
        {
            return new ApiError(ErrorCodes.UnsupportedMediaType, "Send the list as text/csv with a header line: kind,hash,action,reason.");
        }

        // Parsing is synchronous; the body is read into memory first, bounded.
        var (bytes, tooLarge) = await RequestBodies.ReadAsync(request, MaxCsvBody, cancellationToken);
        if (tooLarge is not null)
        {
            return tooLarge;
        }

        List<HashListEntry> entries;
        try
        {
            entries = HashLists.ParseCsv(new StringReader(new UTF8Encoding(false).GetString(bytes!)), user.AccountId());
        }
        catch (ApiException exception)
        {
            return exception.ToResult();
        }

        var actor = user.AccountId();
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await hashLists.AddAsync(db, entries, cancellationToken);
            Audit.Record(db, time.GetUtcNow().ToUnixTimeMilliseconds(), actor, Audit.HashListImport, null,
                new() { ["rows"] = entries.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await hashLists.ChangedAsync(CancellationToken.None);
        return TypedResults.Ok(new HashImportResultDto(entries.Count, await db.HashListEntries.LongCountAsync(cancellationToken)));
    }

    private static async Task<Results<NoContent, ApiError>> DeleteHashAsync(
        string kind, string hash, ClaimsPrincipal user, ImagebinDb db, HashLists hashLists, TimeProvider time, CancellationToken cancellationToken)
    {
        hash = hash.ToLowerInvariant();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await db.HashListEntries.Where(e => e.Kind == kind && e.Hash == hash).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            return new ApiError(ErrorCodes.NotFound, "No such entry in the hash lists.");
        }

        Audit.Record(db, time.GetUtcNow().ToUnixTimeMilliseconds(), user.AccountId(), Audit.HashListDelete, null, new() { ["kind"] = kind, ["hash"] = hash });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await hashLists.ChangedAsync(CancellationToken.None);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<AuditListDto>, ApiError>> ListAuditAsync(
        ImagebinDb db, [FromQuery(Name = "item_id")] string? itemId, [FromQuery] string? limit, CancellationToken cancellationToken)
    {
        var count = 100;
        if (limit is not null && !(int.TryParse(limit, out count) && count is >= 1 and <= 1000))
        {
            return new ApiError(ErrorCodes.InvalidRequest, "'limit' must be a whole number from 1 to 1000.");
        }

        var query = db.AuditEvents.AsNoTracking();
        if (itemId is not null)
        {
            query = query.Where(e => e.ItemId == itemId);
        }

        var events = await query.OrderByDescending(e => e.Id).Take(count).ToListAsync(cancellationToken);
        return TypedResults.Ok(new AuditListDto([.. events.Select(AuditEventDto.From)]));
    }
}
