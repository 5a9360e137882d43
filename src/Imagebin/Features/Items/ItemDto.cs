using Imagebin.Data;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Items;

/// <summary>The public view of an item: the imagebin.ca Item contract plus the optional fields our OpenAPI declares.</summary>
public class ItemDto
{
    public required string Id { get; init; }
    public string Kind => "image";
    public string? ContentType { get; init; }
    public long SizeBytes { get; init; }
    public int? Width { get; init; }
    public int? Height { get; init; }
    public long CreatedAt { get; init; }
    public long Downloads { get; init; }
    public bool Private { get; init; }
    public string? AiCaption { get; init; }
    public required IReadOnlyList<string> AiTags { get; init; }
    public required string Url { get; init; }
    public required string ViewUrl { get; init; }
    public required string DirectUrl { get; init; }
    public string? Title { get; init; }
    public string? Description { get; init; }
    public required IReadOnlyList<string> Tags { get; init; }
    public string? Category { get; init; }
    public long? ExpiresAt { get; init; }
    public int Frames { get; init; }
}

/// <summary>The owner's view: the public fields and the pipeline state.</summary>
public sealed class OwnerItemDto : ItemDto
{
    public required string Classification { get; init; }
    public required string ScanState { get; init; }
    /// <summary>Why the scan ended as it did, when it did not pass (e.g. the decoder's error).</summary>
    public string? ScanReason { get; init; }
    public required string AiCaptionState { get; init; }
    public bool AiOptout { get; init; }
    public long? DlLimit { get; init; }
}

public sealed record ItemListDto(IReadOnlyList<OwnerItemDto> Items, string? NextCursor);

public static class ItemMapping
{
    public static ItemDto ToPublicDto(this Item item, SiteUrls site, long pendingDownloads = 0)
    {
        var captionReady = item.AiCaptionState == AiCaptionState.Ready && !item.AiOptOut;
        return new ItemDto
        {
            Id = item.Id,
            ContentType = item.ContentType,
            SizeBytes = item.SizeBytes,
            Width = item.Width,
            Height = item.Height,
            CreatedAt = item.CreatedAt,
            Downloads = item.Downloads + pendingDownloads,
            Private = item.Private,
            AiCaption = captionReady ? item.AiCaption : null,
            AiTags = captionReady ? Split(item.AiTags) : [],
            Url = site.Short(item.Id, item.ShareSecret),
            ViewUrl = site.View(item.Id, item.ShareSecret),
            DirectUrl = site.Direct(item.Id, item.Extension, item.ShareSecret),
            Title = item.Title,
            Description = item.Description,
            Tags = Split(item.Tags),
            Category = item.Category,
            ExpiresAt = item.ExpiresAt,
            Frames = item.Frames,
        };
    }

    public static OwnerItemDto ToOwnerDto(this Item item, SiteUrls site, long pendingDownloads = 0)
    {
        var dto = item.ToPublicDto(site, pendingDownloads);
        return new OwnerItemDto
        {
            Id = dto.Id,
            ContentType = dto.ContentType,
            SizeBytes = dto.SizeBytes,
            Width = dto.Width,
            Height = dto.Height,
            CreatedAt = dto.CreatedAt,
            Downloads = dto.Downloads,
            Private = dto.Private,
            AiCaption = dto.AiCaption,
            AiTags = dto.AiTags,
            Url = dto.Url,
            ViewUrl = dto.ViewUrl,
            DirectUrl = dto.DirectUrl,
            Title = dto.Title,
            Description = dto.Description,
            Tags = dto.Tags,
            Category = dto.Category,
            ExpiresAt = dto.ExpiresAt,
            Frames = dto.Frames,
            Classification = item.Classification,
            ScanState = item.ScanState,
            ScanReason = item.ScanReason,
            AiCaptionState = item.AiCaptionState,
            AiOptout = item.AiOptOut,
            DlLimit = item.DlLimit,
        };
    }

    private static string[] Split(string joined) => joined.Split(',', StringSplitOptions.RemoveEmptyEntries);
}
