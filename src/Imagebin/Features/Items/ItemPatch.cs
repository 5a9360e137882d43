using System.Text.Json;
using Imagebin.Data;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Items;

/// <summary>Reads a PATCH body (JSON merge-patch semantics: a member that is absent stays, <c>null</c> clears) and applies it.</summary>
public static class ItemPatch
{
    private static readonly string[] Known = ["title", "description", "tags", "category", "private", "dl_limit", "ai_optout"];

    public static async Task<ItemFields> ReadAsync(Stream body, ItemFieldParser parser, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(body, new JsonDocumentOptions { MaxDepth = 8 }, cancellationToken);
        }
        catch (JsonException exception)
        {
            throw new ApiException(ErrorCodes.InvalidJson, $"The body is not valid JSON: {exception.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("The body must be a JSON object.");
            }

            var fields = new ItemFields();
            foreach (var member in document.RootElement.EnumerateObject())
            {
                var value = member.Value;
                switch (member.Name)
                {
                    case "title":
                        fields.Title = parser.Text("title", NullableString(member), parser.Limits.MaxTitleLength, multiline: false);
                        break;
                    case "description":
                        fields.Description = parser.Text("description", NullableString(member), parser.Limits.MaxDescriptionLength, multiline: true);
                        break;
                    case "category":
                        fields.Category = parser.Text("category", NullableString(member), ItemFieldParser.MaxCategoryLength, multiline: false);
                        break;
                    case "tags":
                        fields.Tags = value.ValueKind switch
                        {
                            JsonValueKind.Null => Array.Empty<string>(),
                            JsonValueKind.String => parser.Tags(value.GetString()!.Split(',')),
                            JsonValueKind.Array when value.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                                parser.Tags(value.EnumerateArray().Select(t => t.GetString()!)),
                            _ => throw Invalid("'tags' must be an array of strings."),
                        };
                        break;
                    case "private":
                        fields.Private = Boolean(member);
                        break;
                    case "ai_optout":
                        fields.AiOptOut = Boolean(member);
                        break;
                    case "dl_limit":
                        fields.DlLimit = value.ValueKind switch
                        {
                            JsonValueKind.Null => (long?)null,
                            JsonValueKind.Number when value.TryGetInt64(out var limit) =>
                                ItemFieldParser.Integer("dl_limit", limit, 1, ItemFieldParser.MaxDlLimit),
                            _ => throw Invalid("'dl_limit' must be a whole number or null."),
                        };
                        break;
                    default:
                        throw Invalid($"Unknown field '{member.Name}'. Editable fields: {string.Join(", ", Known)}.");
                }
            }

            return fields;
        }
    }

    public static void Apply(Item item, ItemFields fields)
    {
        if (fields.Title.HasValue)
        {
            item.Title = fields.Title.Value;
        }

        if (fields.Description.HasValue)
        {
            item.Description = fields.Description.Value;
        }

        if (fields.Category.HasValue)
        {
            item.Category = fields.Category.Value;
        }

        if (fields.Tags.HasValue)
        {
            item.Tags = string.Join(',', fields.Tags.Value);
        }

        if (fields.DlLimit.HasValue)
        {
            item.DlLimit = fields.DlLimit.Value;
        }

        if (fields.Private.HasValue)
        {
            item.Private = fields.Private.Value;
            // Making an item private mints a new secret, so links shared while it was public stop working.
            item.ShareSecret = item.Private ? Ids.RandomBase62(16) : null;
        }

        if (fields.AiOptOut.HasValue && fields.AiOptOut.Value != item.AiOptOut)
        {
            item.AiOptOut = fields.AiOptOut.Value;
            if (item.AiOptOut)
            {
                item.AiCaption = null;
                item.AiTags = "";
                item.AiCaptionSource = null;
                item.AiCaptionError = null;
                item.AiCaptionState = AiCaptionState.OptedOut;
            }
            else if (item.AiCaptionState == AiCaptionState.OptedOut)
            {
                // Opting back in queues a caption (ItemsApi), unless the image is withdrawn.
                item.AiCaptionState = Media.ScanStates.IsWithdrawn(item.ScanState) ? AiCaptionState.Skipped : AiCaptionState.Pending;
            }
        }
    }

    private static string? NullableString(JsonProperty member) => member.Value.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => member.Value.GetString(),
        _ => throw Invalid($"'{member.Name}' must be a string or null."),
    };

    private static bool Boolean(JsonProperty member) => member.Value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Invalid($"'{member.Name}' must be true or false."),
    };

    private static ApiException Invalid(string detail) => new(ErrorCodes.InvalidRequest, detail);
}
