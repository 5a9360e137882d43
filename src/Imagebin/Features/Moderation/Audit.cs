using System.Text.Json;
using Imagebin.Data;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Moderation;

/// <summary>The audit trail: every moderation decision, report, list change, removal and ban, with who and when.</summary>
public static class Audit
{
    public const string ReviewApprove = "review.approve";
    public const string ReviewRemove = "review.remove";
    public const string ReportFiled = "report.filed";
    public const string ReportsHid = "reports.hid";
    public const string HashListImport = "hash_list.import";
    public const string HashListDelete = "hash_list.delete";
    public const string AccountBan = "account.ban";
    public const string AccountUnban = "account.unban";

    /// <summary>Adds an event in the caller's unit of work.</summary>
    public static void Record(ImagebinDb db, long at, string? actorId, string action, string? itemId, Dictionary<string, string>? detail = null) =>
        db.AuditEvents.Add(new AuditEvent
        {
            At = at,
            ActorId = actorId,
            Action = action,
            ItemId = itemId,
            Detail = detail is null ? null : JsonSerializer.Serialize(detail, ImagebinJson.Default.DictionaryStringString),
        });
}
