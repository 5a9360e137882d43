using System.Text.Json.Nodes;
using Imagebin.Data;
using Microsoft.OpenApi;

namespace Imagebin.Features.Discovery;

/// <summary>The contract's words for the Item and Problem schemas (DESIGN.md §5), which the generator cannot know.</summary>
public static class OpenApiSchemas
{
    /// <summary>The imagebin.ca Item fields: always present for everyone.</summary>
    public static readonly string[] ItemRequired =
    [
        "id", "kind", "content_type", "size_bytes", "width", "height", "created_at", "downloads", "private", "ai_caption",
        "ai_tags", "url", "view_url", "direct_url",
    ];

    /// <summary>Present only in the owner's view (and a moderator's).</summary>
    public static readonly string[] OwnerOnly = ["classification", "scan_state", "ai_caption_state", "ai_optout", "dl_limit"];

    private static readonly string[] ScanStates =
        [ScanState.Pending, ScanState.Scanning, ScanState.Passed, ScanState.Held, ScanState.Blocked, ScanState.Rejected, ScanState.Removed, ScanState.Failed];

    private static readonly string[] CaptionStates =
        [AiCaptionState.Pending, AiCaptionState.Processing, AiCaptionState.Ready, AiCaptionState.Failed, AiCaptionState.OptedOut, AiCaptionState.Skipped];

    private static readonly Dictionary<string, string> ItemFields = new()
    {
        ["id"] = "The item's id (base62).",
        ["kind"] = "Always `image`.",
        ["content_type"] = "The image's media type, identified from its bytes.",
        ["size_bytes"] = "Size of the stored bytes (metadata stripped).",
        ["created_at"] = "Upload time, epoch milliseconds.",
        ["downloads"] = "Times the bytes were fetched.",
        ["private"] = "Private items are served only with their share secret (`?s=`), which all three URLs carry.",
        ["ai_caption"] = "The generated caption; null while not ready or when opted out.",
        ["ai_tags"] = "Tags from the captioner; empty while not ready or when opted out.",
        ["url"] = "Short canonical link: the view page for browsers, a redirect to the bytes for `Accept: image/*`.",
        ["view_url"] = "HTML page with OpenGraph/Twitter card tags and embed snippets.",
        ["direct_url"] = "The bytes, cookieless.",
        ["title"] = "Optional addition: the uploader's title.",
        ["description"] = "Optional addition: the uploader's description.",
        ["tags"] = "Optional addition: the uploader's tags.",
        ["category"] = "Optional addition: the uploader's category.",
        ["expires_at"] = "Optional addition: when the item expires (epoch milliseconds), or null.",
        ["frames"] = "Optional addition: number of frames (1 for a still image).",
        ["placeholder"] = "Optional addition: a ThumbHash (https://evanw.github.io/thumbhash/, base64) of the picture, from which a " +
            "blurred ~32 px preview is drawn while the image loads; null until the scan has made it. Given to whoever may read the item.",
        ["classification"] = "Owner-only. The moderation classification.",
        ["scan_state"] = "Owner-only. Where the moderation scan is; `held` and `failed` wait for a human review.",
        ["scan_reason"] = "Owner-only. Why the scan ended as it did, when it did not pass.",
        ["scan_evidence"] = "Owner-only. What each moderation stage decided and with what.",
        ["ai_caption_state"] = "Owner-only. Where captioning is.",
        ["ai_caption_source"] = "Owner-only. Which captioner and model wrote the caption.",
        ["ai_caption_error"] = "Owner-only. Why captioning failed.",
        ["ai_optout"] = "Owner-only. The item is kept away from AI captioning.",
        ["dl_limit"] = "Owner-only. Downloads allowed before the item is gone, or null for no limit.",
    };

    public static void Item(OpenApiSchema schema, bool owner)
    {
        schema.Description = owner
            ? "The owner's view of an item: the Item fields and the owner-only pipeline state."
            : "An item as anyone sees it (the imagebin.ca Item). The owner-only fields are omitted.";
        schema.Required = new HashSet<string>(owner ? [.. ItemRequired, .. OwnerOnly] : ItemRequired);
        foreach (var (name, property) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            if (property is not OpenApiSchema field)
            {
                continue;
            }

            field.Description = ItemFields.GetValueOrDefault(name);
            switch (name)
            {
                case "kind":
                    field.Type = JsonSchemaType.String;
                    field.Const = "image";
                    break;
                case "url" or "view_url" or "direct_url":
                    field.Format = "uri";
                    break;
                case "placeholder":
                    field.ContentEncoding = "base64";
                    break;
                case "classification":
                    field.Enum = Strings(Classification.All);
                    break;
                case "scan_state":
                    field.Enum = Strings(ScanStates);
                    break;
                case "ai_caption_state":
                    field.Enum = Strings(CaptionStates);
                    break;
            }
        }

        var example = new JsonObject
        {
            ["id"] = "a1B2c3D4e5F6",
            ["kind"] = "image",
            ["content_type"] = "image/png",
            ["size_bytes"] = 48213,
            ["width"] = 800,
            ["height"] = 600,
            ["created_at"] = 1767225600000,
            ["downloads"] = 3,
            ["private"] = false,
            ["ai_caption"] = "A cat asleep on a windowsill.",
            ["ai_tags"] = new JsonArray("cat", "window"),
            ["url"] = "https://imagebin.example/a1B2c3D4e5F6",
            ["view_url"] = "https://imagebin.example/v/a1B2c3D4e5F6",
            ["direct_url"] = "https://imagebin.example/i/a1B2c3D4e5F6.png",
            ["title"] = "Nap",
            ["description"] = null,
            ["tags"] = new JsonArray("cats"),
            ["category"] = null,
            ["expires_at"] = null,
            ["frames"] = 1,
            ["placeholder"] = "HwgCDYJWdSUhFANiZ0aGdPw4fPjd",
        };
        if (owner)
        {
            example["classification"] = "safe";
            example["scan_state"] = "passed";
            example["ai_caption_state"] = "ready";
            example["ai_optout"] = false;
            example["dl_limit"] = null;
        }

        schema.Examples = [example];
    }

    public static void Problem(OpenApiSchema schema)
    {
        schema.Description = "An error (RFC 9457 problem details) with the imagebin.ca member `error`, a stable code to match on.";
        schema.Required = new HashSet<string>(["type", "title", "status", "error"]);
        if (schema.Properties?.TryGetValue("error", out var errorProperty) == true && errorProperty is OpenApiSchema error)
        {
            error.Enum = Strings(OpenApiTransformers.AllErrorCodes);
            error.Description = "The stable code; `{PublicBaseUrl}/docs/errors/{error}` explains it.";
        }

        if (schema.Properties?.TryGetValue("type", out var typeProperty) == true && typeProperty is OpenApiSchema type)
        {
            type.Format = "uri";
        }
    }

    private static List<JsonNode> Strings(IEnumerable<string> values) => [.. values.Select(value => (JsonNode)JsonValue.Create(value))];
}
