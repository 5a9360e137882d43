using Imagebin.Data;
using Imagebin.Features.Items;

namespace Imagebin.Features.Moderation;

/// <summary>An item as a moderator sees it: the owner's view, who owns it, and what was said and decided about it.</summary>
public sealed record AdminItemDto(
    OwnerItemDto Item,
    string? OwnerId,
    string? PdqHash,
    int? PdqQuality,
    int OpenReports,
    int? ReviewRank,
    long? ReviewSince,
    IReadOnlyList<ReportDto> Reports,
    RemovalDto? Removal);

public sealed record ReviewListDto(IReadOnlyList<AdminItemDto> Reviews, string? NextCursor);

public sealed record ReportDto(string Id, string ItemId, string? ReporterAccountId, string Category, string? Details, long CreatedAt, long? ResolvedAt, string? Resolution)
{
    public static ReportDto From(Report report) => new(
        report.Id, report.ItemId, report.ReporterAccountId, report.Category, report.Details, report.CreatedAt, report.ResolvedAt, report.Resolution);
}

public sealed record ReportListDto(IReadOnlyList<ReportDto> Reports);

/// <summary>The answer to a filed report. <c>status</c> is <c>received</c>, or <c>already_reported</c> for a repeat.</summary>
public sealed record ReportReceiptDto(string Id, string ItemId, string Category, string Status);

public sealed record RemovalDto(long RemovedAt, string? RemovedBy, string Reason, string? Category, string BlobSha256, string? PdqHash, bool Quarantined)
{
    public static RemovalDto From(RemovalRecord record) => new(
        record.RemovedAt, record.RemovedBy, record.Reason, record.Category, record.BlobSha256, record.PdqHash, record.QuarantineKey is not null);
}

public sealed record AuditEventDto(long Id, long At, string? ActorId, string Action, string? ItemId, string? Detail)
{
    public static AuditEventDto From(AuditEvent e) => new(e.Id, e.At, e.ActorId, e.Action, e.ItemId, e.Detail);
}

public sealed record AuditListDto(IReadOnlyList<AuditEventDto> Events);

public sealed record HashImportResultDto(int Imported, long Total);

/// <summary>The body of <c>POST /api/v1/admin/reviews/{item_id}</c>.</summary>
public sealed class ReviewDecisionRequest
{
    /// <summary><c>approve</c> or <c>remove</c>.</summary>
    public string? Decision { get; set; }

    public string? Reason { get; set; }

    /// <summary>For a removal: what kind of abuse (one of the report categories); some keep the bytes as evidence.</summary>
    public string? Category { get; set; }

    /// <summary>For an approval: the classification to give (<c>safe</c>, <c>sensitive</c> or <c>explicit</c>).</summary>
    public string? Classification { get; set; }
}

/// <summary>The body of <c>POST /api/v1/reports</c>.</summary>
public sealed class ReportRequest
{
    /// <summary>The item's id or any of its URLs (a private item's with its <c>?s=</c> secret).</summary>
    public string? Item { get; set; }

    public string? Category { get; set; }

    public string? Details { get; set; }
}
