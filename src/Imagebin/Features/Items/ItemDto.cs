using System.Text.Json.Serialization;
using Imagebin.Data;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Items;

/// <summary>The public view of an item: the imagebin.ca Item contract plus the optional fields our OpenAPI declares.</summary>
public class ItemDto
{
    public string Id { get; set; } = "";
    public string Kind => "image";
    public string? ContentType { get; set; }
    public long SizeBytes { get; set; }
    public int? Width { get; set; }
    public int? Height { get; set; }
    public long CreatedAt { get; set; }
    public long Downloads { get; set; }
    public bool Private { get; set; }
    public string? AiCaption { get; set; }
    public IReadOnlyList<string> AiTags { get; set; } = [];
    public string Url { get; set; } = "";
    public string ViewUrl { get; set; } = "";
    public string DirectUrl { get; set; } = "";
    public string? Title { get; set; }
    public string? Description { get; set; }
    public IReadOnlyList<string> Tags { get; set; } = [];
    public string? Category { get; set; }
    public long? ExpiresAt { get; set; }
    public int Frames { get; set; }
    /// <summary>The ThumbHash (base64) of the picture, for a blurred preview while it loads; null until the scan made it.</summary>
    public string? Placeholder { get; set; }
}

/// <summary>The owner's view: the public fields and the pipeline state.</summary>
public sealed class OwnerItemDto : ItemDto
{
    public required string Classification { get; init; }
    public required string ScanState { get; init; }
    /// <summary>Why the scan ended as it did, when it did not pass (e.g. the decoder's error).</summary>
    public string? ScanReason { get; init; }
    /// <summary>What each moderation stage decided and with what (engine, list or model version, scores).</summary>
    public IReadOnlyList<StageRecord>? ScanEvidence { get; init; }
    public required string AiCaptionState { get; init; }
    /// <summary>Which captioner and model wrote the caption (<c>offline:offline-1</c>, <c>openai:…</c>).</summary>
    public string? AiCaptionSource { get; init; }
    /// <summary>Why captioning failed, when <c>ai_caption_state</c> is <c>failed</c>.</summary>
    public string? AiCaptionError { get; init; }
    public bool AiOptout { get; init; }
    public long? DlLimit { get; init; }
    /// <summary>Only in the answer to an anonymous upload, and only that once: the token that deletes the item.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DeleteToken { get; set; }
    /// <summary>Beside <see cref="DeleteToken"/>: the page that deletes the item, with the token in the fragment.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DeleteUrl { get; set; }
}

public sealed record ItemListDto(IReadOnlyList<OwnerItemDto> Items, string? NextCursor);

public static class ItemMapping
{
    public static ItemDto ToPublicDto(this Item item, SiteUrls site, long pendingDownloads = 0) =>
        new ItemDto().Fill(item, site, pendingDownloads);

    public static OwnerItemDto ToOwnerDto(this Item item, SiteUrls site, long pendingDownloads = 0) =>
        new OwnerItemDto
        {
            Classification = item.Classification,
            ScanState = item.ScanState,
            ScanReason = item.ScanReason,
            ScanEvidence = Moderation.ScanEvidence.FromJson(item.ScanEvidence)?.Stages,
            AiCaptionState = item.AiCaptionState,
            AiCaptionSource = item.AiCaptionSource,
            AiCaptionError = item.AiCaptionError,
            AiOptout = item.AiOptOut,
            DlLimit = item.DlLimit,
        }.Fill(item, site, pendingDownloads);

    private static T Fill<T>(this T dto, Item item, SiteUrls site, long pendingDownloads) where T : ItemDto
    {
        var captionReady = item.AiCaptionState == AiCaptionState.Ready && !item.AiOptOut;
        dto.Id = item.Id;
        dto.ContentType = item.ContentType;
        dto.SizeBytes = item.SizeBytes;
        dto.Width = item.Width;
        dto.Height = item.Height;
        dto.CreatedAt = item.CreatedAt;
        dto.Downloads = item.Downloads + pendingDownloads;
        dto.Private = item.Private;
        dto.AiCaption = captionReady ? item.AiCaption : null;
        dto.AiTags = captionReady ? Split(item.AiTags) : [];
        dto.Url = site.Short(item.Id, item.ShareSecret);
        dto.ViewUrl = site.View(item.Id, item.ShareSecret);
        dto.DirectUrl = site.Direct(item.Id, item.Extension, item.ShareSecret);
        dto.Title = item.Title;
        dto.Description = item.Description;
        dto.Tags = Split(item.Tags);
        dto.Category = item.Category;
        dto.ExpiresAt = item.ExpiresAt;
        dto.Frames = item.Frames;
        dto.Placeholder = item.Placeholder;
        return dto;
    }

    private static string[] Split(string joined) => joined.Split(',', StringSplitOptions.RemoveEmptyEntries);
}
