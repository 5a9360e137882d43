using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Items;
using Imagebin.Features.Media;
using Imagebin.Infrastructure;
using Imagebin.Jobs;
using Imagebin.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Moderation;

/// <summary>
/// The review queue and the decisions moderators make on it. A decision applies to any item, held or not: approve makes
/// it public (<c>passed</c>), remove withdraws it for good (<c>removed</c>, 410), lists its hashes so the same picture
/// cannot come back, and keeps an evidence record that outlives the item.
/// </summary>
public sealed class Reviews(
    ImagebinDb db,
    HashLists hashLists,
    JobQueue jobs,
    IBlobStore store,
    MediaCatalog catalog,
    SiteUrls site,
    IOptions<ModerationOptions> options,
    TimeProvider time,
    ILogger<Reviews> logger)
{
    public const string Approve = "approve";
    public const string Remove = "remove";

    /// <summary>Held and failed items first, then reported ones, each oldest first.</summary>
    public async Task<ReviewListDto> QueueAsync(int limit, ListCursor.Position? after, CancellationToken cancellationToken)
    {
        // An expired item needs no decision: it is gone, and the next purge deletes it.
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var query = db.Items.AsNoTracking().Where(i => i.ReviewRank != null && (i.ExpiresAt == null || i.ExpiresAt > now));
        if (after is { } cursor)
        {
            // The cursor's "created_at" is the rank and review time packed together (rank · 2^44 + since).
            var rank = (int)(cursor.CreatedAt >> 44);
            var since = cursor.CreatedAt & ((1L << 44) - 1);
            query = query.Where(i => i.ReviewRank > rank
                || (i.ReviewRank == rank && (i.ReviewSince > since || (i.ReviewSince == since && string.Compare(i.Id, cursor.Id) > 0))));
        }

        var page = await query.OrderBy(i => i.ReviewRank).ThenBy(i => i.ReviewSince).ThenBy(i => i.Id).Take(limit + 1).ToListAsync(cancellationToken);
        var shown = page.Take(limit).ToList();
        var ids = shown.Select(i => i.Id).ToList();
        var reports = (await db.Reports.AsNoTracking().Where(r => ids.Contains(r.ItemId) && r.ResolvedAt == null).OrderBy(r => r.CreatedAt).ToListAsync(cancellationToken))
            .ToLookup(r => r.ItemId);
        var next = page.Count > limit
            ? ListCursor.Encode(((long)shown[^1].ReviewRank!.Value << 44) | (shown[^1].ReviewSince ?? 0), shown[^1].Id)
            : null;
        return new ReviewListDto([.. shown.Select(i => ToAdminDto(i, reports[i.Id], null))], next);
    }

    public async Task<AdminItemDto?> DescribeAsync(string itemId, CancellationToken cancellationToken)
    {
        var item = await db.Items.AsNoTracking().FirstOrDefaultAsync(i => i.Id == itemId, cancellationToken);
        if (item is null)
        {
            return null;
        }

        var reports = await db.Reports.AsNoTracking().Where(r => r.ItemId == itemId).OrderBy(r => r.CreatedAt).ToListAsync(cancellationToken);
        var removal = await db.RemovalRecords.AsNoTracking().FirstOrDefaultAsync(r => r.ItemId == itemId, cancellationToken);
        return ToAdminDto(item, reports, removal);
    }

    /// <summary>Applies a moderator's decision. Returns the item as it now stands, or an error to answer with.</summary>
    public async Task<(AdminItemDto? Item, ApiError? Error)> DecideAsync(string itemId, ReviewDecisionRequest request, string actorId, CancellationToken cancellationToken)
    {
        var reason = request.Reason?.Trim();
        if (request.Decision is not (Approve or Remove))
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, "'decision' must be \"approve\" or \"remove\"."));
        }

        if (string.IsNullOrEmpty(reason) || reason.Length > 1000)
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, "'reason' is required (1 to 1000 characters): it goes in the audit trail."));
        }

        if (request.Category is { } category && !ReportCategories.All.Contains(category))
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, $"'category' must be one of {string.Join(", ", ReportCategories.All)}."));
        }

        if (request.Classification is { } classification && classification is not (Classification.Safe or Classification.Sensitive or Classification.Explicit))
        {
            return (null, new ApiError(ErrorCodes.InvalidRequest, "'classification' must be safe, sensitive or explicit."));
        }

        var item = await db.Items.FirstOrDefaultAsync(i => i.Id == itemId, cancellationToken);
        if (item is null)
        {
            return (null, new ApiError(ErrorCodes.NotFound, "No such image."));
        }

        var error = request.Decision == Approve
            ? await ApproveAsync(item, reason, request.Classification, actorId, cancellationToken)
            : await RemoveAsync(item, reason, request.Category, actorId, cancellationToken);
        if (error is not null)
        {
            return (null, error);
        }

        await catalog.ChangedAsync(itemId, CancellationToken.None);
        return (await DescribeAsync(itemId, cancellationToken), null);
    }

    private async Task<ApiError?> ApproveAsync(Item item, string reason, string? classification, string actorId, CancellationToken cancellationToken)
    {
        if (item.ScanState == ScanState.Rejected)
        {
            return new ApiError(ErrorCodes.InvalidRequest, "This file is not a decodable image; it cannot be approved.");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var previous = item.ScanState;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        item.ScanState = ScanState.Passed;
        item.Classification = classification
            ?? (item.Classification is Classification.Safe or Classification.Sensitive or Classification.Explicit ? item.Classification : Classification.Safe);
        item.ScanReason = null;
        item.ReviewRank = null;
        item.ReviewSince = null;
        item.OpenReports = 0;
        item.ScanEvidence = AddStage(item.ScanEvidence, new StageRecord(ScanStages.Review, "moderator", actorId, Approve, reason));
        if (previous == ScanState.Removed)
        {
            // Reinstated: the hashes its removal listed would block it (and its copies) again.
            var source = RemovalSource(item.Id);
            await db.HashListEntries.Where(e => e.Source == source).ExecuteDeleteAsync(cancellationToken);
        }

        await ResolveReportsAsync(item.Id, Approve, now, cancellationToken);
        var caption = !item.AiOptOut && item.AiCaptionState is AiCaptionState.Pending or AiCaptionState.Skipped or AiCaptionState.Failed;
        if (caption)
        {
            item.AiCaptionState = AiCaptionState.Pending;
            await Captions.CaptionJob.EnqueueAsync(jobs, db, item.Id, cancellationToken);
        }

        Audit.Record(db, now, actorId, Audit.ReviewApprove, item.Id, new()
        {
            ["reason"] = reason,
            ["previous_state"] = previous,
            ["classification"] = item.Classification,
        });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        if (caption)
        {
            jobs.Wake();
        }

        if (previous == ScanState.Removed)
        {
            await hashLists.ChangedAsync(CancellationToken.None);
        }

        return null;
    }

    private async Task<ApiError?> RemoveAsync(Item item, string reason, string? category, string actorId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var previous = item.ScanState;
        var reports = await db.Reports.AsNoTracking().Where(r => r.ItemId == item.Id).OrderBy(r => r.CreatedAt).ToListAsync(cancellationToken);
        category ??= reports.Where(r => r.ResolvedAt == null).GroupBy(r => r.Category).OrderByDescending(g => g.Count()).FirstOrDefault()?.Key;

        // Read before anything is written, so a failure here changes nothing.
        var orientationHashes = await OrientationHashesAsync(item, cancellationToken);

        // The bytes go to quarantine before anything else, so a failure here changes nothing.
        string? quarantineKey = null;
        if (category is not null && options.Value.QuarantineCategories.Contains(category))
        {
            quarantineKey = await QuarantineAsync(item, cancellationToken);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var snapshot = JsonSerializer.Serialize(item.ToOwnerDto(site), ImagebinJson.Default.OwnerItemDto);
        var existing = await db.RemovalRecords.FirstOrDefaultAsync(r => r.ItemId == item.Id, cancellationToken);
        if (existing is not null)
        {
            // Removed before (and reinstated since): the newest decision is the record; the audit trail keeps them all.
            db.RemovalRecords.Remove(existing);
            await db.SaveChangesAsync(cancellationToken);
        }

        db.RemovalRecords.Add(new RemovalRecord
        {
            ItemId = item.Id,
            OwnerId = item.OwnerId,
            RemovedAt = now,
            RemovedBy = actorId,
            Reason = reason,
            Category = category,
            BlobSha256 = item.BlobSha256,
            PdqHash = item.PdqHash,
            ItemSnapshot = snapshot,
            Reports = JsonSerializer.Serialize(new ReportListDto([.. reports.Select(ReportDto.From)]), ImagebinJson.Default.ReportListDto),
            QuarantineKey = quarantineKey ?? existing?.QuarantineKey,
        });

        var listed = new List<HashListEntry>
        {
            new() { Kind = HashKinds.Sha256, Hash = item.BlobSha256, Action = HashActions.Block, Reason = $"removed: {reason}", Source = RemovalSource(item.Id), CreatedBy = actorId },
        };
        foreach (var hash in orientationHashes.Prepend(item.PdqQuality >= options.Value.PdqMinQuality ? item.PdqHash : null).OfType<string>().Distinct())
        {
            listed.Add(new() { Kind = HashKinds.Pdq, Hash = hash, Action = HashActions.Block, Reason = $"removed: {reason}", Source = RemovalSource(item.Id), CreatedBy = actorId });
        }

        await hashLists.AddAsync(db, listed, cancellationToken);
        item.ScanState = ScanState.Removed;
        item.Classification = Classification.Prohibited;
        item.ScanReason = $"Removed by a moderator: {reason}";
        item.ReviewRank = null;
        item.ReviewSince = null;
        item.OpenReports = 0;
        item.ScanEvidence = AddStage(item.ScanEvidence, new StageRecord(ScanStages.Review, "moderator", actorId, Remove, reason));
        if (!item.AiOptOut)
        {
            item.AiCaptionState = AiCaptionState.Skipped;
            item.AiCaption = null;
            item.AiTags = "";
        }

        await ResolveReportsAsync(item.Id, Remove, now, cancellationToken);

        // Other uploads of the very same bytes go with it (later ones are stopped by the list).
        var copies = await db.Items
            .Where(i => i.BlobSha256 == item.BlobSha256 && i.Id != item.Id && i.ScanState != ScanState.Removed && i.ScanState != ScanState.Blocked && i.ScanState != ScanState.Rejected)
            .Select(i => i.Id).ToListAsync(cancellationToken);
        if (copies.Count > 0)
        {
            await db.Items.Where(i => copies.Contains(i.Id)).ExecuteUpdateAsync(set => set
                .SetProperty(i => i.ScanState, ScanState.Blocked)
                .SetProperty(i => i.Classification, Classification.Prohibited)
                .SetProperty(i => i.ScanReason, $"The same file as an image a moderator removed: {reason}")
                .SetProperty(i => i.ReviewRank, (int?)null)
                .SetProperty(i => i.ReviewSince, (long?)null), cancellationToken);
            foreach (var copy in copies)
            {
                await Captions.CaptionJob.SkipAsync(db, copy, cancellationToken);
            }
        }

        Audit.Record(db, now, actorId, Audit.ReviewRemove, item.Id, new()
        {
            ["reason"] = reason,
            ["previous_state"] = previous,
            ["category"] = category ?? "",
            ["quarantined"] = (quarantineKey is not null).ToString().ToLowerInvariant(),
            ["copies_blocked"] = string.Join(',', copies),
        });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await hashLists.ChangedAsync(CancellationToken.None);
        foreach (var copy in copies)
        {
            await catalog.ChangedAsync(copy, CancellationToken.None);
        }

        logger.LogInformation("Item {ItemId} removed by {Actor} ({Category}): {Reason}", item.Id, actorId, category, reason);
        return null;
    }

    /// <summary>Copies the item's bytes into the quarantine area, which no sweep and no owner delete ever touches.</summary>
    private async Task<string> QuarantineAsync(Item item, CancellationToken cancellationToken)
    {
        var key = BlobKeys.Quarantine(item.Id, item.Extension);
        var temporary = Path.Combine(Path.GetTempPath(), $"imagebin-quarantine-{Guid.NewGuid():N}");
        try
        {
            await using (var source = await store.OpenReadAsync(BlobKeys.ForSha256(item.BlobSha256), 0, null, cancellationToken))
            await using (var target = File.Create(temporary))
            {
                await source.CopyToAsync(target, cancellationToken);
            }

            await store.PutAsync(key, temporary, cancellationToken);
            return key;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// The PDQ hashes of the picture turned and mirrored for real, all eight ways. The dihedral hashes PDQ derives from one
    /// hash match a turned copy only loosely on small pictures (24–52 bits apart on 256 px photos, measured, where the
    /// match limit is 31): the tent filter's sampling grid does not turn with the picture. Listing the real turns makes a
    /// turned re-upload match its own orientation, a few bits apart. Empty when the picture is animated, too flat to hash,
    /// or does not decode.
    /// </summary>
    private async Task<IReadOnlyList<string>> OrientationHashesAsync(Item item, CancellationToken cancellationToken)
    {
        if (item.Frames > 1)
        {
            return [];
        }

        try
        {
            await using var file = await LocalBlobFile.OpenAsync(store, BlobKeys.ForSha256(item.BlobSha256), cancellationToken);
            using var image = NetVips.Image.NewFromFile(file.Path, access: NetVips.Enums.Access.Sequential);
            using var pixels = image.CopyMemory();
            using var rot90 = pixels.Rot90();
            using var rot180 = pixels.Rot180();
            using var rot270 = pixels.Rot270();
            using var mirrored = pixels.FlipHor();
            using var flipped = pixels.FlipVer();
            using var transposed = rot90.FlipHor();
            using var antiTransposed = rot270.FlipHor();
            return new[] { pixels, rot90, rot180, rot270, mirrored, flipped, transposed, antiTransposed }
                .Select(Pdq.ComputeReduced)
                .Where(result => result.Quality >= options.Value.PdqMinQuality)
                .Select(result => result.Hash.ToHex())
                .Distinct()
                .ToList();
        }
        catch (NetVips.VipsException exception)
        {
            logger.LogWarning("Item {ItemId}: its picture did not decode for the removal's hashes: {Error}", item.Id, exception.Message);
            return [];
        }
    }

    private Task ResolveReportsAsync(string itemId, string resolution, long now, CancellationToken cancellationToken) =>
        db.Reports.Where(r => r.ItemId == itemId && r.ResolvedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(r => r.ResolvedAt, now).SetProperty(r => r.Resolution, resolution), cancellationToken);

    public static string RemovalSource(string itemId) => $"removal:{itemId}";

    private static string AddStage(string? json, StageRecord stage)
    {
        var evidence = ScanEvidence.FromJson(json) ?? new ScanEvidence();
        evidence.Stages.Add(stage);
        return evidence.ToJson();
    }

    private AdminItemDto ToAdminDto(Item item, IEnumerable<Report> reports, RemovalRecord? removal) => new(
        item.ToOwnerDto(site),
        item.OwnerId,
        item.PdqHash,
        item.PdqQuality,
        item.OpenReports,
        item.ReviewRank,
        item.ReviewSince,
        [.. reports.Select(ReportDto.From)],
        removal is null ? null : RemovalDto.From(removal));
}
